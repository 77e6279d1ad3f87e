"""The repositories: one SQL implementation of every domain port, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Table, and_, case, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.errors import StudyBotError
from bot.domain.ports import (
    AskedRecord,
    CardRecord,
    ChoiceRecord,
    ExportedData,
    Learner,
    PointsRow,
    QotdPost,
    Repos,
    SessionKind,
    SessionRecord,
)
from bot.domain.streaks import Activity, Event, TimezoneChange
from bot.storage.kb_repos import KbSql
from bot.storage.moderation_repos import ModerationSql
from bot.storage.quiz_admin_repos import QuizAdminSql
from bot.storage.tables import (
    FORGOTTEN_AUTHOR,
    answers,
    asked_questions,
    cards,
    feedback,
    learners,
    metadata,
    qotd_posts,
    quiz_sessions,
    streak_events,
)

log = logging.getLogger(__name__)


class StorageUnavailable(StudyBotError):
    def __init__(self) -> None:
        super().__init__("I can't reach my database right now, so nothing was saved. Please try again in a minute.")


class StorageFull(StorageUnavailable):
    """No room left for the write (SQLite's SQLITE_FULL, PostgreSQL's 53100): it needs whoever runs the bot.

    Unlike a passing outage, retrying will not help, so the message carries an error id that is also in the log:
    a learner can pass it on, and the operator finds the cause.
    """

    def __init__(self) -> None:
        self.error_id = secrets.token_hex(4)
        StudyBotError.__init__(
            self,
            "I can't save right now because my storage is full, so nothing was saved. "
            f"Please tell a moderator the error id `{self.error_id}`.",
        )


class ConcurrentChange(StudyBotError):
    def __init__(self) -> None:
        super().__init__("Someone changed the same thing at the same moment, so nothing was saved. Please try again.")


@contextmanager
def translate_errors() -> Iterator[None]:
    """A locked, missing or unreachable database becomes one friendly error; the details go to the log."""
    try:
        yield
    except (OperationalError, OSError, ConnectionError) as exc:
        if _is_full(exc):
            raise _full(exc) from exc
        _log_unavailable(exc)
        raise StorageUnavailable() from exc
    except IntegrityError as exc:  # e.g. two moderators creating the same id in the same instant
        log.warning("conflicting write rolled back: %s", str(getattr(exc, "orig", exc)).splitlines()[0][:200])
        raise ConcurrentChange() from exc
    except DBAPIError as exc:
        state = _sqlstate(exc) or ""
        if state == _DISK_FULL:
            raise _full(exc) from exc
        if exc.connection_invalidated or state in _UNAVAILABLE_STATES or state.startswith("08"):
            _log_unavailable(exc)
            raise StorageUnavailable() from exc
        raise


# PostgreSQL states that mean "the database cannot take this write now", not "the request is wrong":
# read-only transaction, disk full, out of memory, too many connections, not accepting connections, lock timeout,
# cancelled by a timeout, shutting down; and every connection exception (class 08).
_UNAVAILABLE_STATES = {"25006", "53100", "53200", "53300", "55000", "55P03", "57014", "57P01", "57P03"}


_DISK_FULL = "53100"
_SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full" (also what PRAGMA max_page_count produces)


def _is_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL or getattr(orig, "errno", None) == errno.ENOSPC:
        return True
    if isinstance(exc, DBAPIError) and _sqlstate(exc) == _DISK_FULL:
        return True
    return "database or disk is full" in str(orig)  # aiosqlite may re-raise without the error code


def _full(exc: BaseException) -> StorageFull:
    full = StorageFull()
    cause = getattr(exc, "orig", None) or exc
    log.error("database full, error id %s: %s: %s", full.error_id, type(cause).__name__, str(cause)[:200])
    return full


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def _log_unavailable(exc: BaseException) -> None:
    cause = getattr(exc, "orig", None) or exc
    first_line = str(cause).splitlines()[0] if str(cause) else ""
    log.warning("database unavailable: %s: %s", type(cause).__name__, first_line[:200])
    log.debug("database error detail", exc_info=exc)


class SqlStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._sqlite_file = Path(database) if database and database != ":memory:" else None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the SQLite file this process opened

    def watch(self) -> None:
        """Remember which SQLite file is the database (device and inode), to notice it vanish or be replaced."""
        if self._sqlite_file is not None and self._identity is None:
            with contextlib.suppress(OSError):
                info = os.stat(self._sqlite_file)
                self._identity = (info.st_dev, info.st_ino)

    def _check_file(self) -> None:
        """Refuse to go on if the SQLite file was deleted or replaced: writes would land in a file no one will read.

        SQLite keeps writing into a deleted file through its open descriptor, so without this check every answer
        after ``rm studybot.db`` was acknowledged and then lost at the next start.
        """
        if self._sqlite_file is None:
            return
        if self._identity is None:
            self.watch()
            return
        try:
            info = os.stat(self._sqlite_file)
            found: tuple[int, int] | None = (info.st_dev, info.st_ino)
        except OSError:
            found = None
        if found != self._identity:
            log.error(
                "the SQLite database file %s was %s while StudyBot was running; refusing writes until restart",
                self._sqlite_file,
                "deleted" if found is None else "replaced",
            )
            raise StorageUnavailable()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repos]:
        with translate_errors():
            async with self.engine.begin() as conn:
                self._check_file()
                yield SqlRepos(conn)
                self._check_file()  # before COMMIT: never acknowledge a write into a vanished file

    async def ping(self) -> None:
        """One round trip to the database (readiness): raises if it cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _learner(row: Row[Any]) -> Learner:
    return Learner(
        user_id=row.user_id,
        name=row.name,
        created_at=row.created_at,
        timezone=row.timezone,
        day_start_hour=row.day_start_hour,
        leaderboard_hidden=row.leaderboard_hidden,
        reminder_hour=row.reminder_hour,
        last_reminder_day=row.last_reminder_day,
    )


