"""Verification with the service's own issuers resolved from the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from issuer.core.credential import build_credential, issuer_profile
from issuer.core.dataintegrity import sign
from issuer.core.did import did_key_for, did_key_verification_method, did_web_for
from issuer.core.keys import KeyStore, generate_private_key
from issuer.core.resolver import ResolutionError
from issuer.services import badge_classes, institutions, issuing, verification
from issuer.services.errors import NotFoundError
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL

ACHIEVEMENT = {
    "id": "https://example.fi/achievements/1",
    "type": ["Achievement"],
    "name": "Test",
    "description": "Test.",
    "criteria": {"narrative": "Test."},
}


def _signed_by_did_key(issuer_id: str | None = None) -> dict[str, Any]:
    private_key = generate_private_key()
    did = did_key_for(private_key.public_key())
    unsigned = build_credential(
        credential_id="urn:uuid:2b0e8a3c-4bd6-4d5a-8f0e-1f9e7c0b1a2d",
        issuer=issuer_profile(did=issuer_id or did, name="Elsewhere"),
        achievement=ACHIEVEMENT,
        recipient_name="Matti",
        recipient_email="matti@example.fi",
        salt="00" * 16,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return sign(unsigned, private_key, did_key_verification_method(did))


def _check(report: Any, name: str) -> Any:
    check = report.check(name)
    assert check is not None
    return check


def test_own_did_web_is_answered_from_the_database(session: Session, keystore: KeyStore) -> None:
    institution = institutions.create_institution(
        session, InstitutionDetails(slug="jamk", name_fi="JAMK"), keystore
    )
    fetch = verification.database_did_fetcher(session, BASE_URL)

    document = fetch("https://127.0.0.1:5000/issuers/jamk/did.json")

    assert document == institutions.did_document(institution, BASE_URL)
    assert verification.own_issuer_prefix(BASE_URL) == "https://127.0.0.1:5000/issuers/"
    with pytest.raises(verification.ForeignDidError):
        fetch("https://example.fi/issuers/jamk/did.json")
    with pytest.raises(verification.ForeignDidError):
        fetch("https://127.0.0.1:5000/issuers/jamk/more/did.json")
    with pytest.raises(NotFoundError, match="no issuer 'nobody'"):
        fetch("https://127.0.0.1:5000/issuers/nobody/did.json")


def test_a_did_key_credential_verifies(session: Session) -> None:
    report = verification.verify(session, _signed_by_did_key(), base_url=BASE_URL)
    assert report.verified, report.to_dict()


def test_a_foreign_did_web_is_reported_unresolvable(session: Session) -> None:
    document = _signed_by_did_key()
    document["proof"][0]["verificationMethod"] = "did:web:example.fi:issuers:x#z6MkFake"
    report = verification.verify(session, document, base_url=BASE_URL)
    assert not report.verified
    assert "not supported yet" in _check(report, "proof").message


def test_an_unknown_own_issuer_fails(
    session: Session, keystore: KeyStore, templates_dir: Path
) -> None:
    badge_classes.load_templates(session, templates_dir)
    institution = institutions.create_institution(
        session, InstitutionDetails(slug="oamk", name_fi="OAMK"), keystore
    )
    stored = issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, "test-badge"),
        "a@b.fi",
        "A B",
        "fi",
        base_url=BASE_URL,
        keystore=keystore,
    )
    document = json.loads(stored.signed_json)
    assert verification.verify(session, document, base_url=BASE_URL).verified
    institution.slug = "renamed"
    session.flush()
    report = verification.verify(session, document, base_url=BASE_URL)
    assert not report.verified
    assert "no issuer 'oamk'" in _check(report, "proof").message


def test_the_resolver_is_a_chain_of_did_key_fragment_and_did_web(session: Session) -> None:
    resolver = verification.resolver_for(session, BASE_URL)
    assert resolver.supports("did:key:z6Mk")
    assert resolver.supports("https://example.fi/keys#z6Mk")
    assert resolver.supports(did_web_for(BASE_URL, "x") + "#z6Mk")
    with pytest.raises(ResolutionError):
        resolver.resolve(did_web_for(BASE_URL, "x") + "#z6Mk")
