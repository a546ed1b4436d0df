"""Issuing a cohort from a CSV file.

1. ``bulk_csv.parse_csv`` reads and checks the whole file first; a file with any bad row
   issues nothing.
2. ``create_job`` stores the rows in a ``BulkJob`` (one ``BulkJobRow`` per line).
3. A job runner (``issuer.services.jobs``) calls ``process_batch`` until the job is done; each
   batch is one transaction, so an interrupted job resumes after its last committed batch.

Running the same file again issues nothing new for rows already issued: a row whose learner
(``recipient_key``) already holds the badge class from the institution is *skipped*.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from issuer.core.errors import EngineError
from issuer.models import BadgeClass, Institution
from issuer.models.issuing import BulkJob, BulkJobRow, JobState, RowState
from issuer.services import (
    audit,
    badge_classes,
    issue_input,
    issue_many,
    status_publishing,
    translation,
)
from issuer.services.bulk_csv import ParsedCsv, RowError
from issuer.services.errors import NotFoundError, ServiceError
from issuer.services.issue_input import FieldErrors
from issuer.services.issuing import find_credentials
from issuer.services.issuing_context import IssuingContext
from issuer.services.learner_keys import recipient_key
from issuer.services.translation import N_, Message

#: Rows per transaction: a few tenths of a second of work (``issue_many`` writes a batch
#: with a statement per table), so that on SQLite (one writer at a time) requests that write
#: meanwhile wait well within the driver's 5-second busy timeout, while the per-transaction
#: costs (reading the batch, the status lists, committing) are shared by many rows.
BATCH_SIZE = 250


# --- jobs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobActor:
    """The actor a job's audit events name: whoever started the job."""

    kind: str
    id: int | None
    label: str


def create_job(
    session: Session,
    institution: Institution,
    badge_class: BadgeClass,
    parsed: ParsedCsv,
    *,
    actor: audit.AuditActor,
    file_name: str | None = None,
) -> BulkJob:
    """Store a checked file as a pending job (rows inserted in one statement)."""
    if not badge_classes.usable_by(badge_class, institution):
        raise NotFoundError(
            f"institution {institution.slug!r} cannot issue badge class {badge_class.slug!r}"
        )
    actor_id = getattr(actor, "id", None)
    job = BulkJob(
        institution_id=institution.id,
        badge_class_id=badge_class.id,
        state=JobState.PENDING,
        file_name=(file_name or "")[:255] or None,
        file_sha256=parsed.sha256,
        total=len(parsed.rows),
        issued=0,
        skipped=0,
        failed=0,
        created_by=str(actor.label)[:320],
        actor_kind=str(actor.kind)[:16],
        actor_id=actor_id if isinstance(actor_id, int) else None,
    )
    session.add(job)
    session.flush()
    session.execute(
        insert(BulkJobRow),
        [
            {
                "job_id": job.id,
                "line": row.line,
                "email": row.email,
                "name": row.name,
                "lang": row.lang,
                "evidence_url": row.evidence_url,
                "evidence_narrative": row.evidence_narrative,
                "grade": row.grade,
                "valid_until": row.valid_until,
                "state": RowState.PENDING,
            }
            for row in parsed.rows
        ],
    )
    if "issue_bulk" in audit.ACTIONS:
        audit.record(
            session,
            actor=actor,
            action="issue_bulk",
            institution_id=institution.id,
            target=f"job:{job.id}",
            details={"badge_class": badge_class.slug, "rows": job.total, "file": file_name},
        )
    return job


def get_job(session: Session, job_id: int, institution: Institution | None = None) -> BulkJob:
    job = session.get(BulkJob, job_id)
    if job is None or (institution is not None and job.institution_id != institution.id):
        raise NotFoundError(f"no job {job_id}")
    return job


def job_errors(session: Session, job: BulkJob, limit: int = 100) -> list[RowError]:
    rows = session.execute(
        select(BulkJobRow.line, BulkJobRow.error)
        .where(BulkJobRow.job_id == job.id, BulkJobRow.state == RowState.FAILED)
        .order_by(BulkJobRow.line)
        .limit(limit)
    )
    # Kept as messages (``_row_error``): shown in the reader's language (the staff page's,
    # the API client's; English on the command line).
    return [RowError(line, translation.loads(error or "")) for line, error in rows]


