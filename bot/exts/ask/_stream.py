"""A generated answer on Discord: the reply is edited as checked sentences arrive, with a Stop button for the asker.

The throttle and the stop live in ``bot.domain.streaming``; this module only renders and sends. Every message
goes out with ``allowed_mentions`` none, and the text was already made safe by the generator (mentions escaped,
only the sources' links kept).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.errors import StudyBotError
from bot.domain.generation import Generated
from bot.domain.streaming import StopSwitch, stream_answer
from bot.exts import _limits, _ui
from bot.exts.ask._render import ANSWERED, EXTRACTED, answer_embed, answer_view

if TYPE_CHECKING:
    from bot.client import StudyBot
    from bot.domain.asking import Asked
    from bot.domain.generation import Generator

log = logging.getLogger(__name__)

Edit = Callable[..., Awaitable[Any]]  # edits the reply: ``edit(embed=..., view=..., allowed_mentions=...)``
Send = Callable[..., Awaitable[Edit]]  # sends the first version of the reply and returns how to edit it
WRITING = "✍️ Writing an answer from the notes…"
CURSOR = " ▌"


class StopButton(_ui.Guarded, discord.ui.Button[discord.ui.View]):
    def __init__(self, switch: StopSwitch) -> None:
        super().__init__(label="Stop", emoji="⏹️", style=discord.ButtonStyle.danger)
        self.switch = switch

    async def run(self, interaction: _ui.Interaction) -> None:
        self.switch.press(interaction.user.id)  # NotYourAnswer for anyone else: a private note, nothing stops
        await interaction.response.defer()  # the stream's final edit is the visible response


def stop_view(switch: StopSwitch, timeout: float) -> discord.ui.View:
    view = discord.ui.View(timeout=timeout)
    view.add_item(StopButton(switch))
    return view


def streaming_embed(text: str, question: str) -> discord.Embed:
    """The reply while the model writes: the checked sentences so far, no sources yet."""
    body = _ui.clip(text + CURSOR, _limits.EMBED_DESCRIPTION) if text else WRITING
    embed = discord.Embed(description=body, colour=ANSWERED)
    embed.set_author(name=_ui.clip(f"Q: {' '.join(question.split())}", _limits.EMBED_TITLE))
    embed.set_footer(text="Each sentence is checked against StudyBot's notes before it appears.")
    return embed


def provenance(result: Generated) -> str:
    """The footer's account of what the learner reads: written and checked, or extracted (and why)."""
    if result.mode == "generated":
        dropped = len(result.dropped)
        note = (
            f"written from StudyBot's notes, every sentence checked ({dropped} dropped)"
            if dropped
            else ("written from StudyBot's notes, every sentence checked")
        )
        return note + (" · stopped early" if result.stopped else "")
    why = {
        "stopped": "stopped before a checked sentence was ready",
        "ungrounded": "the written answer was not supported by the notes",
    }.get(result.fallback_reason or "", "the model was unavailable")
    if result.fallback_reason == "error":
        why = f"the written answer failed, error id `{result.fallback_message}`"
    return f"{EXTRACTED} ({why})"


async def generator_for(bot: StudyBot, asked: Asked, guild_id: int | None) -> Generator | None:
    """The server's generator when this answer should be written by the model; None keeps it extractive."""
    generators = bot.services.generators
    if generators is None or guild_id is None or asked.answer.abstained or not asked.answer.passages:
        return None
    try:
        if not await bot.services.moderation.generation_allowed(guild_id):
            return None
    except StudyBotError:  # the database is away: the extractive answer needs nothing more
        log.warning("could not read whether server %s allows generated answers", guild_id)
        return None
    try:
        return await generators.for_guild(guild_id)
    except Exception as exc:  # the extract is ready: a generator that cannot be built must not cost the answer
        _ui.log_unexpected(exc, f"building the generator for server {guild_id}")
        return None


async def deliver(bot: StudyBot, asked: Asked, question: str, owner_id: int, guild_id: int | None, send: Send) -> None:
    """Send the answer: extractive at once, or streamed from the model and finalised with sources and buttons."""
    generator = await generator_for(bot, asked, guild_id)
    if generator is None:
        await send(embed=answer_embed(asked.answer, question), view=answer_view(asked.id, asked.answer))
        return
    switch = StopSwitch(owner_id)
    view = stop_view(switch, timeout=bot.settings.llm_timeout_s + 60)
    edit = await send(embed=streaming_embed("", question), view=view)

    async def publish(text: str) -> None:
        await edit(embed=streaming_embed(text, question), allowed_mentions=_ui.NO_PINGS)

    try:
        result = await stream_answer(generator, asked.answer, publish, switch, history=asked.history)
    except Exception as exc:  # a failure of ours (not the model's): the reply becomes the extract, not a stuck stream
        error_id = _ui.log_unexpected(exc, f"the generated answer to question {asked.id}")
        result = Generated(asked.answer, "extractive", fallback_reason="error", fallback_message=error_id)
    finally:
        view.stop()
    if result.fallback_reason:
        log.info("generated answer fell back to the extract (%s) for question %s", result.fallback_reason, asked.id)
    await edit(
        embed=answer_embed(result.answer, question, provenance(result)),
        view=answer_view(asked.id, result.answer),
        allowed_mentions=_ui.NO_PINGS,
    )
