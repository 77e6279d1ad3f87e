"""``studybot chat``: a terminal session over the same domain services as the Discord bot, no Discord needed."""

from bot.console._session import run_chat

__all__ = ["run_chat"]
