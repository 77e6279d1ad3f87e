from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import StudyBot


async def setup(bot: StudyBot) -> None:
    from bot.exts.account._cog import AccountCog, ForgetButton

    bot.add_dynamic_items(ForgetButton)
    await bot.add_cog(AccountCog(bot))
