"""Database faults on SQLite and PostgreSQL: locked, read-only, full, deleted, unreachable.

(Deleted: tests/integration/test_database_watch.py.)

The invariant for each: the write in flight fails with the friendly "can't reach my database" error (never a raw
driver exception; a full database says so and gives an error id), nothing acknowledged before the fault is lost,
and writes work again once the fault is gone.
"""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest

from bot.app import open_services
from bot.domain.errors import StudyBotError
from bot.storage import engine as engine_module
from bot.storage.repos import StorageFull, StorageUnavailable
from tests.fault.conftest import record
from tests.state import settings_for

ADA = 2002


async def _answered(services, session_id: str) -> int:
    return len((await services.quiz.view(session_id, ADA)).answered)


async def _fault_then_recover(services, inject, clear, label: str) -> None:
    """Answer once, inject the fault, see the friendly refusal, clear it, and find the first answer kept."""
    view = await services.quiz.start_daily(ADA, name="Ada")
    await services.quiz.submit(view.id, 0, 0, ADA)
    await inject()
    with pytest.raises(StorageUnavailable, match="can't reach my database"):
        await services.quiz.submit(view.id, 1, 0, ADA)
    record(label, "refused with the friendly message")
    await clear()
    await services.quiz.submit(view.id, 1, 0, ADA)
    assert await _answered(services, view.id) == 2  # the acknowledged answer survived, the new one is stored
    record(label, "recovered, nothing lost")


@pytest.fixture
async def sqlite_services(tmp_path, clock, shipped_kb, monkeypatch):
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_MS", 300)  # fail fast instead of queueing 10 s
    db = tmp_path / "studybot.db"
    services = await open_services(settings_for(f"sqlite+aiosqlite:///{db}", tmp_path), clock, kb=shipped_kb)
    try:
        yield services, db
    finally:
        await services.close()


async def test_sqlite_locked(sqlite_services):
    """Another process holding the write lock: refused after the busy timeout, accepted once it lets go."""
    services, db = sqlite_services
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)

    async def lock() -> None:
        other.execute("BEGIN EXCLUSIVE")

    async def unlock() -> None:
        other.execute("COMMIT")

    try:
        await _fault_then_recover(services, lock, unlock, "SQLite locked")
    finally:
        other.close()


async def _pragma(services, sql: str) -> None:
    """Run a PRAGMA on the one pooled connection (so it sticks), below SQLAlchemy's BEGIN IMMEDIATE."""
    async with services.store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.execute(sql)


async def test_sqlite_read_only(sqlite_services):
    """A read-only database refuses the write with the friendly message."""
    services, _ = sqlite_services
    await _fault_then_recover(
        services,
        lambda: _pragma(services, "PRAGMA query_only = ON"),
        lambda: _pragma(services, "PRAGMA query_only = OFF"),
        "SQLite read-only",
    )


