"""Quiz overlays, item suspension and reports; a mixin of SqlRepos."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Table, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import QuizItemState, QuizOverlayRecord, QuizReport
from bot.storage.tables import kb_entries, quiz_item_state, quiz_overlay, quiz_reports

_TICK = timedelta(microseconds=1)


def _overlay(row: Row[Any]) -> QuizOverlayRecord:
    data = row._asdict()
    del data["id"]
    return QuizOverlayRecord(**data)


def _state(row: Row[Any]) -> QuizItemState:
    return QuizItemState(**row._asdict())


class QuizAdminSql:
    conn: AsyncConnection

    def _dialect_insert(self, table: Table) -> Any:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    async def _stamp_time(self, guild_id: int, now: datetime) -> datetime:
        """``now``, or just after the server's latest change: the bank stamp must move on every change,
        even when two changes share a clock reading (a fake clock, or a coarse one)."""
        latest = (
            await self.conn.execute(
                select(
                    select(func.max(quiz_overlay.c.updated_at))
                    .where(quiz_overlay.c.guild_id == guild_id)
                    .scalar_subquery(),
                    select(func.max(quiz_item_state.c.updated_at))
                    .where(quiz_item_state.c.guild_id == guild_id)
                    .scalar_subquery(),
                )
            )
        ).one()
        return max([now, *(t + _TICK for t in latest if t is not None)])  # max() keeps UTCDateTime: aware

    # overlay items ----------------------------------------------------------------------------------------

    async def put_quiz_item(self, record: QuizOverlayRecord) -> None:
        updated = await self._stamp_time(record.guild_id, record.updated_at)
        values = vars(record).copy() | {"updated_at": updated}
        stmt = self._dialect_insert(quiz_overlay).values(**values)
        changed = {k: values[k] for k in ("skill", "item", "author_id", "updated_at")}  # created_at stays
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["guild_id", "item_id"], set_=changed))

    async def get_quiz_item(self, guild_id: int, item_id: str) -> QuizOverlayRecord | None:
        query = select(quiz_overlay).where(quiz_overlay.c.guild_id == guild_id, quiz_overlay.c.item_id == item_id)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _overlay(row)

    async def quiz_items(self, guild_id: int) -> list[QuizOverlayRecord]:
        query = select(quiz_overlay).where(quiz_overlay.c.guild_id == guild_id).order_by(quiz_overlay.c.item_id)
        return [_overlay(r) for r in await self.conn.execute(query)]

    # suspension -------------------------------------------------------------------------------------------

    async def quiz_item_states(self, guild_id: int) -> dict[str, QuizItemState]:
        query = select(quiz_item_state).where(quiz_item_state.c.guild_id == guild_id)
        return {r.item_id: _state(r) for r in await self.conn.execute(query)}

    async def set_quiz_item_state(self, state: QuizItemState) -> None:
        values = vars(state).copy()
        values["updated_at"] = await self._stamp_time(state.guild_id, state.updated_at)
        stmt = self._dialect_insert(quiz_item_state).values(**values)
        changed = {k: v for k, v in values.items() if k not in ("guild_id", "item_id")}
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["guild_id", "item_id"], set_=changed))

    async def lock_quiz_item(self, guild_id: int, item_id: str, now: datetime) -> QuizItemState:
        absent = {"guild_id": guild_id, "item_id": item_id, "suspended": False, "reason": "", "updated_at": now}
        await self.conn.execute(self._dialect_insert(quiz_item_state).values(**absent).on_conflict_do_nothing())
        query = (
            select(quiz_item_state)
            .where(quiz_item_state.c.guild_id == guild_id, quiz_item_state.c.item_id == item_id)
            .with_for_update()
        )
        return _state((await self.conn.execute(query)).one())

    async def quiz_bank_stamp(self, guild_id: int) -> tuple[Any, ...] | None:
        overlay = quiz_overlay.c.guild_id == guild_id
        state = quiz_item_state.c.guild_id == guild_id
        row = (
            await self.conn.execute(
                select(
                    select(func.count()).select_from(quiz_overlay).where(overlay).scalar_subquery(),
                    select(func.max(quiz_overlay.c.updated_at)).where(overlay).scalar_subquery(),
                    select(func.count())
                    .select_from(quiz_item_state)
                    .where(state, quiz_item_state.c.suspended.is_(True))
                    .scalar_subquery(),
                    select(func.max(quiz_item_state.c.updated_at)).where(state).scalar_subquery(),
                )
            )
        ).one()
        return None if not row[0] and not row[2] else tuple(row)

    # reports ----------------------------------------------------------------------------------------------

    async def add_quiz_report(self, report: QuizReport) -> bool:
        key = and_(
            quiz_reports.c.guild_id == report.guild_id,
            quiz_reports.c.item_id == report.item_id,
            quiz_reports.c.user_id == report.user_id,
        )
        values = {k: v for k, v in vars(report).items() if k not in ("id", "resolved")}
        inserted = await self.conn.execute(
            self._dialect_insert(quiz_reports).values(**values, resolved=False).on_conflict_do_nothing()
        )
        if inserted.rowcount:
            return True
        # Reported before and resolved since (a moderator restored the item): the learner may report it again.
        reopened = await self.conn.execute(
            update(quiz_reports)
            .where(key, quiz_reports.c.resolved.is_(True))
            .values(resolved=False, reason=report.reason, created_at=report.created_at)
        )
        return bool(reopened.rowcount)

    async def quiz_reports(self, guild_id: int, item_id: str | None = None) -> list[QuizReport]:
        query = select(quiz_reports).where(quiz_reports.c.guild_id == guild_id, quiz_reports.c.resolved.is_(False))
        if item_id is not None:
            query = query.where(quiz_reports.c.item_id == item_id)
        rows = await self.conn.execute(query.order_by(quiz_reports.c.created_at, quiz_reports.c.id))
        return [QuizReport(**r._asdict()) for r in rows]

    async def resolve_quiz_reports(self, guild_id: int, item_id: str) -> int:
        result = await self.conn.execute(
            update(quiz_reports)
            .where(
                quiz_reports.c.guild_id == guild_id,
                quiz_reports.c.item_id == item_id,
                quiz_reports.c.resolved.is_(False),
            )
            .values(resolved=True)
        )
        return int(result.rowcount)

    # what the quiz admin reads from the knowledge overlay -----------------------------------------------------

    async def kb_entry_exists(self, guild_id: int, doc_id: str) -> bool:
        query = select(kb_entries.c.id).where(
            kb_entries.c.guild_id == guild_id, kb_entries.c.doc_id == doc_id, kb_entries.c.deleted.is_(False)
        )
        return (await self.conn.execute(query)).first() is not None
