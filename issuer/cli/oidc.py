"""``merkki oidc set|show|disable``: an institution's OpenID Connect sign-in provider
(docs/sign-in.md).

The client secret is read from standard input (``--client-secret-stdin``), never from an
option, so that it stays out of shell history and process listings. ``set`` changes only what
it is given; the first ``set`` needs the issuer, the client id, the button's name and the
domains. ``show`` prints the settings as JSON without the secret.
"""

from __future__ import annotations

import sys

import click

from issuer.cli.base import echo_json, main, with_app
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.models.accounts import Role
from issuer.services import oidc
from issuer.services.actors import CLI_ACTOR, institution_for
from issuer.services.issue_input import FieldErrors


@main.group("oidc", help="Staff sign-in through the institution's OpenID Connect provider.")
def oidc_group() -> None:
    pass


_ROLES = click.Choice([Role.ISSUER.value, Role.INSTITUTION_ADMIN.value])


@oidc_group.command(
    "set",
    help="Set or change the provider. Options not given keep their saved values. The role "
    "mapping is given as --map VALUE=ROLE (repeat it; --clear-map removes the mapping).",
)
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--display-name", help="The sign-in button's name, e.g. Haka or MPASSid.")
@click.option("--issuer", help="The provider's issuer URL (https).")
@click.option("--client-id")
@click.option(
    "--client-secret-stdin", is_flag=True, help="Read the client secret from standard input."
)
@click.option("--public-client", is_flag=True, help="Remove the client secret (PKCE only).")
@click.option("--allowed-domains", help="E-mail domains that may sign in, space-separated.")
@click.option("--email-claim", help="The claim holding the e-mail address (default: email).")
@click.option("--default-role", type=_ROLES, help="The role of a first sign-in.")
@click.option("--role-claim", help="The claim the mapping reads, e.g. groups.")
@click.option("--map", "role_map", multiple=True, help="VALUE=ROLE (repeatable).")
@click.option("--clear-map", is_flag=True, help="Remove the role mapping.")
@click.option("--update-role/--no-update-role", default=None, help="Map the role at every sign-in.")
@click.option("--enable/--disable", "enabled", default=None, help="Switch sign-in on or off.")
@with_app
def oidc_set(
    institution_slug: str,
    display_name: str | None,
    issuer: str | None,
    client_id: str | None,
    client_secret_stdin: bool,
    public_client: bool,
    allowed_domains: str | None,
    email_claim: str | None,
    default_role: str | None,
    role_claim: str | None,
    role_map: tuple[str, ...],
    clear_map: bool,
    update_role: bool | None,
    enabled: bool | None,
) -> None:
    if client_secret_stdin and public_client:
        raise click.UsageError("give --client-secret-stdin or --public-client, not both")
    secret: str | None = None
    if client_secret_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise click.UsageError("no client secret on standard input")
    elif public_client:
        secret = ""
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        saved = oidc.get_provider(session, institution)
        old = oidc.provider_json(saved) if saved is not None else {}
        mapping = "\n".join(entry.replace("=", " = ", 1) for entry in role_map)
        if not role_map and not clear_map and saved is not None:
            mapping = oidc.role_map_text(saved)
        settings = oidc.ProviderSettings(
            display_name=display_name if display_name is not None else old.get("display_name", ""),
            issuer=issuer if issuer is not None else old.get("issuer", ""),
            client_id=client_id if client_id is not None else old.get("client_id", ""),
            client_secret=secret,
            allowed_domains=(
                allowed_domains
                if allowed_domains is not None
                else " ".join(old.get("allowed_domains", []))
            ),
            default_role=Role(default_role or old.get("default_role", Role.ISSUER.value)),
            email_claim=email_claim or old.get("email_claim", "email"),
            role_claim=role_claim if role_claim is not None else (old.get("role_claim") or ""),
            role_map=mapping,
            update_role=update_role if update_role is not None else old.get("update_role", False),
            enabled=enabled if enabled is not None else old.get("enabled", True),
        )
        try:
            provider = oidc.set_provider(
                session,
                institution,
                settings,
                actor=CLI_ACTOR,
                passphrase=get_settings().key_passphrase,
            )
        except FieldErrors as error:
            raise click.ClickException(
                "; ".join(f"{problem.field}: {problem.message}" for problem in error.errors)
            ) from None
        shown = oidc.provider_json(provider)
    click.echo(f"sign-in provider of {institution_slug!r} saved", err=True)
    echo_json(shown)


@oidc_group.command("show", help="Show the provider's settings (never the client secret).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def oidc_show(institution_slug: str) -> None:
    session = get_session()
    institution = institution_for(session, CLI_ACTOR, institution_slug)
    provider = oidc.get_provider(session, institution)
    if provider is None:
        raise click.ClickException(f"{institution_slug} has no sign-in provider")
    echo_json(oidc.provider_json(provider))


@oidc_group.command("disable", help="Switch sign-in through the provider off (settings stay).")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def oidc_disable(institution_slug: str) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        oidc.disable_provider(session, institution, actor=CLI_ACTOR)
    click.echo(f"sign-in through the provider switched off for {institution_slug!r}", err=True)
