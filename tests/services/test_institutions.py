"""Institutions and their signing keys."""

from __future__ import annotations

import re
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from issuer.core.errors import KeyError_
from issuer.core.keys import KeyStore
from issuer.core.multikey import encode_public_key
from issuer.models import Institution, KeyStatus, SigningKey
from issuer.services import institutions, keys
from issuer.services.errors import ConflictError, InvalidInputError
from issuer.services.institutions import InstitutionDetails
from tests.conftest import BASE_URL, PASSPHRASE

HAMK = InstitutionDetails(
    slug="hamk",
    name_fi="Hämeen ammattikorkeakoulu",
    name_sv="Tavastlands yrkeshögskola",
    name_en="Häme University of Applied Sciences",
    url="https://www.hamk.fi",
    email="info@hamk.fi",
    street_address="Visamäentie 35 A",
    postal_code="13100",
    address_locality="Hämeenlinna",
    address_country="Suomi",
    business_id="1629284-5",
    oid="1.2.246.562.10.84153458766",
)


def test_create_gives_a_did_web_and_an_encrypted_private_key_file(
    session: Session, keystore: KeyStore
) -> None:
    institution = institutions.create_institution(session, HAMK, keystore)

    assert institutions.institution_did(institution, BASE_URL) == (
        "did:web:127.0.0.1%3A5000:issuers:hamk"
    )
    key = keys.active_key(session, institution)
    assert key.key_id.startswith("hamk-")
    path = keystore.path_for(key.key_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # cryptography: "Password was not given but key is encrypted"
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(KeyError_, match="cannot decrypt"):
        KeyStore(keystore.directory, PASSPHRASE + "x").load(key.key_id)
    private_key = keys.load_private_key(keystore, key)
    assert encode_public_key(private_key.public_key()) == key.public_key_multibase


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"slug": "Hamk"}, "invalid slug"),
        ({"slug": "ha mk"}, "invalid slug"),
        ({"slug": "1hamk"}, "invalid slug"),
        ({"slug": "hamk-"}, "invalid slug"),
        ({"slug": "a" * 65}, "invalid slug"),
        ({"name_fi": "  "}, "needs a name"),
        ({"business_id": "1629284-6"}, "Y-tunnus"),
        ({"business_id": "162928-45"}, "Y-tunnus"),
        ({"oid": "1.2.3"}, "OID"),
        ({"email": "not-an-address"}, "e-mail"),
        ({"url": "javascript:alert(1)"}, "http"),
        ({"address_country_code": "fin"}, "ISO 3166-1"),
    ],
)
def test_bad_details_are_refused_and_nothing_is_written(
    session: Session, keystore: KeyStore, changes: dict[str, str], message: str
) -> None:
    details = replace(HAMK, **changes)
    with pytest.raises(InvalidInputError, match=message):
        institutions.create_institution(session, details, keystore)
    assert session.scalar(sa.select(sa.func.count()).select_from(Institution)) == 0
    assert not keystore.directory.exists() or not any(keystore.directory.iterdir())


def test_business_id_check_digit() -> None:
    assert institutions.is_valid_business_id("1629284-5")
    assert institutions.is_valid_business_id("0737546-2")
    assert not institutions.is_valid_business_id("0737546-3")
    assert not institutions.is_valid_business_id("0737546 2")


def test_a_slug_is_taken_once(session: Session, keystore: KeyStore) -> None:
    institutions.create_institution(session, HAMK, keystore)
    with pytest.raises(ConflictError, match="already exists"):
        institutions.create_institution(session, HAMK, keystore)


def test_demo_institution_is_created_once(session: Session, keystore: KeyStore) -> None:
    first, created = institutions.ensure_demo_institution(session, keystore)
    again, created_again = institutions.ensure_demo_institution(session, keystore)
    assert (created, created_again) == (True, False)
    assert first is again
    assert session.scalar(sa.select(sa.func.count()).select_from(SigningKey)) == 1


def test_did_document_lists_active_and_retired_keys_but_not_compromised_ones(
    session: Session, keystore: KeyStore
) -> None:
    institution = institutions.create_institution(session, HAMK, keystore)
    first = keys.active_key(session, institution)
    second = keys.rotate_key(session, institution, keystore)
    third = keys.rotate_key(session, institution, keystore)
    keys.mark_compromised(second)
    session.flush()

    document = institutions.did_document(institution, BASE_URL)

    did = "did:web:127.0.0.1%3A5000:issuers:hamk"
    assert document["id"] == did
    listed = [method["publicKeyMultibase"] for method in document["verificationMethod"]]
    assert listed == [third.public_key_multibase, first.public_key_multibase]
    for method in document["verificationMethod"]:
        assert method["controller"] == did
        assert method["id"] == f"{did}#{method['publicKeyMultibase']}"
    assert document["assertionMethod"] == [m["id"] for m in document["verificationMethod"]]
    assert (first.status, second.status, third.status) == (
        KeyStatus.RETIRED,
        KeyStatus.COMPROMISED,
        KeyStatus.ACTIVE,
    )
    assert first.retired_at is not None
    assert first.retired_at.tzinfo is not None


