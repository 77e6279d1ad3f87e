"""Repositories and migrations, run on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from bot.domain.ports import AskedRecord, CardRecord, ChoiceRecord, Learner, QotdPost, SessionRecord
from bot.domain.streaks import Activity, TimezoneChange
from bot.storage import SqlStore, open_store
from bot.storage import engine as engine_module
from bot.storage.engine import DatabaseConfigError, async_url, create_engine
from bot.storage.migrate import current, head, upgrade
from bot.storage.repos import ConcurrentChange, StorageUnavailable
from bot.storage.tables import IMPERSONAL_TABLES, kb_versions, metadata, quiz_reports

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def learner(user_id: int, name: str = "ada", **kw: object) -> Learner:
    return Learner(user_id=user_id, name=name, created_at=T0, **kw)  # type: ignore[arg-type]


async def save(store: SqlStore, who: Learner, *, then_fail: bool = False) -> None:
    async with store.transaction() as repos:
        await repos.save_learner(who)
        if then_fail:
            raise RuntimeError("boom")


async def test_migrations_from_empty_match_the_models(db_url: str) -> None:
    """Alembic builds the schema from an empty database, exactly as the table definitions describe it."""
    engine = create_engine(db_url)
    try:
        assert await current(engine) is None
        await upgrade(engine)
        assert await current(engine) == head()
        await upgrade(engine)  # a second start-up is a no-op
        async with engine.connect() as conn:

            def diff(sync_conn: object) -> list[object]:
                return compare_metadata(MigrationContext.configure(sync_conn), metadata)  # type: ignore[arg-type]

            assert await conn.run_sync(diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {t.name for t in metadata.sorted_tables} <= tables
    finally:
        await engine.dispose()


async def test_every_table_is_reachable_by_forget_me() -> None:
    """Each table has a user_id (/forget-me deletes) or author_id (/forget-me anonymizes), or is declared impersonal."""
    for table in metadata.sorted_tables:
        assert "user_id" in table.c or "author_id" in table.c or table.name in IMPERSONAL_TABLES, table.name


async def test_timestamps_round_trip_as_aware_utc(db_url: str) -> None:
    """A datetime stored in any zone comes back timezone-aware, in UTC, at the same instant."""
    store = await open_store(db_url)
    try:
        berlin = datetime(2026, 7, 1, 12, 30, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
        async with store.transaction() as repos:
            await repos.save_learner(Learner(user_id=1, name="a", created_at=berlin))
        async with store.transaction() as repos:
            got = await repos.get_learner(1)
        assert got is not None
        assert got.created_at == berlin and got.created_at.tzinfo == UTC
    finally:
        await store.close()


async def test_naive_datetimes_are_refused(db_url: str) -> None:
    """Storing a naive datetime fails loudly instead of guessing its zone."""
    store = await open_store(db_url)
    try:
        naive = Learner(user_id=1, name="a", created_at=datetime(2026, 1, 1))
        with pytest.raises(Exception, match="naive datetime"):
            await save(store, naive)
    finally:
        await store.close()


async def test_learner_upsert_and_reminder_listing(db_url: str) -> None:
    """Saving a learner twice updates it; only learners with a reminder hour are listed for reminders."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            await repos.save_learner(learner(1))
            await repos.save_learner(learner(2, "bo"))
            a = await repos.get_learner(1)
            assert a is not None
            a.timezone, a.reminder_hour, a.last_reminder_day = "Asia/Tokyo", 8, date(2026, 3, 1)
            await repos.save_learner(a)
        async with store.transaction() as repos:
            assert await repos.get_learner(1) == a
            assert [x.user_id for x in await repos.learners_with_reminders()] == [1]
            assert await repos.get_learner(3) is None
    finally:
        await store.close()


async def test_transactions_roll_back_on_error(db_url: str) -> None:
    """A failure inside a transaction leaves nothing half-written."""
    store = await open_store(db_url)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            await save(store, learner(1), then_fail=True)
        async with store.transaction() as repos:
            assert await repos.get_learner(1) is None
    finally:
        await store.close()


