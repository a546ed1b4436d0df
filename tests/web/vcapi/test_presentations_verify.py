"""``POST /vc-api/presentations/verify``: a did:key holder's presentation, signed in either
suite with proof purpose ``authentication``, verifies only with the verifier's challenge and
domain, only when the holder signed it, and only when every credential in it verifies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.web.vcapi.helpers import (
    Holder,
    add_proof,
    plain_credential,
    post,
    presentation,
    sign_eddsa,
)
from tests.web.verify.helpers import Scenario, scenario, templates_dir

__all__ = ["scenario", "templates_dir"]  # fixtures used below

PATH = "presentations/verify"
SUITES = ["eddsa-rdfc-2022", "Ed25519Signature2020"]


def _verify(
    client: FlaskClient, vp: Any, challenge: Any = "c-123", domain: Any = "verifier.example"
) -> tuple[int, dict[str, Any]]:
    options: dict[str, Any] = {"challenge": challenge}
    if domain is not None:
        options["domain"] = domain
    response = post(client, PATH, {"verifiablePresentation": vp, "options": options})
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert set(body) >= {"verified", "checks", "warnings", "errors"}
    # 200 only with verified true (VC-API).
    assert (response.status_code == 200) is (body["verified"] is True), body
    return response.status_code, body


def _errors(body: dict[str, Any]) -> set[str]:
    return {error["check"] for error in body["errors"]}


def _credential(holder: Holder) -> dict[str, Any]:
    issuer = Holder()
    return sign_eddsa(plain_credential(issuer, holder.did), issuer)


@pytest.mark.parametrize("suite", SUITES)
def test_presentation_with_the_right_challenge_and_domain(client: FlaskClient, suite: str) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)], suite=suite)
    status, body = _verify(client, vp)
    assert status == 200, body
    assert {"format", "proof", "holder", "credentials"} <= set(body["checks"])
    assert [r["verified"] for r in body["credentialResults"]] == [True]


@pytest.mark.parametrize("suite", SUITES)
def test_wrong_challenge_is_refused(client: FlaskClient, suite: str) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)], suite=suite)
    status, body = _verify(client, vp, challenge="another-challenge")
    assert status == 422
    assert _errors(body) == {"proof", "holder"}
    assert "challenge" in body["errors"][0]["detail"]


@pytest.mark.parametrize("suite", SUITES)
def test_wrong_domain_is_refused(client: FlaskClient, suite: str) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)], suite=suite)
    status, body = _verify(client, vp, domain="evil.example")
    assert status == 422
    assert "domain" in body["errors"][0]["detail"]


def test_proof_without_a_domain_is_refused_when_one_is_asked(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)], domain=None)
    assert _verify(client, vp, domain=None)[0] == 200
    status, body = _verify(client, vp, domain="verifier.example")
    assert status == 422
    assert "proof" in _errors(body)


def test_assertion_proof_is_not_an_authentication(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)])
    unsigned = {k: v for k, v in vp.items() if k != "proof"}
    resigned = add_proof(unsigned, holder, challenge="c-123", domain="verifier.example")
    status, body = _verify(client, resigned)
    assert status == 422
    assert "authentication" in body["errors"][0]["detail"]


def test_tampered_presentation_fails(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)])
    vp["verifiableCredential"].append(_credential(holder))
    status, body = _verify(client, vp)
    assert status == 422
    assert "proof" in _errors(body)


def test_presentation_signed_by_someone_else_than_the_holder(client: FlaskClient) -> None:
    holder, thief = Holder(), Holder()
    vp = presentation(holder, [_credential(holder)], signer=thief)
    status, body = _verify(client, vp)
    assert status == 422
    assert _errors(body) == {"holder"}


def test_presentation_with_a_failing_credential(client: FlaskClient) -> None:
    holder = Holder()
    forged = _credential(holder)
    forged["credentialSubject"]["id"] = "did:example:someone-else"
    vp = presentation(holder, [_credential(holder), forged])
    status, body = _verify(client, vp)
    assert status == 422
    assert _errors(body) == {"credentials"}
    assert [r["verified"] for r in body["credentialResults"]] == [True, False]


def test_presentation_with_our_own_revoked_credential(
    client: FlaskClient, scenario: Scenario
) -> None:
    holder = Holder()
    valid = scenario.credentials["valid"].document
    revoked = scenario.credentials["revoked"].document
    status, _ = _verify(client, presentation(holder, [valid]))
    assert status == 200
    status, body = _verify(client, presentation(holder, [valid, revoked]))
    assert status == 422
    assert "revoked" in {e["code"] for e in body["credentialResults"][1]["errors"]}


@pytest.mark.parametrize(
    "options",
    [{}, {"challenge": ""}, {"challenge": 3}, {"challenge": "c", "domain": ["a"]}],
)
def test_options_are_required(client: FlaskClient, options: dict[str, Any]) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)])
    response = post(client, PATH, {"verifiablePresentation": vp, "options": options})
    assert response.status_code == 400
    assert response.get_json()["verified"] is False


def test_presentation_as_a_json_string_is_refused(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)])
    response = post(
        client, PATH, {"verifiablePresentation": json.dumps(vp), "options": {"challenge": "c"}}
    )
    assert response.status_code == 400
    assert "JSON string" in response.get_json()["errors"][0]["title"]


def test_embedded_credential_as_a_string_fails(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [json.dumps(_credential(holder))])  # type: ignore[list-item]
    status, body = _verify(client, vp)
    assert status == 422
    assert body["credentialResults"][0]["verified"] is False


def test_too_many_credentials_is_refused(client: FlaskClient) -> None:
    holder = Holder()
    one = _credential(holder)
    vp = presentation(holder, [one])
    # Refused before anything is verified: the proof need not match.
    vp["verifiableCredential"] = [copy.deepcopy(one) for _ in range(21)]
    response = post(client, PATH, {"verifiablePresentation": vp, "options": {"challenge": "c"}})
    assert response.status_code == 400


def test_presentation_without_a_holder_warns(client: FlaskClient) -> None:
    holder = Holder()
    vp = presentation(holder, [_credential(holder)])
    unsigned = {k: v for k, v in vp.items() if k not in ("proof", "holder")}
    anonymous = add_proof(
        unsigned, holder, purpose="authentication", challenge="c-123", domain="verifier.example"
    )
    status, body = _verify(client, anonymous)
    assert status == 200, body
    assert [w["code"] for w in body["warnings"]] == ["no_holder"]
