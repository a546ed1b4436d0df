"""``POST /vc-api/credentials/verify``: the VC-API shape, status codes that follow ``verified``,
the W3C vectors and the shared samples (and their tampered copies), VC 1.1 and 2.0, proof sets
and chains, our own credentials, and requests that are refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from issuer.core.contexts import EXAMPLES_V2
from tests.spec_files import load_json
from tests.web.vcapi.helpers import Holder, add_proof, plain_credential, post, sign_eddsa
from tests.web.verify.helpers import Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

W3C = "vectors/vc-di-eddsa/"
SAMPLES = "samples/1edtech-validator-ob30/"
PATH = "credentials/verify"


def _verify(client: FlaskClient, credential: Any, **extra: Any) -> tuple[int, dict[str, Any]]:
    response = post(client, PATH, {"verifiableCredential": credential, "options": {}, **extra})
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    return response.status_code, body


def _assert_shape(status: int, body: dict[str, Any]) -> None:
    assert set(body) >= {"verified", "checks", "warnings", "errors"}
    # VC-API: 200 only with verified true; a failed verification is 4xx, never 200.
    if body["verified"]:
        assert status == 200
        assert body["errors"] == []
    else:
        assert status == 422
        assert body["errors"], body


def _codes(body: dict[str, Any]) -> set[str]:
    return {error["code"] for error in body["errors"]}


# --- credentials signed here with did:key: any VC, VC 1.1 and 2.0 ------------------------------


@pytest.mark.parametrize("version", ["2.0", "1.1"])
@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "Ed25519Signature2020"])
def test_did_key_credential_verifies(client: FlaskClient, version: str, suite: str) -> None:
    issuer = Holder()
    document = plain_credential(issuer, "did:example:alice", version=version, suite=suite)
    credential = add_proof(document, issuer, suite=suite)
    status, body = _verify(client, credential)
    _assert_shape(status, body)
    assert status == 200, body
    assert body["verified"] is True
    assert {"format", "proof", "issuer", "validity"} <= set(body["checks"])
    # Self-asserted issuer: verified, and the verifier is told nobody else vouches for it.
    assert [w["code"] for w in body["warnings"]] == ["self_asserted"]


@pytest.mark.parametrize("version", ["2.0", "1.1"])
def test_tampered_did_key_credential_fails(client: FlaskClient, version: str) -> None:
    issuer = Holder()
    credential = add_proof(plain_credential(issuer, "did:example:alice", version=version), issuer)
    credential["credentialSubject"]["id"] = "did:example:mallory"
    status, body = _verify(client, credential)
    _assert_shape(status, body)
    assert body["verified"] is False
    assert "invalid_proof" in _codes(body)
    assert body["verdict"] == "not_genuine"


def test_credential_signed_by_another_key_than_the_issuers_fails(client: FlaskClient) -> None:
    issuer, other = Holder(), Holder()
    credential = add_proof(plain_credential(issuer, "did:example:alice"), other)
    status, body = _verify(client, credential)
    _assert_shape(status, body)
    assert "proof" in body["checks"]
    assert "issuer_unconfirmed" in _codes(body)


def test_expired_plain_credential_fails(client: FlaskClient) -> None:
    issuer = Holder()
    document = plain_credential(issuer, "did:example:alice")
    document["validUntil"] = "2025-06-01T00:00:00Z"
    status, body = _verify(client, sign_eddsa(document, issuer))
    _assert_shape(status, body)
    assert _codes(body) == {"expired"}


def test_vc_1_1_undefined_term_is_refused(client: FlaskClient) -> None:
    # VC 1.1 has no @vocab: an undefined term is dropped by canonicalization, so unsigned.
    issuer = Holder()
    document = plain_credential(issuer, "did:example:alice", version="1.1")
    document["credentialSubject"]["degree"] = "BSc"
    credential = add_proof(document, issuer)
    status, body = _verify(client, credential)
    _assert_shape(status, body)
    assert "undefined_terms" in _codes(body)


@pytest.mark.parametrize("version", ["2.0", "1.1"])
def test_undefined_term_is_refused(client: FlaskClient, version: str) -> None:
    # Neither VC context has a @vocab: an undefined term is dropped by canonicalization, so
    # it is not signed, and the credential is refused naming it.
    issuer = Holder()
    document = plain_credential(issuer, "did:example:alice", version=version)
    document["credentialSubject"]["degree"] = "BSc"
    status, body = _verify(client, sign_eddsa(document, issuer, check_terms=False))
    _assert_shape(status, body)
    assert "undefined_terms" in _codes(body)
    assert "degree" in body["errors"][0]["detail"]


def test_term_under_the_examples_vocabulary_is_signed_and_a_warning(client: FlaskClient) -> None:
    issuer = Holder()
    document = plain_credential(issuer, "did:example:alice")
    document["@context"].append(EXAMPLES_V2)
    document["credentialSubject"]["degree"] = "BSc"
    credential = add_proof(document, issuer)
    status, body = _verify(client, credential)
    _assert_shape(status, body)
    assert status == 200
    assert "issuer_dependent_terms" in {w["code"] for w in body["warnings"]}
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["degree"] = "PhD"  # signed under the vocabulary
    status, body = _verify(client, tampered)
    assert status == 422
    assert "invalid_proof" in _codes(body)


def test_proof_set_needs_every_proof(client: FlaskClient) -> None:
    issuer, witness = Holder(), Holder()
    document = plain_credential(issuer, "did:example:alice")
    signed = sign_eddsa(sign_eddsa(document, issuer), witness)
    status, body = _verify(client, signed)
    assert status == 200, body
    assert "proofs" in body["checks"]
    broken = copy.deepcopy(signed)
    broken["proof"][1]["proofValue"] = signed["proof"][0]["proofValue"]
    status, body = _verify(client, broken)
    _assert_shape(status, body)
    assert status == 422
    assert [e["check"] for e in body["errors"]] == ["proofs"]


def test_proof_chain_verifies_and_a_broken_link_fails(client: FlaskClient) -> None:
    issuer, endorser = Holder(), Holder()
    first = sign_eddsa(plain_credential(issuer, "did:example:alice"), issuer, proof_id="urn:uuid:1")
    chained = sign_eddsa(first, endorser, proof_id="urn:uuid:2", previous_proof="urn:uuid:1")
    status, body = _verify(client, chained)
    assert status == 200, body
    broken = copy.deepcopy(chained)
    broken["proof"][0]["created"] = "2026-01-02T00:00:00Z"
    status, body = _verify(client, broken)
    _assert_shape(status, body)
    assert status == 422
    assert "invalid_proof" in _codes(body)


# --- W3C vectors -------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    "relative",
    [f"{W3C}eddsa-rdfc-2022/signedDataInt.json", f"{W3C}Ed25519Signature2020/signedEdSig.json"],
)
def test_w3c_vectors(client: FlaskClient, relative: str) -> None:
    """The signatures verify; the issuer (``https://vc.example/issuers/5678``) is not the key's
    controller (a did:key), so its identity is not confirmed: verified false, 422, and the only
    error is the issuer's (DESIGN.md "Verification": an issuer is confirmed only by proof)."""
    signed = load_json(relative)
    status, body = _verify(client, signed)
    _assert_shape(status, body)
    assert status == 422
    assert "proof" in body["checks"]
    assert [(e["check"], e["code"]) for e in body["errors"]] == [("issuer", "issuer_unconfirmed")]
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["alumniOf"] = "The School of Counterfeits"
    status, body = _verify(client, tampered)
    _assert_shape(status, body)
    assert "invalid_proof" in _codes(body)
    assert "proof" not in body["checks"]


@pytest.mark.shared
@pytest.mark.parametrize(
    "name", ["signedProofSet2.json", "signedProofChain1.json", "signedProofChain2.json"]
)
def test_w3c_proof_set_and_chain_vectors(client: FlaskClient, name: str) -> None:
    signed = load_json(f"{W3C}proof-set-chain/{name}")
    status, body = _verify(client, signed)
    _assert_shape(status, body)
    assert {"proof", "proofs"} <= set(body["checks"])
    broken = copy.deepcopy(signed)
    broken["proof"][0]["created"] = "2023-02-24T23:36:39Z"
    status, body = _verify(client, broken)
    _assert_shape(status, body)
    assert "proofs" not in body["checks"]
    assert "proofs" in {e["check"] for e in body["errors"]}


# --- shared samples: the same verdict as /api/v1/verify -----------------------------------------

SAMPLE_NAMES = [
    "simple.json",
    "simple_v1.json",
    "simple-did-web-method.json",
    "simple-eddsa-2022.json",
    "simple-multiple-proofs.json",
    "endorsement-valid.json",
    "simple-did-key-method.json",
    "simple-err-expired.json",
    "simple-err-issuer-type.json",
    "simple-err-proof-value.json",
    "simple-noproof.json",
    "complete_v1.json",
    "sd/derivedcredential.json",
]


@pytest.mark.shared
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_shared_sample_agrees_with_the_verification_api(client: FlaskClient, name: str) -> None:
    document = load_json(SAMPLES + name)
    expected = client.post("/api/v1/verify", json=document).get_json()
    status, body = _verify(client, document)
    _assert_shape(status, body)
    assert body["verified"] is expected["verified"], body
    assert body["verdict"] == expected["verdict"]


@pytest.mark.shared
@pytest.mark.parametrize("name", ["simple.json", "simple_v1.json", "simple-eddsa-2022.json"])
def test_tampered_shared_sample_fails(client: FlaskClient, name: str) -> None:
    document = load_json(SAMPLES + name)
    document["credentialSubject"]["achievement"]["name"] = "Forged achievement"
    status, body = _verify(client, document)
    _assert_shape(status, body)
    assert status == 422
    assert "invalid_proof" in _codes(body)


# --- our own credentials: status from the database ---------------------------------------------


def test_own_credentials(client: FlaskClient, scenario: Scenario) -> None:
    expected = {"valid": 200, "revoked": 422, "suspended": 422, "expired": 422, "tampered": 422}
    for name, code in expected.items():
        status, body = _verify(client, scenario.credentials[name].document)
        _assert_shape(status, body)
        assert status == code, (name, body)
    _, body = _verify(client, scenario.credentials["revoked"].document)
    assert "revoked" in _codes(body)


# --- refused requests --------------------------------------------------------------------------


def test_credential_as_a_json_string_is_refused(client: FlaskClient) -> None:
    issuer = Holder()
    credential = sign_eddsa(plain_credential(issuer, "did:example:alice"), issuer)
    status, body = _verify(client, json.dumps(credential))
    assert status == 400
    assert body["verified"] is False
    assert "JSON string" in body["errors"][0]["title"]


@pytest.mark.parametrize(
    "body",
    [[], "x", 3, {}, {"verifiableCredential": []}, {"verifiableCredential": {}, "options": "x"}],
)
def test_not_a_verification_request(client: FlaskClient, body: Any) -> None:
    response = post(client, PATH, body)
    assert response.status_code == 400
    assert response.get_json()["verified"] is False


def test_malformed_wrong_type_oversize_and_method(client: FlaskClient) -> None:
    url = f"/vc-api/{PATH}"
    response = client.post(url, data=b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.is_json
    response = client.post(
        url, data=b"[" * 100_000 + b"]" * 100_000, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.is_json
    response = client.post(url, data=b"{}", content_type="text/plain")
    assert response.status_code == 415
    assert response.is_json
    response = client.post(url, data=b" " * (5 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413
    assert response.is_json
    response = client.get(url)
    assert response.status_code == 405
    assert response.is_json


def test_rate_limited(app: Any, client: FlaskClient) -> None:
    app.config["RATE_LIMIT_VERIFY"] = "2 per minute"
    codes = [post(client, PATH, {}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]
