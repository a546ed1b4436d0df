"""The verification caches (verified proofs, term checks, our own issuers' keys) never keep a
verdict that must change: revocation and suspension are read live, a withdrawn key is refused
before any cache is asked, a changed body is another cache key, and time is checked every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core import lru, schema
from issuer.core.dataintegrity import caches
from issuer.core.keys import KeyStore
from issuer.models import Credential
from issuer.services import (
    badge_classes,
    institutions,
    issuing,
    key_resolution,
    keys,
    learner_keys,
    revocation,
    verification,
)
from issuer.services.audit import SystemActor
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL

ACTOR = SystemActor(kind="cli", label="test")


@pytest.fixture
def hamk(session: Session, keystore: KeyStore, templates_dir: Path) -> Any:
    badge_classes.load_templates(session, templates_dir)
    return institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK"), keystore
    )


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    caches.VERIFIED_PROOFS.clear()
    caches.DOCUMENT_TERMS.clear()
    schema.SCHEMA_VERDICTS.clear()
    key_resolution.OWN_KEYS.clear()


def _issue(session: Session, institution: Any, keystore: KeyStore, name: str) -> Credential:
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, "test-badge"),
        f"{name.split()[0].lower()}@example.fi",
        name,
        "fi",
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
    )


def _stored(session: Session, credential: Credential) -> verification.VerificationResult:
    return verification.verify_stored(session, credential.id, base_url=BASE_URL)


def _posted(session: Session, text: str) -> verification.VerificationResult:
    return verification.verify_submission(session, text, base_url=BASE_URL)


def _verified_twice(session: Session, credential: Credential) -> None:
    """Valid twice, the second time from the caches (nothing new verified or resolved)."""
    assert _stored(session, credential).verdict == "valid"
    entries, hits = len(caches.VERIFIED_PROOFS), caches.VERIFIED_PROOFS.hits
    key_hits = key_resolution.OWN_KEYS.hits
    assert entries >= 2  # the credential's proof and its status list's proof
    assert _stored(session, credential).verdict == "valid"
    assert len(caches.VERIFIED_PROOFS) == entries
    assert caches.VERIFIED_PROOFS.hits >= hits + 2
    assert key_resolution.OWN_KEYS.hits > key_hits


def test_a_cached_valid_credential_is_revoked_at_once(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore, "Aino Virtanen")
    _verified_twice(session, credential)
    revocation.revoke(session, credential, actor=ACTOR, reason="väärä henkilö")
    result = _stored(session, credential)
    assert result.verdict == "revoked"
    assert result.revocation_reason == "väärä henkilö"
    # The holder's copy, posted: the same.
    assert _posted(session, credential.signed_json).verdict == "revoked"


def test_a_cached_valid_credential_is_suspended_and_back(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore, "Matti Korhonen")
    _verified_twice(session, credential)
    revocation.suspend(session, credential, actor=ACTOR, reason="selvitetään")
    assert _stored(session, credential).verdict == "suspended"
    revocation.unsuspend(session, credential, actor=ACTOR)
    assert _stored(session, credential).verdict == "valid"


def test_a_cached_valid_credential_fails_once_its_key_is_withdrawn(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    key = keys.active_key(session, hamk)
    credential = _issue(session, hamk, keystore, "Liisa Mäkinen")
    _verified_twice(session, credential)
    assert _posted(session, credential.signed_json).verdict == "valid"
    revocation.withdraw_compromised_key(session, hamk, key.key_id, keystore, actor=ACTOR)
    for result in (_stored(session, credential), _posted(session, credential.signed_json)):
        assert result.verdict == "not_genuine"
        assert result.key_withdrawn
        proof = result.check("proof")
        assert proof is not None
        assert "withdrawn by HAMK as compromised" in proof.message


def test_rotation_keeps_a_cached_credential_valid(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore, "Onni Nieminen")
    _verified_twice(session, credential)
    resolved = len(key_resolution.OWN_KEYS)
    revocation.rotate_key(session, hamk, keystore, actor=ACTOR)
    assert _stored(session, credential).verdict == "valid"
    # The key state changed: resolved afresh, not taken from the old entry.
    assert len(key_resolution.OWN_KEYS) > resolved


def test_a_tampered_body_is_not_genuine_after_the_genuine_one_was_cached(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore, "Ella Lindqvist")
    assert _posted(session, credential.signed_json).verdict == "valid"
    assert _posted(session, credential.signed_json).verdict == "valid"
    document = json.loads(credential.signed_json)
    document["credentialSubject"]["name"] = "Eve Mallory"
    tampered = _posted(session, json.dumps(document))
    assert tampered.verdict == "not_genuine"
    proof = tampered.check("proof")
    assert proof is not None
    assert "signature does not match" in proof.message
    # Re-serialized but unchanged JSON (other key order, spacing) is the same credential.
    same = json.dumps(json.loads(credential.signed_json), indent=4, sort_keys=True)
    assert _posted(session, same).verdict == "valid"


def test_validity_is_checked_against_the_clock_every_time(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    credential = _issue(session, hamk, keystore, "Saara Hämäläinen")
    _verified_twice(session, credential)
    earlier = datetime.now(UTC) - timedelta(days=1)
    result = verification.verify_stored(session, credential.id, base_url=BASE_URL, now=earlier)
    assert result.verdict == "not_yet_valid"
    assert _stored(session, credential).verdict == "valid"


def test_the_caches_are_bounded() -> None:
    cache: lru.BoundedCache[int, int] = lru.BoundedCache(3)
    for number in range(10):
        cache.put(number, number)
        assert cache.get(number) == number
    assert len(cache) == 3
    assert cache.get(0) is None
    assert cache.get(9) == 9
    assert caches.VERIFIED_PROOFS.maxsize <= 10_000
    assert caches.DOCUMENT_TERMS.maxsize <= 10_000
    assert key_resolution.OWN_KEYS.maxsize <= 10_000
    assert verification.BADGE_CLASSES.maxsize <= 10_000


def test_a_credential_verified_again_from_its_text_is_not_re_serialized(
    session: Session, hamk: Any, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored or posted credential is found in the caches under its exact text: the second
    verification makes no sorted-JSON text of the credential (its status list, given as a
    parsed document, still is), and the schema verdict is remembered."""
    credential = _issue(session, hamk, keystore, "Veikko Lahtinen")
    assert _stored(session, credential).verdict == "valid"
    assert _posted(session, credential.signed_json).verdict == "valid"
    serialized: list[Any] = []
    real = caches.json_text

    def counting(value: Any) -> str:
        serialized.append(value)
        return real(value)

    monkeypatch.setattr(caches, "json_text", counting)
    schema_hits = schema.SCHEMA_VERDICTS.hits
    assert _stored(session, credential).verdict == "valid"
    assert _posted(session, credential.signed_json).verdict == "valid"
    assert schema.SCHEMA_VERDICTS.hits == schema_hits + 2
    credential_id = json.loads(credential.signed_json)["id"]
    assert not [value for value in serialized if value.get("id") == credential_id]
    # A re-spelled text of the same credential is another key: judged afresh, the same way.
    respelled = json.dumps(json.loads(credential.signed_json), sort_keys=True)
    assert _posted(session, respelled).verdict == "valid"


def test_a_text_key_never_carries_a_verdict_to_another_text(
    session: Session, hamk: Any, keystore: KeyStore
) -> None:
    """The schema and signature verdicts remembered under one text are not those of another:
    a credential changed after signing (one character of its text) is judged on its own."""
    credential = _issue(session, hamk, keystore, "Tuula Salo")
    assert _posted(session, credential.signed_json).verdict == "valid"
    document = json.loads(credential.signed_json)
    document["name"] = 42  # the OB 3.0 schema: a string
    broken = _posted(session, json.dumps(document, indent=2, ensure_ascii=False))
    assert broken.verdict == "not_genuine"
    schema = broken.check("schema")
    assert schema is not None
    assert schema.ok is False
    proof = broken.check("proof")
    assert proof is not None
    assert proof.ok is False
    assert _posted(session, credential.signed_json).verdict == "valid"
