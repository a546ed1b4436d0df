"""The learner's wallet page behind the manage link: ``/credentials/<id>/manage/<token>/wallet``
(issue 18).

``GET`` says what a digital wallet is for and lists the copies already in wallets; ``POST`` (a
form with its CSRF token) makes a new wallet offer and shows it: the QR code of its interaction
URL, the OpenID4VCI link and the transaction code. The offer's secrets exist in clear only in
this answer (``wallet.create_offer``), so it is shown, not redirected to; a reload makes a new
offer, which is harmless (each expires by itself). The learner's mail links here.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Response, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.services import wallet
from issuer.web.i18n import current_language
from issuer.web.learner import bp, keep_private, managed_credential
from issuer.web.learner.page import page_facts
from issuer.web.wallet import offer_links


class WalletOfferForm(FlaskForm):  # type: ignore[misc]
    """Only the CSRF token: the button asks for a new offer."""


@bp.route("/credentials/<credential_id>/manage/<token>/wallet", methods=["GET", "POST"])
def manage_wallet(credential_id: str, token: str) -> ResponseReturnValue:
    settings = get_settings()
    offer = None
    with unit_of_work() as session:
        credential = managed_credential(credential_id, token)
        facts = page_facts(session, credential, current_language())
        form = WalletOfferForm()
        if not facts.withdrawn and form.validate_on_submit():
            made = wallet.create_offer(
                session,
                credential.id,
                with_tx_code=True,
                ttl=timedelta(seconds=settings.wallet_offer_ttl),
            )
            offer = {
                "links": offer_links(settings.base_url, made.interaction_token),
                "tx_code": made.tx_code,
                "expires_at": made.expires_at,
            }
        copies = wallet.copies_of(session, credential.id)
    response = Response(
        render_template(
            "learner/wallet.html",
            form=form,
            facts=facts,
            offer=offer,
            copies=copies,
            manage_url=url_for("learner.manage", credential_id=credential_id, token=token),
        ),
        status=422 if request.method == "POST" and offer is None else 200,
    )
    return keep_private(response)
