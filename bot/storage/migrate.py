"""Alembic, driven from code: `studybot db upgrade` and every start-up call ``upgrade``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.repos import translate_errors

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x5754_4459  # any constant: serialises concurrent start-ups' migrations on PostgreSQL


def alembic_config(connection: Any = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


async def current(engine: AsyncEngine) -> str | None:
    def read(sync_conn: Any) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    with translate_errors():
        async with engine.connect() as conn:
            return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    with translate_errors():
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two bot processes starting together must not both create the tables.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), revision))
