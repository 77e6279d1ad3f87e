"""Delivering a generated answer on Discord: when our own side fails, the learner still gets the extract."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from bot.domain.asking import Asked
from bot.exts.ask import _stream
from tests.unit.test_generation import _answer


class Allowed:
    async def generation_allowed(self, guild_id: int) -> bool:
        return True


def _bot(generators: Any) -> Any:
    return SimpleNamespace(
        services=SimpleNamespace(generators=generators, moderation=Allowed()),
        settings=SimpleNamespace(llm_timeout_s=5.0),
    )


class Replies:
    """The reply as Discord would hold it: the first send, then each edit."""

    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []

    async def send(self, **reply: Any) -> Any:
        self.versions.append(reply)

        async def edit(**change: Any) -> None:
            self.versions.append(change)

        return edit


def _deliver(generators: Any) -> Replies:
    replies = Replies()

    async def run() -> None:
        await _stream.deliver(_bot(generators), Asked(7, _answer()), "what is dropout?", 1, 42, replies.send)

    asyncio.run(run())
    return replies


def test_a_generator_that_cannot_be_built_leaves_the_extract(caplog):
    """for_guild failing (say, reading the index's terms) sends the extractive answer, logged with an error id."""

    class Broken:
        async def for_guild(self, guild_id: int) -> Any:
            raise RuntimeError("lexicon unreadable")

    with caplog.at_level(logging.ERROR):
        replies = _deliver(Broken())
    assert len(replies.versions) == 1
    assert replies.versions[0]["embed"].description.startswith("extractive text")
    assert any("error" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_failing_stream_ends_in_the_extract_with_an_error_id_not_a_stuck_stream(caplog):
    """An exception of ours mid-stream replaces the "Writing…" message with the extract; the footer quotes the id."""

    class Failing:
        async def generate(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("executor shut down")

    class Generators:
        async def for_guild(self, guild_id: int) -> Any:
            return Failing()

    with caplog.at_level(logging.ERROR):
        replies = _deliver(Generators())
    final = replies.versions[-1]
    assert final["embed"].description.startswith("extractive text")
    error_id = next(r.args[0] for r in caplog.records if r.getMessage().startswith("error "))
    assert error_id in final["embed"].footer.text
    assert len(final["view"].children) >= 2  # the feedback buttons, not the Stop button


def test_the_threads_turns_reach_the_model():
    """A follow-up in a thread is generated with the turns it was answered with, as in the CLI and console."""
    from datetime import UTC, datetime

    from bot.domain.conversation import Turn

    seen: list[Any] = []

    class Recording:
        async def generate(self, answer: Any, history: Any = (), **kwargs: Any) -> Any:
            seen.append(tuple(history))
            raise RuntimeError("stop here")  # what happens next is the test above

    class Generators:
        async def for_guild(self, guild_id: int) -> Any:
            return Recording()

    turn = Turn("what is dropout?", "what is dropout?", ("concept-dropout",), datetime.now(UTC))
    replies = Replies()

    async def run() -> None:
        asked = Asked(7, _answer(), (turn,))
        await _stream.deliver(_bot(Generators()), asked, "why does that help?", 1, 42, replies.send)

    asyncio.run(run())
    assert seen == [(turn,)]
