"""Learners, FSRS cards, quiz sessions and answers, streak events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("day_start_hour", sa.SmallInteger(), nullable=False),
        sa.Column("leaderboard_hidden", sa.Boolean(), nullable=False),
        sa.Column("reminder_hour", sa.SmallInteger(), nullable=True),
        sa.Column("last_reminder_day", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_learners"),
    )
    op.create_table(
        "cards",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("state", sa.SmallInteger(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=True),
        sa.Column("stability", sa.Float(), nullable=True),
        sa.Column("difficulty", sa.Float(), nullable=True),
        sa.Column("due", UTCDateTime(), nullable=False),
        sa.Column("last_review", UTCDateTime(), nullable=True),
        sa.Column("reps", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["learners.user_id"], name="fk_cards_user_id_learners", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "item_id", name="pk_cards"),
    )
    op.create_index("ix_cards_user_id_due", "cards", ["user_id", "due"])
    op.create_table(
        "quiz_sessions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["learners.user_id"], name="fk_quiz_sessions_user_id_learners", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_quiz_sessions"),
    )
    op.create_index("ix_quiz_sessions_user_id_kind_local_day", "quiz_sessions", ["user_id", "kind", "local_day"])
    op.create_table(
        "answers",
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("position", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(80), nullable=False),
        sa.Column("choice", sa.SmallInteger(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("points", sa.SmallInteger(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("elapsed_ms", sa.Integer(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["quiz_sessions.id"], name="fk_answers_session_id_quiz_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["learners.user_id"], name="fk_answers_user_id_learners", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", "position", name="pk_answers"),
    )
    op.create_index("ix_answers_guild_id_answered_at", "answers", ["guild_id", "answered_at"])
    op.create_index("ix_answers_user_id_answered_at", "answers", ["user_id", "answered_at"])
    op.create_table(
        "streak_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("day_start_hour", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["learners.user_id"], name="fk_streak_events_user_id_learners", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_streak_events"),
    )
    op.create_index("ix_streak_events_user_id_at", "streak_events", ["user_id", "at"])
