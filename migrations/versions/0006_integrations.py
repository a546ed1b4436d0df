"""Platform integrations and the completions they report (issue 17, completion webhook).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "integration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "auth_kind",
            sa.Enum(
                "hmac",
                "bearer",
                name="integration_auth_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("secret_sealed", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_integration_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration")),
        sa.UniqueConstraint("prefix", name=op.f("uq_integration_prefix")),
    )
    op.create_index(
        op.f("ix_integration_institution_id"), "integration", ["institution_id"], unique=False
    )
    op.create_table(
        "completion_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("source_event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=255), nullable=True),
        sa.Column("course_id", sa.String(length=255), nullable=True),
        sa.Column("platform_id", sa.String(length=255), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integration.id"],
            name=op.f("fk_completion_event_integration_id_integration"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_completion_event_institution_id_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["bulk_job.id"], name=op.f("fk_completion_event_job_id_bulk_job")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_completion_event")),
        sa.UniqueConstraint(
            "integration_id",
            "source_event_id",
            name=op.f("uq_completion_event_integration_id_source_event_id"),
        ),
    )
    op.create_index(
        op.f("ix_completion_event_institution_id"),
        "completion_event",
        ["institution_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_completion_event_institution_id"), table_name="completion_event")
    op.drop_table("completion_event")
    op.drop_index(op.f("ix_integration_institution_id"), table_name="integration")
    op.drop_table("integration")
