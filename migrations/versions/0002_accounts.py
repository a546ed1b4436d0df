"""Accounts: staff users, API tokens, sign-in throttling, adopted national badge classes;
institution profile description and logo.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)
ROLES = ("service_admin", "institution_admin", "issuer")


def upgrade() -> None:
    with op.batch_alter_table("institution") as batch:
        batch.add_column(sa.Column("description_fi", sa.Text(), nullable=True))
        batch.add_column(sa.Column("description_sv", sa.Text(), nullable=True))
        batch.add_column(sa.Column("description_en", sa.Text(), nullable=True))
        batch.add_column(sa.Column("logo", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("logo_media_type", sa.String(length=32), nullable=True))

    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                *ROLES,
                name=op.f("ck_staff_user_staff_role"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_login_at", UTC_DATETIME, nullable=True),
        sa.Column("deactivated_at", UTC_DATETIME, nullable=True),
        sa.CheckConstraint(
            "role = 'service_admin' OR institution_id IS NOT NULL",
            name=op.f("ck_staff_user_institution_required"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_staff_user_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_user_email")),
    )
    op.create_index(
        op.f("ix_staff_user_institution_id"), "staff_user", ["institution_id"], unique=False
    )

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                *ROLES,
                name=op.f("ck_api_token_api_token_role"),
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.Column("revoked_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_api_token_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_token_prefix")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(
        op.f("ix_api_token_institution_id"), "api_token", ["institution_id"], unique=False
    )

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )

    op.create_table(
        "badge_class_adoption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("badge_class_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_class_id"],
            ["badge_class.id"],
            name=op.f("fk_badge_class_adoption_badge_class_id_badge_class"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_badge_class_adoption_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_class_adoption")),
        sa.UniqueConstraint(
            "institution_id",
            "badge_class_id",
            name=op.f("uq_badge_class_adoption_institution_id_badge_class_id"),
        ),
    )
    op.create_index(
        op.f("ix_badge_class_adoption_institution_id"),
        "badge_class_adoption",
        ["institution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_badge_class_adoption_badge_class_id"),
        "badge_class_adoption",
        ["badge_class_id"],
        unique=False,
    )

    op.create_table(
        "package_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("badge_class_id", sa.Integer(), nullable=False),
        sa.Column("auto_issue", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["badge_class_id"],
            ["badge_class.id"],
            name=op.f("fk_package_setting_badge_class_id_badge_class"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_package_setting_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_setting")),
        sa.UniqueConstraint(
            "institution_id",
            "badge_class_id",
            name=op.f("uq_package_setting_institution_id_badge_class_id"),
        ),
    )
    op.create_index(
        op.f("ix_package_setting_institution_id"),
        "package_setting",
        ["institution_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_package_setting_badge_class_id"),
        "package_setting",
        ["badge_class_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("package_setting")
    op.drop_table("badge_class_adoption")
    op.drop_table("login_throttle")
    op.drop_table("api_token")
    op.drop_table("staff_user")
    with op.batch_alter_table("institution") as batch:
        batch.drop_column("logo_media_type")
        batch.drop_column("logo")
        batch.drop_column("description_en")
        batch.drop_column("description_sv")
        batch.drop_column("description_fi")
