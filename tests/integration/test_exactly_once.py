"""Scheduled work claimed in the database: several processes (each its own connection pool) race, one wins.

Each "process" here is a separate ``open_services`` with its own engine, so the race goes through the database's
own locking, as it does between machines; the suite runs it on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Services, open_services
from bot.domain.content import KnowledgeBase
from tests.state import FakeClock, settings_for

GUILDS = (900, 901, 902)
LEARNERS = tuple(range(500, 520))
PROCESSES = 4


@pytest.fixture
async def processes(
    db_url: str, tmp_path: Path, clock: FakeClock, shipped_kb: KnowledgeBase
) -> AsyncIterator[list[Services]]:
    opened = [await open_services(settings_for(db_url, tmp_path), clock, kb=shipped_kb) for _ in range(PROCESSES)]
    try:
        yield opened
    finally:
        for services in opened:
            await services.close()


async def test_racing_processes_post_each_question_of_the_day_once(processes: list[Services], clock: FakeClock) -> None:
    """Four processes claim every server's question of the day at once, for three days: one claim per server a day."""
    for _day in range(3):
        claims = await asyncio.gather(
            *(p.daily.claim_qotd(guild, 5, hour=9) for guild in GUILDS for p in processes for _ in range(2))
        )
        won = sorted(c.guild_id for c in claims if c is not None)
        assert won == sorted(GUILDS)
        clock.advance(days=1)


async def test_racing_processes_send_each_reminder_once(processes: list[Services], clock: FakeClock) -> None:
    """Twenty learners due at once, four processes claiming together twice over: each reminder is claimed once."""
    for user_id in LEARNERS:
        await processes[0].learners.set_reminder(user_id, clock.now.hour)
    rounds = await asyncio.gather(*(p.daily.due_reminders() for p in processes for _ in range(2)))
    claimed = sorted(r.learner.user_id for due in rounds for r in due)
    assert claimed == sorted(LEARNERS)
    clock.advance(days=1)
    tomorrow = await asyncio.gather(*(p.daily.due_reminders() for p in processes))
    assert sorted(r.learner.user_id for due in tomorrow for r in due) == sorted(LEARNERS)


async def claim_then_die(services: Services, user_id: int, clock: FakeClock) -> None:
    async with services.store.transaction() as repos:  # the process dies inside the claiming transaction
        await repos.claim_reminder(user_id, clock.now.date())
        raise RuntimeError("killed")


async def test_a_process_that_dies_mid_run_blocks_nothing(processes: list[Services], clock: FakeClock) -> None:
    """A claim rolled back by a crash leaves today open; a claim made but never posted still frees the next day."""
    dying, survivor = processes[0], processes[1]
    await survivor.learners.set_reminder(LEARNERS[0], clock.now.hour)
    with pytest.raises(RuntimeError):
        await claim_then_die(dying, LEARNERS[0], clock)
    assert [r.learner.user_id for r in await survivor.daily.due_reminders()] == [LEARNERS[0]]
    claimed = await dying.daily.claim_qotd(GUILDS[0], 5, hour=9)
    assert claimed is not None
    await dying.close()  # dies after claiming, before posting: today's question is lost, not duplicated
    assert await survivor.daily.claim_qotd(GUILDS[0], 5, hour=9) is None
    clock.advance(days=1)
    assert await survivor.daily.claim_qotd(GUILDS[0], 5, hour=9) is not None
