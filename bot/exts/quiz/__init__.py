from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import StudyBot


async def setup(bot: StudyBot) -> None:
    from bot.exts.quiz._cog import QuizCog
    from bot.exts.quiz._daily import QotdButton
    from bot.exts.quiz._views import ChoiceButton, ReportItemButton

    bot.add_dynamic_items(ChoiceButton, QotdButton, ReportItemButton)
    await bot.add_cog(QuizCog(bot))
