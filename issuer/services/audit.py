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

from issuer.models import BadgeClass, BadgeClassVersion, Credential
from issuer.models.accounts import StaffUser
from issuer.models.audit import AuditEvent
from issuer.models.issuing import BulkJob
from issuer.services import badge_classes
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
    # An LTI platform was registered (by hand or by Dynamic Registration) or removed, or a
    # registration invite was made (issuer.services.lti).
    "lti.register",
    "lti.remove",
    "lti.invite",
    # Staff sign-in through the institution's OpenID Connect provider: its settings set or
    # switched off, a sign-in (and provisioning), a refused person (issuer.services.oidc).
    "oidc.configure",
    "oidc.disable",
    "oidc.sign_in",
    "oidc.refused",
    # A holder-bound copy of a credential went into a learner's wallet (issuer.services.wallet).
    "wallet.copy",
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


# --- names for people ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventNames:
    """What a person reads for an event instead of ids: who acted, and what the target is (the
    credential's holder and badge, a cohort job's badge class). None where the stored text is
    all there is (a token's name, the CLI, a key id)."""

    actor: str | None = None
    holder: str | None = None
    badge: str | None = None
    credential_id: str | None = None
    job_id: int | None = None


_JOB_PREFIX = "job:"


def event_names(
    session: Session, institution_id: int, events: Sequence[AuditEvent], lang: str
) -> dict[int, EventNames]:
    """event id -> the names of its actor and target, badge names in ``lang``. Only the
    institution's own credentials and jobs are looked up, and only its own staff and the
    service's admins are named: an id of anyone else's stays an id."""
    user_ids = {user_id for e in events if (user_id := _user_id(e)) is not None}
    credential_ids = {e.target for e in events if _is_credential_id(e.target)}
    job_ids = {
        int(e.target.removeprefix(_JOB_PREFIX))
        for e in events
        if e.target.startswith(_JOB_PREFIX) and e.target.removeprefix(_JOB_PREFIX).isdigit()
    }
    users = {
        user.id: user
        for user in session.scalars(
            select(StaffUser).where(
                StaffUser.id.in_(user_ids),
                (StaffUser.institution_id == institution_id) | StaffUser.institution_id.is_(None),
            )
        )
    }
    credentials = {
        credential.id: credential
        for credential in session.scalars(
            select(Credential).where(
                Credential.id.in_(credential_ids), Credential.institution_id == institution_id
            )
        )
    }
    jobs = {
        job.id: job
        for job in session.scalars(
            select(BulkJob).where(BulkJob.id.in_(job_ids), BulkJob.institution_id == institution_id)
        )
    }
    badge_names: dict[tuple[str, int], str] = {}

    def version_name(version: BadgeClassVersion) -> str:
        key = ("version", version.id)
        if key not in badge_names:
            badge_names[key] = badge_classes.parsed(version).name.get(lang)
        return badge_names[key]

    def class_name(badge_class: BadgeClass) -> str:
        key = ("class", badge_class.id)
        if key not in badge_names:
            version = badge_classes.current_version(session, badge_class)
            badge_names[key] = badge_classes.parsed(version).name.get(lang)
        return badge_names[key]

    names: dict[int, EventNames] = {}
    for event in events:
        user = users.get(_user_id(event) or 0)
        actor = user.name if user is not None and user.name else None
        credential = credentials.get(event.target)
        job_id = (
            event.target.removeprefix(_JOB_PREFIX) if event.target.startswith(_JOB_PREFIX) else ""
        )
        job = jobs.get(int(job_id)) if job_id.isdigit() else None
        if credential is not None:
            names[event.id] = EventNames(
                actor=actor,
                holder=credential.recipient_name,
                badge=version_name(credential.badge_class_version),
                credential_id=credential.id,
            )
        elif job is not None:
            names[event.id] = EventNames(
                actor=actor, badge=class_name(job.badge_class), job_id=job.id
            )
        else:
            names[event.id] = EventNames(actor=actor)
    return names


def _user_id(event: AuditEvent) -> int | None:
    """The staff user who acted, when one did (``actor_id`` of a ``user`` actor)."""
    value = event.actor_id
    if event.actor_kind != "user" or value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _is_credential_id(target: str) -> bool:
    return len(target) == 32 and all(c in "0123456789abcdef" for c in target)
