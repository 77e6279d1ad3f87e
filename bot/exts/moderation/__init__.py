from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import StudyBot


async def setup(bot: StudyBot) -> None:
    from bot.exts.moderation._cog import ConfigCog, KnowledgeCog, QuizBankCog
    from bot.exts.moderation._views import AnswerGapButton, RemoveEntryButton

    bot.add_dynamic_items(AnswerGapButton, RemoveEntryButton)
    await bot.add_cog(KnowledgeCog(bot))
    await bot.add_cog(QuizBankCog(bot))
    await bot.add_cog(ConfigCog(bot))
