"""After a cohort: the learners of a bulk job with their addresses and links, as CSV.

Staff who issued a cohort need to reach its learners even when no mail server is configured
(the mails then wait in the outbox): the export lists, for every row of the job that holds a
credential (issued now, or skipped because the learner already had the badge), the learner's
name, the address the credential was mailed to, the public page and the private manage link.

Plain addresses and manage links are kept only in the outbox (``issuer.services.mail``): the
credential stores the address salted and hashed and the link's token hashed. A credential that
was never mailed therefore has empty address and manage-link cells.

The file is for spreadsheets: UTF-8 with a byte order mark (Excel otherwise reads it in the
Windows code page and garbles ä and ö), cells separated by ``;`` (the list separator of Finnish
and Swedish Excel, and one the cohort upload reads back), CRLF line ends (RFC 4180), and every
cell neutralised against formula injection (``audit.neutralize_formula``, OWASP "CSV
Injection": a learner's name such as ``=HYPERLINK(...)`` must stay text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer import urls
from issuer.models.issuing import BulkJob, BulkJobRow, MailState, OutboxMail, RowState
from issuer.services import audit, mail

#: A spreadsheet program recognises UTF-8 by it.
BOM = "\ufeff"
DELIMITER = ";"


@dataclass(frozen=True, slots=True)
class Learner:
    """One learner of a cohort, as the export lists them."""

    line: int
    name: str
    email: str
    page_url: str
    manage_url: str
    #: ``issued`` (by this job) or ``skipped`` (the learner already held the badge).
    state: str


def learners(session: Session, job: BulkJob, base_url: str) -> list[Learner]:
    """The job's rows that hold a credential, in CSV line order (module docstring)."""
    rows = list(
        session.scalars(
            select(BulkJobRow)
            .where(
                BulkJobRow.job_id == job.id,
                BulkJobRow.credential_id.is_not(None),
                BulkJobRow.state.in_([RowState.ISSUED, RowState.SKIPPED]),
            )
            .order_by(BulkJobRow.line)
        )
    )
    ids = sorted({row.credential_id for row in rows if row.credential_id is not None})
    links = mail.manage_links(session, ids, base_url)
    addresses = _addresses(session, ids)
    found = []
    for row in rows:
        assert row.credential_id is not None
        found.append(
            Learner(
                line=row.line,
                name=row.name,
                email=addresses.get(row.credential_id, ""),
                page_url=urls.credential_url(base_url, row.credential_id),
                manage_url=links.get(row.credential_id, ""),
                state=row.state.value,
            )
        )
    return found


def mail_states(session: Session, job: BulkJob) -> dict[MailState, int]:
    """How many of the mails announcing the credentials this job issued are in each state
    (what the job page tells staff)."""
    ids = list(
        session.scalars(
            select(BulkJobRow.credential_id).where(
                BulkJobRow.job_id == job.id,
                BulkJobRow.state == RowState.ISSUED,
                BulkJobRow.credential_id.is_not(None),
            )
        )
    )
    return mail.first_mail_states(session, [one for one in ids if one is not None])


def _addresses(session: Session, credential_ids: list[str]) -> dict[str, str]:
    """credential id -> the address its first mail went to."""
    found: dict[str, str] = {}
    for start in range(0, len(credential_ids), 500):
        chunk = credential_ids[start : start + 500]
        for credential_id, address in session.execute(
            select(OutboxMail.credential_id, OutboxMail.to_address)
            .where(OutboxMail.credential_id.in_(chunk))
            .order_by(OutboxMail.id)
        ):
            if credential_id is not None:
                found.setdefault(credential_id, address)
    return found


def learners_csv(found: Sequence[Learner], header: Sequence[str]) -> bytes:
    """``found`` as a spreadsheet file (module docstring); ``header`` names the columns name,
    e-mail, page, manage link (in the reader's language)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=DELIMITER, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
    )
    writer.writerow([audit.neutralize_formula(cell) for cell in header])
    for learner in found:
        writer.writerow(
            [
                audit.neutralize_formula(cell)
                for cell in (learner.name, learner.email, learner.page_url, learner.manage_url)
            ]
        )
    return (BOM + buffer.getvalue()).encode("utf-8")


def export(
    session: Session,
    job: BulkJob,
    base_url: str,
    header: Sequence[str],
    *,
    actor: audit.AuditActor,
) -> bytes:
    """The job's learners as CSV, with an audit event: the file holds personal data and private
    links, so the log names who took it."""
    found = learners(session, job, base_url)
    audit.record(
        session,
        actor=actor,
        action="learners.export",
        institution_id=job.institution_id,
        target=f"job:{job.id}",
        details={"job": job.id, "learners": len(found)},
    )
    return learners_csv(found, header)
