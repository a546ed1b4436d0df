"""What `make run` tells the operator (issue 15): `merkki institution ensure-demo` says where the
service is, how learners' mails are delivered and, last and plainly, how to sign in; the demo
admin's generated password must be changed at the first sign-in; `PORT` moves the server and,
unless it is set, the base URL with it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from issuer import create_app
from issuer.cli import main
from issuer.db import dispose, get_session
from issuer.paths import REPOSITORY_ROOT
from issuer.services import accounts
from tests.conftest import BASE_URL


def ok(runner: FlaskCliRunner, *args: str) -> Result:
    result = runner.invoke(main, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _lines(result: Result) -> list[str]:
    return result.stderr.strip().splitlines()


def test_ensure_demo_says_how_mail_is_delivered_and_prints_the_sign_in_last(
    app: Flask, runner: FlaskCliRunner
) -> None:
    ok(runner, "init")
    first = ok(runner, "institution", "ensure-demo")
    assert first.stdout == "did:web:127.0.0.1%3A5000:issuers:demo\n"  # unchanged, for scripts
    lines = _lines(first)
    assert lines[0] == "created demo institution 'demo'"
    assert lines[1].startswith(f"service: {BASE_URL} (ISSUER_BASE_URL: every issued credential")
    assert lines[2] == (
        "mail: ISSUER_SMTP_URL is not set, so no mail is sent: mails to learners wait in the "
        f"outbox at {BASE_URL}/staff/issue/outbox"
    )
    sign_in = re.fullmatch(
        rf"demo admin: sign in at {re.escape(BASE_URL)}/staff/login as demo@merkki\.test with "
        r"the password (\S+) \(shown only now; you choose your own at the first sign-in\)",
        lines[-1],
    )
    assert sign_in is not None, lines
    assert len(lines) == 4
    with app.app_context():
        admin = accounts.find_user_by_email(get_session(), "demo@merkki.test")
        assert admin is not None
        assert admin.must_change_password

    again = _lines(ok(runner, "institution", "ensure-demo"))
    assert again[0] == "found demo institution 'demo'"
    assert again[-1] == (
        f"staff: sign in at {BASE_URL}/staff/login (forgotten the password? "
        "`merkki user password --email ADDRESS` prints a new one-time password)"
    )
    assert sign_in.group(1) not in "\n".join(again)


@pytest.mark.parametrize(
    ("smtp_url", "line"),
    [
        (
            "smtp://merkki:s%40lainen@mail.example.fi:587?starttls=1",
            "mail: sent through mail.example.fi:587 (STARTTLS), set by ISSUER_SMTP_URL",
        ),
        (
            "smtps://merkki:salainen@mail.example.fi",
            "mail: sent through mail.example.fi:465 (TLS), set by ISSUER_SMTP_URL",
        ),
        (
            "smtp://relay.internal",
            "mail: sent through relay.internal:25 (no encryption), set by ISSUER_SMTP_URL",
        ),
    ],
)
def test_ensure_demo_names_the_mail_server_without_its_password(
    app: Flask, app_config: dict[str, Any], smtp_url: str, line: str
) -> None:
    with_mail = create_app({**app_config, "SMTP_URL": smtp_url})
    try:
        runner = with_mail.test_cli_runner()
        ok(runner, "init")
        result = ok(runner, "institution", "ensure-demo")
        lines = _lines(result)
        assert lines[2] == line
        assert lines[-1].startswith("demo admin: sign in at ")
        assert "salainen" not in result.output
        assert "s%40lainen" not in result.output
    finally:
        dispose(with_mail)


def _make(*args: str, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "ISSUER_BASE_URL"}
    env.update(environment)
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPOSITORY_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_port_moves_the_server_and_the_base_url_follows_it() -> None:
    show = ["--eval", "show-base-url: ; @echo $(ISSUER_BASE_URL)", "show-base-url"]
    assert _make(*show).strip() == "http://127.0.0.1:5000"
    assert _make(*show, "PORT=8123").strip() == "http://127.0.0.1:8123"
    # A base URL set by the operator wins: it is part of what has been issued.
    chosen = "https://merkki.example.fi"
    assert _make(*show, "PORT=8123", ISSUER_BASE_URL=chosen).strip() == chosen
    # The dry run of `make run` serves on that port.
    assert "--port 8123" in _make("-n", "run", "PORT=8123")
