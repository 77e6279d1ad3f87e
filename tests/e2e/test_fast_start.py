"""Fast start: the bot is online and its commands registered while the index is still being built (issue 13)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import client
from bot.retrieval.child_build import ChildBuildFailed
from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.test_bot import COMMANDS, Running, answered, make_settings, world
from tests.e2e.test_health import free_port, probe
from tests.models import ROOT, small_knowledge

__all__ = ["world"]

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="function")]

LOADING = "I'm still loading my notes, try again in a minute"


def three_entry_knowledge(dest: Path) -> Path:
    """Three shipped entries and the shipped quiz items on them: a build of seconds, and a quiz to play."""
    small_knowledge(dest)
    entries = {"concept-overfitting", "concept-dropout", "concept-cross-validation"}
    quiz = yaml.safe_load((ROOT / "knowledge" / "quiz" / "machine-learning.yaml").read_text(encoding="utf-8"))
    quiz["items"] = [item for item in quiz["items"] if item.get("source") in entries]
    quiz["related"] = []
    (dest / "quiz").mkdir()
    (dest / "quiz" / "machine-learning.yaml").write_text(yaml.safe_dump(quiz, sort_keys=False), encoding="utf-8")
    return dest


async def test_online_at_once_while_the_index_builds_then_answers(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an empty data folder the bot connects and registers its commands within 10 s; until the index is
    built, /ask and mentions say 'still loading' (privately, no pings), /readyz says loading, and quizzes and
    streaks work; once built, /ask answers from the notes."""
    gate = threading.Event()  # holds the build back, so "before the index is ready" lasts as long as the test needs
    real = client.open_indexes

    def held(*args: Any) -> Any:
        assert gate.wait(120), "the test never released the index build"
        return real(*args)

    monkeypatch.setattr(client, "open_indexes", held)
    port = free_port()
    index = tmp_path / "index"
    settings = make_settings(
        fake_discord,
        world,
        tmp_path / "data",
        index,
        knowledge_dir=three_entry_knowledge(tmp_path / "knowledge"),
        metrics_port=port,
    )
    runner = Running(fake_discord, settings)
    started = asyncio.get_running_loop().time()
    try:
        bot = await runner.start(index=False)
        await fake_discord.wait_for(
            lambda: world.guild.id in fake_discord.commands, timeout=10, what="commands registered"
        )
        assert asyncio.get_running_loop().time() - started < 10
        assert {c["name"] for c in fake_discord.commands[world.guild.id]} == COMMANDS
        assert not bot.index_ready() and not (index / "CURRENT").exists()

        reply = await answered(
            await fake_discord.slash(world.user, world.guild, world.channel, "ask", {"question": "What is dropout?"})
        )
        assert reply.ephemeral and LOADING in reply.text()
        await fake_discord.message(world.user, world.channel, f"{fake_discord.bot_user.mention} what is dropout?")
        mention = await fake_discord.wait_message(
            lambda m: LOADING in m.text() and m.id != reply.id, timeout=15, what="the mention's reply"
        )
        assert mention.reference_id is not None and not mention.embeds  # a plain reply: no thread, no answer

        status, body = await asyncio.to_thread(probe, f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and isinstance(body, dict)
        assert body["checks"] == {"gateway": "ok", "database": "ok", "index": "loading"}

        quiz = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 2}))
        assert quiz.ephemeral and "Question 1 of 2" in quiz.text()
        streak = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "streak"))
        assert LOADING not in streak.text()

        gate.set()
        await fake_discord.wait_for(bot.index_ready, timeout=120, what="the index built")
        answer = await answered(
            await fake_discord.slash(world.user, world.guild, world.channel, "ask", {"question": "What is dropout?"})
        )
        assert not answer.ephemeral and "dropout" in answer.text().lower() and LOADING not in answer.text()
        status, body = await asyncio.to_thread(probe, f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and isinstance(body, dict) and body["checks"]["index"] == "ok"
    finally:
        gate.set()
        await runner.stop()


async def test_an_index_that_cannot_load_leaves_one_error_id_and_the_rest_working(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed background load (e.g. the build child died) is logged once with an error id; /ask then says so
    with that id, /readyz reports the index failed, and quizzes keep working: the bot stays online."""

    def broken(*args: Any) -> Any:
        raise ChildBuildFailed("MemoryError")

    monkeypatch.setattr(client, "open_indexes", broken)
    port = free_port()
    settings = make_settings(
        fake_discord,
        world,
        tmp_path / "data",
        tmp_path / "index",
        knowledge_dir=three_entry_knowledge(tmp_path / "knowledge"),
        metrics_port=port,
    )
    runner = Running(fake_discord, settings)
    try:
        bot = await runner.start(index=False)
        await fake_discord.wait_for(lambda: bot.answerer.failure is not None, timeout=30, what="the load failed")
        error_id = bot.answerer.failure
        reply = await answered(
            await fake_discord.slash(world.user, world.guild, world.channel, "ask", {"question": "What is dropout?"})
        )
        assert reply.ephemeral and f"error id `{error_id}`" in reply.text() and LOADING not in reply.text()
        status, body = await asyncio.to_thread(probe, f"http://127.0.0.1:{port}/readyz")
        assert status == 503 and isinstance(body, dict) and body["checks"]["index"] == "failed (ChildBuildFailed)"
        quiz = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 2}))
        assert quiz.ephemeral and "Question 1 of 2" in quiz.text()
        assert not bot.closing
    finally:
        await runner.stop()
