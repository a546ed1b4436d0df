"""Issuing: status lists and allocations, idempotency records, bulk jobs, package offers, the
mail outbox; credential columns for the learner's key, page choices and manage link.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    with op.batch_alter_table("credential") as batch:
        batch.add_column(sa.Column("recipient_key", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("hidden", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("indexable", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("manage_token_hash", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_credential_institution_id_recipient_key",
            ["institution_id", "recipient_key"],
            unique=False,
        )

    op.create_table(
        "status_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("signed_json", sa.Text(), nullable=True),
        sa.Column("signed_version", sa.Integer(), nullable=True),
        sa.Column("signed_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_status_list_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_list")),
        sa.UniqueConstraint(
            "institution_id",
            "purpose",
            "number",
            name=op.f("uq_status_list_institution_id_purpose_number"),
        ),
    )
    op.create_index(
        op.f("ix_status_list_institution_id"), "status_list", ["institution_id"], unique=False
    )

    op.create_table(
        "status_allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_list_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_status_allocation_credential_id_credential"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_list.id"],
            name=op.f("fk_status_allocation_status_list_id_status_list"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_allocation")),
        sa.UniqueConstraint(
            "credential_id",
            "purpose",
            name=op.f("uq_status_allocation_credential_id_purpose"),
        ),
        sa.UniqueConstraint(
            "status_list_id",
            "index",
            name=op.f("uq_status_allocation_status_list_id_index"),
        ),
    )

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_idempotency_record_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint(
            "institution_id",
            "scope",
            "key",
            name=op.f("uq_idempotency_record_institution_id_scope_key"),
        ),
    )

    op.create_table(
        "bulk_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("badge_class_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            _enum(op.f("ck_bulk_job_job_state"), "pending", "running", "done", "failed"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=True),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["badge_class_id"],
            ["badge_class.id"],
            name=op.f("fk_bulk_job_badge_class_id_badge_class"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_bulk_job_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job")),
    )
    op.create_index("ix_bulk_job_state", "bulk_job", ["state"], unique=False)
    op.create_index(
        op.f("ix_bulk_job_institution_id"), "bulk_job", ["institution_id"], unique=False
    )

    op.create_table(
        "bulk_job_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("evidence_url", sa.String(length=2048), nullable=True),
        sa.Column("evidence_narrative", sa.Text(), nullable=True),
        sa.Column("grade", sa.String(length=255), nullable=True),
        sa.Column("valid_until", UTC_DATETIME, nullable=True),
        sa.Column(
            "state",
            _enum(op.f("ck_bulk_job_row_job_row_state"), "pending", "issued", "skipped", "failed"),
            nullable=False,
        ),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_bulk_job_row_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["bulk_job.id"], name=op.f("fk_bulk_job_row_job_id_bulk_job")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_job_row")),
        sa.UniqueConstraint("job_id", "line", name=op.f("uq_bulk_job_row_job_id_line")),
    )
    op.create_index(
        "ix_bulk_job_row_job_id_state", "bulk_job_row", ["job_id", "state"], unique=False
    )

    op.create_table(
        "package_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("badge_class_id", sa.Integer(), nullable=False),
        sa.Column("recipient_key", sa.String(length=64), nullable=False),
        sa.Column("recipient_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column(
            "state",
            _enum(op.f("ck_package_offer_offer_state"), "pending", "issued", "rejected"),
            nullable=False,
        ),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("decided_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["badge_class_id"],
            ["badge_class.id"],
            name=op.f("fk_package_offer_badge_class_id_badge_class"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_package_offer_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_package_offer_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_offer")),
        sa.UniqueConstraint(
            "institution_id",
            "badge_class_id",
            "recipient_key",
            name=op.f("uq_package_offer_institution_id_badge_class_id_recipient_key"),
        ),
    )
    op.create_index(
        op.f("ix_package_offer_institution_id"), "package_offer", ["institution_id"], unique=False
    )

    op.create_table(
        "outbox_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "state",
            _enum(op.f("ck_outbox_mail_mail_state"), "pending", "sending", "sent", "failed"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_outbox_mail_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_outbox_mail_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mail")),
    )
    op.create_index("ix_outbox_mail_state", "outbox_mail", ["state"], unique=False)
    op.create_index(
        op.f("ix_outbox_mail_institution_id"), "outbox_mail", ["institution_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("outbox_mail")
    op.drop_table("package_offer")
    op.drop_table("bulk_job_row")
    op.drop_table("bulk_job")
    op.drop_table("idempotency_record")
    op.drop_table("status_allocation")
    op.drop_table("status_list")
    with op.batch_alter_table("credential") as batch:
        batch.drop_index("ix_credential_institution_id_recipient_key")
        batch.drop_column("manage_token_hash")
        batch.drop_column("indexable")
        batch.drop_column("hidden")
        batch.drop_column("recipient_key")
