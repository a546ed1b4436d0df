"""Institutions: creation (with their first signing key), lookup, DID, DID document, Profile."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core.contexts import OB_V3, VC_V2
from issuer.core.credential import issuer_profile
from issuer.core.did import did_web_document, did_web_for
from issuer.core.keys import SigningKeyStore
from issuer.models import Institution, KeyStatus
from issuer.services import emails, keys, texts
from issuer.services.errors import ConflictError, InvalidInputError, NotFoundError
from issuer.services.translation import N_, Message

LANGUAGES = ("fi", "sv", "en")
# A slug is one did:web path segment and one URL path segment: lower-case letters, digits and
# single hyphens, starting with a letter (so it can never be mistaken for a numeric id).
SLUG_PATTERN = re.compile(r"[a-z](?:-?[a-z0-9])*")
SLUG_MAX_LENGTH = 64
# Y-tunnus: seven digits, a hyphen and a check digit (Finnish Tax Administration).
BUSINESS_ID_PATTERN = re.compile(r"(\d{7})-(\d)")
_BUSINESS_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2)
# Opintopolku organisation OIDs live under 1.2.246.562.10 (Finnish National Agency for
# Education's OID arc for organisations).
OID_PATTERN = re.compile(r"1\.2\.246\.562\.10\.\d{1,20}")
COUNTRY_CODE_PATTERN = re.compile(r"[A-Z]{2}")

# OB 3.0 IdentifierEntry types for the registry ids (ext: values, OB 3.0 §"Extending").
BUSINESS_ID_TYPE = "ext:BusinessId"
OID_TYPE = "ext:OpintopolkuOid"

DEMO_SLUG = "demo"


@dataclass(frozen=True, slots=True)
class InstitutionDetails:
    """What an institution is created with; only ``slug`` and ``name_fi`` are required."""

    slug: str
    name_fi: str
    name_sv: str | None = None
    name_en: str | None = None
    url: str | None = None
    email: str | None = None
    street_address: str | None = None
    postal_code: str | None = None
    address_locality: str | None = None
    address_country: str | None = None
    address_country_code: str = "FI"
    business_id: str | None = None
    oid: str | None = None


DEMO_INSTITUTION = InstitutionDetails(
    slug=DEMO_SLUG,
    name_fi="Merkki-demo-oppilaitos",
    name_sv="Merkki demoläroanstalt",
    name_en="Merkki demo institution",
    address_locality="Helsinki",
    address_country="Suomi",
    address_country_code="FI",
)


def check_slug(slug: object, what: str = "slug") -> str:
    """``slug`` if it is a valid slug, else ``InvalidInputError`` saying what is allowed."""
    if not isinstance(slug, str) or len(slug) > SLUG_MAX_LENGTH or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidInputError(
            f"invalid {what} {slug!r}: use lower-case letters, digits and single hyphens, "
            f"starting with a letter, at most {SLUG_MAX_LENGTH} characters"
        )
    return slug


def is_valid_business_id(value: str) -> bool:
    """Check a Y-tunnus, including its check digit (weights 7, 9, 10, 5, 8, 4, 2; mod 11)."""
    match = BUSINESS_ID_PATTERN.fullmatch(value)
    if not match:
        return False
    digits, check = match.groups()
    remainder = sum(int(d) * w for d, w in zip(digits, _BUSINESS_ID_WEIGHTS, strict=True)) % 11
    if remainder == 1:
        return False
    return int(check) == (0 if remainder == 0 else 11 - remainder)


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


#: The free texts of ``InstitutionDetails``: they go into every credential's issuer Profile.
_TEXT_FIELDS = (
    "name_fi",
    "name_sv",
    "name_en",
    "street_address",
    "postal_code",
    "address_locality",
    "address_country",
)


def normalized_details(details: InstitutionDetails) -> InstitutionDetails:
    """``details`` with its texts normalised on one line (``issuer.core.text``: a tab becomes a
    space; ``ControlCharacterError`` naming the field for any other control character) and its
    e-mail address validated (``issuer.services.emails``)."""
    changes: dict[str, str | None] = {}
    for name in _TEXT_FIELDS:
        value = getattr(details, name)
        if value is not None:
            changes[name] = texts.clean(value, name, multiline=False)
    # The contact address goes into every issuer Profile: one plain, validated address.
    changes["email"] = emails.check_optional_email(details.email)
    return dataclasses.replace(details, **changes)  # type: ignore[arg-type]


# The refusals of a detail, in the reader's language (``translation.for_reader``): the staff
# member's on the profile page, English on the command line.
_NEEDS_NAME = N_("an institution needs a name")
_BAD_BUSINESS_ID = N_("%(value)s is not a valid Y-tunnus (business id)")
_BAD_OID = N_("%(value)s is not an Opintopolku organisation OID (1.2.246.562.10.N)")
_BAD_URL = N_("%(value)s is not an http(s) URL")
_BAD_COUNTRY_CODE = N_("%(value)s is not an ISO 3166-1 alpha-2 country code")


class InstitutionDetailError(InvalidInputError):
    """One detail of an institution is refused: ``field`` names it as ``InstitutionDetails``
    (and the profile form) do, so that a form can show the message at its field."""

    def __init__(self, field: str, message: Message) -> None:
        super().__init__(message)
        self.field = field


def _check_details(details: InstitutionDetails) -> None:
    check_slug(details.slug)
    if not details.name_fi.strip():
        raise InstitutionDetailError("name_fi", Message(_NEEDS_NAME))
    if details.business_id and not is_valid_business_id(details.business_id):
        raise InstitutionDetailError(
            "business_id", Message(_BAD_BUSINESS_ID, value=repr(details.business_id))
        )
    if details.oid and not OID_PATTERN.fullmatch(details.oid):
        raise InstitutionDetailError("oid", Message(_BAD_OID, value=repr(details.oid)))
    if details.url and urlsplit(details.url).scheme not in ("http", "https"):
        raise InstitutionDetailError("url", Message(_BAD_URL, value=repr(details.url)))
    if not COUNTRY_CODE_PATTERN.fullmatch(details.address_country_code):
        raise InstitutionDetailError(
            "address_country_code",
            Message(_BAD_COUNTRY_CODE, value=repr(details.address_country_code)),
        )


def find_institution(session: Session, slug: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.slug == slug))


def get_institution(session: Session, slug: str) -> Institution:
    institution = find_institution(session, slug)
    if institution is None:
        raise NotFoundError(f"no institution {slug!r}")
    return institution


def create_institution(
    session: Session,
    details: InstitutionDetails,
    keystore: SigningKeyStore,
    *,
    now: datetime | None = None,
) -> Institution:
    """A new institution with a fresh active Ed25519 key (saved encrypted in ``keystore``)."""
    details = normalized_details(details)
    _check_details(details)
    if find_institution(session, details.slug) is not None:
        raise ConflictError(f"institution {details.slug!r} already exists")
    moment = now or datetime.now(UTC)
    institution = Institution(
        slug=details.slug,
        name_fi=details.name_fi.strip(),
        name_sv=_optional(details.name_sv),
        name_en=_optional(details.name_en),
        url=_optional(details.url),
        email=_optional(details.email),
        street_address=_optional(details.street_address),
        postal_code=_optional(details.postal_code),
        address_locality=_optional(details.address_locality),
        address_country=_optional(details.address_country),
        address_country_code=details.address_country_code,
        business_id=_optional(details.business_id),
        oid=_optional(details.oid),
        created_at=moment,
    )
    session.add(institution)
    session.flush()
    keys.create_signing_key(session, institution, keystore, now=moment)
    return institution


def ensure_demo_institution(
    session: Session, keystore: SigningKeyStore, *, now: datetime | None = None
) -> tuple[Institution, bool]:
    """The demo institution used by ``make run``; ``(institution, created)``."""
    existing = find_institution(session, DEMO_SLUG)
    if existing is not None:
        return existing, False
    return create_institution(session, DEMO_INSTITUTION, keystore, now=now), True


def institution_did(institution: Institution, base_url: str) -> str:
    """``did:web:HOST:issuers:SLUG`` under the service's public base URL."""
    return did_web_for(base_url, institution.slug)


