"""Engines for the two supported backends, and start-up: connect, migrate, hand back a store.

SQLite (the embedded default) runs in WAL mode with one pooled connection per process: SQLite allows one
writer at a time anyway, and queueing in asyncio is cheaper and kinder than "database is locked" retries.
Transactions start with BEGIN IMMEDIATE so a read-then-write never fails half-way on a lock upgrade.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.domain.errors import StudyBotError
from bot.storage.repos import SqlStore

log = logging.getLogger(__name__)

SQLITE_BUSY_MS = 10_000  # another process (the CLI beside the bot) may hold the write lock briefly
PG_LOCK_TIMEOUT_MS = 10_000  # the same patience on PostgreSQL


class DatabaseConfigError(StudyBotError):
    pass


def async_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseConfigError(
            "STUDYBOT_DATABASE_URL is not a database URL. Use postgresql://user:password@host:5432/dbname "
            "or leave it unset for the embedded SQLite database."
        ) from None
    backend = parsed.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    raise DatabaseConfigError(f"StudyBot supports SQLite and PostgreSQL databases, not {backend}.")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL; fsync at checkpoints
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    # A row or table lock held elsewhere fails the request after a while instead of hanging it for ever.
    settings = {"lock_timeout": str(PG_LOCK_TIMEOUT_MS)}
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args={"server_settings": settings}
    )


async def open_store(url: str, *, migrate: bool = True) -> SqlStore:
    """Connect and bring the schema up to date: every entry point calls this, so start-up always migrates."""
    from bot.storage.migrate import upgrade

    engine = create_engine(url)
    store = SqlStore(engine)
    if migrate:
        try:
            await upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
    store.watch()
    return store
