"""Generated answers: each server's moderators may switch them off (and on again) with /config generation.

NULL means "not set": the server follows the host's setting (on whenever STUDYBOT_LLM_BASE_URL is set).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guild_config") as batch:
        batch.add_column(sa.Column("generate", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guild_config") as batch:
        batch.drop_column("generate")
