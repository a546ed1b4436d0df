"""What the learner page shows: the credential's facts in the reader's language, its status,
and the links it offers (LinkedIn, downloads, QR code, printable certificate)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from sqlalchemy.orm import Session

from issuer import urls
from issuer.core import eu_vocabularies as vocab
from issuer.core.badgeclass.eu_profile import eu_facts
from issuer.core.badgeclass.model import BadgeClassData
from issuer.models import Credential
from issuer.services import badge_classes, dates, revocation, status

LINKEDIN_ADD_TO_PROFILE = "https://www.linkedin.com/profile/add"

VALID = "valid"
REVOKED = "revoked"
SUSPENDED = "suspended"
EXPIRED = "expired"
#: States in which the page offers nothing to share or download and no validity dates
#: (issue 15): the badge no longer stands for what it says, and a link or file passed on now
#: would be read as if it did.
WITHDRAWN = frozenset({REVOKED, SUSPENDED})


def credential_status(session: Session, credential: Credential, now: datetime | None = None) -> str:
    """valid, revoked, suspended or expired, from the database (the status list bits the
    service publishes, and ``validUntil``)."""
    flags = status.statuses(session, [credential.id])[credential.id]
    if status.REVOCATION in flags or getattr(credential, "revoked_at", None) is not None:
        return REVOKED
    if status.SUSPENSION in flags:
        return SUSPENDED
    moment = now or datetime.now(UTC)
    if credential.valid_until is not None and credential.valid_until <= moment:
        return EXPIRED
    return VALID


def linkedin_url(
    *,
    name: str,
    organization: str,
    issued_at: datetime,
    valid_until: datetime | None,
    cert_url: str,
    cert_id: str,
) -> str:
    """LinkedIn's "Add licence or certification" link with the fields filled in."""
    params: dict[str, str] = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": organization,
        "issueYear": str(issued_at.year),
        "issueMonth": str(issued_at.month),
    }
    if valid_until is not None:
        params["expirationYear"] = str(valid_until.year)
        params["expirationMonth"] = str(valid_until.month)
    params["certUrl"] = cert_url
    params["certId"] = cert_id
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(params)}"


def country_name(code: str, lang: str) -> str:
    """``FI`` -> ``Suomi`` / ``Finland`` (Babel's CLDR data); the code when unknown."""
    try:
        return str(Locale.parse(lang).territories.get(code.upper(), code))
    except (ValueError, TypeError):
        return code


@dataclass(frozen=True)
class PageFacts:
    credential_id: str
    badge_name: str
    description: str
    learning_outcomes: list[str]
    holder: str
    issuer_name: str
    issued_at: datetime
    valid_until: datetime | None
    status: str
    facts: list[tuple[str, str]]
    evidence: list[dict[str, str]]
    results: list[str]
    image_alt: str
    achievement_type: str
    #: For a revoked or suspended badge: since when, and the reason staff gave (if any).
    status_since: datetime | None = None
    status_reason: str | None = None

    @property
    def withdrawn(self) -> bool:
        """Revoked or suspended: the page shows why, and offers no sharing, downloads or
        validity dates."""
        return self.status in WITHDRAWN


def _text_list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    if isinstance(value, dict):
        return [value]
    return []


def page_facts(session: Session, credential: Credential, lang: str) -> PageFacts:
    """The page's content in ``lang`` (the reader's language; the badge class holds its texts in
    fi, sv and en, so the page is not limited to the language the credential was issued in)."""
    version = credential.badge_class_version
    bc: BadgeClassData = badge_classes.parsed(version)
    institution = credential.institution
    document: dict[str, Any] = json.loads(credential.signed_json)
    badge_name = bc.name.get(lang)
    rows: list[tuple[str, str]] = [
        (vocab.label("title", lang), badge_name),
        (vocab.label("learner_identification", lang), credential.recipient_name),
        (vocab.label("awarding_body", lang), institution.name(lang)),
        (
            vocab.label("issuer_country", lang),
            country_name(institution.address_country_code or "FI", lang),
        ),
        (vocab.label("date_of_issue", lang), dates.format_date(credential.issued_at, lang)),
    ]
    rows.extend(eu_facts(bc, lang))
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    evidence = [
        {"url": str(item.get("id", "")), "narrative": str(item.get("narrative", ""))}
        for item in _text_list(document.get("evidence"))
    ]
    results = [str(item["value"]) for item in _text_list(subject.get("result")) if "value" in item]
    state = credential_status(session, credential)
    if state in WITHDRAWN:
        # No validity dates for a badge that is not valid (issue 15): "valid for 24 months"
        # beside "revoked" reads as a promise.
        validity = vocab.label("validity", lang)
        rows = [(label, value) for label, value in rows if label != validity]
    since: datetime | None = None
    reason: str | None = None
    if state == REVOKED:
        since, reason = credential.revoked_at, credential.revocation_reason
    elif state == SUSPENDED:
        since = credential.suspended_at
        reason = revocation.suspension_reason(session, credential)
    return PageFacts(
        credential_id=credential.id,
        badge_name=badge_name,
        description=bc.description.get(lang),
        learning_outcomes=[outcome.get(lang) for outcome in bc.learning_outcomes],
        holder=credential.recipient_name,
        issuer_name=institution.name(lang),
        issued_at=credential.issued_at,
        valid_until=credential.valid_until,
        status=state,
        facts=rows,
        evidence=evidence,
        results=results,
        image_alt=badge_name,
        achievement_type=bc.achievement_type,
        status_since=since,
        status_reason=reason,
    )


@dataclass(frozen=True)
class PageLinks:
    page: str
    verify: str
    badge_png: str
    badge_svg: str
    credential_json: str
    qr_png: str
    qr_svg: str
    certificate: str
    linkedin: str


def page_links(base_url: str, credential: Credential, facts: PageFacts) -> PageLinks:
    page = urls.credential_url(base_url, credential.id)
    return PageLinks(
        page=page,
        verify=urls.verify_url(base_url, credential.id),
        badge_png=f"{page}/badge.png",
        badge_svg=f"{page}/badge.svg",
        credential_json=f"{page}/credential.json",
        qr_png=f"{page}/qr.png",
        qr_svg=f"{page}/qr.svg",
        certificate=f"{page}/certificate.pdf",
        linkedin=linkedin_url(
            name=facts.badge_name,
            organization=facts.issuer_name,
            issued_at=facts.issued_at,
            valid_until=facts.valid_until,
            cert_url=page,
            cert_id=credential.id,
        ),
    )
