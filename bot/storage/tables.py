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
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from bot.domain.moderation import AUDIT_ACTION_LENGTH, AUDIT_COMMAND_LENGTH, AUDIT_TARGET_LENGTH

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
    Column("standalone", Text, nullable=True),  # the question as answered, a follow-up rewritten to stand alone
    Index(None, "guild_id", "abstained", "created_at"),
    Index(None, "thread_id", "created_at"),
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

# -- moderation (per-server knowledge overlays, configuration, audit) ----------------------------------------

guild_config = Table(
    "guild_config",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("moderator_role_id", BigInteger, nullable=True),
    Column("help_channels", JSON, nullable=True),  # list of channel ids; NULL means "use the settings default"
    Column("qotd_channel_id", BigInteger, nullable=True),
    Column("qotd_hour", SmallInteger, nullable=True),
    Column("generate", Boolean, nullable=True),  # generated answers; NULL follows the host (on when configured)
    Column("author_id", BigInteger, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The moderation gate cuts audit values to these column sizes, so they are defined beside it.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("author_id", BigInteger, nullable=False),  # who acted; 0 once they asked to be forgotten
    Column("command", String(AUDIT_COMMAND_LENGTH), nullable=False),  # e.g. "/kb add" or "studybot kb import"
    Column("action", String(AUDIT_ACTION_LENGTH), nullable=False),  # e.g. "kb.add", "quiz.suspend", "config.qotd"
    Column("target", String(AUDIT_TARGET_LENGTH), nullable=False, default=""),
    Column("outcome", String(16), nullable=False, default="ok"),  # "ok" or "refused"
    Column("detail", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "guild_id", "created_at"),
)

kb_entries = Table(
    "kb_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("doc_id", String(120), nullable=False),  # "guild-<slug>": never collides with a shipped id
    Column("kind", String(16), nullable=False, default="entry"),  # "entry" or "resource"
    Column("title", String(200), nullable=False),
    Column("skill", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("url", String(500), nullable=True),
    Column("tags", JSON, nullable=False, default=list),
    Column("revision", Integer, nullable=False, default=1),  # number of the revision now live
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("guild_id", "doc_id"),
)

kb_revisions = Table(
    "kb_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("kb_entries.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("action", String(20), nullable=False),  # add, edit, remove, rollback, import
    Column("author_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("title", String(200), nullable=False),
    Column("skill", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("url", String(500), nullable=True),
    Column("tags", JSON, nullable=False, default=list),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("entry_id", "number"),
)

kb_hidden = Table(
    "kb_hidden",
    metadata,
    Column("guild_id", BigInteger, nullable=False),
    Column("doc_id", String(120), nullable=False),  # a shipped entry or resource id
    Column("author_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("guild_id", "doc_id"),
)

kb_versions = Table(
    "kb_versions",
    metadata,
    Column("guild_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False, default=0),  # bumped by every change to the server's overlay
    Column("updated_at", UTCDateTime, nullable=False),
)

# The vectors of each server's live overlay, written by the process that publishes a change, before its commit:
# the processes that hear of the change load them instead of embedding the same text again (issue 13). Keyed by
# content (index.store.vector_key), so a vector can never belong to another text; and by model, so another
# model's vectors are never mixed in.
kb_vectors = Table(
    "kb_vectors",
    metadata,
    Column("guild_id", BigInteger, nullable=False),
    Column("model_id", String(200), nullable=False),
    Column("key", String(32), nullable=False),  # sha256 of the embedded text, first 32 hex digits
    Column("vector", LargeBinary, nullable=False),  # float32, little-endian, the model's dimension
    PrimaryKeyConstraint("guild_id", "model_id", "key"),
)

quiz_overlay = Table(
    "quiz_overlay",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("item_id", String(80), nullable=False),  # "guild-<slug>"
    Column("skill", String(40), nullable=False),
    Column("item", JSON, nullable=False),  # a QuizItem as validated by bot.domain.content.QuizItem
    Column("author_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("guild_id", "item_id"),
)

quiz_item_state = Table(
    "quiz_item_state",
    metadata,
    Column("guild_id", BigInteger, nullable=False),
    Column("item_id", String(80), nullable=False),  # shipped or overlay item
    Column("suspended", Boolean, nullable=False, default=False),
    Column("reason", String(200), nullable=False, default=""),
    Column("author_id", BigInteger, nullable=True),  # NULL when suspended automatically by reports
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("guild_id", "item_id"),
)

quiz_reports = Table(
    "quiz_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("item_id", String(80), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("resolved", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("guild_id", "item_id", "user_id"),  # a learner reports an item once
)

gap_closures = Table(
    "gap_closures",
    metadata,
    Column("asked_id", Integer, ForeignKey("asked_questions.id", ondelete="CASCADE"), primary_key=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("doc_id", String(120), nullable=False),  # the entry written to answer it
    Column("author_id", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Tables that hold no personal data. Every other table must have a user_id column, so /forget-me can find it,
# or an author_id column (moderators' authorship, set to 0 by /forget-me so history stays readable):
# tests/integration/test_storage.py fails when a new table is none of these.
IMPERSONAL_TABLES: frozenset[str] = frozenset({"qotd_posts", "kb_entries", "kb_versions", "kb_vectors", "quiz_overlay"})
FORGOTTEN_AUTHOR = 0
