"""Into the learner's wallet: offers and holder-bound copies (issue 18).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# issuer.db.UTCDateTime stores through this type; migrations do not import application code.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wallet_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("interaction_token_hash", sa.String(length=64), nullable=False),
        sa.Column("pre_authorized_code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("used_at", UTC_DATETIME, nullable=True),
        sa.Column("used_via", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_wallet_offer_credential_id_credential"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offer")),
        sa.UniqueConstraint(
            "interaction_token_hash", name=op.f("uq_wallet_offer_interaction_token_hash")
        ),
        sa.UniqueConstraint(
            "pre_authorized_code_hash", name=op.f("uq_wallet_offer_pre_authorized_code_hash")
        ),
    )
    op.create_index(
        op.f("ix_wallet_offer_credential_id"), "wallet_offer", ["credential_id"], unique=False
    )
    op.create_table(
        "wallet_copy",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("credential_id", sa.String(length=32), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("holder_did", sa.String(length=2048), nullable=False),
        sa.Column("signed_json", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credential.id"],
            name=op.f("fk_wallet_copy_credential_id_credential"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["wallet_offer.id"], name=op.f("fk_wallet_copy_offer_id_wallet_offer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_copy")),
    )
    op.create_index(
        op.f("ix_wallet_copy_credential_id"), "wallet_copy", ["credential_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_copy_credential_id"), table_name="wallet_copy")
    op.drop_table("wallet_copy")
    op.drop_index(op.f("ix_wallet_offer_credential_id"), table_name="wallet_offer")
    op.drop_table("wallet_offer")
