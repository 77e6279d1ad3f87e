"""Streaming a generated answer: edits throttled to one per interval, and a Stop only the asker can press."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from bot.domain.generation import Generator, Message
from bot.domain.streaming import NotYourAnswer, StopSwitch, ThrottledEdits, stream_answer
from tests.unit.test_generation import GOOD, _answer, checker

FIRST = GOOD.split(" It", maxsplit=1)[0]


class FakeTime:
    """A clock that only moves when the throttle sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def test_throttle_publishes_the_newest_text_at_most_once_per_interval():
    """Texts offered within one interval collapse into the newest; edits are an interval apart, the first send too."""

    async def scenario() -> list[tuple[float, str]]:
        fake = FakeTime()
        sent: list[tuple[float, str]] = []

        async def publish(text: str) -> None:
            sent.append((fake.now, text))

        edits = ThrottledEdits(publish, interval=1.0, clock=fake.clock, sleep=fake.sleep)
        edits.start()
        edits.offer("a")
        for _ in range(3):
            await asyncio.sleep(0)  # "a" goes out one interval after the message was sent
        for text in ("b", "c", "d"):
            edits.offer(text)
        for _ in range(5):
            await asyncio.sleep(0)
        await edits.close()
        return sent

    sent = asyncio.run(scenario())
    assert [text for _, text in sent] == ["a", "d"]
    assert sent[0][0] >= 1.0 and sent[1][0] - sent[0][0] >= 1.0


def test_a_failed_edit_does_not_stop_the_stream():
    """An edit that raises is logged and skipped; the next text is still published."""

    async def scenario() -> list[str]:
        sent: list[str] = []

        async def publish(text: str) -> None:
            if text == "bad":
                raise RuntimeError("Discord said no")
            sent.append(text)

        edits = ThrottledEdits(publish, interval=0.0)
        edits.start()
        edits.offer("bad")
        await asyncio.sleep(0.01)
        edits.offer("good")
        await asyncio.sleep(0.01)
        await edits.close()
        return sent

    assert asyncio.run(scenario()) == ["good"]


def test_only_the_asker_can_press_stop():
    """Another member's press raises NotYourAnswer and stops nothing; the asker's press stops."""

    async def scenario() -> None:
        switch = StopSwitch(owner_id=1)
        with pytest.raises(NotYourAnswer):
            switch.press(2)
        assert not switch.pressed
        switch.press(1)
        assert switch.pressed

    asyncio.run(scenario())


@dataclass
class StallingModel:
    """Writes ``text`` word by word, then hangs as a stalled server would."""

    text: str

    async def stream(self, messages: Sequence[Message], max_tokens: int | None = None) -> AsyncIterator[str]:
        for word in self.text.split(" "):
            yield word + " "
        await asyncio.Event().wait()


def test_stop_mid_stall_keeps_the_checked_sentences_at_once():
    """Stop during a stall ends the stream without waiting for the timeout, keeping what was checked."""

    async def scenario():
        switch = StopSwitch(owner_id=7)
        shown: list[str] = []

        async def publish(text: str) -> None:
            shown.append(text)
            switch.press(7)  # the asker stops as soon as the first sentence shows

        model = StallingModel(f"{FIRST} It stops units from")
        with ThreadPoolExecutor(1) as pool:
            generator = Generator(model, checker(), timeout_s=30, executor=pool)
            started = time.perf_counter()
            result = await stream_answer(generator, _answer(), publish, switch, interval=0.0)
        return result, shown, time.perf_counter() - started

    result, shown, took = asyncio.run(scenario())
    assert took < 5
    assert result.mode == "generated" and result.stopped
    assert result.answer.answer == FIRST and shown == [FIRST]


def test_stop_before_any_checked_sentence_falls_back_to_the_extract():
    """Stop pressed before a sentence is finished leaves the extractive answer, with reason 'stopped'."""

    async def scenario():
        switch = StopSwitch(owner_id=7)
        switch.press(7)

        async def publish(text: str) -> None:
            raise AssertionError("nothing was checked, so nothing may be shown")

        generator = Generator(StallingModel("Dropout randomly"), checker(), timeout_s=30)
        return await stream_answer(generator, _answer(), publish, switch)

    result = asyncio.run(scenario())
    assert (result.mode, result.fallback_reason) == ("extractive", "stopped")
    assert result.answer.answer == "extractive text"
