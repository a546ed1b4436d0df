"""The OpenID4VCI endpoints one request at a time: the metadata, the offer by reference, and
every refusal of the token and credential endpoints that a conforming wallet library would
not send (the full flow with a real wallet client is tests/interop/test_oid4vci_wallet.py).
One app for the module (SQLite): each test makes its own offers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from joserfc import jws
from joserfc.jwk import OKPKey
from sqlalchemy import update

from issuer.core.did import did_key_for
from issuer.db import dispose, get_session, unit_of_work, utc_now
from issuer.models.oid4vci import Oid4vciAccessToken
from issuer.models.wallet import WalletOffer
from issuer.services import oid4vci, wallet
from issuer.services.oid4vci_proof import PROOF_TYP
from tests.conftest import BACKENDS, BASE_URL, migrated_database
from tests.web.oid4vci.support import WalletWorld, make_world

TOKEN_GRANT = oid4vci.PRE_AUTHORIZED_GRANT


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletWorld]:
    root = tmp_path_factory.mktemp("oid4vci-web")
    made = make_world(root, BASE_URL, migrated_database(request, root))
    yield made
    dispose(made.app)


@pytest.fixture
def client(world: WalletWorld) -> FlaskClient:
    return world.app.test_client()


def _error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str)
    return body


def _access_token(world: WalletWorld, client: FlaskClient) -> str:
    offer = world.offer(with_tx_code=False)
    form = {"grant_type": TOKEN_GRANT, "pre-authorized_code": offer.pre_authorized_code}
    response = client.post("/oid4vci/token", data=form)
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def _proof(client: FlaskClient, key: OKPKey, **claims: Any) -> str:
    did = did_key_for(key.public_key)  # type: ignore[arg-type]
    nonce = client.post("/oid4vci/nonce").get_json()["c_nonce"]
    body = {"aud": BASE_URL, "iat": int(utc_now().timestamp()), "nonce": nonce, **claims}
    header = {"alg": "Ed25519", "typ": PROOF_TYP, "kid": f"{did}#{did[8:]}"}
    return jws.serialize_compact(header, json.dumps(body), key, algorithms=["Ed25519"])


def test_the_metadata_describe_one_ldp_vc_configuration(client: FlaskClient) -> None:
    issuer = client.get("/.well-known/openid-credential-issuer")
    assert issuer.status_code == 200
    assert issuer.headers["Access-Control-Allow-Origin"] == "*"
    metadata = issuer.get_json()
    assert metadata["credential_issuer"] == BASE_URL
    assert metadata["credential_endpoint"] == f"{BASE_URL}/oid4vci/credential"
    assert metadata["nonce_endpoint"] == f"{BASE_URL}/oid4vci/nonce"
    assert "authorization_servers" not in metadata  # the issuer is its own
    configuration = metadata["credential_configurations_supported"][oid4vci.CONFIGURATION_ID]
    assert configuration["format"] == "ldp_vc"
    assert configuration["credential_definition"] == {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
    }
    assert configuration["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    algorithms = configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
    assert {"EdDSA", "ES256"} <= set(algorithms)
    assert {entry["locale"] for entry in configuration["credential_metadata"]["display"]} == {
        "fi",
        "sv",
        "en",
    }
    server = client.get("/.well-known/oauth-authorization-server").get_json()
    assert server["issuer"] == BASE_URL
    assert server["token_endpoint"] == f"{BASE_URL}/oid4vci/token"
    assert server["grant_types_supported"] == [TOKEN_GRANT]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


def test_the_offer_by_reference_carries_the_code_and_describes_the_pin(
    world: WalletWorld, client: FlaskClient
) -> None:
    with_pin, without = world.offer(with_tx_code=True), world.offer(with_tx_code=False)
    response = client.get(f"/oid4vci/offers/{with_pin.pre_authorized_code}")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    # The URL holds the code: kept out of caches and referrers.
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    offer = response.get_json()
    assert offer["credential_issuer"] == BASE_URL
    assert offer["credential_configuration_ids"] == [oid4vci.CONFIGURATION_ID]
    grant = offer["grants"][TOKEN_GRANT]
    assert grant["pre-authorized_code"] == with_pin.pre_authorized_code
    assert grant["tx_code"]["length"] == wallet.TX_CODE_LENGTH == len(str(with_pin.tx_code))
    assert grant["tx_code"]["input_mode"] == "numeric"
    assert 0 < len(grant["tx_code"]["description"]) <= 300
    # The description follows the wallet's language (§4.1.1 allows Accept-Language here).
    swedish = client.get(
        f"/oid4vci/offers/{with_pin.pre_authorized_code}", headers={"Accept-Language": "sv"}
    ).get_json()
    assert "transaktionskoden" in swedish["grants"][TOKEN_GRANT]["tx_code"]["description"]
    plain = client.get(f"/oid4vci/offers/{without.pre_authorized_code}").get_json()
    assert "tx_code" not in plain["grants"][TOKEN_GRANT]
    missing = client.get("/oid4vci/offers/" + "A" * 43)
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "offer_unknown"
    world.expire(without)
    gone = client.get(f"/oid4vci/offers/{without.pre_authorized_code}")
    assert gone.status_code == 410
    assert gone.get_json()["error"] == "offer_expired"
    assert gone.headers["Cache-Control"] == "no-store"


def test_the_token_endpoint_refuses_with_rfc_6749_errors(
    world: WalletWorld, client: FlaskClient
) -> None:
    with_pin, without = world.offer(with_tx_code=True), world.offer(with_tx_code=False)
    code = {"grant_type": TOKEN_GRANT, "pre-authorized_code": with_pin.pre_authorized_code}
    _error(client.post("/oid4vci/token", json=code), 400, "invalid_request")
    _error(client.post("/oid4vci/token", data={}), 400, "invalid_request")
    _error(
        client.post("/oid4vci/token", data={"grant_type": "password"}),
        400,
        "unsupported_grant_type",
    )
    _error(client.post("/oid4vci/token", data={"grant_type": TOKEN_GRANT}), 400, "invalid_request")
    unknown = {"grant_type": TOKEN_GRANT, "pre-authorized_code": "B" * 43}
    _error(client.post("/oid4vci/token", data=unknown), 400, "invalid_grant")
    repeated = f"grant_type={TOKEN_GRANT}&pre-authorized_code=a&pre-authorized_code=b"
    form = "application/x-www-form-urlencoded"
    _error(client.post("/oid4vci/token", data=repeated, content_type=form), 400, "invalid_request")
    # §6.3: a PIN missing where the offer has one, or sent where it has none.
    _error(client.post("/oid4vci/token", data=code), 400, "invalid_request")
    no_pin = {"grant_type": TOKEN_GRANT, "pre-authorized_code": without.pre_authorized_code}
    _error(
        client.post("/oid4vci/token", data={**no_pin, "tx_code": "123456"}), 400, "invalid_request"
    )
    with world.app.app_context():
        row = get_session().get(WalletOffer, with_pin.offer_id)
        assert row is not None
        assert (row.failed_attempts, row.used_at) == (0, None)
    # Wrong PINs are counted (committed with the refusal); past the limit the right one is
    # too late.
    assert with_pin.tx_code is not None
    wrong = f"{(int(with_pin.tx_code) + 1) % 10**6:06d}"
    for _ in range(wallet.MAX_TX_CODE_ATTEMPTS):
        _error(client.post("/oid4vci/token", data={**code, "tx_code": wrong}), 400, "invalid_grant")
    right = {**code, "tx_code": with_pin.tx_code}
    _error(client.post("/oid4vci/token", data=right), 400, "invalid_grant")
    # The offer without a PIN is still whole.
    granted = client.post("/oid4vci/token", data=no_pin)
    assert granted.status_code == 200
    assert granted.headers["Cache-Control"] == "no-store"
    body = granted.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == int(oid4vci.ACCESS_TOKEN_LIFETIME.total_seconds())
    with world.app.app_context():
        stored = get_session().get(Oid4vciAccessToken, oid4vci._digest(body["access_token"]))
        assert stored is not None  # kept as a digest only
    _error(client.post("/oid4vci/token", data=no_pin), 400, "invalid_grant")


def test_nonces_are_fresh_and_single_use(world: WalletWorld, client: FlaskClient) -> None:
    first, second = (client.post("/oid4vci/nonce") for _ in range(2))
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    assert first.get_json()["c_nonce"] != second.get_json()["c_nonce"]
    secret = world.app.config["SECRET_KEY"]
    nonce = first.get_json()["c_nonce"]
    now = utc_now()
    with world.app.app_context():
        session = get_session()
        oid4vci.use_nonce(session, secret, nonce, now)
        for refused in (
            nonce,  # again
            oid4vci.new_nonce("another secret", now),
            oid4vci.new_nonce(secret, now - oid4vci.NONCE_LIFETIME - timedelta(seconds=1)),
            nonce[:-2] + ("AA" if nonce[-2:] != "AA" else "BB"),
            "not a nonce",
            "",
        ):
            with pytest.raises(oid4vci.Oid4vciError) as caught:
                oid4vci.use_nonce(session, secret, refused, now)
            assert caught.value.error == "invalid_nonce"
        session.rollback()


def test_the_credential_endpoint_refuses_with_the_specifications_errors(
    world: WalletWorld, client: FlaskClient
) -> None:
    key = OKPKey.generate_key("Ed25519")
    token = _access_token(world, client)
    auth = {"Authorization": f"Bearer {token}"}
    request = {"credential_configuration_id": oid4vci.CONFIGURATION_ID}

    def post(body: Any, headers: dict[str, str] = auth) -> Any:
        return client.post("/oid4vci/credential", json=body, headers=headers)

    copies = len(world.copies())
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {token}"}):
        refused = post({**request, "proofs": {"jwt": [_proof(client, key)]}}, headers)
        _error(refused, 401, "invalid_token")
        assert refused.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    text = client.post("/oid4vci/credential", data="x", content_type="text/plain", headers=auth)
    _error(text, 400, "invalid_credential_request")
    _error(post(["not", "an", "object"]), 400, "invalid_credential_request")
    _error(post({}), 400, "invalid_credential_request")
    _error(
        post({"credential_configuration_id": "UniversityDegree"}),
        400,
        "unknown_credential_configuration",
    )
    _error(post({"credential_identifier": "x"}), 400, "unknown_credential_identifier")
    encrypted = {**request, "credential_response_encryption": {"jwk": {}, "enc": "A128GCM"}}
    _error(post(encrypted), 400, "invalid_encryption_parameters")
    _error(post(request), 400, "invalid_proof")
    _error(post({**request, "proofs": {"di_vp": [{}]}}), 400, "invalid_proof")
    _error(post({**request, "proofs": {"jwt": []}}), 400, "invalid_proof")
    _error(post({**request, "proofs": {"jwt": [42]}}), 400, "invalid_proof")
    two = [_proof(client, key), _proof(client, key)]
    _error(post({**request, "proofs": {"jwt": two}}), 400, "invalid_credential_request")
    old = int((utc_now() - timedelta(hours=1)).timestamp())
    _error(
        post({**request, "proofs": {"jwt": [_proof(client, key, iat=old)]}}), 400, "invalid_proof"
    )
    assert len(world.copies()) == copies
    # The same token still works with a good proof, once.
    issued = post({**request, "proofs": {"jwt": [_proof(client, key)]}})
    assert issued.status_code == 200, issued.get_json()
    assert issued.headers["Cache-Control"] == "no-store"
    credential = issued.get_json()["credentials"][0]["credential"]
    assert credential["credentialSubject"]["id"] == did_key_for(key.public_key)  # type: ignore[arg-type]
    assert len(world.copies()) == copies + 1
    _error(post({**request, "proofs": {"jwt": [_proof(client, key)]}}), 401, "invalid_token")
    # An access token past its lifetime.
    late = _access_token(world, client)
    with world.app.app_context(), unit_of_work() as session:
        session.execute(
            update(Oid4vciAccessToken)
            .where(Oid4vciAccessToken.token_hash == oid4vci._digest(late))
            .values(expires_at=utc_now() - timedelta(seconds=1))
        )
    expired = post(
        {**request, "proofs": {"jwt": [_proof(client, key)]}}, {"Authorization": f"Bearer {late}"}
    )
    _error(expired, 401, "invalid_token")
    assert len(world.copies()) == copies + 1
    # Expired tokens are cleared as new ones are made.
    _access_token(world, client)
    with world.app.app_context():
        assert get_session().get(Oid4vciAccessToken, oid4vci._digest(late)) is None
