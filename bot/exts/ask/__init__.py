from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import StudyBot


async def setup(bot: StudyBot) -> None:
    from bot.exts.ask._cog import AskCog
    from bot.exts.ask._render import AnswerAction

    bot.add_dynamic_items(AnswerAction)
    await bot.add_cog(AskCog(bot))
