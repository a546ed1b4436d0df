"""The database key store: a signing key's private half sealed into its row (issue 16).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: keys made by the files store before this revision have no sealed half until
    # `merkki key migrate --to database` seals them.
    with op.batch_alter_table("signing_key") as batch:
        batch.add_column(sa.Column("sealed_private_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signing_key") as batch:
        batch.drop_column("sealed_private_key")
