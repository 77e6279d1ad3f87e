"""Two bot processes on one PostgreSQL database: a knowledge change made through one reaches the other."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.studybot import ROOT, Running, make_settings
from tests.e2e.test_bot import world
from tests.e2e.test_moderation import KAN_QUESTION, KAN_TITLE, add_kan

__all__ = ["world"]

pytestmark = [pytest.mark.model, pytest.mark.postgres, pytest.mark.asyncio(loop_scope="function")]


async def test_an_entry_added_through_one_process_is_answered_by_the_other(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any, pg_cluster: Any
) -> None:
    """A moderator adds an entry through a `studybot run` subprocess; the first process answers from it within seconds."""
    database = pg_cluster.create_database("t_two_processes")
    index = Path(shipped_service.settings.index_dir)
    first = Running(
        fake_discord,
        make_settings(fake_discord, world, tmp_path / "first", index, database_url=database, kb_poll_seconds=0.5),
    )
    bot = await first.start()
    second_index = tmp_path / "second-index"
    shutil.copytree(index, second_index)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "STUDYBOT_DISCORD_TOKEN": fake_discord.token,
        "STUDYBOT_DISCORD_API_BASE": fake_discord.rest_base,
        "STUDYBOT_DISCORD_GATEWAY": fake_discord.gateway_url,
        "STUDYBOT_DEV_GUILD_ID": str(world.guild.id),
        "STUDYBOT_DATABASE_URL": database,
        "STUDYBOT_DATA_DIR": str(tmp_path / "second"),
        "STUDYBOT_INDEX_PATH": str(second_index),
        "STUDYBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
    }
    log = tmp_path / "second.log"
    out = log.open("wb")  # a local file, opened once
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT
    )
    out.close()  # the child holds its own copy
    try:
        # The newest session gets the interactions: once the subprocess is connected, it handles the /kb add.
        await fake_discord.wait_for(
            lambda: sum(s.live and s.ready for s in fake_discord.sessions) == 2 or None,
            timeout=120,
            what=f"the second process to connect (log: {log})",
        )
        await fake_discord.settle()
        reply = await add_kan(fake_discord, world)
        changed_at = time.monotonic()
        assert "Added **Kolmogorov-Arnold networks**" in reply.text()
        first_session = fake_discord.sessions[0].id
        interactions = [sid for sid, event, _ in fake_discord.events if event == "INTERACTION_CREATE"]
        assert interactions and first_session not in interactions  # the change went through the other process

        async def first_process_answers() -> bool:
            answer = await bot.answerer.ask(KAN_QUESTION, guild_id=world.guild.id)
            return any(s.title.startswith(KAN_TITLE) for s in answer.sources)

        deadline = changed_at + 30
        while not await first_process_answers():
            assert time.monotonic() < deadline, "the first process never picked up the change"
            await asyncio.sleep(0.2)
        picked_up = time.monotonic() - changed_at
        assert picked_up < 15, f"took {picked_up:.1f}s"
        assert bot.kb_status(world.guild.id).version_live == (await bot.services.kb_admin.versions())[world.guild.id]
    finally:
        if second.returncode is None:
            second.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(second.wait(), 60)
            except TimeoutError:
                second.kill()
                await second.wait()
        await first.stop()
    assert second.returncode == 0, log.read_text()[-3000:]
