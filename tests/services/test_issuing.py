"""Issuing credentials: what goes into them, what is stored, and that they verify."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from issuer.config import get_settings
from issuer.core.credential import identity_hash
from issuer.core.keys import KeyStore, generate_private_key
from issuer.models import Credential, Institution
from issuer.services import (
    badge_classes,
    institutions,
    issue_many,
    issuing,
    keys,
    learner_keys,
    revocation,
    verification,
)
from issuer.services.audit import SystemActor
from issuer.services.errors import (
    InvalidInputError,
    NotFoundError,
    SigningUnavailableError,
)
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL

NOW = datetime(2026, 1, 31, 12, 30, 15, 987654, tzinfo=UTC)
DID = "did:web:127.0.0.1%3A5000:issuers:hamk"


@pytest.fixture
def institution(session: Session, keystore: KeyStore, templates_dir: Path) -> Institution:
    badge_classes.load_templates(session, templates_dir)
    return institutions.create_institution(
        session, InstitutionDetails(slug="hamk", name_fi="HAMK", name_en="HAMK UAS"), keystore
    )


def _issue(
    session: Session,
    institution: Institution,
    keystore: KeyStore,
    *,
    badge: str = "test-badge",
    lang: str = "en",
    email: str = "  Liisa.Virtanen@Example.FI ",
    now: datetime | None = NOW,
) -> Credential:
    return issuing.issue_credential(
        session,
        institution,
        badge_classes.get_badge_class(session, badge),
        email,
        "Liisa  Virtanen",
        lang,
        base_url=BASE_URL,
        keystore=keystore,
        secret=learner_keys.recipient_secret(get_settings()),
        now=now,
    )


def test_the_credential_carries_the_service_urls_and_the_recipient(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    stored = _issue(session, institution, keystore)
    document: dict[str, Any] = json.loads(stored.signed_json)

    assert re.fullmatch(r"[0-9a-f]{32}", stored.id)
    assert document["id"] == f"{BASE_URL}/credentials/{stored.id}"
    assert document["issuer"]["id"] == DID
    assert document["issuer"]["name"] == "HAMK UAS"
    assert document["validFrom"] == "2026-01-31T12:30:15Z"
    # 24 months of validity, counted in calendar months.
    assert document["validUntil"] == "2028-01-31T12:30:15Z"
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["id"] == f"{BASE_URL}/badges/test-badge/v1/en"
    assert achievement["inLanguage"] == "en"
    assert achievement["image"]["id"] == f"{BASE_URL}/badges/test-badge/v1/image.svg"
    assert [(r["inLanguage"], r["id"]) for r in achievement["related"]] == [
        ("fi", f"{BASE_URL}/badges/test-badge/v1/fi"),
        ("sv", f"{BASE_URL}/badges/test-badge/v1/sv"),
    ]
    subject = document["credentialSubject"]
    assert subject["name"] == "Liisa Virtanen"
    [identity] = subject["identifier"]
    assert re.fullmatch(r"[0-9a-f]{32}", stored.salt)
    assert identity["salt"] == stored.salt
    expected_hash = identity_hash("liisa.virtanen@example.fi", stored.salt)
    assert identity["identityHash"] == stored.recipient_identity_hash == expected_hash
    assert "example.fi" not in stored.signed_json.lower()

    [proof] = document["proof"]
    key = keys.active_key(session, institution)
    assert proof["verificationMethod"] == f"{DID}#{key.public_key_multibase}"
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["created"] == "2026-01-31T12:30:15Z"

    assert stored.issued_at == NOW.replace(microsecond=0)
    assert stored.valid_until == datetime(2028, 1, 31, 12, 30, 15, tzinfo=UTC)
    assert (stored.lang, stored.recipient_name) == ("en", "Liisa Virtanen")
    assert stored.badge_class_version.version == 1


def test_the_stored_text_is_what_verifies(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    stored = _issue(session, institution, keystore, now=None)
    session.commit()
    session.expire_all()
    text = issuing.get_credential(session, stored.id).signed_json

    report = verification.verify(session, json.loads(text), base_url=BASE_URL)

    assert report.verified, report.to_dict()


def test_a_badge_without_an_expiry_has_no_valid_until(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    stored = _issue(session, institution, keystore, badge="finnish-only", lang="fi")
    assert "validUntil" not in json.loads(stored.signed_json)
    assert stored.valid_until is None
    # Only complete language versions are related.
    achievement = json.loads(stored.signed_json)["credentialSubject"]["achievement"]
    assert "related" not in achievement


def test_a_language_the_badge_class_lacks_is_refused(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    with pytest.raises(InvalidInputError, match="not fully translated into Swedish"):
        _issue(session, institution, keystore, badge="finnish-only", lang="sv")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"lang": "de"}, "language must be one of"),
        ({"email": "liisa.example.fi"}, "not an e-mail address"),
        ({"email": "liisa@ex ample.fi"}, "not an e-mail address"),
    ],
)
def test_bad_recipient_data_is_refused(
    session: Session,
    institution: Institution,
    keystore: KeyStore,
    changes: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _issue(session, institution, keystore, **changes)  # type: ignore[arg-type]


def test_an_empty_name_is_refused(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    badge = badge_classes.get_badge_class(session, "test-badge")
    with pytest.raises(InvalidInputError, match="name is required"):
        issuing.issue_credential(
            session,
            institution,
            badge,
            "a@b.fi",
            "  ",
            "fi",
            base_url=BASE_URL,
            keystore=keystore,
            secret=learner_keys.recipient_secret(get_settings()),
        )


def test_another_institutions_badge_class_cannot_be_issued(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    other = institutions.create_institution(
        session, InstitutionDetails(slug="tamk", name_fi="TAMK"), keystore
    )
    badge = badge_classes.get_badge_class(session, "test-badge")
    badge.institution = other
    session.flush()
    with pytest.raises(NotFoundError, match="cannot issue"):
        _issue(session, institution, keystore)
    badge.institution = None
    badge.published = False
    with pytest.raises(NotFoundError, match="cannot issue"):
        _issue(session, institution, keystore)


def test_retired_keys_keep_verifying_and_compromised_ones_do_not(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    old = _issue(session, institution, keystore, now=None)
    old_key = keys.active_key(session, institution)
    keys.rotate_key(session, institution, keystore)
    new = _issue(session, institution, keystore, now=None)

    def verified(credential: Credential) -> bool:
        document = json.loads(credential.signed_json)
        return verification.verify(session, document, base_url=BASE_URL).verified

    assert json.loads(new.signed_json)["proof"][0]["verificationMethod"].endswith(
        keys.active_key(session, institution).public_key_multibase
    )
    assert verified(old)
    assert verified(new)
    # Withdrawn through the service, which re-signs the status lists the key signed (the
    # list both credentials are on was opened, and signed, with the old key).
    revocation.withdraw_compromised_key(
        session, institution, old_key.key_id, keystore, actor=SystemActor(kind="cli", label="t")
    )
    assert not verified(old)
    assert verified(new)


def test_a_swapped_key_file_is_refused(
    session: Session, institution: Institution, keystore: KeyStore
) -> None:
    key = keys.active_key(session, institution)
    keystore.save(key.key_id, generate_private_key(), overwrite=True)
    with pytest.raises(SigningUnavailableError) as refused:
        _issue(session, institution, keystore)
    assert "does not hold the key recorded" in refused.value.detail
    assert refused.value.reason == "key_mismatch"
    assert key.key_id not in refused.value.message  # what an answer may show names no key


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2028, 1, 31, tzinfo=UTC), 1, datetime(2028, 2, 29, tzinfo=UTC)),
        (datetime(2026, 11, 15, tzinfo=UTC), 2, datetime(2027, 1, 15, tzinfo=UTC)),
        (datetime(2026, 5, 1, tzinfo=UTC), 36, datetime(2029, 5, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, tzinfo=UTC), 12, datetime(2027, 12, 31, tzinfo=UTC)),
    ],
)
def test_add_months(start: datetime, months: int, end: datetime) -> None:
    assert issue_many.add_months(start, months) == end
    assert issue_many.add_months(start, months) - start > timedelta(days=27 * months)
