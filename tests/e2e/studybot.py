"""StudyBot against the fake Discord: start it through run_bot (the `studybot run` path) and read its answers.

Shared by the e2e tests and by the fault and fuzz suites, which drive the same bot.
"""

# Waits take a bounded timeout= on purpose, like the fake's own helpers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.client import _IN_FLIGHT, StudyBot, run_bot
from bot.settings import Settings
from tests.e2e.fake_discord import FakeDiscord, InteractionHandle, StoredMessage, World

ROOT = Path(__file__).resolve().parents[2]
ACK_LIMIT = 3.0


class Running:
    """One bot process (in this event loop) started through run_bot, the code path of `studybot run`."""

    def __init__(self, fake: FakeDiscord, settings: Settings) -> None:
        self.fake, self.settings = fake, settings
        self.bot: StudyBot | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, *, index: bool = True) -> StudyBot:
        """The bot once it is ready and, unless ``index`` is False, answering questions; a start-up error (run_bot
        ending first) is raised as soon as it happens.

        ``started`` fires before the bot logs in, so log-in, the application lookup and the command sync all fail
        after it: the waits watch run_bot's task too, instead of waiting out their timeouts.
        """
        started: asyncio.Future[StudyBot] = asyncio.get_running_loop().create_future()
        task = self.task = asyncio.create_task(run_bot(self.settings, started=started.set_result))
        await asyncio.wait({started, task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises the start-up error
        bot = self.bot = started.result()
        await self.fake.wait_for(lambda: task.done() or bot.is_ready(), timeout=30, what="bot ready")
        if index and not task.done():  # the index loads in the background once connected (fast start)
            await self.fake.wait_for(lambda: task.done() or bot.index_ready(), timeout=120, what="index loaded")
        if task.done():
            self.bot = None  # run_bot closed it already: nothing for stop() to do
            task.result()  # raises the start-up error
            raise RuntimeError("run_bot returned before the bot was ready")
        return bot

    async def stop(self) -> None:
        if self.bot is not None and self.task is not None:
            await self.bot.close()
            await asyncio.wait_for(self.task, 30)
            self.bot = None


def caught_up(fake: FakeDiscord, bot: StudyBot) -> bool:
    """Whether the bot has read every gateway event the fake sent it.

    discord.py stores an event's sequence number and starts its handlers (the tasks ``_IN_FLIGHT`` names) in one
    step, with no await between: once the sequence has caught up, every handler the events call for exists.
    """
    session = fake.current_session()
    ws = bot.ws
    return session is None or (ws is not None and (ws.sequence or 0) >= session.seq)


def handling() -> bool:
    """Whether a handler of an interaction or a message is still running (retries of its requests included)."""
    return any(not t.done() and t.get_name().startswith(_IN_FLIGHT) for t in asyncio.all_tasks())


async def idle(fake: FakeDiscord, bot: StudyBot, timeout: float = 20.0) -> None:
    """Wait until the bot has read everything the fake sent it and every handler that started has finished.

    Reading first matters: an event on its way through the websocket has no handler yet, so "no handler running"
    alone is also true before the bot has seen the click or message it is about to handle.
    """
    await fake.wait_for(
        lambda: caught_up(fake, bot) and not handling(),
        timeout=timeout,
        what="the bot to read every event and finish its handlers",
    )
    await fake.settle()


def make_settings(fake: FakeDiscord, world: World, data: Path, index: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data,
        "knowledge_dir": ROOT / "knowledge",
        "index_path": index,
        "discord_token": fake.token,
        "discord_api_base": fake.rest_base,
        "discord_gateway": fake.gateway_url,
        "dev_guild_id": world.guild.id,
        "scheduler_seconds": 0.2,
        "shutdown_grace": 10.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


async def answered(handle: InteractionHandle, timeout: float = 15.0) -> StoredMessage:
    """The message that answers an interaction: the filled deferral, or the first followup."""
    ack = await handle.wait_ack(ACK_LIMIT + 1)
    assert handle.ack_delay is not None and handle.ack_delay < ACK_LIMIT
    if int(ack.json["type"]) in (4, 5):
        return await handle.wait_message(lambda m: not m.loading, timeout=timeout)
    return await handle.wait_followup(0, timeout=timeout)


async def right_answer(bot: StudyBot, message: StoredMessage) -> str:
    quiz_ids = [c for c in message.custom_ids() if c.startswith("quiz:")]
    _, session_id, position, _ = quiz_ids[0].split(":")
    async with bot.services.store.transaction() as repos:
        session = await repos.get_session(session_id)
    assert session is not None
    item = bot.services.bank.items[session.item_ids[int(position)]]
    return f"quiz:{session_id}:{position}:{item.answer}"
