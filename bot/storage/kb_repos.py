"""Knowledge overlays: entries, revisions, hidden shipped entries, versions and gap closures; a mixin of SqlRepos."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import AskedRecord, EntryRecord, FeedbackReport, QuizOverlayRecord, RevisionRecord
from bot.storage.tables import (
    asked_questions,
    feedback,
    gap_closures,
    kb_entries,
    kb_hidden,
    kb_revisions,
    kb_vectors,
    kb_versions,
    quiz_overlay,
)


def _entry(row: Row[Any]) -> EntryRecord:
    data = row._asdict()
    data["tags"] = tuple(data["tags"] or ())
    return EntryRecord(**data)


def _revision(row: Row[Any]) -> RevisionRecord:
    data = row._asdict()
    data["tags"] = tuple(data["tags"] or ())
    return RevisionRecord(**data)


# The PostgreSQL NOTIFY channel that carries "<guild id>:<version>" after each knowledge change (bot/storage/notify.py).
KB_CHANNEL = "studybot_kb"

# Grouping similar questions compares every pair, so the queue looks at the most recent open questions only.
GAP_WINDOW = 500


class KbSql:
    conn: AsyncConnection

    def _insert(self, table: Table) -> Any: ...  # from SqlRepos

    # entries and revisions --------------------------------------------------------------------------------

    async def get_entry(self, guild_id: int, doc_id: str, *, lock: bool = False) -> EntryRecord | None:
        query = select(kb_entries).where(kb_entries.c.guild_id == guild_id, kb_entries.c.doc_id == doc_id)
        if lock:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return None if row is None else _entry(row)

    async def overlay_entries(self, guild_id: int, *, include_deleted: bool = False) -> list[EntryRecord]:
        query = select(kb_entries).where(kb_entries.c.guild_id == guild_id)
        if not include_deleted:
            query = query.where(kb_entries.c.deleted.is_(False))
        return [_entry(r) for r in await self.conn.execute(query.order_by(kb_entries.c.doc_id))]

    async def add_entry(self, entry: EntryRecord) -> int:
        values = {k: v for k, v in vars(entry).items() if k != "id"}
        values["tags"] = list(entry.tags)
        result = await self.conn.execute(insert(kb_entries).values(**values).returning(kb_entries.c.id))
        return int(result.scalar_one())

    async def update_entry(self, entry: EntryRecord) -> None:
        values = {k: v for k, v in vars(entry).items() if k not in ("id", "guild_id", "doc_id", "created_at")}
        values["tags"] = list(entry.tags)
        await self.conn.execute(update(kb_entries).where(kb_entries.c.id == entry.id).values(**values))

    async def add_revision(self, revision: RevisionRecord) -> None:
        values = {k: v for k, v in vars(revision).items() if k != "id"}
        values["tags"] = list(revision.tags)
        await self.conn.execute(insert(kb_revisions).values(**values))

    async def revisions(self, entry_id: int) -> list[RevisionRecord]:
        query = select(kb_revisions).where(kb_revisions.c.entry_id == entry_id).order_by(kb_revisions.c.number.desc())
        return [_revision(r) for r in await self.conn.execute(query)]

    # hidden shipped entries -------------------------------------------------------------------------------

    async def hide_doc(self, guild_id: int, doc_id: str, author_id: int, at: datetime) -> bool:
        values = {"guild_id": guild_id, "doc_id": doc_id, "author_id": author_id, "created_at": at}
        result = await self.conn.execute(self._insert(kb_hidden).values(**values).on_conflict_do_nothing())
        return bool(result.rowcount)

    async def unhide_doc(self, guild_id: int, doc_id: str) -> bool:
        result = await self.conn.execute(
            delete(kb_hidden).where(kb_hidden.c.guild_id == guild_id, kb_hidden.c.doc_id == doc_id)
        )
        return bool(result.rowcount)

    async def hidden_docs(self, guild_id: int) -> set[str]:
        query = select(kb_hidden.c.doc_id).where(kb_hidden.c.guild_id == guild_id)
        return set((await self.conn.execute(query)).scalars())

    # versions ---------------------------------------------------------------------------------------------

    async def bump_kb_version(self, guild_id: int, at: datetime) -> int:
        stmt = (
            self._insert(kb_versions)
            .values(guild_id=guild_id, version=1, updated_at=at)
            .on_conflict_do_update(
                index_elements=["guild_id"], set_={"version": kb_versions.c.version + 1, "updated_at": at}
            )
            .returning(kb_versions.c.version)
        )
        version = int((await self.conn.execute(stmt)).scalar_one())
        if self.conn.dialect.name == "postgresql":
            # Delivered at COMMIT and only then: a listener never hears of a version it cannot read yet.
            payload = f"{guild_id}:{version}"
            await self.conn.execute(select(func.pg_notify(KB_CHANNEL, payload)))
        return version

    # overlay vectors --------------------------------------------------------------------------------------

    async def overlay_vectors(self, guild_id: int, model_id: str) -> dict[str, bytes]:
        query = select(kb_vectors.c.key, kb_vectors.c.vector).where(
            kb_vectors.c.guild_id == guild_id, kb_vectors.c.model_id == model_id
        )
        return {str(r.key): bytes(r.vector) for r in await self.conn.execute(query)}

    async def overlay_vector_keys(self, guild_id: int, model_id: str) -> set[str]:
        query = select(kb_vectors.c.key).where(kb_vectors.c.guild_id == guild_id, kb_vectors.c.model_id == model_id)
        return set((await self.conn.execute(query)).scalars())

    async def put_overlay_vectors(
        self, guild_id: int, model_id: str, keep: Collection[str], add: dict[str, bytes]
    ) -> None:
        stale = select(kb_vectors.c.key).where(kb_vectors.c.guild_id == guild_id)
        old = {(str(r.key)) for r in await self.conn.execute(stale.where(kb_vectors.c.model_id == model_id))}
        gone = old - set(keep)
        others = delete(kb_vectors).where(kb_vectors.c.guild_id == guild_id, kb_vectors.c.model_id != model_id)
        await self.conn.execute(others)  # another model's vectors: useless to every process of this one
        if gone:
            await self.conn.execute(
                delete(kb_vectors).where(
                    kb_vectors.c.guild_id == guild_id, kb_vectors.c.model_id == model_id, kb_vectors.c.key.in_(gone)
                )
            )
        rows = [
            {"guild_id": guild_id, "model_id": model_id, "key": key, "vector": vector}
            for key, vector in add.items()
            if key not in old
        ]
        if rows:
            await self.conn.execute(insert(kb_vectors), rows)

    async def kb_version(self, guild_id: int) -> int:
        query = select(kb_versions.c.version).where(kb_versions.c.guild_id == guild_id)
        return int((await self.conn.execute(query)).scalar() or 0)

    async def kb_versions(self) -> dict[int, int]:
        rows = await self.conn.execute(select(kb_versions.c.guild_id, kb_versions.c.version))
        return {int(r.guild_id): int(r.version) for r in rows}

    # gaps and feedback ------------------------------------------------------------------------------------

    async def open_gap_questions(self, guild_id: int) -> list[AskedRecord]:
        closed = select(gap_closures.c.asked_id).where(gap_closures.c.asked_id == asked_questions.c.id)
        query = (
            select(asked_questions)
            .where(
                asked_questions.c.guild_id == guild_id,
                asked_questions.c.abstained.is_(True),
                ~closed.exists(),
            )
            .order_by(asked_questions.c.id.desc())
            .limit(GAP_WINDOW)
        )
        found = []
        for row in reversed((await self.conn.execute(query)).all()):
            data = row._asdict()
            data["sources"] = tuple(data["sources"])
            found.append(AskedRecord(**data))
        return found

    async def close_gap_questions(
        self, guild_id: int, asked_ids: Collection[int], doc_id: str, author_id: int, at: datetime
    ) -> int:
        if not asked_ids:
            return 0
        rows = [
            {"asked_id": a, "guild_id": guild_id, "doc_id": doc_id, "author_id": author_id, "created_at": at}
            for a in asked_ids
        ]
        result = await self.conn.execute(self._insert(gap_closures).values(rows).on_conflict_do_nothing())
        return int(result.rowcount)

    async def negative_feedback(self, guild_id: int, limit: int) -> list[FeedbackReport]:
        query = (
            select(
                feedback.c.asked_id,
                feedback.c.guild_id,
                feedback.c.user_id,
                asked_questions.c.question,
                feedback.c.comment,
                feedback.c.created_at,
                asked_questions.c.abstained,
            )
            .join(asked_questions, asked_questions.c.id == feedback.c.asked_id)
            .where(feedback.c.guild_id == guild_id, feedback.c.helpful.is_(False))
            .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
            .limit(limit)
        )
        return [FeedbackReport(**r._asdict()) for r in await self.conn.execute(query)]

    async def exportable_quiz_items(self, guild_id: int) -> list[QuizOverlayRecord]:
        query = select(quiz_overlay).where(quiz_overlay.c.guild_id == guild_id).order_by(quiz_overlay.c.item_id)
        return [
            QuizOverlayRecord(**{k: v for k, v in r._asdict().items() if k != "id"})
            for r in await self.conn.execute(query)
        ]
