from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import StudyBot


async def setup(bot: StudyBot) -> None:
    from bot.exts.progress._cog import ProgressCog

    await bot.add_cog(ProgressCog(bot))
