"""Generated answers on Discord: the real bot against the fake Discord and the fake OpenAI-compatible server.

The reply is edited as checked sentences arrive (at most about once a second), a Stop button ends the stream for
the asker only, a failing endpoint leaves the extractive answer, and /config generation off keeps a server extractive.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.fake_discord import FakeDiscord, InteractionHandle, StoredMessage, World
from tests.e2e.test_bot import ACK_LIMIT, Running, make_settings, world
from tests.fake_llm import FakeLLM, fake_llm

__all__ = ["world"]  # a fixture shared with test_bot

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="function")]

QUESTION = "What is overfitting?"


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def bot_with(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any, llm: FakeLLM
) -> AsyncIterator[Any]:
    """Starts the bot with the fake model server playing ``scenario``; stops it after the test."""
    runners: list[Running] = []

    async def start(scenario: str) -> Running:
        settings = make_settings(
            fake_discord,
            world,
            tmp_path,
            shipped_service.settings.index_dir,
            llm_base_url=llm.base_url,
            llm_model=scenario,
            llm_timeout_s=20.0,
        )
        runner = Running(fake_discord, settings)
        await runner.start()
        runners.append(runner)
        return runner

    try:
        yield start
    finally:
        for runner in runners:
            await runner.stop()


def final(message: StoredMessage) -> bool:
    """The finished answer: the feedback buttons are on it."""
    return any(i.startswith("ask:up") for i in message.custom_ids())


def stop_id(message: StoredMessage) -> str | None:
    return next((c["custom_id"] for c in message.walk_components() if c.get("label") == "Stop"), None)


async def ask(fake: FakeDiscord, world: World) -> InteractionHandle:
    handle = await fake.slash(world.user, world.guild, world.channel, "ask", {"question": QUESTION})
    await handle.wait_ack(ACK_LIMIT + 1)
    return handle


def edits_of(fake: FakeDiscord, message: StoredMessage) -> list[float]:
    """When each edit of ``message`` reached Discord (monotonic seconds)."""
    return [r.at for r in fake.requests if r.method == "PATCH" and r.path.endswith(f"/messages/{message.id}")]


async def test_streamed_answer_is_edited_at_most_once_a_second_then_finalised(
    bot_with: Any, fake_discord: FakeDiscord, world: World, llm: FakeLLM
) -> None:
    """A slow good answer appears sentence by sentence under a Stop button, edits ≥ ~1 s apart, then gets sources."""
    await bot_with("paced")
    handle = await ask(fake_discord, world)
    message = await handle.wait_followup(0, timeout=15)
    done = await fake_discord.wait_message(lambda m: m.id == message.id and final(m), timeout=30, what="final")
    versions = [*done.history, done.data]
    streamed = [v for v in versions[:-1] if v.get("embeds") and "▌" in (v["embeds"][0].get("description") or "")]
    assert len(streamed) >= 2, "the answer should have grown over several edits"
    assert all(stop_id(StoredMessage(v)) for v in streamed)  # the Stop button shows while it writes
    times = edits_of(fake_discord, done)
    assert len(times) >= 3
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.9
    embed = done.embeds[0]
    assert embed["fields"][0]["name"] == "Sources"
    assert "every sentence checked" in embed["footer"]["text"]
    assert "[1]" in embed["description"] and "▌" not in embed["description"]
    assert [i.split(":")[1] for i in done.custom_ids()] == ["up", "down", "quiz"]
    assert stop_id(done) is None
    assert llm.requests and "<passages>" in llm.requests[-1]["messages"][-1]["content"]


@pytest.mark.expect_violations
async def test_stop_pressed_mid_stream_keeps_the_checked_text(
    bot_with: Any, fake_discord: FakeDiscord, world: World
) -> None:
    """During a stall, only the asker's Stop ends the stream; the checked first sentence stays, with sources."""
    await bot_with("stallafter")
    handle = await ask(fake_discord, world)
    message = await handle.wait_followup(0, timeout=15)
    shown = await fake_discord.wait_message(
        lambda m: m.id == message.id and "▌" in m.text(), timeout=15, what="the first checked sentence"
    )
    button = stop_id(shown)
    assert button is not None
    refused = await fake_discord.click(world.other_user, shown, button)
    note = await refused.wait_message(timeout=5)
    assert note.ephemeral and "Only the person who asked" in note.text()
    pressed = await fake_discord.click(world.user, shown, button)
    await pressed.wait_ack(ACK_LIMIT)
    done = await fake_discord.wait_message(lambda m: m.id == message.id and final(m), timeout=10, what="final")
    embed = done.embeds[0]
    assert "stopped early" in embed["footer"]["text"]
    assert embed["description"].count("[1]") == 1
    assert embed["fields"][0]["name"] == "Sources"
    fake_discord.violations.clear()  # the fake model's connection is cut mid-stall; nothing Discord-side to judge


async def test_endpoint_error_falls_back_to_the_extractive_answer(
    bot_with: Any, fake_discord: FakeDiscord, world: World
) -> None:
    """An endpoint answering HTTP 500 leaves the extract, with its sources, buttons and why."""
    await bot_with("500")
    handle = await ask(fake_discord, world)
    message = await handle.wait_followup(0, timeout=15)
    done = await fake_discord.wait_message(lambda m: m.id == message.id and final(m), timeout=20, what="final")
    embed = done.embeds[0]
    assert "overfit" in embed["description"].lower() and "[1]" not in embed["description"]
    assert "model was unavailable" in embed["footer"]["text"]
    assert embed["fields"][0]["name"] == "Sources"


async def test_config_generation_off_keeps_answers_extractive(
    bot_with: Any, fake_discord: FakeDiscord, world: World, llm: FakeLLM
) -> None:
    """After a moderator's /config generation off the model is never asked; a member cannot switch it back on."""
    running = await bot_with("good")
    refused = await fake_discord.slash(
        world.user, world.guild, world.channel, "config", {"state": "off"}, subcommand="generation"
    )
    assert "Only this server's moderators" in (await refused.wait_followup(0, timeout=10)).text()
    switched = await fake_discord.slash(
        world.owner, world.guild, world.channel, "config", {"state": "off"}, subcommand="generation"
    )
    assert "Generated answers off" in (await switched.wait_followup(0, timeout=10)).text()
    handle = await ask(fake_discord, world)
    done = await handle.wait_followup(0, timeout=15)
    assert final(done) and llm.requests == []
    assert "answered only from StudyBot's notes" in done.embeds[0]["footer"]["text"]
    assert running.bot is not None
    shown = await fake_discord.slash(world.owner, world.guild, world.channel, "config", {}, subcommand="show")
    assert "off (extracts from the notes)" in (await shown.wait_followup(0, timeout=10)).text()
    back = await fake_discord.slash(
        world.owner, world.guild, world.channel, "config", {"state": "on"}, subcommand="generation"
    )
    assert "Generated answers on" in (await back.wait_followup(0, timeout=10)).text()
    again = await ask(fake_discord, world)
    finished = await again.wait_followup(0, timeout=15)
    done = await fake_discord.wait_message(lambda m: m.id == finished.id and final(m), timeout=20, what="final")
    assert len(llm.requests) == 1 and "every sentence checked" in done.embeds[0]["footer"]["text"]
