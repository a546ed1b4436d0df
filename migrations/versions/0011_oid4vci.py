"""OpenID4VCI access tokens and used nonces (issue 18).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oid4vci_access_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["wallet_offer.id"],
            name=op.f("fk_oid4vci_access_token_offer_id_wallet_offer"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oid4vci_access_token")),
    )
    op.create_index(
        op.f("ix_oid4vci_access_token_offer_id"),
        "oid4vci_access_token",
        ["offer_id"],
        unique=False,
    )
    op.create_table(
        "oid4vci_used_nonce",
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_oid4vci_used_nonce")),
    )
    op.create_index(
        op.f("ix_oid4vci_used_nonce_expires_at"),
        "oid4vci_used_nonce",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_oid4vci_used_nonce_expires_at"), table_name="oid4vci_used_nonce")
    op.drop_table("oid4vci_used_nonce")
    op.drop_index(op.f("ix_oid4vci_access_token_offer_id"), table_name="oid4vci_access_token")
    op.drop_table("oid4vci_access_token")
