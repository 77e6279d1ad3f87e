"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; a test proves the two agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out on every backend. SQLite has no timezone type and hands back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: StudyBot stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _user() -> Column[int]:
    return Column("user_id", BigInteger, ForeignKey("learners.user_id", ondelete="CASCADE"), nullable=False)


learners = Table(
    "learners",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("day_start_hour", SmallInteger, nullable=False, default=0),
    Column("leaderboard_hidden", Boolean, nullable=False, default=False),
    Column("reminder_hour", SmallInteger, nullable=True),
    Column("last_reminder_day", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

cards = Table(
    "cards",
    metadata,
    _user(),
    Column("item_id", String(80), nullable=False),
    Column("state", SmallInteger, nullable=False),
    Column("step", SmallInteger, nullable=True),
    Column("stability", Float, nullable=True),
    Column("difficulty", Float, nullable=True),
    Column("due", UTCDateTime, nullable=False),
    Column("last_review", UTCDateTime, nullable=True),
    Column("reps", Integer, nullable=False, default=0),
    Column("correct", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("user_id", "item_id"),
    Index(None, "user_id", "due"),
)

quiz_sessions = Table(
    "quiz_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    _user(),
    Column("guild_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("local_day", Date, nullable=False),
    Column("item_ids", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index(None, "user_id", "kind", "local_day"),
)

answers = Table(
    "answers",
    metadata,
    Column("session_id", String(32), ForeignKey("quiz_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),
    _user(),
    Column("guild_id", BigInteger, nullable=False),
    Column("item_id", String(80), nullable=False),
    Column("choice", SmallInteger, nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("points", SmallInteger, nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("elapsed_ms", Integer, nullable=True),
    Column("answered_at", UTCDateTime, nullable=False),
    Index(None, "guild_id", "answered_at"),
    Index(None, "user_id", "answered_at"),
)

streak_events = Table(
    "streak_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _user(),
    Column("kind", String(16), nullable=False),  # practice | qotd | timezone
    Column("at", UTCDateTime, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("day_start_hour", SmallInteger, nullable=False),
    Index(None, "user_id", "at"),
)

asked_questions = Table(
    "asked_questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _user(),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("thread_id", BigInteger, nullable=True),  # the thread the answer went to, for follow-up context
    Column("question", Text, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("sources", JSON, nullable=False),  # cited entry ids, for "Quiz me on this"
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "guild_id", "abstained", "created_at"),
    Index(None, "thread_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asked_id", Integer, ForeignKey("asked_questions.id", ondelete="CASCADE"), nullable=False),
    _user(),
    Column("guild_id", BigInteger, nullable=False),
    Column("helpful", Boolean, nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("asked_id", "user_id"),  # one vote per learner per answer; voting again changes it
    Index(None, "guild_id", "helpful", "created_at"),
)

qotd_posts = Table(
    "qotd_posts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("day", Date, nullable=False),  # UTC date: one question of the day per server per day
    Column("item_id", String(80), nullable=False),
    Column("message_id", BigInteger, nullable=True),
    Column("posted_at", UTCDateTime, nullable=False),
    UniqueConstraint("guild_id", "day"),
)

# Tables that hold no personal data. Every other table must have a user_id column, so /forget-me can find it:
# tests/integration/test_storage.py fails when a new table is neither.
IMPERSONAL_TABLES: frozenset[str] = frozenset({"qotd_posts"})
