"""Quiz overlays, item suspension and reports; a mixin of SqlRepos."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import QuizOverlayRecord


class QuizAdminSql:
    conn: AsyncConnection

    async def put_quiz_item(self, record: QuizOverlayRecord) -> None:
        raise NotImplementedError  # filled in by the quiz-admin work
