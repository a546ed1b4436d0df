"""The staff list of an institution's issued credentials: search, filters, pages and CSV.

* ``CredentialFilter`` says what to show: a search text (a name, an e-mail address, a credential
  id or URL), a badge class, a state and a range of issue dates. The web layer reads it from GET
  parameters, so a filtered list is a link that can be shared.
* ``list_credentials`` returns one page of ``CredentialRow`` (newest first) and the total;
  ``export_csv`` the whole filtered list as CSV.
* Everything is scoped by the institution id the caller passes (``issuer.web.auth``
  ``institution_for_actor`` decides it): one institution's staff never see another's
  credentials, nor badge classes only another institution has issued (``badge_class_choices``).

E-mail addresses: a credential keeps only an HMAC of the recipient's address (``recipient_key``,
``issuer.services.learner_keys``) and the salted OB 3.0 identity hash, not the address. The
address the learner was told at is the one in the outbox (``OutboxMail.to_address``, the newest
mail of the credential), which is what the list shows and what the search looks into. A full
address also finds credentials issued without a mail, through ``recipient_key``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.models import BadgeClass, BadgeClassVersion, Credential
from issuer.models.issuing import OutboxMail
from issuer.services import badge_classes, dates
from issuer.services.audit import neutralize_formula
from issuer.services.learner_keys import recipient_key
from issuer.services.revocation import credential_state

STATES: tuple[str, ...] = ("active", "suspended", "revoked")
MAX_SEARCH_LENGTH = 200
CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "badge_class",
    "badge_name",
    "state",
    "issued",
    "valid_until",
    "revoked",
    "revocation_reason",
    "url",
)


@dataclass(frozen=True, slots=True)
class CredentialFilter:
    """What to list: all of an institution's credentials, narrowed by any of these."""

    #: A substring of the holder's name or e-mail address, or a credential id (its start, a
    #: uuid with hyphens, or the full credential URL).
    search: str = ""
    #: A badge class slug.
    badge_class: str | None = None
    #: ``active``, ``suspended`` or ``revoked``.
    state: str | None = None
    #: Issued on or after this day (Helsinki).
    since: date | None = None
    #: Issued on or before this day (Helsinki).
    until: date | None = None


@dataclass(frozen=True, slots=True)
class CredentialRow:
    credential: Credential
    email: str | None
    badge_slug: str
    badge_name: str
    state: str


@dataclass(frozen=True, slots=True)
class BadgeChoice:
    slug: str
    name: str


def helsinki_midnight(day: date) -> datetime:
    """The start of ``day`` in Helsinki, as a UTC datetime (the columns hold UTC): the
    institutions are Finnish, and "issued on 5 December" means 5 December there."""
    return datetime.combine(day, time(), tzinfo=dates.HELSINKI).astimezone(UTC)


def _newest_mail() -> Any:
    """credential id -> id of its newest outbox mail (a subquery)."""
    return (
        select(OutboxMail.credential_id, func.max(OutboxMail.id).label("mail_id"))
        .where(OutboxMail.credential_id.is_not(None))
        .group_by(OutboxMail.credential_id)
        .subquery("newest_mail")
    )


def _query(
    institution_id: int, filters: CredentialFilter, *, base_url: str, secret: str
) -> Select[Credential, str, str]:
    newest = _newest_mail()
    query = (
        select(Credential, OutboxMail.to_address, BadgeClass.slug)
        .join(BadgeClassVersion, Credential.badge_class_version_id == BadgeClassVersion.id)
        .join(BadgeClass, BadgeClassVersion.badge_class_id == BadgeClass.id)
        .outerjoin(newest, newest.c.credential_id == Credential.id)
        .outerjoin(OutboxMail, OutboxMail.id == newest.c.mail_id)
        .where(Credential.institution_id == institution_id)
    )
    needle = filters.search.strip()[:MAX_SEARCH_LENGTH].lower()
    if needle:
        as_id = needle.removeprefix(urls.credentials_prefix(base_url).lower()).replace("-", "")
        matches = [
            func.lower(Credential.recipient_name).contains(needle, autoescape=True),
            func.lower(OutboxMail.to_address).contains(needle, autoescape=True),
        ]
        if as_id:
            matches.append(Credential.id.startswith(as_id, autoescape=True))
        if "@" in needle:
            # A whole address finds the credentials issued to it even when no mail was queued
            # (the key is an HMAC of the normalized address, so only a whole address matches).
            matches.append(Credential.recipient_key == recipient_key(secret, needle))
        query = query.where(or_(*matches))
    if filters.badge_class:
        query = query.where(BadgeClass.slug == filters.badge_class)
    if filters.state == "revoked":
        query = query.where(Credential.revoked_at.is_not(None))
    elif filters.state == "suspended":
        query = query.where(Credential.revoked_at.is_(None), Credential.suspended_at.is_not(None))
    elif filters.state == "active":
        query = query.where(Credential.revoked_at.is_(None), Credential.suspended_at.is_(None))
    if filters.since is not None:
        query = query.where(Credential.issued_at >= helsinki_midnight(filters.since))
    if filters.until is not None:
        # "until 30 November" includes that whole day.
        query = query.where(
            Credential.issued_at < helsinki_midnight(filters.until + timedelta(days=1))
        )
    return query


