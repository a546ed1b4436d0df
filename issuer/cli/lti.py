"""``merkki lti ...``: the LTI 1.3 platforms that launch Merkki in their courses
(docs/integrations.md, LTI). ``invite`` prints a one-time Dynamic Registration URL alone on
stdout (``URL=$(merkki lti invite ...)``); everything else about it goes to stderr."""

from __future__ import annotations

import click

from issuer import urls
from issuer.cli.base import echo_json, main, with_app
from issuer.config import get_settings
from issuer.db import get_session, unit_of_work
from issuer.services import lti
from issuer.services.actors import CLI_ACTOR, institution_for


@main.group(name="lti", help="LTI 1.3 platforms (Moodle and others) that launch Merkki.")
def lti_group() -> None:
    pass


@lti_group.command("register", help="Register a platform by hand for an institution.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.option("--name", default="", help="A name for staff, e.g. the Moodle site's address.")
@click.option("--issuer", required=True, help="The platform's issuer (Moodle: the site URL).")
@click.option("--client-id", required=True, help="The client id the platform gave Merkki.")
@click.option("--deployment-id", "deployment_ids", multiple=True, required=True, help="Repeatable.")
@click.option("--auth-login-url", required=True, help="The platform's OIDC login URL.")
@click.option("--auth-token-url", required=True, help="The platform's access token URL.")
@click.option("--key-set-url", required=True, help="The platform's public key set URL.")
@with_app
def lti_register(
    institution_slug: str,
    name: str,
    issuer: str,
    client_id: str,
    deployment_ids: tuple[str, ...],
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        platform = lti.register_platform(
            session,
            institution,
            lti.PlatformDetails(
                name=name,
                issuer=issuer,
                client_id=client_id,
                deployment_ids=list(deployment_ids),
                auth_login_url=auth_login_url,
                auth_token_url=auth_token_url,
                key_set_url=key_set_url,
            ),
            actor=CLI_ACTOR,
            development=lti.development_mode(get_settings().base_url),
        )
        echo_json(lti.platform_json(platform))


@lti_group.command("list", help="List an institution's platforms.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def lti_list(institution_slug: str) -> None:
    session = get_session()
    institution = institution_for(session, CLI_ACTOR, institution_slug)
    echo_json([lti.platform_json(found) for found in lti.list_platforms(session, institution)])


@lti_group.command("remove", help="Remove a platform by the id `lti list` shows.")
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@click.argument("platform_id", type=int)
@with_app
def lti_remove(institution_slug: str, platform_id: int) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        lti.remove_platform(
            session, lti.get_platform(session, institution, platform_id), actor=CLI_ACTOR
        )
    click.echo(f"removed LTI platform {platform_id}", err=True)


@lti_group.command(
    "invite",
    help="Make a one-time Dynamic Registration URL for an institution (valid 7 days); prints "
    "it alone. Paste it into the platform's 'Register a tool'.",
)
@click.option("--institution", "institution_slug", required=True, help="Institution slug.")
@with_app
def lti_invite(institution_slug: str) -> None:
    with unit_of_work() as session:
        institution = institution_for(session, CLI_ACTOR, institution_slug)
        token = lti.create_invite(session, institution, actor=CLI_ACTOR)
    click.echo(f"registration link for {institution_slug!r}, valid 7 days:", err=True)
    click.echo(urls.lti_register_url(get_settings().base_url, token))
