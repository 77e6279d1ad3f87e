from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.answering import MAX_QUESTION
from bot.domain.errors import StudyBotError
from bot.exts import _limits, _ui
from bot.exts.ask import _stream

if TYPE_CHECKING:
    from bot.client import StudyBot

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def _typing(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "typing…" while answering if Discord lets us: failing to show it never stops the answer."""
    typing = channel.typing()
    try:
        await typing.__aenter__()
    except discord.HTTPException:
        log.info("could not show typing in channel %s", getattr(channel, "id", "?"))
        shown = False
    else:
        shown = True
    if not shown:  # outside the except block, so an error while answering doesn't carry the typing failure
        yield
        return
    try:
        yield
    finally:
        await typing.__aexit__(None, None, None)


class AskCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a study question; I answer from my notes and show my sources.")
    @app_commands.describe(question="Your question, for example: What is overfitting?")
    @app_commands.guild_only()
    async def ask(self, interaction: _ui.Interaction, question: app_commands.Range[str, 1, MAX_QUESTION]) -> None:
        self.bot.services.questions.ensure_ready()  # refused before deferring: the refusal stays private
        self.bot.ask_limiter.check(interaction.user.id)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        asked = await self.bot.services.questions.ask(
            question,
            user_id=interaction.user.id,
            name=interaction.user.display_name,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id or 0,
        )

        async def send(**reply: Any) -> _stream.Edit:
            message = await _ui.followup(interaction, **reply)
            interaction.extras.pop("public_defer", None)  # the answer is out: a later error is reported privately
            return message.edit

        await _stream.deliver(self.bot, asked, question, interaction.user.id, interaction.guild_id, send)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Mentions and help-channel posts open a thread; follow-ups in that thread keep its first question."""
        me = self.bot.user
        if me is None or message.author.bot or message.guild is None:
            return
        mentioned = me in message.mentions
        thread = message.channel if isinstance(message.channel, discord.Thread) else None
        ours = thread is not None and thread.owner_id == me.id
        if not (mentioned or ours or message.channel.id in await self._help_channels(message.guild.id)):
            return
        try:
            if ours and thread and not mentioned and not await self.bot.services.asks.is_answer_thread(thread.id):
                return  # one of our threads that isn't an answer thread (e.g. a question-of-the-day discussion)
            await self._answer_message(message, thread if ours else None)
        except Exception as error:
            await _ui.report_message(message, error)

    async def _help_channels(self, guild_id: int) -> tuple[int, ...]:
        try:
            return await self.bot.services.moderation.help_channels(guild_id)
        except StudyBotError:  # the database is away: mentions still work, help channels wait for it
            log.warning("could not read the help channels of server %s", guild_id)
            return ()

    async def _answer_message(self, message: discord.Message, thread: discord.Thread | None) -> None:
        me = self.bot.user
        assert me is not None
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        self.bot.services.questions.ensure_ready()
        self.bot.ask_limiter.check(message.author.id)
        async with _typing(message.channel):
            asked = await self.bot.services.questions.ask(
                text,
                user_id=message.author.id,
                name=getattr(message.author, "display_name", None),
                guild_id=message.guild.id if message.guild else None,
                channel_id=message.channel.id,
                thread_id=thread.id if thread else None,
                via="thread" if thread else "mention",
            )
        where: discord.abc.Messageable | None = thread
        if where is None:
            try:
                where = await message.create_thread(
                    name=_ui.clip(" ".join(text.split()) or "Question", _limits.THREAD_NAME)
                )
                await self.bot.services.asks.attach_thread(asked.id, where.id)
            except discord.HTTPException:
                log.info("could not open a thread in channel %s; answering in place", message.channel.id)

        async def send(**reply: Any) -> _stream.Edit:
            sent = await (where.send(**reply) if where is not None else message.reply(**reply))
            return sent.edit

        guild_id = message.guild.id if message.guild else None
        await _stream.deliver(self.bot, asked, text, message.author.id, guild_id, send)
