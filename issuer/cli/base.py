"""The ``merkki`` command: the click group and what every command module shares.

A click group over Flask's app factory (``ScriptInfo(create_app=...)``), so it works from any
working directory with its configuration taken from the ``ISSUER_*`` environment variables.
Each command is one unit of work: it commits once at the end or not at all. Bad input ends
with a one-line message and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.exc import SQLAlchemyError

from issuer import create_app
from issuer.config import ConfigError, Settings, get_settings
from issuer.core.errors import EngineError
from issuer.core.keys import SigningKeyStore
from issuer.services import (
    keys,
)
from issuer.services.errors import ServiceError, SigningUnavailableError

P = ParamSpec("P")
R = TypeVar("R")


def _load_app() -> Flask:
    info = click.get_current_context().ensure_object(ScriptInfo)
    try:
        return info.load_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn expected failures into one-line ``Error: ...`` messages (exit status 1)."""
    try:
        yield
    except SigningUnavailableError as error:
        # The operator at the command line gets the cause (file, passphrase) too.
        raise click.ClickException(_one_line(f"{error.message}: {error.detail}")) from None
    except (ServiceError, EngineError) as error:
        raise click.ClickException(_one_line(error.message)) from None
    except SQLAlchemyError as error:
        first_line = str(error.orig if hasattr(error, "orig") else error).splitlines()[0]
        raise click.ClickException(
            f"database error: {first_line} (has `merkki init` been run?)"
        ) from None


def with_app(command: Callable[P, R]) -> Callable[P, R]:
    """Run ``command`` inside the app's context, with errors reported on one line."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        app = _load_app()
        with app.app_context(), _reported_errors():
            return command(*args, **kwargs)

    return wrapper


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def settings_and_keystore() -> tuple[Settings, SigningKeyStore]:
    settings = get_settings()
    return settings, keys.keystore_for(settings)


@click.group(help="Merkki: issue and verify Open Badges 3.0 credentials.")
@click.pass_context
def main(ctx: click.Context) -> None:
    # Tests hand in a ScriptInfo bound to their app (FlaskCliRunner); otherwise build the app
    # from the environment.
    if not isinstance(ctx.obj, ScriptInfo):
        ctx.obj = ScriptInfo(create_app=create_app, set_debug_flag=False)
