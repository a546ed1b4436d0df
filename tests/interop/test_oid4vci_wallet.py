"""Issue 18 acceptance: an OpenID4VCI 1.0 wallet client from the npm registry takes Merkki's
pre-authorized offers.

The wallet is ``oid4vci_js/wallet.mjs`` on the OpenWallet Foundation's ``@openid4vc/openid4vci``
and ``@openid4vc/oauth2`` (pinned in ``oid4vci_js/package.json``), run with node against the app
served by werkzeug on a loopback port (``ISSUER_BASE_URL`` is that address, so the credential
issuer identifier, the offers and the issuer's did:web all name it; plain http needs the
libraries' ``allowInsecureUrls``). One node process runs every scenario of the module in order:

* with a transaction code (the learner's PIN), bound to an Ed25519 ``did:key`` (``kid``);
* without one, bound to a P-256 key sent as a ``jwk`` (the copy names its ``did:key``);
* refused, with the specification's error and nothing issued: the first offer's code traded
  again, a wrong PIN, an expired offer, a stale nonce, the first flow's nonce used again, a
  proof for another audience.

The two credentials received verify in Merkki (``/api/v1/verify``) and in the Digital Bazaar
stack (its did:web and status list fetched from the live server, the status bit read); once the
original is revoked, Merkki and the Digital Bazaar stack find the copies revoked.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from issuer import urls
from issuer.core.did import did_key_for
from issuer.db import dispose, get_session, unit_of_work, utc_now
from issuer.models import Credential
from issuer.models.oid4vci import Oid4vciAccessToken
from issuer.services import oid4vci, revocation
from issuer.services.audit import SystemActor
from issuer.services.oid4vci_proof import did_key_of
from tests import npm_packages
from tests.conftest import BACKENDS, migrated_database
from tests.interop.dbvc import RunJs, error_text
from tests.web.oid4vci.support import WalletWorld, make_world

pytestmark = pytest.mark.interop

JS_DIR = Path(__file__).resolve().parent / "oid4vci_js"
RUN_TIMEOUT_S = 120


class _LateApp:
    """The server binds port 0 first; the app, whose base URL names the port, comes after."""

    def __init__(self) -> None:
        self.world: WalletWorld | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.world is not None
        return self.world.app(environ, start_response)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletWorld]:
    late = _LateApp()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    root = tmp_path_factory.mktemp("oid4vci")
    late.world = make_world(root, url, migrated_database(request, root))
    thread = threading.Thread(target=server.serve_forever, name="oid4vci-live", daemon=True)
    thread.start()
    try:
        yield late.world
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        dispose(late.world.app)


def _run_wallet(scenarios: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    npm_packages.ensure_node_modules(JS_DIR, "the OpenID4VCI wallet tests")
    result = subprocess.run(
        ["node", str(JS_DIR / "wallet.mjs")],
        input=json.dumps({"scenarios": scenarios}),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    try:
        answer = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"wallet.mjs exit {result.returncode}: {result.stdout[:500]!r} {result.stderr[-2000:]}"
        ) from error
    assert result.returncode == 0, answer
    return {item["name"]: item for item in answer["results"]}


def _ed25519_wallet_key() -> dict[str, Any]:
    key = OKPKey.generate_key("Ed25519")
    did = did_key_for(key.public_key)  # type: ignore[arg-type]
    return {"privateJwk": key.as_dict(private=True), "did": did, "alg": "EdDSA", "binding": "kid"}


def _p256_wallet_key() -> dict[str, Any]:
    key = ECKey.generate_key("P-256")
    did = did_key_of(key.public_key)
    return {"privateJwk": key.as_dict(private=True), "did": did, "alg": "ES256", "binding": "jwk"}


def _by_value(world: WalletWorld, code: str) -> str:
    """The offer a wallet fetched before it expired, handed over by value (§4.1.2)."""
    offer = {
        "credential_issuer": world.base_url,
        "credential_configuration_ids": [oid4vci.CONFIGURATION_ID],
        "grants": {oid4vci.PRE_AUTHORIZED_GRANT: {"pre-authorized_code": code}},
    }
    return "openid-credential-offer://?credential_offer=" + quote(json.dumps(offer), safe="")


@pytest.fixture(scope="module")
def flows(live: WalletWorld) -> dict[str, Any]:
    """Every scenario, run once by one node process; the keys and offers they used."""
    ed_key, p256_key = _ed25519_wallet_key(), _p256_wallet_key()
    pin = live.offer(with_tx_code=True)
    plain = live.offer(with_tx_code=False)
    wrong_pin = live.offer(with_tx_code=True)
    expired = live.offer(with_tx_code=False)
    live.expire(expired)
    stale, reused, elsewhere = (live.offer(with_tx_code=False) for _ in range(3))
    secret = live.app.config["SECRET_KEY"]
    assert pin.tx_code is not None
    assert wrong_pin.tx_code is not None
    wrong = f"{(int(wrong_pin.tx_code) + 1) % 10**6:06d}"
    # The first wallet starts where a learner's phone does: the interaction URL of the QR code.
    protocols = live.app.test_client().get(
        urls.wallet_url(live.base_url, pin.interaction_token),
        headers={"Accept": "application/json"},
    )
    from_qr = protocols.get_json()["protocols"]["OID4VCI"]
    assert from_qr == live.offer_uri(pin)
    scenarios: list[dict[str, Any]] = [
        {"name": "pin", "offer": from_qr, "txCode": pin.tx_code, "key": ed_key},
        {"name": "no-pin", "offer": live.offer_uri(plain), "key": p256_key},
        {"name": "code-again", "reuseOfferFrom": "pin", "txCode": pin.tx_code, "key": ed_key},
        {"name": "wrong-pin", "offer": live.offer_uri(wrong_pin), "txCode": wrong, "key": ed_key},
        {"name": "expired-uri", "offer": live.offer_uri(expired), "key": ed_key},
        {"name": "expired", "offer": _by_value(live, expired.pre_authorized_code), "key": ed_key},
        {
            "name": "stale-nonce",
            "offer": live.offer_uri(stale),
            "key": ed_key,
            "nonce": oid4vci.new_nonce(secret, utc_now() - timedelta(minutes=10)),
        },
        {
            "name": "nonce-again",
            "offer": live.offer_uri(reused),
            "key": ed_key,
            "reuseNonceFrom": "pin",
        },
        {
            "name": "other-audience",
            "offer": live.offer_uri(elsewhere),
            "key": ed_key,
            "audience": "https://merkki.example",
        },
    ]
    return {"results": _run_wallet(scenarios), "ed": ed_key, "p256": p256_key}


def test_the_wallet_receives_holder_bound_credentials_with_and_without_a_pin(
    live: WalletWorld, flows: dict[str, Any]
) -> None:
    results = flows["results"]
    for name, key in (("pin", flows["ed"]), ("no-pin", flows["p256"])):
        flow = results[name]
        assert flow["ok"], flow
        assert flow["count"] == 1
        assert flow["tokenResponse"]["token_type"] == "Bearer"
        credential = flow["credential"]
        assert credential["credentialSubject"]["id"] == key["did"]
        assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        original = json.loads(live.original_json())
        assert credential["credentialStatus"] == original["credentialStatus"]
        assert credential["id"] != original["id"]
        verdict = live.app.test_client().post("/api/v1/verify", json=credential).get_json()
        assert verdict["verdict"] == "valid", verdict
    assert flows["p256"]["did"].startswith("did:key:zDn")
    copies = live.copies()
    assert [(copy.holder_did, copy.via) for copy in copies] == [
        (flows["ed"]["did"], "oid4vci"),
        (flows["p256"]["did"], "oid4vci"),
    ]


def test_refusals_use_the_specifications_errors_and_issue_nothing(
    live: WalletWorld, flows: dict[str, Any]
) -> None:
    results = flows["results"]
    expected = {
        "code-again": ("token", 400, "invalid_grant"),
        "wrong-pin": ("token", 400, "invalid_grant"),
        "expired": ("token", 400, "invalid_grant"),
        "stale-nonce": ("credential", 400, "invalid_nonce"),
        "nonce-again": ("credential", 400, "invalid_nonce"),
        "other-audience": ("credential", 400, "invalid_proof"),
    }
    for name, (stage, status, error) in expected.items():
        flow = results[name]
        assert not flow["ok"], name
        assert flow["stage"] == stage, flow
        assert (flow["error"].get("status"), flow["error"].get("error")) == (status, error), flow
    # An expired offer is not served by reference either.
    assert results["expired-uri"]["stage"] == "offer"
    assert "410" in results["expired-uri"]["error"]["message"]
    # Only the two good flows made copies; the refused credential requests spent no token.
    assert len(live.copies()) == 2
    with live.app.app_context():
        tokens = list(get_session().scalars(select(Oid4vciAccessToken)))
    assert len(tokens) == 5  # pin, no-pin and the three refused at the credential endpoint
    assert sum(token.used_at is not None for token in tokens) == 2


def test_the_copies_verify_in_the_digital_bazaar_stack_and_follow_a_revocation(
    live: WalletWorld, flows: dict[str, Any], dbvc: RunJs
) -> None:
    host = urlsplit(live.base_url).netloc
    # did:web resolves over https (did:web §"Read"); the loader maps it to the live server.
    web = {f"http://{host}": live.base_url, f"https://{host}": live.base_url}
    copies = [flows["results"][name]["credential"] for name in ("pin", "no-pin")]
    for copy in copies:
        answer = dbvc({"op": "verify", "credential": copy, "web": web, "bitstringStatus": True})
        assert answer["verified"] is True, error_text(answer)
    with live.app.app_context(), unit_of_work() as session:
        original = session.get(Credential, live.credential_id)
        assert original is not None
        revocation.revoke(session, original, actor=SystemActor(), reason="issued by mistake")
    # The copies carry the original's status entry: Merkki and the Digital Bazaar stack (which
    # fetches the re-signed status list from the live server) now find them revoked.
    client = live.app.test_client()
    for copy in copies:
        assert client.post("/api/v1/verify", json=copy).get_json()["verdict"] == "revoked"
        answer = dbvc({"op": "verify", "credential": copy, "web": web, "bitstringStatus": True})
        assert answer["verified"] is False, answer
        assert {"purpose": "revocation", "set": True} in [
            {"purpose": entry["purpose"], "set": entry["set"]} for entry in answer["statuses"]
        ], answer
