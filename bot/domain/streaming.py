"""Streaming a generated answer to a chat surface: throttled edits and a Stop that only the asker may press.

A chat service limits how often one message may be edited (Discord: about 5 edits per 5 s per channel, shared with
every other message there), so the checked text is published at most once per ``interval``: the newest text
wins, intermediate versions are skipped. The surface supplies ``publish`` (an edit) and renders the final answer
itself, with its sources and buttons, once ``stream_answer`` returns.

Pure asyncio, no Discord: the throttle and the stop are tested with a fake clock and a list of published texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from bot.domain.errors import StudyBotError

if TYPE_CHECKING:
    from bot.domain.answering import Answer
    from bot.domain.conversation import Turn
    from bot.domain.generation import Generated, Generator

log = logging.getLogger(__name__)

# Seconds between requests for one streamed message (the first send, each edit, the final edit): at most 5 in any
# 5 s, Discord's limit for a channel's messages, which other messages share.
EDIT_INTERVAL = 1.0

Publish = Callable[[str], Awaitable[None]]


class NotYourAnswer(StudyBotError):
    def __init__(self) -> None:
        super().__init__("Only the person who asked can stop this answer.")


class StopSwitch:
    """The Stop button's state: pressed once, by the asker only (anyone else gets ``NotYourAnswer``)."""

    def __init__(self, owner_id: int) -> None:
        self.owner_id = owner_id
        self.event = asyncio.Event()

    def press(self, user_id: int) -> None:
        if user_id != self.owner_id:
            raise NotYourAnswer()
        self.event.set()

    @property
    def pressed(self) -> bool:
        return self.event.is_set()


class ThrottledEdits:
    """Publishes the newest offered text, at most once per ``interval`` seconds, from one background task.

    ``offer`` is synchronous (the generator calls it between chunks) and never waits for the network; a slow or
    failed edit delays or skips a version of the text, never the generation. ``close`` cancels what has not been
    published: the final message replaces it anyway.
    """

    def __init__(
        self,
        publish: Publish,
        interval: float = EDIT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.publish = publish
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.published: list[str] = []
        self._latest: str | None = None
        self._wake = asyncio.Event()
        self._last: float | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start publishing; the message just sent counts as the last edit, so even the first edit keeps the pace."""
        self._last = self.clock()
        self._task = asyncio.create_task(self._run(), name="stream-edits")

    def offer(self, text: str) -> None:
        if text and (not self.published or text != self.published[-1]):
            self._latest = text
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._last is not None:
                wait = self._last + self.interval - self.clock()
                if wait > 0:
                    await self.sleep(wait)  # texts offered meanwhile replace each other: only the newest goes out
            self._wake.clear()
            text, self._latest = self._latest, None
            if text is None:
                continue
            self._last = self.clock()
            try:
                await self.publish(text)
                self.published.append(text)
            except Exception:  # an edit refused or lost: the next one (or the final message) catches up
                log.warning("could not publish a streamed edit", exc_info=True)

    async def wait_turn(self) -> None:
        """Wait until the next edit keeps the pace (the caller's final edit counts against the same limit)."""
        if self._last is not None:
            wait = self._last + self.interval - self.clock()
            if wait > 0:
                await self.sleep(wait)

    async def close(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


async def stream_answer(
    generator: Generator,
    answer: Answer,
    publish: Publish,
    stop: StopSwitch | None = None,
    history: Sequence[Turn] = (),
    interval: float = EDIT_INTERVAL,
) -> Generated:
    """Generate a checked answer, publishing the kept sentences as they come; the caller shows the result."""
    edits = ThrottledEdits(publish, interval)
    edits.start()
    try:
        result = await generator.generate(
            answer, history, on_text=edits.offer, stop=stop.event if stop is not None else None
        )
    finally:
        await edits.close()
    await edits.wait_turn()
    return result
