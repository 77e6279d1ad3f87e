"""The vectors of each server's live knowledge overlay, stored by the publishing process (issue 13).

Another process that hears of a change loads them instead of embedding the same text again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_vectors",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "model_id", "key", name=op.f("pk_kb_vectors")),
    )


def downgrade() -> None:
    op.drop_table("kb_vectors")
