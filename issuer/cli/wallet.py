"""``merkki wallet offer``: a fresh wallet offer of a credential, for support staff and scripts
(issue 18): what the learner's "Add to wallet" page shows, without the learner's manage link.

The offer's secrets exist in clear only in this output (``wallet.create_offer``): the
interaction URL (its QR code serves the Learner Credential Wallet and OpenID4VCI wallets), the
OpenID4VCI credential offer URI and the transaction code. With ``--json`` exactly
``{"interaction_url", "credential_offer_uri", "tx_code"}`` (``tx_code`` null with
``--no-tx-code``).
"""

from __future__ import annotations

from datetime import timedelta

import click

from issuer import urls
from issuer.cli.base import echo_json, main, with_app
from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.services import revocation, wallet


@main.group("wallet", help="Wallet offers: put a credential into a learner's digital wallet.")
def wallet_group() -> None:
    pass


@wallet_group.command(
    "offer",
    help="Make a new single-use wallet offer of CREDENTIAL_ID (its id, uuid or URL) and print "
    "its interaction URL, OpenID4VCI credential offer URI and transaction code.",
)
@click.argument("credential_id")
@click.option("--json", "as_json", is_flag=True, help="Print the offer as JSON.")
@click.option(
    "--no-tx-code", is_flag=True, help="An offer without a transaction code (PIN) for OpenID4VCI."
)
@with_app
def wallet_offer(credential_id: str, as_json: bool, no_tx_code: bool) -> None:
    settings = get_settings()
    with unit_of_work() as session:
        credential = revocation.find_credential(session, credential_id, settings.base_url)
        made = wallet.create_offer(
            session,
            credential.id,
            with_tx_code=not no_tx_code,
            ttl=timedelta(seconds=settings.wallet_offer_ttl),
        )
    interaction = urls.wallet_url(settings.base_url, made.interaction_token)
    offer_uri = urls.credential_offer_uri(settings.base_url, made.pre_authorized_code)
    if as_json:
        echo_json(
            {
                "interaction_url": interaction,
                "credential_offer_uri": offer_uri,
                "tx_code": made.tx_code,
            }
        )
        return
    click.echo(f"interaction URL:      {interaction}")
    click.echo(f"credential offer URI: {offer_uri}")
    click.echo(f"transaction code:     {made.tx_code or '(none)'}")
    click.echo(f"single use; expires {made.expires_at.isoformat(timespec='seconds')}", err=True)
