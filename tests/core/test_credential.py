"""The credential builder produces OB 3.0 credentials in the shape verifiers expect."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft201909Validator

from issuer.core.canonical import find_undefined_terms
from issuer.core.credential import (
    build_credential,
    email_identity,
    evidence_entry,
    identity_hash,
    issuer_profile,
    normalize_email,
    xsd_datetime,
)
from issuer.core.schema import schema_errors
from tests.spec_files import load_json

DID = "did:web:merkki.example:issuers:hamk"
NOW = datetime(2026, 11, 23, 10, 30, 15, 123456, tzinfo=UTC)


def _achievement() -> dict[str, Any]:
    return {
        "id": "https://merkki.example/badges/ennakointi/v1/fi",
        "type": ["Achievement"],
        "name": "Ennakointiosaaminen",
        "description": "Osaa käyttää ennakointitietoa opetuksen kehittämisessä.",
        "criteria": {"narrative": "- tunnistaa muutostekijät\n- käyttää ennakointitietoa"},
        "achievementType": "MicroCredential",
        "creditsAvailable": 3.0,
        "inLanguage": "fi",
    }


def _credential(**overrides: Any) -> dict[str, Any]:
    issuer = issuer_profile(
        did=DID,
        name="Hämeen ammattikorkeakoulu",
        url="https://www.hamk.fi",
        email="info@hamk.fi",
        address={
            "addressCountry": "Suomi",
            "addressCountryCode": "FI",
            "addressLocality": "Hämeenlinna",
        },
        other_identifiers=[
            ("ext:BusinessId", "1234567-8"),
            ("ext:OpintopolkuOid", "1.2.246.562.10.1"),
        ],
    )
    arguments: dict[str, Any] = {
        "credential_id": "https://merkki.example/credentials/abc",
        "issuer": issuer,
        "achievement": _achievement(),
        "recipient_name": "Liisa Väänänen",
        "recipient_email": "Liisa.Vaananen@Example.fi ",
        "salt": "c0ffee",
        "valid_from": NOW,
    }
    arguments.update(overrides)
    return build_credential(**arguments)


def test_identity_hash_matches_the_spec_example() -> None:
    # ob3-facts §1.2: sha256$b5809d8a…ef399 = SHA-256("a@example.comKosher")
    expected = "sha256$" + hashlib.sha256(b"a@example.comKosher").hexdigest()
    assert identity_hash("a@example.com", "Kosher") == expected
    assert expected.startswith("sha256$b5809d8a")


def test_email_is_hashed_normalized_and_never_plain() -> None:
    credential = _credential()
    text = repr(credential)
    assert "Example.fi" not in text
    assert "example.fi" not in text
    identity = credential["credentialSubject"]["identifier"][0]
    assert identity == email_identity("liisa.vaananen@example.fi", "c0ffee")
    assert identity["hashed"] is True
    assert identity["identityType"] == "emailAddress"
    assert normalize_email(" A@B.FI ") == "a@b.fi"


def test_envelope_shape() -> None:
    credential = _credential()
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["issuer"]["type"] == ["Profile"]
    assert credential["issuer"]["id"] == DID
    assert credential["issuer"]["address"]["addressCountryCode"] == "FI"
    assert credential["validFrom"] == "2026-11-23T10:30:15Z"
    assert "validUntil" not in credential
    assert credential["credentialSubject"]["name"] == "Liisa Väänänen"
    assert credential["name"] == "Ennakointiosaaminen"


def test_valid_until_and_status_and_evidence() -> None:
    status = {
        "id": "https://m.example/status/1#5",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "5",
        "statusListCredential": "https://m.example/status/1",
    }
    credential = _credential(
        valid_until=NOW + timedelta(days=365),
        credential_status=status,
        evidence=[evidence_entry(url="https://portfolio.example/liisa", narrative="Portfolio")],
        results=[{"type": ["Result"], "value": "Hyvä"}],
    )
    assert credential["validUntil"] == "2027-11-23T10:30:15Z"
    assert credential["credentialStatus"] == status
    assert credential["evidence"][0]["type"] == ["Evidence"]
    assert find_undefined_terms(credential) == []
    assert schema_errors(credential) == []


def test_valid_until_must_follow_valid_from() -> None:
    with pytest.raises(ValueError, match="later"):
        _credential(valid_until=NOW)


def test_naive_datetimes_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        xsd_datetime(datetime(2026, 1, 1))


def test_every_term_is_defined() -> None:
    assert find_undefined_terms(_credential()) == []
    assert find_undefined_terms(_credential(include_schema=True)) == []


@pytest.mark.parametrize(
    "schema_file",
    [
        "schemas/ob-v3p0-json/ob_v3p0_achievementcredential_schema.json",
        "schemas/ob-v3p0-json-ld/ob_v3p0_achievementcredential_schema.json",
    ],
)
def test_validates_against_official_schemas(schema_file: str) -> None:
    validator = Draft201909Validator(load_json(schema_file))
    credential = _credential()
    # The stricter JSON-LD flavour wants the proof (as an array); shape-check with a dummy one.
    credential["proof"] = [
        {
            "type": "DataIntegrityProof",
            "proofPurpose": "assertionMethod",
            "verificationMethod": DID + "#z6Mk",
            "created": "2026-01-01T00:00:00Z",
            "cryptosuite": "eddsa-rdfc-2022",
            "proofValue": "z1",
        }
    ]
    errors = [e.message for e in validator.iter_errors(credential)]
    assert errors == []
