"""Initial schema: institutions, signing keys, badge classes and their versions, credentials.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)
ACTIVE_KEY = sa.text("status = 'active'")


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_fi", sa.String(length=255), nullable=False),
        sa.Column("name_sv", sa.String(length=255), nullable=True),
        sa.Column("name_en", sa.String(length=255), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("street_address", sa.String(length=255), nullable=True),
        sa.Column("postal_code", sa.String(length=16), nullable=True),
        sa.Column("address_locality", sa.String(length=128), nullable=True),
        sa.Column("address_country", sa.String(length=128), nullable=True),
        sa.Column(
            "address_country_code", sa.String(length=2), server_default="FI", nullable=False
        ),
        sa.Column("business_id", sa.String(length=9), nullable=True),
        sa.Column("oid", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("slug", name=op.f("uq_institution_slug")),
    )

    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("public_key_multibase", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "retired",
                "compromised",
                name=op.f("ck_signing_key_key_status"),
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("retired_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_signing_key_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_signing_key_key_id")),
        sa.UniqueConstraint(
            "public_key_multibase", name=op.f("uq_signing_key_public_key_multibase")
        ),
    )
    op.create_index(
        op.f("ix_signing_key_institution_id"), "signing_key", ["institution_id"], unique=False
    )
    # At most one active key per institution (a partial unique index on both databases).
    op.create_index(
        "uq_signing_key_active_per_institution",
        "signing_key",
        ["institution_id"],
        unique=True,
        sqlite_where=ACTIVE_KEY,
        postgresql_where=ACTIVE_KEY,
    )

    op.create_table(
        "badge_class",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_badge_class_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_class")),
        sa.UniqueConstraint("slug", name=op.f("uq_badge_class_slug")),
    )
    op.create_index(
        op.f("ix_badge_class_institution_id"), "badge_class", ["institution_id"], unique=False
    )

    op.create_table(
        "badge_class_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge_class_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("image_media_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_class_id"],
            ["badge_class.id"],
            name=op.f("fk_badge_class_version_badge_class_id_badge_class"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_class_version")),
        sa.UniqueConstraint(
            "badge_class_id",
            "version",
            name=op.f("uq_badge_class_version_badge_class_id_version"),
        ),
    )

    op.create_table(
        "credential",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("badge_class_version_id", sa.Integer(), nullable=False),
        sa.Column("recipient_name", sa.String(length=255), nullable=False),
        sa.Column("recipient_identity_hash", sa.String(length=80), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("signed_json", sa.Text(), nullable=False),
        sa.Column("issued_at", UTC_DATETIME, nullable=False),
        sa.Column("valid_until", UTC_DATETIME, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_class_version_id"],
            ["badge_class_version.id"],
            name=op.f("fk_credential_badge_class_version_id_badge_class_version"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_credential_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential")),
    )
    op.create_index(
        op.f("ix_credential_institution_id"), "credential", ["institution_id"], unique=False
    )
    op.create_index(
        op.f("ix_credential_badge_class_version_id"),
        "credential",
        ["badge_class_version_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_credential_recipient_identity_hash"),
        "credential",
        ["recipient_identity_hash"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("credential")
    op.drop_table("badge_class_version")
    op.drop_table("badge_class")
    op.drop_table("signing_key")
    op.drop_table("institution")
