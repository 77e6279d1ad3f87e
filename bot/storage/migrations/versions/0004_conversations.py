"""Conversations: each asked question keeps the standalone form it was answered as, so a thread's follow-ups
can be rewritten against the turns before them, across restarts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("asked_questions") as batch:
        batch.add_column(sa.Column("standalone", sa.Text(), nullable=True))
    op.create_index("ix_asked_questions_thread_id_created_at", "asked_questions", ["thread_id", "created_at"])
    op.drop_index("ix_asked_questions_thread_id", table_name="asked_questions")


def downgrade() -> None:
    op.create_index("ix_asked_questions_thread_id", "asked_questions", ["thread_id"])
    op.drop_index("ix_asked_questions_thread_id_created_at", table_name="asked_questions")
    with op.batch_alter_table("asked_questions") as batch:
        batch.drop_column("standalone")