async def test_sessions_answers_cards_and_events_round_trip(db_url: str) -> None:
    """Every record type is stored and read back unchanged, and open_session finds only unfinished ones."""
    store = await open_store(db_url)
    try:
        session = SessionRecord("s1", 1, 99, "daily", date(2026, 3, 2), ("q-a", "q-b"), T0)
        card = CardRecord(1, "q-a", 2, T0 + timedelta(days=2), None, 2.3, 2.1, T0, 1, 1)
        answer = ChoiceRecord("s1", 0, 1, 99, "q-a", 2, True, 3, 4, T0, 5400)
        async with store.transaction() as repos:
            await repos.save_learner(learner(1))
            await repos.add_session(session)
            await repos.save_card(card)
            await repos.add_choice(answer)
            await repos.add_event(1, Activity(at=T0, tz="UTC"))
            await repos.add_event(1, TimezoneChange(at=T0 + timedelta(hours=1), tz="Asia/Tokyo", day_start_hour=4))
        async with store.transaction() as repos:
            assert await repos.get_session("s1", lock=True) == session
            assert await repos.open_session(1, "daily", date(2026, 3, 2)) == session
            assert await repos.cards(1, ["q-a"], lock=True) == {"q-a": card}
            assert await repos.choices("s1") == [answer]
            events = await repos.events([1, 2])
            assert events[2] == []
            assert events[1] == [
                Activity(at=T0, tz="UTC"),
                TimezoneChange(at=T0 + timedelta(hours=1), tz="Asia/Tokyo", day_start_hour=4),
            ]
            await repos.finish_session("s1", T0 + timedelta(minutes=3))
        async with store.transaction() as repos:
            assert await repos.open_session(1, "daily", date(2026, 3, 2)) is None
            got = await repos.get_session("s1")
            assert got is not None and got.finished_at == T0 + timedelta(minutes=3)
    finally:
        await store.close()


async def test_points_rank_visible_learners_per_server(db_url: str) -> None:
    """Points sum per server and period; hidden learners and other servers never appear; ranks are dense."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            for uid, name in [(1, "ada"), (2, "bo"), (3, "cy"), (4, "di")]:
                await repos.save_learner(learner(uid, name, leaderboard_hidden=uid == 3))
            plan = [(1, 10, 3, T0), (2, 10, 2, T0), (2, 10, 2, T0 - timedelta(days=10)), (3, 10, 9, T0), (4, 20, 9, T0)]
            for n, (uid, guild, points, at) in enumerate(plan):
                await repos.add_session(SessionRecord(f"s{n}", uid, guild, "daily", at.date(), ("q",), at))
                await repos.add_choice(ChoiceRecord(f"s{n}", 0, uid, guild, "q", 0, True, points, 3, at))
        async with store.transaction() as repos:
            assert [(r.user_id, r.points) for r in await repos.points(10, None, 10)] == [(2, 4), (1, 3)]
            week = T0 - timedelta(days=1)
            assert [(r.user_id, r.points) for r in await repos.points(10, week, 10)] == [(1, 3), (2, 2)]
            assert await repos.points_of(10, 1, None) == (3, 2)
            assert await repos.points_of(10, 3, None) is None  # hidden
            assert await repos.points_of(10, 4, None) is None  # other server
            assert [r.user_id for r in await repos.points(20, None, 10)] == [4]
    finally:
        await store.close()


async def test_delete_user_empties_every_table_and_spares_others(db_url: str) -> None:
    """Forgetting a learner removes their rows from every personal table and leaves other learners intact."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            for uid in (1, 2):
                await repos.save_learner(learner(uid))
                await repos.add_session(SessionRecord(f"s{uid}", uid, 5, "daily", T0.date(), ("q",), T0))
                await repos.add_choice(ChoiceRecord(f"s{uid}", 0, uid, 5, "q", 0, True, 1, 3, T0))
                await repos.save_card(CardRecord(uid, "q", 2, T0, reps=1, correct=1, last_review=T0))
                await repos.add_event(uid, Activity(at=T0, tz="UTC"))
                asked = await repos.add_asked(AskedRecord(uid, 5, 6, "what?", False, 0.9, ("e",), T0))
                await repos.set_feedback(asked, uid, 5, False, "wrong", T0)
                await repos.conn.execute(  # type: ignore[attr-defined]
                    insert(quiz_reports).values(guild_id=5, item_id="q", user_id=uid, reason="", created_at=T0)
                )
        async with store.transaction() as repos:
            exported = await repos.export_user(1)
            deleted = await repos.delete_user(1)
        personal = {t.name for t in metadata.sorted_tables if "user_id" in t.c}
        assert set(exported.tables) == personal == set(deleted)
        assert all(len(rows) == 1 for rows in exported.tables.values())
        assert all(n == 1 for n in deleted.values())
        async with store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                if "user_id" in table.c:
                    rows = (await conn.execute(select(table.c.user_id))).scalars().all()
                    assert rows == [2], table.name
    finally:
        await store.close()


