"""``merkki integration ...``: the learning platforms and student-information systems that
report completions to ``POST /api/v1/completions`` (docs/integrations.md).

As with API tokens (``issuer/cli/accounts.py``), the secret is printed once, on stdout and
alone (``SECRET=$(merkki integration create ...)``); the integration's key id and everything
else go to stderr.
"""

from __future__ import annotations

import click

from issuer.cli.base import echo_json, main, with_app
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models.integrations import AuthKind
from issuer.services import integrations
from issuer.services.actors import CLI_ACTOR, institution_for


@main.group(help="Integrations that report completions (the completion webhook).")
def integration() -> None:
    pass


@integration.command(
    "create",
    help="Create an integration; prints its secret alone (shown only now). With --auth hmac "
    "(the default) the platform signs each call with the secret; with --auth bearer it sends "
    "the secret as a bearer token.",
)
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--name", required=True, help="What reports, e.g. 'Moodle moodle.example.fi'.")
@click.option(
    "--auth",
    "auth_kind",
    type=click.Choice([kind.value for kind in AuthKind]),
    default=AuthKind.HMAC.value,
    show_default=True,
)
@with_app
def integration_create(institution_slug: str, name: str, auth_kind: str) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        created = integrations.create_integration(
            session,
            institution,
            name=name,
            auth_kind=AuthKind(auth_kind),
            actor=CLI_ACTOR,
            passphrase=get_settings().key_passphrase,
        )
        key = integrations.key_id(created.integration)
        secret = created.secret
    click.echo(
        f"created {auth_kind} integration {name!r} for {institution_slug!r}; key id {key}",
        err=True,
    )
    click.echo(secret)


@integration.command("list", help="List an institution's integrations (never their secrets).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def integration_list(institution_slug: str) -> None:
    session = get_session()
    institution = institution_for(session, CLI_ACTOR, institution_slug)
    echo_json(
        [
            integrations.integration_json(found)
            for found in integrations.list_integrations(session, institution)
        ]
    )


@integration.command("revoke", help="Revoke an integration by the id `integration list` shows.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.argument("integration_id", type=int)
@with_app
def integration_revoke(institution_slug: str, integration_id: int) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        integrations.revoke_integration(
            session,
            integrations.get_integration(session, institution, integration_id),
            actor=CLI_ACTOR,
        )
    click.echo(f"revoked integration {integration_id}", err=True)
