"""Staff sign-in with an institution's OpenID Connect provider (issue 17).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oidc_provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=True),
        sa.Column("allowed_domains", sa.Text(), nullable=False),
        sa.Column("email_claim", sa.String(length=100), server_default="email", nullable=False),
        sa.Column("role_claim", sa.String(length=100), nullable=True),
        sa.Column("role_map", sa.JSON(), nullable=True),
        sa.Column(
            "default_role",
            sa.Enum(
                "service_admin",
                "institution_admin",
                "issuer",
                name="oidc_default_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("update_role", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_oidc_provider_institution_id_institution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_provider")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_oidc_provider_institution_id")),
    )
    op.create_table(
        "staff_oidc_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_used_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_user.id"],
            name=op.f("fk_staff_oidc_link_staff_user_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_oidc_link")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_staff_oidc_link_issuer_subject")),
    )
    op.create_index(
        op.f("ix_staff_oidc_link_staff_user_id"), "staff_oidc_link", ["staff_user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_oidc_link_staff_user_id"), table_name="staff_oidc_link")
    op.drop_table("staff_oidc_link")
    op.drop_table("oidc_provider")