async def test_sqlite_full(sqlite_services, caplog):
    """SQLITE_FULL (PRAGMA max_page_count): "storage is full" with a logged error id; every acknowledged answer kept.

    The cap is SQLite's own full condition, the one a full disk gives; learners keep answering until it bites.
    """
    services, _ = sqlite_services
    async with services.store.engine.connect() as conn:
        pages = (await conn.exec_driver_sql("PRAGMA page_count")).scalar_one()
    await _pragma(services, f"PRAGMA max_page_count = {pages}")
    acknowledged: list[tuple[int, str]] = []
    refused: StorageFull | None = None
    for user in range(3000, 3500):
        try:
            view = await services.quiz.start_daily(user, name=f"learner {user}")
            await services.quiz.submit(view.id, 0, 0, user)
        except StorageFull as exc:
            refused = exc
            break
        acknowledged.append((user, view.id))
    assert refused is not None, "the capped database never filled"
    assert "storage is full" in refused.message and f"`{refused.error_id}`" in refused.message
    assert any(refused.error_id in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    record("SQLite full", f"refused with an error id after {len(acknowledged)} answers")
    await _pragma(services, "PRAGMA max_page_count = 1073741823")
    for user, session_id in acknowledged:
        assert len((await services.quiz.view(session_id, user)).answered) == 1
    view = await services.quiz.start_daily(user + 1, name="after")
    await services.quiz.submit(view.id, 0, 0, user + 1)  # room again: writes work without a restart
    record("SQLite full", f"recovered, all {len(acknowledged)} acknowledged answers kept")


async def test_sqlite_unreachable(tmp_path, clock, shipped_kb):
    """A database path that cannot be opened is one clear error at start-up, not a driver traceback."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    url = f"sqlite+aiosqlite:///{blocker / 'studybot.db'}"
    with pytest.raises((StudyBotError, OSError)) as caught:
        await open_services(settings_for(url, tmp_path), clock, kb=shipped_kb)
    record("SQLite unreachable", f"refused at start-up ({type(caught.value).__name__})")


# -- PostgreSQL ----------------------------------------------------------------------------------------------


@pytest.fixture
async def pg_services(pg_cluster, tmp_path, clock, shipped_kb, request, monkeypatch):
    monkeypatch.setattr(engine_module, "PG_LOCK_TIMEOUT_MS", 500)
    name = f"fault_{abs(hash(request.node.nodeid)) % 10**8}"
    url = pg_cluster.create_database(name)
    services = await open_services(settings_for(url, tmp_path), clock, kb=shipped_kb)
    admin = await asyncpg.connect(pg_cluster.url_sync)
    try:
        yield services, admin, name
    finally:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        await admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        await admin.close()
        await services.close()


async def _kick(admin, name: str) -> None:
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
    )


@pytest.mark.postgres
async def test_postgres_unreachable_mid_use(pg_services):
    """The server refusing connections mid-use: refused politely, and it recovers without a restart."""
    services, admin, name = pg_services

    async def cut() -> None:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        await _kick(admin, name)

    async def restore() -> None:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")

    await _fault_then_recover(services, cut, restore, "PostgreSQL unreachable")


@pytest.mark.postgres
async def test_postgres_read_only(pg_services):
    """A read-only PostgreSQL database (SQLSTATE 25006) is "can't reach my database", not a raw error."""
    services, admin, name = pg_services

    async def read_only() -> None:
        await admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        await _kick(admin, name)

    async def writable() -> None:
        await admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
        await _kick(admin, name)

    await _fault_then_recover(services, read_only, writable, "PostgreSQL read-only")


@pytest.mark.postgres
async def test_postgres_locked(pg_services, pg_cluster):
    """A table locked by another session: the write gives up after the lock timeout instead of hanging."""
    services, _admin, name = pg_services
    holder = await asyncpg.connect(pg_cluster.url(name))
    transaction = holder.transaction()

    async def lock() -> None:
        await transaction.start()
        await holder.execute("LOCK TABLE answers IN ACCESS EXCLUSIVE MODE")

    async def unlock() -> None:
        await transaction.rollback()

    try:
        await _fault_then_recover(services, lock, unlock, "PostgreSQL locked")
    finally:
        await holder.close()


@pytest.mark.postgres
async def test_postgres_unreachable_at_start(tmp_path, clock, shipped_kb):
    """Nothing listening on the port: one friendly error at start-up."""
    url = "postgresql+asyncpg://bot:pw@127.0.0.1:1/studybot"
    with pytest.raises(StudyBotError):
        await open_services(settings_for(url, tmp_path), clock, kb=shipped_kb)
    record("PostgreSQL unreachable at start", "refused with a friendly message")


_DISK_FULL_TRIGGER = """
CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file "base/1/2": No space left on device' USING ERRCODE = '53100';
END $$;
CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON answers FOR EACH ROW EXECUTE FUNCTION disk_full();
"""


@pytest.mark.postgres
async def test_postgres_full(pg_services, pg_cluster, caplog):
    """PostgreSQL out of disk (SQLSTATE 53100, raised by the server on the answers table): "storage is full" with a
    logged error id, every acknowledged answer kept, and answers work again once there is room.

    The server raises the error itself, from a trigger on the table a quiz answer is written to, exactly as it does
    when extending that table's file fails; the bot sees it through asyncpg and SQLAlchemy as it would in production.
    """
    services, _admin, name = pg_services
    acknowledged: list[tuple[int, str]] = []
    for user in range(3000, 3005):
        view = await services.quiz.start_daily(user, name=f"learner {user}")
        await services.quiz.submit(view.id, 0, 0, user)
        acknowledged.append((user, view.id))
    faulted = await asyncpg.connect(pg_cluster.url(name))
    try:
        await faulted.execute(_DISK_FULL_TRIGGER)
        view = await services.quiz.start_daily(ADA, name="Ada")
        with pytest.raises(StorageFull) as caught:
            await services.quiz.submit(view.id, 0, 0, ADA)
        refused = caught.value
        assert "storage is full" in refused.message and f"`{refused.error_id}`" in refused.message
        assert any(refused.error_id in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
        assert await _answered(services, view.id) == 0  # the refused answer was not half-written
        record("PostgreSQL full (state 53100, injected)", f"refused with an error id after {len(acknowledged)} answers")
        await faulted.execute("DROP TRIGGER disk_full ON answers; DROP FUNCTION disk_full()")
    finally:
        await faulted.close()
    for user, session_id in acknowledged:
        assert len((await services.quiz.view(session_id, user)).answered) == 1
    await services.quiz.submit(view.id, 0, 0, ADA)  # room again: the same answer is accepted without a restart
    assert await _answered(services, view.id) == 1
    record("PostgreSQL full (state 53100, injected)", f"recovered, all {len(acknowledged)} acknowledged answers kept")


def test_postgres_disk_full_is_storage_full():
    """PostgreSQL's disk-full state (53100) through SQLAlchemy becomes the same 'storage is full' error with an id."""
    from asyncpg.exceptions import DiskFullError
    from sqlalchemy.exc import DBAPIError

    from bot.storage.repos import translate_errors

    cause = DiskFullError("could not extend file: No space left on device")
    with pytest.raises(StorageFull, match="storage is full") as caught, translate_errors():
        raise DBAPIError("INSERT", None, cause)
    assert f"`{caught.value.error_id}`" in caught.value.message
    record("PostgreSQL full (state 53100, mapped)", "refused with an error id")
