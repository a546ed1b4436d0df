"""Issuing credentials, and finding issued ones.

``issue_credential`` builds the OB 3.0 credential in the recipient's language, signs it with the
institution's active key (``eddsa-rdfc-2022``, verification method ``DID#multibase``) and stores
the exact signed JSON text it returns: that text is what the recipient holds, and the public
route serves it unchanged.
"""

from __future__ import annotations

import calendar
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.core.badgeclass import BadgeClassData, achievement_json, missing_translations
from issuer.core.credential import (
    build_credential,
    identity_hash,
    normalize_email,
    xsd_datetime,
)
from issuer.core.dataintegrity import sign
from issuer.core.did import verification_method_id
from issuer.core.keys import KeyStore
from issuer.models import BadgeClass, BadgeClassVersion, Credential, Institution
from issuer.services import badge_classes, institutions, keys
from issuer.services.errors import InvalidInputError, NotFoundError

LANGUAGES = institutions.LANGUAGES
SALT_BYTES = 16
MAX_NAME_LENGTH = 255
_LANGUAGE_NAMES = {"fi": "Finnish", "sv": "Swedish", "en": "English"}


def credential_url(base_url: str, credential_id: str) -> str:
    return f"{base_url}/credentials/{credential_id}"


def achievement_url(base_url: str, slug: str, version: int, lang: str) -> str:
    return f"{base_url}/badges/{slug}/v{version}/{lang}"


def image_url(base_url: str, version: BadgeClassVersion) -> str:
    slug = version.badge_class.slug
    extension = badge_classes.image_extension(version)
    return f"{base_url}/badges/{slug}/v{version.version}/image.{extension}"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus calendar months; the day is clamped to the month's length
    (31 January + 1 month = 28 or 29 February)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def serialize(document: dict[str, Any]) -> str:
    """The text a signed credential is stored and served as (UTF-8 JSON, readable)."""
    return json.dumps(document, ensure_ascii=False, indent=2)


def _check_recipient(email: str, name: str, lang: str) -> tuple[str, str]:
    if lang not in LANGUAGES:
        raise InvalidInputError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    email = normalize_email(email)
    if not institutions.EMAIL_PATTERN.fullmatch(email):
        raise InvalidInputError(f"{email!r} is not an e-mail address")
    name = " ".join(name.split())
    if not name:
        raise InvalidInputError("the recipient's name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"the recipient's name is longer than {MAX_NAME_LENGTH} characters")
    return email, name


def _complete_languages(bc: BadgeClassData) -> list[str]:
    """Languages in which every text of the badge class exists."""
    return [lang for lang in LANGUAGES if not missing_translations(bc, [lang])]


def _components(
    session: Session, bc: BadgeClassData, base_url: str, lang: str
) -> list[tuple[str, str]]:
    """(name, achievement id) of the badge classes a package requires, at their current
    versions."""
    components = []
    for slug in bc.requires:
        required = badge_classes.find_badge_class(session, slug)
        if required is None:
            raise NotFoundError(f"badge class {bc.slug!r} requires {slug!r}, which does not exist")
        version = badge_classes.current_version(session, required)
        name = badge_classes.parsed(version).name.get(lang)
        components.append((name, achievement_url(base_url, slug, version.version, lang)))
    return components


def issue_credential(
    session: Session,
    institution: Institution,
    badge_class: BadgeClass,
    email: str,
    name: str,
    lang: str,
    *,
    base_url: str,
    keystore: KeyStore,
    now: datetime | None = None,
) -> Credential:
    """Issue ``badge_class`` to the person ``name`` <``email``> in ``lang``; the stored
    ``Credential`` holds the signed JSON text."""
    email, name = _check_recipient(email, name, lang)
    if not badge_classes.usable_by(badge_class, institution):
        raise NotFoundError(
            f"institution {institution.slug!r} cannot issue badge class {badge_class.slug!r}"
        )
    version = badge_classes.current_version(session, badge_class)
    bc = badge_classes.parsed(version)
    languages = _complete_languages(bc)
    if lang not in languages:
        raise InvalidInputError(
            f"badge class {bc.slug!r} is not fully translated into {_LANGUAGE_NAMES[lang]}"
        )

    # VC 2.0 §4.9: validFrom; whole seconds, as the engine writes xsd:dateTime.
    valid_from = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    valid_until = add_months(valid_from, bc.validity_months) if bc.validity_months else None
    credential_id = uuid.uuid4().hex
    salt = secrets.token_hex(SALT_BYTES)
    issuer = institutions.profile(institution, base_url, lang)
    # A badge class of the institution's own was defined by the institution; a national one
    # names its creator in the template (achievement_json's default).
    creator = issuer if badge_class.institution_id is not None and bc.creator is None else None
    achievement = achievement_json(
        bc,
        lang=lang,
        achievement_id=achievement_url(base_url, bc.slug, version.version, lang),
        image_url=image_url(base_url, version),
        related=[
            (other, achievement_url(base_url, bc.slug, version.version, other))
            for other in languages
            if other != lang
        ],
        creator_profile=creator,
        components=_components(session, bc, base_url, lang),
    )
    unsigned = build_credential(
        credential_id=credential_url(base_url, credential_id),
        issuer=issuer,
        achievement=achievement,
        recipient_name=name,
        recipient_email=email,
        salt=salt,
        valid_from=valid_from,
        valid_until=valid_until,
    )

    signing_key = keys.active_key(session, institution)
    private_key = keys.load_private_key(keystore, signing_key)
    method = verification_method_id(
        institutions.institution_did(institution, base_url), signing_key.public_key_multibase
    )
    signed = sign(unsigned, private_key, method, created=xsd_datetime(valid_from))

    credential = Credential(
        id=credential_id,
        institution=institution,
        badge_class_version=version,
        recipient_name=name,
        recipient_identity_hash=identity_hash(email, salt),
        salt=salt,
        lang=lang,
        signed_json=serialize(signed),
        issued_at=valid_from,
        valid_until=valid_until,
    )
    session.add(credential)
    session.flush()
    return credential


def get_credential(session: Session, credential_id: str) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"no credential {credential_id!r}")
    return credential
