"""Tables of issuing: status lists and their allocations, idempotency keys, bulk jobs and their
rows, package (stack) offers, and the mail outbox.

One module of the ``issuer.models`` package, beside ``core``; its tables share the
same ``Base`` (and thus the same metadata, which Alembic compares in ``tests/test_migrations``).

Plain e-mail addresses are never stored on credentials (only the salted ``identityHash`` and the
keyed ``recipient_key``). They are kept only where work is still to be done with them: a bulk job
row until it is processed, a package offer until staff decide on it, and an outbox mail (which
must be sendable and re-sendable).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import BadgeClass, Credential, Institution


def _enum(kind: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


# --- status lists ----------------------------------------------------------------------------


class StatusList(Base):
    """One Bitstring Status List of an institution for one purpose ([BSL] §"Bitstring Status
    List Credential"), published at ``/status/<institution slug>/<purpose>/<number>``.

    ``bits`` is the uncompressed bitstring (``MIN_LIST_LENGTH`` bits = 16 KiB). ``version`` goes
    up whenever a bit changes; the signed list credential is cached in ``signed_json`` together
    with the ``signed_version`` it was made from, in the transaction that changes the bits
    (``issuer.services.status``: reads never sign).
    """

    __tablename__ = "status_list"
    __table_args__ = (UniqueConstraint("institution_id", "purpose", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    # "revocation" or "suspension" ([BSL] statusPurpose).
    purpose: Mapped[str] = mapped_column(String(16))
    # 1, 2, ... per institution and purpose: a new list opens when the last one is ~75 % full.
    number: Mapped[int]
    length: Mapped[int]
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    signed_json: Mapped[str | None] = mapped_column(Text)
    signed_version: Mapped[int | None]
    signed_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()


class StatusAllocation(Base):
    """The position a credential holds on a status list. An index is never reused: the row
    stays when the credential is revoked, and the UNIQUE constraint makes two concurrent
    issuers that drew the same random index collide instead of sharing it.

    The foreign key to the credential is checked at commit (``DEFERRABLE INITIALLY DEFERRED``):
    the indexes must be known before the credential is signed, i.e. before its row exists, and
    both are written in the same transaction.
    """

    __tablename__ = "status_allocation"
    __table_args__ = (
        UniqueConstraint("status_list_id", "index"),
        UniqueConstraint("credential_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_list.id"))
    index: Mapped[int]
    credential_id: Mapped[str] = mapped_column(
        String(32),
        ForeignKey("credential.id", deferrable=True, initially="DEFERRED"),
    )
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    status_list: Mapped[StatusList] = relationship()


# --- idempotency -----------------------------------------------------------------------------


class IdempotencyRecord(Base):
    """The first answer to an API request made with an ``Idempotency-Key`` header.

    ``scope`` is the caller (``token:<id>``, ``user:<id>``): keys are per caller and institution.
    ``request_hash`` (SHA-256 of method, path and canonical JSON body) tells a retry from a
    different request reusing the key. The UNIQUE constraint settles concurrent duplicates: the
    second insert waits for the first transaction and then fails, and the second request
    answers with what the first stored.
    """

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("institution_id", "scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- bulk jobs -------------------------------------------------------------------------------


class JobState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RowState(enum.StrEnum):
    PENDING = "pending"
    ISSUED = "issued"
    #: The recipient already held this badge class from this institution.
    SKIPPED = "skipped"
    FAILED = "failed"


class BulkJob(Base):
    """A cohort issued from a CSV file, processed in batches by a job runner
    (``issuer.services.jobs``); each batch is one transaction, so a job interrupted at any
    point resumes where its last committed batch ended."""

    __tablename__ = "bulk_job"
    __table_args__ = (Index("ix_bulk_job_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), default=JobState.PENDING)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(default=0)
    issued: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # Audit label of whoever started it (an e-mail address, token:<name>, cli).
    created_by: Mapped[str] = mapped_column(String(320))
    # The actor kind and id, so the job's audit entries name the same actor.
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    # Which process works on it and when it last reported: a running job whose heartbeat is
    # stale belonged to a process that died, and another runner may take it over.
    worker: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()


class BulkJobRow(Base):
    """One CSV line of a job. ``email`` is cleared once the row is processed."""

    __tablename__ = "bulk_job_row"
    __table_args__ = (
        UniqueConstraint("job_id", "line"),
        Index("ix_bulk_job_row_job_id_state", "job_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("bulk_job.id"))
    line: Mapped[int]
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    lang: Mapped[str] = mapped_column(String(8))
    evidence_url: Mapped[str | None] = mapped_column(String(2048))
    evidence_narrative: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str | None] = mapped_column(String(255))
    valid_until: Mapped[datetime | None]
    state: Mapped[RowState] = mapped_column(
        _enum(RowState, "job_row_state"), default=RowState.PENDING
    )
    credential_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("credential.id"))
    error: Mapped[str | None] = mapped_column(Text)


# --- stacking --------------------------------------------------------------------------------


class OfferState(enum.StrEnum):
    #: Waiting for staff approval.
    PENDING = "pending"
    #: Issued (automatically or approved).
    ISSUED = "issued"
    REJECTED = "rejected"


class PackageOffer(Base):
    """A package (stack) a learner has completed at an institution. One row per institution,
    package and learner, whatever happens to it: the UNIQUE constraint is what guarantees that
    a package is never issued twice, even when two component credentials complete it in
    concurrent transactions."""

    __tablename__ = "package_offer"
    __table_args__ = (UniqueConstraint("institution_id", "badge_class_id", "recipient_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id"))
    recipient_key: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str] = mapped_column(String(255))
    # Needed to issue after approval (the identityHash is made from it); cleared on decision.
    email: Mapped[str | None] = mapped_column(String(320))
    lang: Mapped[str] = mapped_column(String(8))
    state: Mapped[OfferState] = mapped_column(_enum(OfferState, "offer_state"))
    credential_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("credential.id"))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    decided_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()


# --- mail ------------------------------------------------------------------------------------


class MailState(enum.StrEnum):
    PENDING = "pending"
    #: Claimed by a sender (one process sends it, even with several workers).
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMail(Base):
    """A mail to a learner. Written in the issuing transaction, sent after it commits (never
    inside it: a mail cannot be rolled back). Without ``ISSUER_SMTP_URL`` mails stay here for
    staff to see; failed sends keep their error and can be sent again."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    credential_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("credential.id"))
    to_address: Mapped[str] = mapped_column(String(320))
    lang: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[MailState] = mapped_column(
        _enum(MailState, "mail_state"), default=MailState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]

    credential: Mapped[Credential | None] = relationship()
