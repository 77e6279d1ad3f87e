"""Event-loop lag while the real bot answers 50 concurrent /ask through the fake Discord (loopback only).

A sampler sleeps 5 ms in a loop on the bot's event loop; lag is how late each wake-up is. The baseline is the
same sampler while the bot sits idle, in the same run.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = 0.005
CONCURRENT = 50


async def _sample(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        await asyncio.sleep(TICK)
        lags.append((loop.time() - started - TICK) * 1000)


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def _run(rows: list[tuple[str, str]]) -> None:
    from bot.client import run_bot
    from bot.settings import Settings
    from tests.e2e.fake_discord import FakeDiscord

    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as fake:
            world = fake.add_default_world()
            users = [fake.add_user(f"learner{n}") for n in range(CONCURRENT)]
            for user in users:
                fake.add_member(world.guild, user)
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                knowledge_dir=ROOT / "knowledge",
                discord_token=fake.token,
                discord_api_base=fake.rest_base,
                discord_gateway=fake.gateway_url,
                dev_guild_id=world.guild.id,
                ask_rate_limit=1000,
            )
            started: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(run_bot(settings, started=started.set_result))
            bot = await asyncio.wait_for(started, 600)
            await fake.wait_for(bot.is_ready, timeout=60, what="ready")  # type: ignore[attr-defined]
            await fake.wait_for(bot.index_ready, timeout=600, what="index loaded")  # type: ignore[attr-defined]
            idle: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample(stop, idle))
            await asyncio.sleep(2)
            stop.set()
            await sampler
            busy: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample(stop, busy))
            t0 = time.perf_counter()
            handles = await asyncio.gather(
                *(
                    fake.slash(u, world.guild, world.channel, "ask", {"question": f"How do I avoid overfitting? {n}"})
                    for n, u in enumerate(users)
                )
            )
            await asyncio.gather(*(h.wait_message(lambda m: not m.loading, timeout=120) for h in handles))
            elapsed = time.perf_counter() - t0
            stop.set()
            await sampler
            acks = [h.ack_delay or 0.0 for h in handles]
            await bot.close()  # type: ignore[attr-defined]
            await asyncio.wait_for(task, 60)
            rows.append(
                (
                    "Discord: loop lag, idle bot (baseline)",
                    f"p50 {_p(idle, 0.5):.2f} ms · p99 {_p(idle, 0.99):.2f} ms · max {max(idle):.2f} ms",
                )
            )
            verdict = "PASS" if max(busy) < 100 else "FAIL"
            rows.append(
                (
                    f"Discord: loop lag, {CONCURRENT} concurrent /ask",
                    f"p50 {_p(busy, 0.5):.2f} ms · p99 {_p(busy, 0.99):.2f} ms · max {max(busy):.2f} ms · target max < 100 ms: {verdict}",
                )
            )
            rows.append(
                (
                    f"Discord: {CONCURRENT} concurrent /ask",
                    f"all answered in {elapsed:.2f} s · ack p50 {statistics.median(acks) * 1000:.0f} ms · max {max(acks) * 1000:.0f} ms",
                )
            )


def run(rows: list[tuple[str, str]]) -> None:
    asyncio.run(_run(rows))
