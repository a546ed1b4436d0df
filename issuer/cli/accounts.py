"""``merkki token ...`` and ``merkki user ...``: API tokens and staff accounts from the shell.

Attached to the ``merkki`` group by ``issuer/cli/__init__.py``. The operator at the shell acts
for any institution (``issuer.services.actors.CLI_ACTOR``). Secrets are printed once, on
stdout and alone, so that scripts can capture them (``TOKEN=$(merkki token create ...)``);
everything else goes to stderr.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from issuer.cli.base import echo_json, main, with_app
from issuer.db import get_session, unit_of_work
from issuer.models import Institution
from issuer.models.accounts import Role, StaffUser
from issuer.services import accounts
from issuer.services.actors import CLI_ACTOR, institution_for
from issuer.services.errors import NotFoundError

DEMO_ADMIN_EMAIL = "demo@merkki.test"
STAFF_ROLE_NAMES = [Role.ISSUER.value, Role.INSTITUTION_ADMIN.value]
ALL_ROLE_NAMES = [*STAFF_ROLE_NAMES, Role.SERVICE_ADMIN.value]


def _password_from_stdin() -> str:
    # One line; the newline that ends it is not part of the password.
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    if password.endswith("\r"):
        password = password[:-1]
    if not password:
        raise click.ClickException("no password on standard input")
    return password


def ensure_demo_admin(session: Session, institution: Institution) -> str | None:
    """The demo institution's admin ``demo@merkki.test`` for ``make run``; its one-time password
    when it is created now, None when it exists already. Like every generated password it was
    seen by someone else (the terminal, its scrollback), so it must be changed at the first
    sign-in (``StaffUser.must_change_password``; ``issuer.web.auth.login_required``)."""
    if accounts.find_user_by_email(session, DEMO_ADMIN_EMAIL) is not None:
        return None
    created = accounts.create_user(
        session,
        institution=institution,
        email=DEMO_ADMIN_EMAIL,
        role=Role.INSTITUTION_ADMIN,
        name="Demo admin",
    )
    return created.one_time_password


# --- tokens ------------------------------------------------------------------------------------


@main.group(help="API tokens of institutions.")
def token() -> None:
    pass


@token.command("create", help="Create an API token; prints the token alone (shown only now).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--name", default="cli", show_default=True, help="What will use the token.")
@click.option(
    "--role", type=click.Choice(STAFF_ROLE_NAMES), default=Role.ISSUER.value, show_default=True
)
@with_app
def token_create(institution_slug: str, name: str, role: str) -> None:
    actor = CLI_ACTOR
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        created = accounts.create_token(
            session, institution, name=name, role=Role(role), created_by=actor.label
        )
        secret = created.secret
    click.echo(f"created API token {name!r} for {institution_slug!r}", err=True)
    click.echo(secret)


@token.command("list", help="List an institution's API tokens (never their secrets).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def token_list(institution_slug: str) -> None:
    session = get_session()
    institution = institution_for(session, CLI_ACTOR, institution_slug)
    echo_json(
        [
            {
                "id": found.id,
                "name": found.name,
                "role": found.role.value,
                "prefix": f"mk_{found.prefix}_",
                "created_at": found.created_at.isoformat(),
                "created_by": found.created_by,
                "last_used_at": found.last_used_at.isoformat() if found.last_used_at else None,
                "revoked": found.revoked_at is not None,
            }
            for found in accounts.list_tokens(session, institution)
        ]
    )


@token.command("revoke", help="Revoke an API token by the id `token list` shows.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.argument("token_id", type=int)
@with_app
def token_revoke(institution_slug: str, token_id: int) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        accounts.revoke_token(session, accounts.get_token(session, institution, token_id))
    click.echo(f"revoked API token {token_id}", err=True)


# --- staff accounts ----------------------------------------------------------------------------


@main.group(help="Staff accounts.")
def user() -> None:
    pass


@user.command(
    "create",
    help="Create a staff account. Prints a generated one-time password (shown only now), "
    "unless --password-stdin reads the password from standard input.",
)
@click.option("--institution", "institution_slug", help="Institution slug (not for service_admin).")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ALL_ROLE_NAMES), required=True)
@click.option("--name", help="The person's name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_app
def user_create(
    institution_slug: str | None, email: str, role: str, name: str | None, password_stdin: bool
) -> None:
    chosen = Role(role)
    if chosen is Role.SERVICE_ADMIN and institution_slug:
        raise click.ClickException("a service admin belongs to no institution; omit --institution")
    if chosen is not Role.SERVICE_ADMIN and not institution_slug:
        raise click.ClickException(f"--institution is required for the role {role}")
    password = _password_from_stdin() if password_stdin else None
    with unit_of_work() as session:
        institution = (
            institution_for(session, CLI_ACTOR, institution_slug) if institution_slug else None
        )
        created = accounts.create_user(
            session, institution=institution, email=email, role=chosen, name=name, password=password
        )
        address = created.user.email
        one_time = created.one_time_password
    click.echo(f"created {role} account {address}", err=True)
    if one_time is not None:
        click.echo("one-time password (to be changed at the first sign-in):", err=True)
        click.echo(one_time)


@user.command(
    "password",
    help="Set a staff member's password: a generated one-time password (printed), or one "
    "read from standard input with --password-stdin. Other sessions of the user end.",
)
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_app
def user_password(email: str, password_stdin: bool) -> None:
    password = _password_from_stdin() if password_stdin else None
    with unit_of_work() as session:
        found: StaffUser | None = accounts.find_user_by_email(session, email)
        if found is None:
            raise NotFoundError(f"no staff account {email!r}")
        if password is None:
            one_time: str | None = accounts.reset_password(session, found)
        else:
            accounts.set_password(session, found, password)
            one_time = None
    click.echo(f"password of {email} changed", err=True)
    if one_time is not None:
        click.echo(one_time)


@user.command("list", help="List an institution's staff accounts.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def user_list(institution_slug: str) -> None:
    session = get_session()
    institution = institution_for(session, CLI_ACTOR, institution_slug)
    echo_json(
        [
            {"id": u.id, "email": u.email, "name": u.name, "role": u.role.value, "active": u.active}
            for u in accounts.list_users(session, institution)
        ]
    )
