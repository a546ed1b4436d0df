"""Platform integrations and the completions they report (models).

One module of the ``issuer.models`` package; its tables share ``Base`` with the others (Alembic
compares them in ``tests/test_migrations``).

An ``Integration`` is a learning platform or student-information system that reports
completions to ``POST /api/v1/completions`` for one institution. Its secret is never stored in
clear: a bearer token as its SHA-256 digest (256 random bits: a fast hash suffices, as for API
tokens), an HMAC secret sealed (``issuer.core.secret_box``), since checking a signature needs
the secret itself. A ``CompletionEvent`` is one reported completion; the UNIQUE constraint on
(integration, source event id) makes a repeated or concurrent report of the same event answer
the first one's job instead of issuing again.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import Institution
from issuer.models.issuing import BulkJob


class AuthKind(enum.StrEnum):
    """How an integration proves its calls."""

    #: ``Merkki-Signature`` over the body with the shared secret
    #: (``issuer.core.webhook_signature``).
    HMAC = "hmac"
    #: ``Authorization: Bearer mki_<prefix>_<secret>``.
    BEARER = "bearer"


class Integration(Base):
    __tablename__ = "integration"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    auth_kind: Mapped[AuthKind] = mapped_column(
        Enum(
            AuthKind,
            name="integration_auth_kind",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda kinds: [kind.value for kind in kinds],
        )
    )
    # The public part of its id, ``mki_<prefix>``: the Merkki-Integration header or the
    # bearer token's middle finds the row.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    # Bearer: SHA-256 (hex) of the whole token. HMAC: None.
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    # HMAC: the sealed secret (``issuer.core.secret_box``). Bearer: None.
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    institution: Mapped[Institution] = relationship()


class CompletionEvent(Base):
    """A completion an integration reported, and the job that issues it."""

    __tablename__ = "completion_event"
    __table_args__ = (UniqueConstraint("integration_id", "source_event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    source_event_id: Mapped[str] = mapped_column(String(255))
    # What the sender said about it, for staff tracing a badge back to its course.
    event_type: Mapped[str | None] = mapped_column(String(255))
    course_id: Mapped[str | None] = mapped_column(String(255))
    platform_id: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the canonical JSON payload: a repeat must be the same report.
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_job.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    job: Mapped[BulkJob | None] = relationship()
