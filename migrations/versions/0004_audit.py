"""Audit log; revocation and suspension of credentials.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTC_DATETIME, nullable=False),
        sa.Column("actor_kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_audit_event_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(
        "ix_audit_event_institution_when",
        "audit_event",
        ["institution_id", "occurred_at"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_event_action"), "audit_event", ["action"], unique=False)

    with op.batch_alter_table("credential") as batch:
        batch.add_column(sa.Column("revoked_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("revocation_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("suspended_at", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credential") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("revocation_reason")
        batch.drop_column("revoked_at")
    op.drop_index(op.f("ix_audit_event_action"), table_name="audit_event")
    op.drop_index("ix_audit_event_institution_when", table_name="audit_event")
    op.drop_table("audit_event")
