"""Issuing a cohort from a CSV file.

1. ``parse_csv`` reads and checks the whole file first: encoding (UTF-8, with or without BOM;
   anything else is refused with advice), delimiter (``,`` or ``;`` — Excel in Finland writes
   ``;``), header names (case-insensitive), and every row. Every bad row is reported with its
   line number and reason; a file with any bad row issues nothing.
2. ``create_job`` stores the rows in a ``BulkJob`` (one ``BulkJobRow`` per line).
3. A job runner (``issuer.services.jobs``) calls ``process_batch`` until the job is done; each
   batch is one transaction, so an interrupted job resumes after its last committed batch.

Running the same file again issues nothing new for rows already issued: a row whose learner
(``recipient_key``) already holds the badge class from the institution is *skipped*.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from issuer.core.errors import EngineError
from issuer.models import BadgeClass, Institution
from issuer.models.issuing import BulkJob, BulkJobRow, JobState, RowState
from issuer.services import audit, badge_classes, issue_input, issue_many, status_publishing
from issuer.services.errors import InvalidInputError, NotFoundError, ServiceError
from issuer.services.issuing import find_credentials
from issuer.services.issuing_context import IssuingContext
from issuer.services.learner_keys import recipient_key
from issuer.services.translation import N_, for_reader

#: Largest file accepted (10,000 rows take well under 2 MB).
MAX_CSV_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
#: Rows per transaction: a few tenths of a second of work (``issue_many`` writes a batch
#: with a statement per table), so that on SQLite (one writer at a time) requests that write
#: meanwhile wait well within the driver's 5-second busy timeout, while the per-transaction
#: costs (reading the batch, the status lists, committing) are shared by many rows.
BATCH_SIZE = 250
#: At most this many row errors are listed (the count is always given).
MAX_REPORTED_ERRORS = 1000
#: At most this many problems of the header line are named.
MAX_HEADER_PROBLEMS = 10

REQUIRED_COLUMNS = ("email", "name")
OPTIONAL_COLUMNS = ("lang", "evidence_url", "evidence_narrative", "grade", "valid_until")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DELIMITERS = (",", ";")

# The file's problems, in the language of whoever reads them (``translation.for_reader``: the
# staff member's or API client's, English for the CLI).
_PROBLEMS = N_("the CSV file has %(count)s problem(s): %(first)s%(more)s")
_ON_LINE = N_("line %(line)s: %(message)s")
_AND_MORE = N_(" (and %(count)s more)")
_TOO_LARGE = N_("the file is larger than %(size)s MB")
_UTF16 = N_("the file is UTF-16 text; save it as CSV UTF-8 (in Excel: 'CSV UTF-8')")
_NOT_UTF8 = N_(
    "is not UTF-8 text (the file looks like Windows-1252/Latin-1); save the file as CSV UTF-8 "
    "(in Excel: 'CSV UTF-8 (comma delimited)')"
)
_NO_HEADER = N_(
    "the first line must be a header naming the columns, separated by ',' or ';': at least "
    "%(columns)s"
)
_NAMELESS_COLUMN = N_("column %(number)s has no name")
_UNKNOWN_COLUMN = N_("unknown column %(name)s (known: %(known)s)")
_TWICE = N_("column %(name)s appears twice")
_MISSING_COLUMNS = N_("missing column(s) %(columns)s")
_MORE_IN_HEADER = N_("and %(count)s more problem(s) in the header")
_EMPTY = N_("the file is empty")
_TOO_MANY_ROWS = N_("the file has more than %(count)s rows")
_FIELD_COUNT = N_("has %(count)s fields, the header has %(header)s")
_SAME_ADDRESS = N_("the same e-mail address as line %(line)s")
_NOT_CSV = N_("is not valid CSV: %(error)s")
_NO_ROWS = N_("the file has a header but no rows")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    email: str
    name: str
    lang: str
    evidence_url: str | None = None
    evidence_narrative: str | None = None
    grade: str | None = None
    valid_until: datetime | None = None


class CsvError(InvalidInputError):
    """The file cannot be issued: ``errors`` names every bad line (line 0: the file itself)."""

    code = "invalid_csv"

    def __init__(self, errors: list[RowError], total_errors: int | None = None) -> None:
        count = total_errors if total_errors is not None else len(errors)
        first = "; ".join(
            for_reader(_ON_LINE, line=error.line, message=error.message)
            if error.line
            else error.message
            for error in errors[:3]
        )
        more = for_reader(_AND_MORE, count=count - 3) if count > 3 else ""
        super().__init__(for_reader(_PROBLEMS, count=count, first=first, more=more))
        self.errors = errors
        self.total_errors = count


@dataclass
class ParsedCsv:
    rows: list[CsvRow] = field(default_factory=list)
    delimiter: str = ","
    sha256: str = ""


def _decode(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise CsvError([RowError(0, for_reader(_TOO_LARGE, size=MAX_CSV_BYTES // (1024 * 1024)))])
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError([RowError(0, for_reader(_UTF16))])
    try:
        # utf-8-sig drops the byte order mark Excel writes at the start of "CSV UTF-8" files.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CsvError([RowError(line, for_reader(_NOT_UTF8))]) from None


def _delimiter(header_line: str) -> str:
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    if counts[best] == 0:
        raise CsvError([RowError(1, for_reader(_NO_HEADER, columns=", ".join(REQUIRED_COLUMNS)))])
    return best


def _header(names: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    errors: list[str] = []
    for position, raw in enumerate(names):
        name = raw.strip().lower().replace("-", "_").replace(" ", "_")
        if name == "e_mail":
            name = "email"
        if not name:
            errors.append(for_reader(_NAMELESS_COLUMN, number=position + 1))
        elif name not in COLUMNS:
            errors.append(
                for_reader(_UNKNOWN_COLUMN, name=repr(raw.strip()), known=", ".join(COLUMNS))
            )
        elif name in columns:
            errors.append(for_reader(_TWICE, name=repr(name)))
        else:
            columns[name] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        errors.append(for_reader(_MISSING_COLUMNS, columns=", ".join(missing)))
    if len(errors) > MAX_HEADER_PROBLEMS:
        # A header of 60,000 made-up names must not become a 10 MB error message.
        more = len(errors) - MAX_HEADER_PROBLEMS
        errors = [*errors[:MAX_HEADER_PROBLEMS], for_reader(_MORE_IN_HEADER, count=more)]
    if errors:
        raise CsvError([RowError(1, "; ".join(errors))])
    return columns


def _cell(values: list[str], columns: dict[str, int], name: str) -> str | None:
    """The cell as written (``None`` when the row has no such column). Free texts and the
    address go to ``issue_input.validate`` untrimmed, so that a control or invisible character
    at either end is refused, not trimmed away unseen; the other cells lose the spaces and tabs
    around them (``a@b.fi ; Liisa ; sv``: ``_trimmed``), and nothing else (``lang`` is checked
    as exactly as the API checks it)."""
    position = columns.get(name)
    if position is None or position >= len(values):
        return None
    return values[position]


def _trimmed(values: list[str], columns: dict[str, int], name: str) -> str | None:
    raw = _cell(values, columns, name)
    return None if raw is None else raw.strip(" \t") or None


def _row(
    values: list[str],
    columns: dict[str, int],
    line: int,
    default_lang: str,
    languages: list[str],
    now: datetime,
    missing: Mapping[str, Sequence[str]],
) -> tuple[CsvRow | None, list[str]]:
    """The row checked by the rules every front end shares (``issue_input``), or its problems."""
    raw = issue_input.IssueInput(
        email=_cell(values, columns, "email"),
        name=_cell(values, columns, "name"),
        lang=_trimmed(values, columns, "lang") or default_lang,
        evidence=issue_input.flat_evidence(
            _trimmed(values, columns, "evidence_url"),
            _cell(values, columns, "evidence_narrative"),
        ),
        grade=_cell(values, columns, "grade"),
        valid_until=_trimmed(values, columns, "valid_until"),
    )
    try:
        checked = issue_input.validate(
            raw, now=now, languages=languages, names=issue_input.FLAT_NAMES, missing=missing
        )
    except issue_input.FieldErrors as error:
        return None, [problem.text for problem in error.errors]
    options = checked.options
    [evidence] = options.evidence or [issue_input.Evidence()]
    return (
        CsvRow(
            line=line,
            email=checked.email,
            name=checked.name,
            lang=options.lang,
            evidence_url=evidence.url,
            evidence_narrative=evidence.narrative,
            grade=options.grade,
            valid_until=options.valid_until,
        ),
        [],
    )


def parse_csv(
    data: bytes,
    *,
    default_lang: str = "fi",
    languages: list[str] | None = None,
    now: datetime | None = None,
    missing: Mapping[str, Sequence[str]] | None = None,
) -> ParsedCsv:
    """Read and check the whole file; ``CsvError`` lists every bad line (see the module doc).

    ``languages``: the languages the badge class is fully translated into (default: all);
    ``missing``: language -> the fields that lack it (``issue_input.missing_fields``), named
    when a row asks for such a language.
    """
    moment = now or datetime.now(UTC)
    allowed = list(languages) if languages is not None else list(issue_input.LANGUAGES)
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    errors: list[RowError] = []
    total_errors = 0
    rows: list[CsvRow] = []
    seen: dict[str, int] = {}

    def report(line: int, message: str) -> None:
        nonlocal total_errors
        total_errors += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(RowError(line, message))

    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise CsvError([RowError(0, for_reader(_EMPTY))]) from None
    columns = _header(header)
    line = reader.line_num + 1
    try:
        for values in reader:
            start, line = line, reader.line_num + 1
            if not any(value.strip() for value in values):
                continue
            if len(rows) + total_errors >= MAX_ROWS:
                raise CsvError([RowError(start, for_reader(_TOO_MANY_ROWS, count=MAX_ROWS))])
            if len(values) != len(header):
                report(start, for_reader(_FIELD_COUNT, count=len(values), header=len(header)))
                continue
            row, problems = _row(
                values, columns, start, default_lang, allowed, moment, missing or {}
            )
            if row is None:
                report(start, "; ".join(problems))
                continue
            earlier = seen.get(row.email)
            if earlier is not None:
                report(start, for_reader(_SAME_ADDRESS, line=earlier))
                continue
            seen[row.email] = start
            rows.append(row)
    except csv.Error as error:
        report(reader.line_num, for_reader(_NOT_CSV, error=str(error)))
    if total_errors:
        raise CsvError(errors, total_errors)
    if not rows:
        raise CsvError([RowError(0, for_reader(_NO_ROWS))])
    return ParsedCsv(rows=rows, delimiter=delimiter, sha256=hashlib.sha256(data).hexdigest())


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
    return [RowError(line, error or "") for line, error in rows]


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
                state, error = RowState.FAILED, outcome.message[:2000]
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