def test_only_one_active_key_per_institution(session: Session, keystore: KeyStore) -> None:
    institution = institutions.create_institution(session, HAMK, keystore)
    with pytest.raises(ConflictError, match="already has an active key"):
        keys.create_signing_key(session, institution, keystore)
    # The database enforces it too (partial unique index), whatever the code does.
    session.add(
        SigningKey(
            institution=institution,
            key_id="hamk-manual",
            public_key_multibase="z6MkManualKeyThatIsNotCheckedByTheDatabase",
            status=KeyStatus.ACTIVE,
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    session.rollback()


def test_profile_carries_the_eu_country_and_the_registry_ids(
    session: Session, keystore: KeyStore
) -> None:
    institution = institutions.create_institution(session, HAMK, keystore)

    profile = institutions.profile(institution, BASE_URL, "sv")

    assert profile["id"] == "did:web:127.0.0.1%3A5000:issuers:hamk"
    assert profile["type"] == ["Profile"]
    assert profile["name"] == "Tavastlands yrkeshögskola"
    assert profile["address"]["addressCountryCode"] == "FI"
    assert profile["address"]["addressLocality"] == "Hämeenlinna"
    assert {(i["identifierType"], i["identifier"]) for i in profile["otherIdentifier"]} == {
        ("ext:BusinessId", "1629284-5"),
        ("ext:OpintopolkuOid", "1.2.246.562.10.84153458766"),
    }
    # A missing translation falls back to the Finnish name.
    institution.name_en = None
    assert institutions.profile(institution, BASE_URL, "en")["name"] == HAMK.name_fi


def test_timestamps_come_back_as_aware_utc(session: Session, keystore: KeyStore) -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    institutions.create_institution(session, HAMK, keystore, now=moment)
    session.commit()
    session.expire_all()
    stored = session.scalar(sa.select(Institution))
    assert stored is not None
    assert stored.created_at == moment
    assert stored.created_at.utcoffset() == timedelta(0)


# --- free text normalised on the way in (issuer.core.text; issue 13) --------------------------


def test_create_normalises_tabs_and_line_breaks_in_the_institution_texts(
    session: Session, keystore: KeyStore
) -> None:
    details = replace(
        HAMK, name_fi="Hämeen\tammattikorkeakoulu\r\n", street_address="Visamäentie\t35 A"
    )
    institution = institutions.create_institution(session, details, keystore)
    assert institution.name_fi == "Hämeen ammattikorkeakoulu"
    assert institution.street_address == "Visamäentie 35 A"
    profile = institutions.profile(institution, BASE_URL, "fi")
    assert profile["name"] == "Hämeen ammattikorkeakoulu"
    assert profile["address"]["streetAddress"] == "Visamäentie 35 A"


@pytest.mark.parametrize("character", ["\x08", "\x0c", "\x7f", "\x85"])
@pytest.mark.parametrize("field", ["name_fi", "name_sv", "name_en", "address_locality"])
def test_create_refuses_control_characters_naming_the_field(
    session: Session, keystore: KeyStore, character: str, field: str
) -> None:
    details = replace(HAMK, **{field: f"Häme{character}"})
    with pytest.raises(InvalidInputError) as caught:
        institutions.create_institution(session, details, keystore)
    assert field in caught.value.message
    assert f"U+{ord(character):04X}" in caught.value.message
    assert institutions.find_institution(session, "hamk") is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("HAMK <info@hamk.fi>", "without a name"),
        ("info@hamk.fi, other@hamk.fi", "one e-mail address only"),
        ("info\u200b@hamk.fi", "U+200B"),
        ("info@hamk.fi\u202e", "U+202E"),
    ],
)
def test_the_contact_address_must_be_one_plain_address(
    session: Session, keystore: KeyStore, address: str, reason: str
) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(reason)):
        institutions.create_institution(session, replace(HAMK, email=address), keystore)
    assert institutions.find_institution(session, "hamk") is None


def test_the_contact_address_is_stored_normalised(session: Session, keystore: KeyStore) -> None:
    created = institutions.create_institution(
        session, replace(HAMK, email=" Info@HAMK.fi "), keystore
    )
    assert created.email == "info@hamk.fi"
    assert institutions.profile(created, BASE_URL, "fi")["email"] == "info@hamk.fi"