def _card(row: Row[Any]) -> CardRecord:
    return CardRecord(**row._asdict())


def _session(row: Row[Any]) -> SessionRecord:
    data = row._asdict()
    data["item_ids"] = tuple(data["item_ids"])
    return SessionRecord(**data)


def _asked(row: Row[Any]) -> AskedRecord:
    data = row._asdict()
    data["sources"] = tuple(data["sources"])
    return AskedRecord(**data)


def _event(row: Row[Any]) -> Event:
    if row.kind == "timezone":
        return TimezoneChange(at=row.at, tz=row.timezone, day_start_hour=row.day_start_hour)
    return Activity(at=row.at, tz=row.timezone, day_start_hour=row.day_start_hour, kind=row.kind)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int) and abs(value) > 2**53:
        return str(value)  # Discord snowflakes lose precision as JSON numbers in JavaScript
    return value


class SqlRepos(ModerationSql, KbSql, QuizAdminSql):
    """All repositories over one connection inside one transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, which (unlike the generic one) knows ON CONFLICT on both backends."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert(self, table: Table, values: dict[str, Any], keys: list[str]) -> Any:
        stmt = self._insert(table).values(**values)
        changed = {k: v for k, v in values.items() if k not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=changed)

    # learners ---------------------------------------------------------------------------------------------

    async def get_learner(self, user_id: int) -> Learner | None:
        row = (await self.conn.execute(select(learners).where(learners.c.user_id == user_id))).first()
        return None if row is None else _learner(row)

    async def save_learner(self, learner: Learner) -> None:
        await self.conn.execute(self._upsert(learners, vars(learner).copy(), ["user_id"]))

    async def learners_with_reminders(self) -> list[Learner]:
        query = select(learners).where(learners.c.reminder_hour.is_not(None)).order_by(learners.c.user_id)
        rows = await self.conn.execute(query)
        return [_learner(r) for r in rows]

    async def claim_reminder(self, user_id: int, day: date) -> bool:
        # One conditional UPDATE: of two processes racing for the same reminder, exactly one sees a row change.
        result = await self.conn.execute(
            update(learners)
            .where(
                learners.c.user_id == user_id,
                or_(learners.c.last_reminder_day.is_(None), learners.c.last_reminder_day != day),
            )
            .values(last_reminder_day=day)
        )
        return bool(result.rowcount)

    # cards ------------------------------------------------------------------------------------------------

    async def cards(
        self, user_id: int, item_ids: Collection[str] | None = None, *, lock: bool = False
    ) -> dict[str, CardRecord]:
        query = select(cards).where(cards.c.user_id == user_id)
        if item_ids is not None:
            query = query.where(cards.c.item_id.in_(list(item_ids)))
        if lock:
            query = query.with_for_update()
        return {r.item_id: _card(r) for r in await self.conn.execute(query)}

    async def save_card(self, card: CardRecord) -> None:
        await self.conn.execute(self._upsert(cards, vars(card).copy(), ["user_id", "item_id"]))

    # sessions and answers ---------------------------------------------------------------------------------

    async def open_session(self, user_id: int, kind: SessionKind, local_day: date) -> SessionRecord | None:
        query = (
            select(quiz_sessions)
            .where(
                quiz_sessions.c.user_id == user_id,
                quiz_sessions.c.kind == kind,
                quiz_sessions.c.local_day == local_day,
                quiz_sessions.c.finished_at.is_(None),
            )
            .order_by(quiz_sessions.c.created_at.desc())
            .limit(1)
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _session(row)

    async def add_session(self, session: SessionRecord) -> None:
        values = vars(session).copy()
        values["item_ids"] = list(session.item_ids)
        await self.conn.execute(insert(quiz_sessions).values(**values))

    async def add_session_if_absent(self, session: SessionRecord) -> bool:
        values = vars(session).copy()
        values["item_ids"] = list(session.item_ids)
        result = await self.conn.execute(self._insert(quiz_sessions).values(**values).on_conflict_do_nothing())
        return bool(result.rowcount)

    async def get_session(self, session_id: str, *, lock: bool = False) -> SessionRecord | None:
        query = select(quiz_sessions).where(quiz_sessions.c.id == session_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return None if row is None else _session(row)

    async def finish_session(self, session_id: str, at: datetime) -> None:
        await self.conn.execute(update(quiz_sessions).where(quiz_sessions.c.id == session_id).values(finished_at=at))

    async def choices(self, session_id: str) -> list[ChoiceRecord]:
        query = select(answers).where(answers.c.session_id == session_id).order_by(answers.c.position)
        return [ChoiceRecord(**r._asdict()) for r in await self.conn.execute(query)]

    async def add_choice(self, choice: ChoiceRecord) -> None:
        await self.conn.execute(insert(answers).values(**vars(choice)))

    # streaks ----------------------------------------------------------------------------------------------

    async def add_event(self, user_id: int, event: Event) -> None:
        kind = event.kind if isinstance(event, Activity) else "timezone"
        await self.conn.execute(
            insert(streak_events).values(
                user_id=user_id, kind=kind, at=event.at, timezone=event.tz, day_start_hour=event.day_start_hour
            )
        )

    async def events(self, user_ids: Collection[int]) -> dict[int, list[Event]]:
        found: dict[int, list[Event]] = {u: [] for u in user_ids}
        if not found:
            return found
        query = select(streak_events).where(streak_events.c.user_id.in_(list(found))).order_by(streak_events.c.id)
        for row in await self.conn.execute(query):
            found[row.user_id].append(_event(row))
        return found

    # stats ------------------------------------------------------------------------------------------------

    def _points_query(self, guild_id: int, since: datetime | None) -> Any:
        conditions = [answers.c.guild_id == guild_id, learners.c.leaderboard_hidden.is_(False)]
        if since is not None:
            conditions.append(answers.c.answered_at >= since)
        points = func.sum(answers.c.points).label("points")
        return (
            select(
                answers.c.user_id,
                learners.c.name,
                points,
                func.sum(case((answers.c.correct, 1), else_=0)).label("correct"),
            )
            .join(learners, learners.c.user_id == answers.c.user_id)
            .where(and_(*conditions))
            .group_by(answers.c.user_id, learners.c.name)
            .having(points > 0)
        )

    async def points(self, guild_id: int, since: datetime | None, limit: int) -> list[PointsRow]:
        query = self._points_query(guild_id, since).order_by(func.sum(answers.c.points).desc(), answers.c.user_id)
        rows = await self.conn.execute(query.limit(limit))
        return [PointsRow(r.user_id, r.name, int(r.points), int(r.correct)) for r in rows]

    async def points_of(self, guild_id: int, user_id: int, since: datetime | None) -> tuple[int, int] | None:
        board = self._points_query(guild_id, since).subquery()
        mine = (await self.conn.execute(select(board.c.points).where(board.c.user_id == user_id))).scalar()
        if mine is None:
            return None
        above = (await self.conn.execute(select(func.count()).where(board.c.points > mine))).scalar_one()
        return int(mine), int(above) + 1

    async def answer_times(self, user_id: int, since: datetime) -> list[datetime]:
        query = select(answers.c.answered_at).where(answers.c.user_id == user_id, answers.c.answered_at >= since)
        return list((await self.conn.execute(query)).scalars())

    # asked questions and feedback -------------------------------------------------------------------------

    async def add_asked(self, asked: AskedRecord) -> int:
        values = {k: v for k, v in vars(asked).items() if k != "id"}
        values["sources"] = list(asked.sources)
        result = await self.conn.execute(insert(asked_questions).values(**values).returning(asked_questions.c.id))
        return int(result.scalar_one())

    async def get_asked(self, asked_id: int) -> AskedRecord | None:
        row = (await self.conn.execute(select(asked_questions).where(asked_questions.c.id == asked_id))).first()
        return None if row is None else _asked(row)

    async def first_asked_in_thread(self, thread_id: int) -> AskedRecord | None:
        query = (
            select(asked_questions)
            .where(asked_questions.c.thread_id == thread_id)
            .order_by(asked_questions.c.id)
            .limit(1)
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _asked(row)

    async def recent_in_thread(self, thread_id: int, since: datetime, limit: int) -> list[AskedRecord]:
        query = (
            select(asked_questions)
            .where(
                asked_questions.c.thread_id == thread_id,
                asked_questions.c.created_at >= since,
                asked_questions.c.abstained.is_(False),
            )
            .order_by(asked_questions.c.created_at.desc(), asked_questions.c.id.desc())
            .limit(limit)
        )
        return [_asked(row) for row in reversed((await self.conn.execute(query)).all())]

    async def set_thread(self, asked_id: int, thread_id: int) -> None:
        await self.conn.execute(
            update(asked_questions).where(asked_questions.c.id == asked_id).values(thread_id=thread_id)
        )

    async def set_feedback(
        self, asked_id: int, user_id: int, guild_id: int, helpful: bool, comment: str | None, at: datetime
    ) -> None:
        values = {
            "asked_id": asked_id,
            "user_id": user_id,
            "guild_id": guild_id,
            "helpful": helpful,
            "comment": comment,
            "created_at": at,
        }
        await self.conn.execute(self._upsert(feedback, values, ["asked_id", "user_id"]))

    # questions of the day ---------------------------------------------------------------------------------

    async def add_qotd(self, post: QotdPost) -> int | None:
        values = {k: v for k, v in vars(post).items() if k != "id"}
        stmt = self._insert(qotd_posts).values(**values).on_conflict_do_nothing().returning(qotd_posts.c.id)
        return (await self.conn.execute(stmt)).scalar()

    async def get_qotd(self, post_id: int) -> QotdPost | None:
        row = (await self.conn.execute(select(qotd_posts).where(qotd_posts.c.id == post_id))).first()
        return None if row is None else QotdPost(**row._asdict())

    async def set_qotd_message(self, post_id: int, message_id: int) -> None:
        await self.conn.execute(update(qotd_posts).where(qotd_posts.c.id == post_id).values(message_id=message_id))

    async def recent_qotd_items(self, guild_id: int, limit: int) -> list[str]:
        query = (
            select(qotd_posts.c.item_id)
            .where(qotd_posts.c.guild_id == guild_id)
            .order_by(qotd_posts.c.day.desc())
            .limit(limit)
        )
        return list((await self.conn.execute(query)).scalars())

    # privacy ----------------------------------------------------------------------------------------------

    def _personal_tables(self) -> list[Table]:
        """Every table with a user_id column, children before parents (so deletes respect foreign keys)."""
        return [t for t in reversed(metadata.sorted_tables) if "user_id" in t.c]

    def _authored_tables(self) -> list[Table]:
        """Tables recording what a moderator did: kept when they leave, with the author set to FORGOTTEN_AUTHOR."""
        return [t for t in metadata.sorted_tables if "author_id" in t.c and "user_id" not in t.c]

    async def export_user(self, user_id: int) -> ExportedData:
        data = ExportedData(user_id=user_id)
        for table in reversed(self._personal_tables()):
            rows = await self.conn.execute(select(table).where(table.c.user_id == user_id))
            data.tables[table.name] = [{k: _jsonable(v) for k, v in r._asdict().items()} for r in rows]
        if user_id == FORGOTTEN_AUTHOR:
            return data  # 0 is every forgotten author at once (and the CLI), not a person
        for table in self._authored_tables():
            rows = await self.conn.execute(select(table).where(table.c.author_id == user_id))
            authored = [{k: _jsonable(v) for k, v in r._asdict().items()} for r in rows]
            if authored:  # only moderators have any; learners' exports keep their usual shape
                data.tables[table.name] = authored
        return data

    async def delete_user(self, user_id: int) -> dict[str, int]:
        deleted = {}
        for table in self._personal_tables():
            result = await self.conn.execute(delete(table).where(table.c.user_id == user_id))
            deleted[table.name] = result.rowcount
        if user_id == FORGOTTEN_AUTHOR:
            return deleted
        for table in self._authored_tables():
            result = await self.conn.execute(
                update(table).where(table.c.author_id == user_id).values(author_id=FORGOTTEN_AUTHOR)
            )
            if result.rowcount:  # anonymized, not deleted: the server's history stays readable
                deleted[table.name] = result.rowcount
        return deleted
