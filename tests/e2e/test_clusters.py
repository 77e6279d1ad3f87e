"""Clusters on one PostgreSQL: shards split over bot processes, and daily work done once when processes race."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.storage.tables import qotd_posts
from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.studybot import ROOT, Running, answered, make_settings
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


async def test_a_process_killed_mid_post_leaves_the_next_day_to_the_survivor(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any, pg_cluster: Any
) -> None:
    """`kill -9` on a `studybot run` process while it posts the QOTD: nothing is posted twice, the survivor posts the next day."""
    database = pg_cluster.create_database("t_clusters_kill")
    post = rf"/channels/{world.channel.id}/messages"
    fake_discord.hold("POST", post)  # the dying process's post never completes: it is killed in the middle of it
    index = Path(shipped_service.settings.index_dir)
    dying_index = tmp_path / "dying-index"
    shutil.copytree(index, dying_index)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        # This checkout's code, not whatever the interpreter has installed (an editable install may point elsewhere).
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "STUDYBOT_DISCORD_TOKEN": fake_discord.token,
        "STUDYBOT_DISCORD_API_BASE": fake_discord.rest_base,
        "STUDYBOT_DISCORD_GATEWAY": fake_discord.gateway_url,
        "STUDYBOT_DEV_GUILD_ID": str(world.guild.id),
        "STUDYBOT_DATABASE_URL": database,
        "STUDYBOT_DATA_DIR": str(tmp_path / "dying"),
        "STUDYBOT_INDEX_PATH": str(dying_index),
        "STUDYBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "STUDYBOT_QOTD_CHANNEL_ID": str(world.channel.id),
        "STUDYBOT_QOTD_HOUR": "0",
        "STUDYBOT_SCHEDULER_SECONDS": "0.2",
    }
    log = tmp_path / "dying.log"
    out = log.open("wb")
    dying = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=out, stderr=asyncio.subprocess.STDOUT
    )
    out.close()
    try:
        await fake_discord.wait_for(
            lambda: fake_discord.requests_to("POST", post) or None,
            timeout=120,
            what=f"the question of the day being posted (log: {log})",
        )
        dying.kill()  # SIGKILL: no shutdown code runs, the claim stays and the post never lands
        await dying.wait()
    finally:
        if dying.returncode is None:
            dying.kill()
            await dying.wait()
    fake_discord.release_holds()
    assert dying.returncode == -9
    assert fake_discord.find_messages(contains="Question of the day") == []

    survivor = Running(
        fake_discord,
        make_settings(
            fake_discord,
            world,
            tmp_path / "survivor",
            index,
            database_url=database,
            qotd_channel_id=world.channel.id,
            qotd_hour=0,
        ),
    )
    try:
        bot = await survivor.start()
        daily = bot.services.daily
        [claimed] = await _qotd_rows(bot)  # the dead process's claim stands, and nothing was posted for it
        assert claimed.message_id is None
        day = claimed.day
        daily.clock = lambda: datetime.combine(day, time(12), UTC)  # the survivor's clock on the dead process's day
        claims: list[Any] = []
        claim = daily.claim_qotd

        async def counted(*args: Any, **kwargs: Any) -> Any:
            claims.append(await claim(*args, **kwargs))
            return claims[-1]

        daily.claim_qotd = counted  # type: ignore[method-assign]
        await fake_discord.wait_for(lambda: len(claims) >= 3, timeout=15, what="three ticks of the survivor")
        assert all(c is None for c in claims)  # today was claimed by the dead process: today's post is lost
        assert fake_discord.find_messages(contains="Question of the day") == []

        daily.clock = lambda: datetime.combine(day + timedelta(days=1), time(12), UTC)  # the survivor's next day
        ticked = len(claims)
        posted = await fake_discord.wait_message(lambda m: "Question of the day" in m.text(), timeout=15)
        # The posting tick and later ones, which must claim nothing more.
        await fake_discord.wait_for(lambda: len(claims) >= ticked + 4, timeout=15, what="three more ticks")
        rows = await _qotd_rows(bot)
    finally:
        await survivor.stop()
    assert [m.id for m in fake_discord.find_messages(contains="Question of the day")] == [posted.id]
    assert posted.channel_id == world.channel.id
    next_day = [c for c in claims[ticked:] if c is not None]
    assert [c.day for c in next_day] == [day + timedelta(days=1)]
    assert [(r.day, r.message_id) for r in rows] == [(day, None), (day + timedelta(days=1), posted.id)]


async def _qotd_rows(bot: Any) -> list[Any]:
    async with bot.services.store.engine.connect() as conn:
        return list((await conn.execute(select(qotd_posts).order_by(qotd_posts.c.day))).all())
