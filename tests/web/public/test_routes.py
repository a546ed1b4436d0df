"""The public routes: DID documents, profiles, credentials, artwork, health, JSON errors."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from issuer.config import get_settings
from issuer.db import unit_of_work
from issuer.services import badge_classes, institutions, issuing, keys, learner_keys
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL, SVG

DID = "did:web:127.0.0.1%3A5000:issuers:tamk"


@pytest.fixture
def issued(app: Flask) -> dict[str, Any]:
    """An institution with a retired, a compromised and an active key, and one credential."""
    with app.app_context(), unit_of_work() as session:
        keystore = keys.keystore_for(get_settings())
        badge_classes.load_templates(session, app.config["BADGE_TEMPLATES_DIR"])
        institution = institutions.create_institution(
            session,
            InstitutionDetails(
                slug="tamk", name_fi="Tampereen ammattikorkeakoulu", name_en="Tampere UAS"
            ),
            keystore,
        )
        retired = keys.active_key(session, institution)
        compromised = keys.rotate_key(session, institution, keystore)
        active = keys.rotate_key(session, institution, keystore)
        keys.mark_compromised(compromised)
        credential = issuing.issue_credential(
            session,
            institution,
            badge_classes.get_badge_class(session, "test-badge"),
            "x@y.fi",
            "X Y",
            "fi",
            base_url=BASE_URL,
            keystore=keystore,
            secret=learner_keys.recipient_secret(get_settings()),
        )
        return {
            "credential_id": credential.id,
            "signed_json": credential.signed_json,
            "active": active.public_key_multibase,
            "retired": retired.public_key_multibase,
            "compromised": compromised.public_key_multibase,
        }


def test_did_document_layout(client: FlaskClient, issued: dict[str, Any]) -> None:
    response = client.get("/issuers/tamk/did.json")

    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    document = response.get_json()
    assert document["id"] == DID
    assert document["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
    ]
    methods = document["verificationMethod"]
    assert [m["publicKeyMultibase"] for m in methods] == [issued["active"], issued["retired"]]
    for method in methods:
        # The controller is the issuer id; the fragment is the key itself (ob3-facts §7).
        assert method["controller"] == DID
        assert method["type"] == "Multikey"
        assert method["id"] == f"{DID}#{method['publicKeyMultibase']}"
    # assertionMethod holds absolute ids, as the 1EdTech validator reads them.
    assert document["assertionMethod"] == [
        f"{DID}#{issued['active']}",
        f"{DID}#{issued['retired']}",
    ]
    assert issued["compromised"] not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/did+json", "application/did+json"),
        ("application/did+ld+json", "application/did+ld+json"),
        ("application/ld+json, application/json", "application/json"),
    ],
)
def test_did_document_media_types(
    client: FlaskClient, issued: dict[str, Any], accept: str | None, media_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/issuers/tamk/did.json", headers=headers)
    assert response.status_code == 200
    assert response.content_type == media_type
    assert response.get_json(force=True)["id"] == DID


def test_issuer_profile_is_json_ld(client: FlaskClient, issued: dict[str, Any]) -> None:
    response = client.get("/issuers/tamk", headers={"Accept-Language": "en"})

    assert response.status_code == 200
    assert response.content_type == "application/ld+json"
    profile = response.get_json(force=True)
    assert profile["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert (profile["id"], profile["type"], profile["name"]) == (DID, ["Profile"], "Tampere UAS")
    assert profile["address"]["addressCountryCode"] == "FI"
    finnish = client.get("/issuers/tamk").get_json(force=True)
    assert finnish["name"] == "Tampereen ammattikorkeakoulu"


@pytest.mark.parametrize(
    "accept", ["application/vc+ld+json", "application/ld+json", "application/json"]
)
def test_credential_is_served_byte_for_byte(
    client: FlaskClient, issued: dict[str, Any], accept: str
) -> None:
    response = client.get(f"/credentials/{issued['credential_id']}", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.content_type == accept
    assert response.data == issued["signed_json"].encode("utf-8")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_credential_without_accept_is_vc_ld_json(
    client: FlaskClient, issued: dict[str, Any]
) -> None:
    response = client.get(f"/credentials/{issued['credential_id']}")
    assert response.content_type == "application/vc+ld+json"
    assert response.data == issued["signed_json"].encode("utf-8")


@pytest.mark.parametrize("credential_id", ["0" * 32, "not-a-credential-id", "A" * 32])
def test_unknown_credentials_are_json_404s(
    client: FlaskClient, issued: dict[str, Any], credential_id: str
) -> None:
    response = client.get(f"/credentials/{credential_id}")
    assert response.status_code == 404
    assert response.content_type == "application/json"
    body = response.get_json()
    assert body["error"] == "not_found"
    assert credential_id in body["message"]


def test_unacceptable_media_type_is_406(client: FlaskClient, issued: dict[str, Any]) -> None:
    response = client.get(
        f"/credentials/{issued['credential_id']}", headers={"Accept": "text/plain"}
    )
    assert response.status_code == 406
    assert response.get_json()["error"] == "not_acceptable"


def test_badge_artwork(client: FlaskClient, issued: dict[str, Any]) -> None:
    response = client.get("/badges/test-badge/v1/image.svg")

    assert response.status_code == 200
    assert response.content_type == "image/svg+xml"
    assert response.data == SVG
    assert "immutable" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    for missing in (
        "/badges/test-badge/v1/image.png",
        "/badges/test-badge/v2/image.svg",
        "/badges/nothing/v1/image.svg",
        "/badges/test-badge/v1/image.gif",
    ):
        not_found = client.get(missing)
        assert not_found.status_code == 404, missing
        assert not_found.get_json()["error"] == "not_found"


def test_unknown_issuer_is_a_json_404(client: FlaskClient) -> None:
    for path in ("/issuers/nobody/did.json", "/issuers/nobody"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json() == {"error": "not_found", "message": "no institution 'nobody'"}


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")  # more in tests/web/public/test_healthz.py
    assert (response.status_code, response.get_json()["status"]) == (200, "ok")


def test_api_errors_are_json(client: FlaskClient) -> None:
    assert client.get("/api/v1/").get_json()["name"] == "Merkki"
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "not_found"
    wrong_method = client.post("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


def test_unknown_pages_follow_the_accept_header(client: FlaskClient) -> None:
    browser = client.get("/no-such-page", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser.status_code == 404
    assert browser.content_type.startswith("text/html")
    program = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert program.status_code == 404
    assert program.get_json()["error"] == "not_found"


def test_unexpected_errors_are_json_500s(app: Flask, client: FlaskClient) -> None:
    def explode() -> str:
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/explode", "explode", explode)
    response = client.get("/api/v1/explode")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": "internal_server_error",
        "message": "internal error; it has been logged",
    }
