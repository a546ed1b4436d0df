"""Into the learner's wallet (issue 18): an offer's interaction URL and its VC-API exchange.

* ``GET /wallet/<token>``: a wallet (``Accept: application/json``) gets the protocols it can
  use, ``{"protocols": {"vcapi": <exchange URL>, "OID4VCI": <credential offer URI>}}`` (the
  Learner Credential Wallet reads ``vcapi``; an OpenID4VCI wallet follows ``OID4VCI``); a
  browser (someone who scanned the QR code with a camera app) gets a page in its language that
  says what to do, with the QR code again. An unknown offer answers 404, an expired or redeemed
  one 410.
* ``POST /wallet/<token>/exchange``: the VC-API exchange the Learner Credential Wallet runs.
  ``{}`` answers a ``verifiablePresentationRequest`` for ``DIDAuthentication`` with the offer's
  ``challenge`` and the service's ``domain``; a ``verifiablePresentation`` signed by the
  holder's ``did:key`` for them (``vc_api.authenticate_holder``) redeems the offer, once, and
  answers a presentation holding the holder-bound copy (``wallet.issue_holder_bound_copy``). A
  refused presentation redeems nothing and issues nothing (400).

CSRF: the exchange is exempt. It is an API for wallets, which send no cookies and no form
tokens; it reads no session, and what it changes needs the offer's secret token in the URL and
a signature by the holder's key over the offer's challenge, neither of which a cross-site page
has. Answers are ``no-store`` and kept out of referrers and search engines: the URL holds a
secret.
"""

from __future__ import annotations

import base64

from flask import Blueprint

from issuer import urls
from issuer.core.qr import qr_svg
from issuer.services import wallet

bp = Blueprint("wallet", __name__)


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an ``img`` source: inline, so that the code of a secret URL is
    not another cacheable resource (the CSP allows ``data:`` images)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(text)).decode("ascii")


def offer_links(base_url: str, token: str) -> dict[str, str]:
    """What an offer's pages show: the interaction URL (and its QR code), the exchange and the
    OpenID4VCI credential offer URI."""
    interaction = urls.wallet_url(base_url, token)
    return {
        "interaction": interaction,
        "qr": qr_data_uri(interaction),
        "vcapi": urls.wallet_exchange_url(base_url, token),
        "oid4vci": urls.credential_offer_uri(base_url, wallet.pre_authorized_code(token)),
    }


from issuer.web.wallet import exchange  # noqa: E402,F401 - the routes
