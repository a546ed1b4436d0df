"""The audit log: recording events, reading them back filtered, and exporting them as CSV.

``record`` is called inside the transaction of the action it records (issue, revoke, suspend,
unsuspend, key rotation, key compromise), so the action and its audit event are committed
together or not at all. Like every service it only adds and flushes; the caller commits.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from issuer.models.audit import AuditEvent
from issuer.services.errors import InvalidInputError

#: The actions this service records; others are refused so a typo cannot create a new kind.
ACTIONS: tuple[str, ...] = (
    "issue",
    "issue_bulk",
    "revoke",
    "suspend",
    "unsuspend",
    "key.create",
    "key.rotate",
    "key.compromised",
    # Staff asked for a learner's mail to be sent again (issuer.services.mail.resend).
    "mail.resend",
    # Staff downloaded a cohort's names, addresses and private links (issuer.services.cohort).
    "learners.export",
    # An integration of the completion webhook was created or revoked
    # (issuer.services.integrations).
    "integration.create",
    "integration.revoke",
)
MAX_LABEL_LENGTH = 320
MAX_TARGET_LENGTH = 2048
MAX_REASON_LENGTH = 2000
MAX_PAGE_SIZE = 1000

#: Spreadsheet programs treat a cell starting with these as a formula (OWASP "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: Where a spreadsheet may start a new cell inside one of ours: the export is split on ``,``,
#: but Finnish Excel splits a CSV file on ``;``, and a program that has lost track of the
#: quoting starts a new row at a line break.
_CELL_STARTS = frozenset(",;\r\n")
#: Skipped when looking for a formula at a cell start: the quote a CSV reader drops and the
#: spaces some programs trim.
_SKIPPED_AT_START = frozenset(' "')
CSV_COLUMNS = ("time", "actor_kind", "actor_id", "actor", "action", "target", "reason", "details")


class AuditActor(Protocol):
    """Who acts: ``issuer.web.auth.Actor`` fits (kind, id, label)."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> Any: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SystemActor:
    """An actor for work no person started (and for tests)."""

    kind: str = "system"
    id: str | None = None
    label: str = "system"


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def record(
    session: Session,
    *,
    actor: AuditActor,
    action: str,
    institution_id: int,
    target: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction and return it (flushed, so it has an id)."""
    if action not in ACTIONS:
        raise InvalidInputError(f"unknown audit action {action!r}")
    actor_id = getattr(actor, "id", None)
    event = AuditEvent(
        institution_id=institution_id,
        occurred_at=(now or datetime.now(UTC)).astimezone(UTC),
        actor_kind=_clip(str(actor.kind), 32),
        actor_id=None if actor_id is None else _clip(str(actor_id), 64),
        actor_label=_clip(str(actor.label), MAX_LABEL_LENGTH),
        action=action,
        target=_clip(target, MAX_TARGET_LENGTH),
        reason=None if reason is None else _clip(reason, MAX_REASON_LENGTH),
        details=details,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to show: all of an institution's events, narrowed by any of these."""

    action: str | None = None
    #: A substring of the target (a credential id, a key id).
    target: str | None = None
    #: A substring of the actor's label.
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _query(institution_id: int, filters: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.institution_id == institution_id)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.target:
        query = query.where(AuditEvent.target.contains(filters.target, autoescape=True))
    if filters.actor:
        query = query.where(AuditEvent.actor_label.contains(filters.actor, autoescape=True))
    if filters.since is not None:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEvent.occurred_at < filters.until)
    return query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def list_events(
    session: Session,
    institution_id: int,
    filters: AuditFilter | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    """The institution's events, newest first."""
    query = _query(institution_id, filters or AuditFilter())
    if limit is not None:
        query = query.limit(max(1, min(limit, MAX_PAGE_SIZE))).offset(max(0, offset))
    return session.scalars(query).all()


def _starts_formula(value: str, start: int) -> bool:
    """Would a cell beginning at ``start`` of ``value`` run as a formula?"""
    position = start
    while position < len(value) and value[position] in _SKIPPED_AT_START:
        position += 1
    return value.startswith(FORMULA_PREFIXES, position)


def neutralize_formula(value: str) -> str:
    """``value`` with ``'`` put wherever a spreadsheet could start a formula (OWASP "CSV
    Injection"): at the start of the cell and right after every ``,``, ``;`` and line break in
    it, so that the file is safe whether it is split on ``,`` or on ``;`` (Finnish Excel).
    ``'`` makes a spreadsheet take what follows as text; the CSV module then quotes whatever
    needs quoting. A value with nothing to neutralise is returned unchanged."""
    out: list[str] = []
    done = 0
    starts = [0, *(index + 1 for index, c in enumerate(value) if c in _CELL_STARTS)]
    for start in starts:
        if _starts_formula(value, start):
            out.append(value[done:start])
            out.append("'")
            done = start
    if not out:
        return value
    out.append(value[done:])
    return "".join(out)


def _row(event: AuditEvent) -> list[str]:
    details = "" if not event.details else _json_text(event.details)
    cells = [
        event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        event.actor_kind,
        event.actor_id or "",
        event.actor_label,
        event.action,
        event.target,
        event.reason or "",
        details,
    ]
    return [neutralize_formula(cell) for cell in cells]


def _json_text(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def export_csv(events: Iterable[AuditEvent]) -> str:
    """The events as CSV text (RFC 4180: CRLF line ends, fields quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(_row(event))
    return buffer.getvalue()
