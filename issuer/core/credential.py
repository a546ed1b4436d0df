"""Building unsigned Open Badges 3.0 ``OpenBadgeCredential``s (OB 3.0 §"AchievementCredential").

Shape rules (ob3-facts §1.1, DESIGN.md "Standards, fixed"):
* ``@context`` = VC 2.0 then OB ``context-3.0.3.json``; ``type`` =
  ``["VerifiableCredential", "OpenBadgeCredential"]``; ``validFrom`` and optional ``validUntil``.
* ``issuer`` is always a ``Profile`` object (the 1EdTech validator's IssuerProbe refuses a bare
  URI) whose ``id`` is the institution's ``did:web``.
* Multi-valued properties are arrays, nulls and empty arrays are omitted.
* The recipient is identified by a salted SHA-256 ``IdentityObject`` of the e-mail address
  (OB 3.0 §"IdentityObject"); the plain address never enters the credential. The recipient's name
  goes into ``credentialSubject.name`` (schema.org ``name``, defined by the OB context), which is
  what wallets and displayers show.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from issuer.core.contexts import OB_V3, VC_V2

CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
OB_SCHEMA_URL = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


def xsd_datetime(moment: datetime) -> str:
    """UTC ``DateTimeZ`` with second precision, e.g. ``2026-11-23T10:00:00Z``."""
    if moment.tzinfo is None:
        raise ValueError("timezone-aware datetime required")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_email(email: str) -> str:
    """The form of an e-mail address that is hashed: trimmed, NFC, lower-cased.

    Lower-casing the whole address (not only the domain) is what recipients expect when they
    prove ownership later: ``Liisa.Virtanen@Example.fi`` and ``liisa.virtanen@example.fi`` are
    the same person to every mail system they will use."""
    return unicodedata.normalize("NFC", email.strip()).lower()


def identity_hash(identifier: str, salt: str) -> str:
    """OB 3.0 ``identityHash``: ``"sha256$" + hex(SHA-256(identifier + salt))``."""
    digest = hashlib.sha256((identifier + salt).encode("utf-8")).hexdigest()
    return f"sha256${digest}"


def email_identity(email: str, salt: str) -> dict[str, Any]:
    return {
        "type": "IdentityObject",
        "identityHash": identity_hash(normalize_email(email), salt),
        "identityType": "emailAddress",
        "hashed": True,
        "salt": salt,
    }


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop ``None`` values and empty arrays/strings (OB 3.0 §"Serialization")."""
    return {k: v for k, v in mapping.items() if v is not None and v != [] and v != ""}


def issuer_profile(
    *,
    did: str,
    name: str,
    url: str | None = None,
    email: str | None = None,
    address: dict[str, str] | None = None,
    other_identifiers: Iterable[tuple[str, str]] = (),
    image_url: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The issuing institution as an OB 3.0 ``Profile``.

    ``address`` keys are OB ``Address`` properties (``streetAddress``, ``postalCode``,
    ``addressLocality``, ``addressCountry``, ``addressCountryCode``); the EU element "country of
    the issuer" is ``addressCountryCode``. ``other_identifiers`` are ``(identifierType, value)``
    pairs such as ``("ext:BusinessId", "0123456-7")`` (OB ``IdentifierEntry``)."""
    profile: dict[str, Any] = {"id": did, "type": ["Profile"], "name": name}
    profile.update(_compact({"url": url, "email": email, "description": description}))
    if address:
        profile["address"] = {"type": ["Address"], **_compact(dict(address))}
    identifiers = [
        {"type": "IdentifierEntry", "identifier": value, "identifierType": kind}
        for kind, value in other_identifiers
        if value
    ]
    if identifiers:
        profile["otherIdentifier"] = identifiers
    if image_url:
        profile["image"] = {"id": image_url, "type": "Image", "caption": name}
    return profile


def build_credential(
    *,
    credential_id: str,
    issuer: dict[str, Any],
    achievement: dict[str, Any],
    recipient_name: str,
    recipient_email: str,
    salt: str,
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_status: dict[str, Any] | None = None,
    evidence: list[dict[str, Any]] | None = None,
    results: list[dict[str, Any]] | None = None,
    activity_start: str | None = None,
    activity_end: str | None = None,
    credits_earned: float | None = None,
    name: str | None = None,
    include_schema: bool = False,
) -> dict[str, Any]:
    """An unsigned ``OpenBadgeCredential`` for one recipient.

    ``activity_start``/``activity_end`` are ``YYYY-MM-DD`` dates: the OB 3.0.3 context types them
    as ``xsd:date`` (ob3-facts §1.4), so a date-time there would canonicalize as an invalid date.
    """
    if valid_until is not None and valid_until <= valid_from:
        raise ValueError("validUntil must be later than validFrom")
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "name": recipient_name,
        "identifier": [email_identity(recipient_email, salt)],
        "achievement": achievement,
    }
    subject.update(
        _compact(
            {
                "activityStartDate": activity_start,
                "activityEndDate": activity_end,
                "creditsEarned": credits_earned,
                "result": results,
            }
        )
    )
    credential: dict[str, Any] = {
        "@context": [VC_V2, OB_V3],
        "id": credential_id,
        "type": list(CREDENTIAL_TYPES),
        "name": name or achievement.get("name"),
        "issuer": issuer,
        "validFrom": xsd_datetime(valid_from),
        "awardedDate": xsd_datetime(valid_from),
        "credentialSubject": subject,
    }
    if valid_until is not None:
        credential["validUntil"] = xsd_datetime(valid_until)
    if evidence:
        credential["evidence"] = evidence
    if credential_status:
        # VC 2.0 allows several status entries, but the OB 3.0 data model gives
        # AchievementCredential.credentialStatus a multiplicity of 0..1 and its JSON Schema
        # (what the 1EdTech validator runs) accepts only one object. So a credential carries one
        # entry: the revocation entry, which every OB verifier checks.
        credential["credentialStatus"] = credential_status
    if include_schema:
        # OB 3.0 §"credentialSchema": verifiers validate against every entry of this type. The
        # type term lives in the OB extensions context, which is then added as a third context.
        credential["@context"].append("https://purl.imsglobal.org/spec/ob/v3p0/extensions.json")
        credential["credentialSchema"] = [
            {"id": OB_SCHEMA_URL, "type": "1EdTechJsonSchemaValidator2019"}
        ]
    return _compact(credential)


def evidence_entry(
    *, url: str | None = None, narrative: str | None = None, name: str | None = None
) -> dict[str, Any]:
    """OB 3.0 ``Evidence``: a URL and/or a narrative (markdown)."""
    return _compact({"id": url, "type": ["Evidence"], "narrative": narrative, "name": name})
