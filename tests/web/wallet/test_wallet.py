"""Into the learner's wallet (issue 18): the manage link's wallet page, the interaction URL and
the VC-API exchange the Learner Credential Wallet runs, and ``merkki wallet offer``.

The presentations here are made with the engine's primitives (``tests/web/vcapi/helpers.py``);
the same exchange run by the library the Learner Credential Wallet uses is in
``tests/interop/test_wallet_lcw.py``."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from issuer.core.qr import qr_svg
from issuer.db import get_session, unit_of_work
from issuer.models import Credential
from issuer.models.wallet import WalletCopy, WalletOffer
from issuer.services import mail, revocation, verification, wallet
from issuer.services.audit import SystemActor
from issuer.web.observability import loggable_path
from tests.web.learner.support import (
    BASE_URL,
    CSRF,
    World,
    issue,
    issuing_app_config,  # noqa: F401 - fixture
    issuing_templates_dir,  # noqa: F401 - fixture
    world_fixture,  # noqa: F401 - fixture
)
from tests.web.vcapi.helpers import Holder, presentation

# The database is not what these tests are about; the offer's single use on both databases is
# tests/services/test_wallet.py's.

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
WALLET = {"Accept": "application/json"}


def _offer(app: Flask, credential_id: str, **options: Any) -> wallet.OfferSecrets:
    with app.app_context(), unit_of_work() as session:
        return wallet.create_offer(
            session, credential_id, with_tx_code=options.pop("with_tx_code", False), **options
        )


def _count(app: Flask, model: Any) -> int:
    with app.app_context():
        return int(get_session().scalar(select(func.count()).select_from(model)) or 0)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _exchange(client: FlaskClient, token: str, body: Any) -> Any:
    return client.post(f"/wallet/{token}/exchange", json=body)


def test_the_manage_link_makes_an_offer_the_interaction_url_serves_wallets_and_browsers(
    app: Flask, world: World
) -> None:
    issued = issue(app)
    client = app.test_client()
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}"
    page = client.get(manage, headers={**BROWSER, "Accept-Language": "en"}).get_data(as_text=True)
    assert f'href="{manage}/wallet"' in page
    assert "No copy of this badge has been added to a wallet yet." in page

    first = client.get(f"{manage}/wallet?lang=en", headers=BROWSER)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    assert "data:image/svg+xml" not in first.get_data(as_text=True)  # no offer until asked
    token = CSRF.search(first.get_data(as_text=True))
    assert token is not None
    made = client.post(f"{manage}/wallet", data={"csrf_token": token.group(1)}, headers=BROWSER)
    assert made.status_code == 200
    assert made.headers["Referrer-Policy"] == "no-referrer"
    shown = made.get_data(as_text=True)
    tx_code = re.search(r'<strong class="tx-code">(\d{6})</strong>', shown)
    assert tx_code is not None
    qr = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', shown)
    assert qr is not None
    address = re.search(r'id="offer-address" type="text" readonly value="([^"]+)"', shown)
    assert address is not None
    interaction = html.unescape(address.group(1))
    # The QR code is the code of that address (segno writes the same code for the same text).
    assert base64.b64decode(qr.group(1)) == qr_svg(interaction)
    assert interaction.startswith(f"{BASE_URL}/wallet/")
    assert interaction.endswith("?iuv=1")
    # The offer is stored hashed: its token is in the QR code and nowhere in the database.
    secret = urlsplit(interaction).path.rsplit("/", 1)[1]
    with app.app_context():
        [row] = get_session().scalars(select(WalletOffer)).all()
        assert secret not in repr([getattr(row, c.name) for c in WalletOffer.__table__.columns])
        assert row.tx_code_hash is not None

    protocols = client.get(_path(interaction), headers=WALLET)
    assert protocols.status_code == 200
    assert protocols.headers["Cache-Control"] == "no-store"
    answer = protocols.get_json()["protocols"]
    assert answer["vcapi"] == f"{BASE_URL}/wallet/{secret}/exchange"
    offer_uri = urlsplit(answer["OID4VCI"])
    assert offer_uri.scheme == "openid-credential-offer"
    [by_reference] = parse_qs(offer_uri.query)["credential_offer_uri"]
    code = wallet.pre_authorized_code(secret)
    assert unquote(by_reference) == f"{BASE_URL}/oid4vci/offers/{code}"
    assert f'href="{answer["OID4VCI"]}"' in shown.replace("&amp;", "&")

    for lang, heading in (
        ("fi", "Lisää merkki digitaaliseen lompakkoon"),
        ("sv", "Lägg till ett märke i en digital plånbok"),
        ("en", "Add a badge to a digital wallet"),
    ):
        browser = client.get(f"{_path(interaction)}&lang={lang}", headers=BROWSER)
        assert browser.status_code == 200
        text = browser.get_data(as_text=True)
        assert heading in text
        assert tx_code.group(1) not in text  # the PIN is only behind the manage link
        assert "data:image/svg+xml;base64," in text


def test_the_exchange_binds_a_copy_to_the_holder_once_and_refuses_what_is_not_proof(
    app: Flask, world: World
) -> None:
    issued = issue(app)
    offer = _offer(app, issued.id)
    token = offer.interaction_token
    client = app.test_client()  # no session, no CSRF token: a wallet has neither

    asked = _exchange(client, token, {})
    assert asked.status_code == 200
    assert asked.headers["Cache-Control"] == "no-store"
    request_ = asked.get_json()["verifiablePresentationRequest"]
    assert request_["query"] == [
        {"type": "DIDAuthentication", "acceptedMethods": [{"method": "key"}]}
    ]
    challenge, domain = request_["challenge"], request_["domain"]
    assert domain == BASE_URL
    assert challenge == wallet.vcapi_challenge(token)

    holder, other = Holder(), Holder()
    good = presentation(holder, [], challenge=challenge, domain=domain)
    forged = json.loads(json.dumps(good))
    forged["holder"] = other.did  # the signature no longer covers what is sent
    refused = {
        "wrong challenge": presentation(holder, [], challenge="another", domain=domain),
        "wrong domain": presentation(
            holder, [], challenge=challenge, domain="https://evil.example"
        ),
        "no domain": presentation(holder, [], challenge=challenge, domain=None),
        "invalid signature": forged,
        "signed by someone else": presentation(
            holder, [], challenge=challenge, domain=domain, signer=other
        ),
        "not a presentation": {"type": "VerifiablePresentation"},
        "a string": json.dumps(good),
    }
    for what, body in refused.items():
        response = _exchange(client, token, {"verifiablePresentation": body})
        assert response.status_code == 400, what
        assert response.get_json()["error"] == "did_authentication_failed", what
    assert (
        client.post(f"/wallet/{token}/exchange", data="x", content_type="text/plain").status_code
        == 415
    )
    assert _count(app, WalletCopy) == 0

    for suite in ("Ed25519Signature2020", "eddsa-rdfc-2022"):
        holder = Holder()
        signed = presentation(holder, [], challenge=challenge, domain=domain, suite=suite)
        if suite == "eddsa-rdfc-2022":
            # Redeemed once: the offer is spent for every protocol.
            again = _exchange(client, token, {"verifiablePresentation": signed})
            assert again.status_code == 410
            assert again.get_json()["error"] == "offer_used"
            assert _exchange(client, token, {}).status_code == 410
            assert client.get(f"/wallet/{token}", headers=WALLET).status_code == 410
            continue
        response = _exchange(client, token, {"verifiablePresentation": signed})
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()["verifiablePresentation"]
        assert answer["type"] == ["VerifiablePresentation"]
        [copy] = answer["verifiableCredential"]
        assert copy["credentialSubject"]["id"] == holder.did
        bound = holder
    assert _count(app, WalletCopy) == 1
    with app.app_context():
        session = get_session()
        assert verification.verify(session, copy, base_url=BASE_URL).verdict == "valid"
        original = session.get(Credential, issued.id)
        assert original is not None
        revocation.revoke(session, original, actor=SystemActor(), reason="error")
        session.commit()
        assert verification.verify(session, copy, base_url=BASE_URL).verdict == "revoked"

    page = client.get(f"/credentials/{issued.id}/manage/{issued.manage_token}?lang=en")
    assert bound.did in page.get_data(as_text=True)


def test_unknown_and_expired_offers_issue_nothing(app: Flask, world: World) -> None:
    issued = issue(app)
    past = datetime.now(UTC) - timedelta(hours=1)
    expired = _offer(app, issued.id, now=past).interaction_token
    client = app.test_client()
    holder = Holder()
    for token, status, code in (
        (expired, 410, "offer_expired"),
        ("A" * 43, 404, "offer_unknown"),
        ("not-a-token", 404, "offer_unknown"),
    ):
        signed = presentation(holder, [], challenge=wallet.vcapi_challenge(token), domain=BASE_URL)
        response = _exchange(client, token, {"verifiablePresentation": signed})
        assert (response.status_code, response.get_json()["error"]) == (status, code)
        assert client.get(f"/wallet/{token}", headers=WALLET).status_code == status
        page = client.get(f"/wallet/{token}?lang=en", headers=BROWSER)
        assert page.status_code == status
        assert "This wallet offer cannot be used" in page.get_data(as_text=True)
    assert _count(app, WalletCopy) == 0


def test_a_withdrawn_badge_is_not_offered(app: Flask, world: World) -> None:
    issued = issue(app)
    with app.app_context(), unit_of_work() as session:
        credential = session.get(Credential, issued.id)
        assert credential is not None
        revocation.suspend(session, credential, actor=SystemActor(), reason=None)
    client = app.test_client()
    manage = f"/credentials/{issued.id}/manage/{issued.manage_token}/wallet?lang=en"
    page = client.get(manage, headers=BROWSER).get_data(as_text=True)
    assert "A revoked or suspended badge cannot be added to a wallet." in page
    assert "<form" not in page.split("</header>", 1)[-1].split("<footer", 1)[0]
    assert client.get(f"/credentials/{issued.id}/manage/wrong-token/wallet").status_code == 404


def test_the_learners_mail_links_the_wallet_page_and_logs_hide_offer_secrets() -> None:
    manage = f"{BASE_URL}/credentials/x/manage/y"
    body = mail.credential_mail_body(
        lang="en",
        name="Liisa",
        badge="Merkki",
        institution="HAMK",
        page_url=f"{BASE_URL}/credentials/x",
        manage_url=manage,
        verify_url=f"{BASE_URL}/verify/x",
    )
    assert f"\n{manage}/wallet\n" in body
    assert loggable_path("/wallet/s3cr3t") == "/wallet/[redacted]"
    assert loggable_path("/wallet/s3cr3t/exchange") == "/wallet/[redacted]/exchange"
    assert loggable_path("/oid4vci/offers/c0de") == "/oid4vci/offers/[redacted]"
    assert loggable_path("/badges/wallet/v1") == "/badges/wallet/v1"