def _rows(
    session: Session, query: Select[Credential, str, str], lang: str, names: dict[int, str]
) -> list[CredentialRow]:
    rows = []
    for credential, email, slug in session.execute(query).all():
        version = credential.badge_class_version
        if version.id not in names:
            names[version.id] = badge_classes.parsed(version).name.get(lang)
        rows.append(
            CredentialRow(
                credential=credential,
                email=email,
                badge_slug=slug,
                badge_name=names[version.id],
                state=credential_state(credential),
            )
        )
    return rows


def list_credentials(
    session: Session,
    institution_id: int,
    filters: CredentialFilter,
    *,
    lang: str,
    base_url: str,
    secret: str,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, list[CredentialRow]]:
    """(how many match, the matching credentials newest first, ``limit`` of them from
    ``offset``); badge names in ``lang``. ``secret`` is the key of ``recipient_key``."""
    query = _query(institution_id, filters, base_url=base_url, secret=secret)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(Credential.issued_at.desc(), Credential.id)
    if limit is not None:
        query = query.limit(limit).offset(max(0, offset))
    return total, _rows(session, query, lang, {})


def badge_class_choices(session: Session, institution_id: int, lang: str) -> list[BadgeChoice]:
    """The badge classes the institution has issued (for the filter), by name in ``lang``.
    Only these: listing every badge class would show other institutions' unpublished ones."""
    issued = (
        select(BadgeClassVersion.badge_class_id)
        .join(Credential, Credential.badge_class_version_id == BadgeClassVersion.id)
        .where(Credential.institution_id == institution_id)
        .distinct()
    )
    choices = []
    for badge_class in session.scalars(select(BadgeClass).where(BadgeClass.id.in_(issued))):
        version = badge_classes.current_version(session, badge_class)
        choices.append(BadgeChoice(badge_class.slug, badge_classes.parsed(version).name.get(lang)))
    return sorted(choices, key=lambda choice: (choice.name.casefold(), choice.slug))


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return dates.helsinki(moment).isoformat(timespec="seconds")


def _csv_row(row: CredentialRow, base_url: str) -> list[str]:
    credential = row.credential
    cells = [
        credential.id,
        credential.recipient_name,
        row.email or "",
        row.badge_slug,
        row.badge_name,
        row.state,
        _iso(credential.issued_at),
        _iso(credential.valid_until),
        _iso(credential.revoked_at),
        credential.revocation_reason or "",
        urls.credential_url(base_url, credential.id),
    ]
    # Names, addresses and reasons are typed by people: none may start a formula in a
    # spreadsheet (OWASP "CSV Injection"; the same guard as the audit log's export).
    return [neutralize_formula(cell) for cell in cells]


def export_csv(rows: Iterable[CredentialRow], base_url: str) -> str:
    """The rows as CSV text (RFC 4180: CRLF line ends, fields quoted where needed); times in
    Helsinki with their offset."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(_csv_row(row, base_url))
    return buffer.getvalue()


def choose(value: str | None, allowed: Sequence[str]) -> str | None:
    """``value`` if it is one of ``allowed``, else None (nonsense filters are ignored)."""
    return value if value in allowed else None