def did_document(institution: Institution, base_url: str) -> dict[str, Any]:
    """The institution's DID document: active and retired keys, never compromised ones."""
    active = [
        k.public_key_multibase for k in institution.signing_keys if k.status is KeyStatus.ACTIVE
    ]
    retired = [
        k.public_key_multibase for k in institution.signing_keys if k.status is KeyStatus.RETIRED
    ]
    return did_web_document(institution_did(institution, base_url), active, retired)


def profile(institution: Institution, base_url: str, lang: str) -> dict[str, Any]:
    """The institution as an OB 3.0 issuer ``Profile`` (names in ``lang``)."""
    address = {
        "streetAddress": institution.street_address,
        "postalCode": institution.postal_code,
        "addressLocality": institution.address_locality,
        "addressCountry": institution.address_country,
        "addressCountryCode": institution.address_country_code,
    }
    identifiers = [
        (BUSINESS_ID_TYPE, institution.business_id),
        (OID_TYPE, institution.oid),
    ]
    return issuer_profile(
        did=institution_did(institution, base_url),
        name=institution.name(lang),
        url=institution.url,
        email=institution.email,
        address={key: value for key, value in address.items() if value},
        other_identifiers=[(kind, value) for kind, value in identifiers if value],
        image_url=logo_url(institution, base_url),
    )


def logo_url(institution: Institution, base_url: str) -> str | None:
    """Where the institution's logo is served (issuer.web.catalog), when it has one: the issuer
    Profile's ``image`` (OB 3.0 Profile.image), which verifiers and wallets show."""
    if institution.logo is None or institution.logo_media_type is None:
        return None
    return urls.logo_url(base_url, institution.slug)


def profile_document(institution: Institution, base_url: str, lang: str) -> dict[str, Any]:
    """The Profile as a standalone JSON-LD document (with the contexts that define it)."""
    return {"@context": [VC_V2, OB_V3], **profile(institution, base_url, lang)}