def pending_rows(session: Session, job: BulkJob) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(BulkJobRow)
            .where(BulkJobRow.job_id == job.id, BulkJobRow.state == RowState.PENDING)
        )
        or 0
    )


def job_json(job: BulkJob, errors: list[RowError] | None = None) -> dict[str, Any]:
    processed = job.issued + job.skipped + job.failed
    body: dict[str, Any] = {
        "id": job.id,
        "state": job.state.value,
        "badge_class": job.badge_class.slug,
        "total": job.total,
        "processed": processed,
        "issued": job.issued,
        "skipped": job.skipped,
        "failed": job.failed,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.error:
        body["error"] = job.error
    if errors is not None:
        body["errors"] = [error.to_dict() for error in errors]
    return body


@dataclass(frozen=True, slots=True)
class _Pending:
    """A pending row of a batch, as read (no ORM object: a batch reads and writes rows in
    bulk)."""

    id: int
    line: int
    email: str
    name: str
    lang: str
    evidence_url: str | None
    evidence_narrative: str | None
    grade: str | None
    valid_until: datetime | None

    def recipient(self) -> issue_input.Recipient:
        evidence = (
            (issue_input.Evidence(url=self.evidence_url, narrative=self.evidence_narrative),)
            if self.evidence_url or self.evidence_narrative
            else ()
        )
        options = issue_input.IssueOptions(
            lang=self.lang, evidence=evidence, grade=self.grade, valid_until=self.valid_until
        )
        return issue_input.Recipient(self.email, self.name, options)


def _pending_rows(session: Session, job: BulkJob, limit: int) -> list[_Pending]:
    rows = session.execute(
        select(
            BulkJobRow.id,
            BulkJobRow.line,
            BulkJobRow.email,
            BulkJobRow.name,
            BulkJobRow.lang,
            BulkJobRow.evidence_url,
            BulkJobRow.evidence_narrative,
            BulkJobRow.grade,
            BulkJobRow.valid_until,
        )
        .where(BulkJobRow.job_id == job.id, BulkJobRow.state == RowState.PENDING)
        .order_by(BulkJobRow.line)
        .limit(limit)
    )
    return [
        _Pending(
            id=row.id,
            line=row.line,
            email=row.email or "",
            name=row.name,
            lang=row.lang,
            evidence_url=row.evidence_url,
            evidence_narrative=row.evidence_narrative,
            grade=row.grade,
            valid_until=row.valid_until,
        )
        for row in rows
    ]


def _issue_rows(
    session: Session,
    ctx: IssuingContext,
    job: BulkJob,
    rows: list[_Pending],
    moment: datetime,
) -> list[str | ServiceError | EngineError]:
    """Issue ``rows`` (credential id, or the error, per row): all at once in a savepoint, or,
    if that fails, row by row, each in its own savepoint, so that a row failing for a reason
    the upfront check cannot see (e.g. the institution lost its signing key) is recorded and
    the others are issued."""
    actor = JobActor(job.actor_kind, job.actor_id, job.created_by)

    def issue(chunk: list[_Pending]) -> list[str]:
        with session.begin_nested():
            done = issue_many.issue_many(
                session,
                ctx,
                job.institution,
                job.badge_class,
                [row.recipient() for row in chunk],
                actor=actor,
                now=moment,
                via=f"bulk:{job.id}",
            )
        return [issued.credential_id for issued in done]

    if not rows:
        return []
    try:
        return list(issue(rows))
    except (ServiceError, EngineError):
        # The savepoint rolled back the batch's writes, possibly a status list it opened:
        # the allocator reads the lists again.
        ctx.new_transaction()
    outcomes: list[str | ServiceError | EngineError] = []
    for row in rows:
        try:
            outcomes.extend(issue([row]))
        except (ServiceError, EngineError) as error:
            ctx.new_transaction()
            outcomes.append(error)
    return outcomes


#: A failed row's reasons, kept as messages (``translation.dumps``) to be shown in the
#: language of whoever reads them later, not in the background job's English (issue 15).
_ON_FIELD = N_("%(field)s: %(message)s")
_NOT_MADE = N_("the credential could not be made: %(detail)s")
#: Longest stored reason; a longer one is kept as its English text, cut.
MAX_ERROR_CHARS = 4000


def _row_error(error: ServiceError | EngineError) -> str:
    """What is stored for a row that failed with ``error``: its messages (its fields' ones for
    ``FieldErrors``); a service error that has none, as its text; an engine error (a fault in
    building or signing the credential, in the engine's technical English) under a translated
    lead."""
    parts: list[str | Message]
    if isinstance(error, FieldErrors):
        parts = [
            Message(_ON_FIELD, field=one.field, message=one.deferred or one.message)
            for one in error.errors
        ]
    elif isinstance(error, ServiceError):
        parts = [error.deferred or error.message]
    else:
        parts = [Message(_NOT_MADE, detail=str(error))]
    stored = translation.dumps(parts)
    if len(stored) > MAX_ERROR_CHARS:
        return (error.message if isinstance(error, ServiceError) else str(error))[:2000]
    return stored


def process_batch(
    session: Session,
    ctx: IssuingContext,
    job: BulkJob,
    *,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> bool:
    """Issue the next ``batch_size`` pending rows of ``job`` in the caller's transaction;
    returns True when the job has no pending rows left (and is marked done).

    The batch's rows are read, issued (``issue_many``: a statement per table for the
    whole batch) and marked in bulk. A row whose issuance fails (for a reason the upfront check
    cannot see, e.g. the institution lost its signing key) is marked failed with the error and
    the batch goes on (``_issue_rows``); the job ends as done with a failure count.
    """
    moment = now or datetime.now(UTC)
    job.heartbeat_at = moment
    session.flush()  # the first write of the transaction (SQLite: take the write lock now)
    ctx.new_transaction()
    rows = _pending_rows(session, job, batch_size)
    if not rows:
        job.state = JobState.DONE
        job.finished_at = moment
        session.flush()
        return True
    keys = {row.id: recipient_key(ctx.secret, row.email) for row in rows}
    holders = find_credentials(session, job.institution, job.badge_class, list(set(keys.values())))
    fresh: list[_Pending] = []
    first_of: dict[str, int] = {}  # recipient key -> the row of this batch issuing to it
    for row in rows:
        if keys[row.id] not in holders and keys[row.id] not in first_of:
            first_of[keys[row.id]] = row.id
            fresh.append(row)
    outcomes = _issue_rows(session, ctx, job, fresh, moment)
    by_row = {row.id: outcome for row, outcome in zip(fresh, outcomes, strict=True)}
    marks: list[dict[str, Any]] = []
    for row in rows:
        key = keys[row.id]
        state, credential_id, error = RowState.SKIPPED, holders.get(key), None
        if credential_id is None:
            # Issued by this row, or by an earlier row of this batch for the same learner.
            outcome = by_row[row.id if row.id in by_row else first_of[key]]
            if isinstance(outcome, str):
                credential_id = outcome
                state = RowState.ISSUED if row.id in by_row else RowState.SKIPPED
            else:
                state, error = RowState.FAILED, _row_error(outcome)
        marks.append(
            {
                "id": row.id,
                "state": state,
                "credential_id": credential_id,
                "error": error,
                "email": None,  # processed rows keep no e-mail address
            }
        )
        job.issued += state is RowState.ISSUED
        job.skipped += state is RowState.SKIPPED
        job.failed += state is RowState.FAILED
    session.execute(update(BulkJobRow), marks)
    session.flush()
    # Every list this batch touched is signed once, in the batch's transaction (``issue_many``
    # signs the lists it opens; this catches any left, e.g. by a row retried on its own).
    status_publishing.sign_changed_lists(
        session,
        base_url=ctx.base_url,
        signer=lambda owner: ctx.signing_key(session, owner),
    )
    return False
