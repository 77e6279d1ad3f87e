"""Moderation: per-server configuration, audit log, knowledge overlays with revisions, quiz overlays and reports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.storage.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_guild_id_created_at"), "audit_log", ["guild_id", "created_at"], unique=False)
    op.create_table(
        "guild_config",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("moderator_role_id", sa.BigInteger(), nullable=True),
        sa.Column("help_channels", sa.JSON(), nullable=True),
        sa.Column("qotd_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("qotd_hour", sa.SmallInteger(), nullable=True),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_guild_config")),
    )
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("doc_id", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("skill", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entries")),
        sa.UniqueConstraint("guild_id", "doc_id", name=op.f("uq_kb_entries_guild_id_doc_id")),
    )
    op.create_table(
        "kb_hidden",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("doc_id", sa.String(length=120), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "doc_id", name=op.f("pk_kb_hidden")),
    )
    op.create_table(
        "kb_versions",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("pk_kb_versions")),
    )
    op.create_table(
        "quiz_item_state",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", "item_id", name=op.f("pk_quiz_item_state")),
    )
    op.create_table(
        "quiz_overlay",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("skill", sa.String(length=40), nullable=False),
        sa.Column("item", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_overlay")),
        sa.UniqueConstraint("guild_id", "item_id", name=op.f("uq_quiz_overlay_guild_id_item_id")),
    )
    op.create_table(
        "quiz_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_reports")),
        sa.UniqueConstraint("guild_id", "item_id", "user_id", name=op.f("uq_quiz_reports_guild_id_item_id_user_id")),
    )
    op.create_table(
        "kb_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("skill", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["kb_entries.id"], name=op.f("fk_kb_revisions_entry_id_kb_entries"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_revisions")),
        sa.UniqueConstraint("entry_id", "number", name=op.f("uq_kb_revisions_entry_id_number")),
    )
    op.create_table(
        "gap_closures",
        sa.Column("asked_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("doc_id", sa.String(length=120), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asked_id"],
            ["asked_questions.id"],
            name=op.f("fk_gap_closures_asked_id_asked_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asked_id", name=op.f("pk_gap_closures")),
    )


def downgrade() -> None:
    op.drop_table("gap_closures")
    op.drop_table("kb_revisions")
    op.drop_table("quiz_reports")
    op.drop_table("quiz_overlay")
    op.drop_table("quiz_item_state")
    op.drop_table("kb_versions")
    op.drop_table("kb_hidden")
    op.drop_table("kb_entries")
    op.drop_table("guild_config")
    op.drop_index(op.f("ix_audit_log_guild_id_created_at"), table_name="audit_log")
    op.drop_table("audit_log")
