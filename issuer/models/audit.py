"""The audit log (model): who did what to which credential or key, when and why.

One module of the ``issuer.models`` package, beside ``core``; its table shares the same
``Base`` (and metadata). Rows are only ever added: nothing in the service updates or deletes an
audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db import Base, utc_now
from issuer.models.core import Institution


class AuditEvent(Base):
    """One recorded action: ``issue``, ``revoke``, ``suspend``, ``unsuspend``, ``key.rotate``,
    ``key.compromised``...

    The actor is copied as text (kind, id, label) rather than referenced: the log must still say
    who acted after an account or token is deleted.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_institution_when", "institution_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now)
    # "user", "token", "cli", "system"...: what kind of actor acted.
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    # A name people recognise: an e-mail address, a token's name, "cli (user@host)".
    actor_label: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64), index=True)
    # What was acted on: a credential id, a key id.
    target: Mapped[str] = mapped_column(String(2048))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]

    institution: Mapped[Institution] = relationship()
