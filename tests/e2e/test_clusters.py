"""Clusters on one PostgreSQL: shards split over bot processes, and daily work done once when processes race."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.studybot import Running, answered, make_settings
from tests.e2e.test_bot import world

__all__ = ["world"]

pytestmark = [pytest.mark.model, pytest.mark.postgres, pytest.mark.asyncio(loop_scope="function")]


def shard_of(guild_id: int) -> int:
    return (guild_id >> 22) % 2


async def test_two_clusters_each_serve_only_their_shards_servers(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any, pg_cluster: Any
) -> None:
    """Shards 0 and 1 of 2 in two processes: each holds only its servers, and each /ask reaches its shard's process."""
    database = pg_cluster.create_database("t_clusters_split")
    home = shard_of(world.guild.id)
    added = []  # servers are added until one lands on the other shard; all of them exist in the fake Discord
    for n in range(64):
        added.append(fake_discord.add_guild(f"Guild {n}"))
        if shard_of(added[-1].id) != home:
            break
    other = added[-1]
    other_channel = fake_discord.add_channel(other, "general")
    fake_discord.add_member(other, world.user)
    index = Path(shipped_service.settings.index_dir)
    runners = []
    for shard in (0, 1):
        copy = tmp_path / f"index-{shard}"
        shutil.copytree(index, copy)
        settings = make_settings(
            fake_discord,
            world,
            tmp_path / f"cluster-{shard}",
            copy,
            database_url=database,
            shard_count=2,
            shard_ids=str(shard),
        )
        runners.append(Running(fake_discord, settings))
    try:
        bots = [await runner.start() for runner in runners]
        for shard, bot in enumerate(bots):
            assert sorted(bot.shards) == [shard]
            assert {g.id for g in bot.guilds} == {g.id for g in (world.guild, *added) if shard_of(g.id) == shard}
        assert sorted(s.shard for s in fake_discord.sessions if s.live) == [[0, 2], [1, 2]]
        # Only the cluster holding shard 0 registers the commands (they belong to the application, not a shard).
        assert world.guild.id in fake_discord.commands
        asked: list[tuple[int, int | None]] = []  # (the process's shard, the server asked in)
        for shard, bot in enumerate(bots):
            ask = bot.answerer.ask

            async def counted(question: str, *args: Any, _ask: Any = ask, _shard: int = shard, **kw: Any) -> Any:
                asked.append((_shard, kw.get("guild_id")))
                return await _ask(question, *args, **kw)

            bot.answerer.ask = counted  # type: ignore[method-assign]
        for guild, channel in ((world.guild, world.channel), (other, other_channel)):
            handle = await fake_discord.slash(world.user, guild, channel, "ask", {"question": "What is overfitting?"})
            reply = await answered(handle)
            assert "overfitting" in reply.text().lower()
        assert sorted(asked) == sorted((shard_of(g.id), g.id) for g in (world.guild, other))
    finally:
        for runner in runners:
            await runner.stop()


async def test_question_of_the_day_and_reminder_go_out_once_when_two_processes_race(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any, pg_cluster: Any
) -> None:
    """Two processes serving the same server (a rolling deploy) race every 0.2 s: one QOTD and one reminder DM."""
    database = pg_cluster.create_database("t_clusters_race")
    index = Path(shipped_service.settings.index_dir)
    runners = []
    for n in range(2):
        copy = tmp_path / f"index-{n}"
        shutil.copytree(index, copy)
        settings = make_settings(
            fake_discord,
            world,
            tmp_path / f"process-{n}",
            copy,
            database_url=database,
            qotd_channel_id=world.channel.id,
            qotd_hour=24 - 1,  # not yet: the reminder is set up first, then both race for the QOTD
        )
        runners.append(Running(fake_discord, settings))
    try:
        bots = [await runner.start() for runner in runners]
        await bots[0].services.learners.set_reminder(world.other_user.id, datetime.now(UTC).hour)
        for bot in bots:
            bot.settings.qotd_hour = 0  # both processes now find the question of the day due on their next tick
        await fake_discord.wait_message(lambda m: "Question of the day" in m.text(), timeout=15)
        dm = fake_discord.dm_channel(world.other_user)
        await fake_discord.wait_message(lambda m: m.channel_id == dm.id, timeout=15, what="the reminder DM")
        await asyncio.sleep(1.5)  # several ticks of both schedulers
    finally:
        for runner in runners:
            await runner.stop()
    assert len(fake_discord.find_messages(contains="Question of the day")) == 1
    assert len(fake_discord.find_messages(channel=fake_discord.dm_channel(world.other_user))) == 1