def test_database_urls_people_paste_are_accepted() -> None:
    """postgres://, postgresql:// and sqlite:/// URLs map to the async drivers; other backends are refused."""
    assert async_url("postgres://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert async_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert async_url("sqlite:///x/y.db") == "sqlite+aiosqlite:///x/y.db"
    with pytest.raises(DatabaseConfigError, match="SQLite and PostgreSQL"):
        async_url("mysql://u@h/d")
    with pytest.raises(DatabaseConfigError, match="not a database URL"):
        async_url("not a url")


async def test_unreachable_postgres_is_a_friendly_error() -> None:
    """A PostgreSQL server that is not there gives the friendly storage error, not a driver traceback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(StorageUnavailable, match="can't reach my database"):
            await open_store(f"postgresql://nobody@127.0.0.1:{port}/none")


async def test_sqlite_in_an_unusable_place_is_a_friendly_error(tmp_path: Path) -> None:
    """A database path that cannot be opened (its folder is a file) gives the friendly storage error."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((StorageUnavailable, OSError)):
        await open_store(f"sqlite:///{blocker / 'studybot.db'}")


async def test_locked_sqlite_is_a_friendly_error_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the write lock, a write fails with the friendly error; earlier data survives."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_MS", 200)
    url = f"sqlite:///{tmp_path / 'studybot.db'}"
    store = await open_store(url)
    other = create_engine(url)
    try:
        async with store.transaction() as repos:
            await repos.save_learner(learner(1))
        async with other.connect() as conn:
            await conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the other side now holds the write lock
            with pytest.raises(StorageUnavailable):
                await save(store, learner(2))
        async with store.transaction() as repos:
            assert await repos.get_learner(1) is not None
            assert await repos.get_learner(2) is None
    finally:
        await other.dispose()
        await store.close()


async def test_asked_questions_feedback_and_qotd_round_trip(db_url: str) -> None:
    """Asked questions keep their thread and sources, feedback upserts per learner, one QOTD per server-day."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            await repos.save_learner(learner(1))
            first = await repos.add_asked(AskedRecord(1, 5, 6, "what is bias?", False, 0.8, ("concept-bias",), T0))
            second = await repos.add_asked(AskedRecord(1, 5, 6, "and variance?", False, 0.7, (), T0))
            await repos.set_thread(first, 77)
            await repos.set_thread(second, 77)
            await repos.set_feedback(first, 1, 5, True, None, T0)
            await repos.set_feedback(first, 1, 5, False, "too vague", T0)
            post = QotdPost(5, 6, T0.date(), "q-a", T0)
            post_id = await repos.add_qotd(post)
            assert post_id is not None
            assert await repos.add_qotd(QotdPost(5, 6, T0.date(), "q-b", T0)) is None
            assert await repos.add_qotd(QotdPost(8, 6, T0.date(), "q-b", T0)) is not None
            await repos.set_qotd_message(post_id, 4242)
        async with store.transaction() as repos:
            opened = await repos.first_asked_in_thread(77)
            assert opened is not None and opened.id == first and opened.sources == ("concept-bias",)
            assert await repos.first_asked_in_thread(78) is None
            got = await repos.get_qotd(post_id)
            assert got is not None and got.message_id == 4242 and got.item_id == "q-a"
            assert await repos.recent_qotd_items(5, 10) == ["q-a"]
            exported = await repos.export_user(1)
        assert [(f["helpful"], f["comment"]) for f in exported.tables["feedback"]] == [(False, "too vague")]
    finally:
        await store.close()


async def test_reminder_claim_is_exactly_once_per_day(db_url: str) -> None:
    """Of several claims for the same learner and day only the first succeeds; the next day claims again."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            await repos.save_learner(learner(1, reminder_hour=8))
        results = []
        for _ in range(3):
            async with store.transaction() as repos:
                results.append(await repos.claim_reminder(1, date(2026, 3, 2)))
        async with store.transaction() as repos:
            results.append(await repos.claim_reminder(1, date(2026, 3, 3)))
        assert results == [True, False, False, True]
    finally:
        await store.close()


async def test_a_conflicting_write_is_a_friendly_error_and_saves_nothing(db_url: str) -> None:
    """Two writers claiming the same key: the loser gets ConcurrentChange and its whole transaction rolls back."""
    store = await open_store(db_url)
    try:
        async with store.transaction() as repos:
            await repos.conn.execute(insert(kb_versions).values(guild_id=1, version=1, updated_at=T0))

        async def loser() -> None:
            async with store.transaction() as repos:
                await repos.conn.execute(insert(kb_versions).values(guild_id=2, version=5, updated_at=T0))
                await repos.conn.execute(insert(kb_versions).values(guild_id=1, version=9, updated_at=T0))

        with pytest.raises(ConcurrentChange, match="at the same moment"):
            await loser()
        async with store.transaction() as repos:
            rows = (await repos.conn.execute(select(kb_versions.c.guild_id, kb_versions.c.version))).all()
        assert [tuple(r) for r in rows] == [(1, 1)]
    finally:
        await store.close()
