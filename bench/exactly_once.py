"""Exactly-once scheduling: 2 and 4 bot processes on one PostgreSQL race for the same daily work.

Each process is a real OS process (``python -m bench.exactly_once worker``) with its own engine and pool, as
clusters on different hosts would be. For each simulated day, every process is told to go at once and tries to
claim the question of the day of every one of ``SERVERS`` servers and the reminders of ``LEARNERS`` learners
(twice each, as two scheduler ticks would), through the same ``DailyService`` the bot's loops call. A won claim
is what the bot then posts, so the count of won claims is the count of posts; expected: one per server and one
per learner each day, none twice, none missing.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.settings import Settings

SERVERS = 50
LEARNERS = 200
DAYS = 3
FIRST_GUILD, FIRST_LEARNER, CHANNEL = 10_000, 20_000, 5
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Race:
    processes: int
    qotd_made: int
    qotd_expected: int
    reminders_made: int
    reminders_expected: int
    twice: int  # a server's question or a learner's reminder claimed more than once on one day
    missing: int  # ... or never
    per_process: list[int]  # claims won by each process
    seconds: list[float]  # per day, from "go" to every process's answer

    @property
    def made(self) -> int:
        return self.qotd_made + self.reminders_made

    @property
    def expected(self) -> int:
        return self.qotd_expected + self.reminders_expected


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _settings(url: str, data: Path) -> Settings:

    return Settings(_env_file=None, data_dir=data, knowledge_dir=ROOT / "knowledge", database_url=url)


async def _worker(url: str, data: str) -> None:
    """One racing process: per ``day N`` line on stdin, claim everything once more and print what it won."""
    from bot.app import open_services
    from bot.domain.ports import QotdPost

    clock = _Clock()
    services = await open_services(_settings(url, Path(data)), clock)
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    try:
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            clock.now = START + timedelta(days=int(line.split()[1]))
            guilds = range(FIRST_GUILD, FIRST_GUILD + SERVERS)
            qotd = [services.daily.claim_qotd(g, CHANNEL, hour=0) for g in guilds for _ in range(2)]
            results = await asyncio.gather(*qotd, services.daily.due_reminders(), services.daily.due_reminders())
            posts = [p.guild_id for p in results[: len(qotd)] if isinstance(p, QotdPost)]
            reminders = [r.learner.user_id for due in results[len(qotd) :] if isinstance(due, list) for r in due]
            print(json.dumps({"qotd": posts, "reminders": reminders}), flush=True)
    finally:
        await services.close()


async def _race(url: str, tmp: Path, processes: int) -> Race:
    """Start ``processes`` workers on one database and run the days; count what was claimed."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.exactly_once", "worker", url, str(tmp / f"p{n}"),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        for n in range(processes)
    ]  # fmt: skip
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode().strip()
            if line != "ready":
                raise RuntimeError(f"a worker did not start: {line!r}")
        qotd: Counter[tuple[int, int]] = Counter()
        reminders: Counter[tuple[int, int]] = Counter()
        per_process: list[int] = [0] * processes
        seconds: list[float] = []
        for day in range(DAYS):
            started = time.perf_counter()
            for proc in procs:  # microseconds apart: every process races for the same rows
                assert proc.stdin is not None
                proc.stdin.write(f"day {day}\n".encode())
            await asyncio.gather(*(p.stdin.drain() for p in procs if p.stdin is not None))
            for n, proc in enumerate(procs):
                assert proc.stdout is not None
                won = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
                qotd.update((day, g) for g in won["qotd"])
                reminders.update((day, u) for u in won["reminders"])
                per_process[n] += len(won["qotd"]) + len(won["reminders"])
            seconds.append(time.perf_counter() - started)
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        await asyncio.gather(*(asyncio.wait_for(p.wait(), 60) for p in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    expected_qotd = {(d, g) for d in range(DAYS) for g in range(FIRST_GUILD, FIRST_GUILD + SERVERS)}
    expected_rem = {(d, u) for d in range(DAYS) for u in range(FIRST_LEARNER, FIRST_LEARNER + LEARNERS)}
    return Race(
        processes=processes,
        qotd_made=sum(qotd.values()),
        qotd_expected=len(expected_qotd),
        reminders_made=sum(reminders.values()),
        reminders_expected=len(expected_rem),
        twice=sum(1 for c in (*qotd.values(), *reminders.values()) if c > 1),
        missing=len(expected_qotd - set(qotd)) + len(expected_rem - set(reminders)),
        per_process=per_process,
        seconds=seconds,
    )


async def _seed(url: str, tmp: Path) -> None:
    from bot.app import open_services

    services = await open_services(_settings(url, tmp / "seed"), _Clock())  # also migrates the database
    try:
        for user_id in range(FIRST_LEARNER, FIRST_LEARNER + LEARNERS):
            await services.learners.set_reminder(user_id, START.hour)
    finally:
        await services.close()


def run(rows: list[tuple[str, str]]) -> list[str]:
    """Append one row per process count; return the failures (a post made twice or missing)."""
    from tests.pg import PostgresCluster, postgres_unavailable_reason

    reason = postgres_unavailable_reason()
    if reason is not None:
        rows.append(("exactly-once scheduling", f"skipped: {reason}"))
        return []
    failures: list[str] = []
    cluster = PostgresCluster()
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="studybot-bench-once-") as tmp:
            for processes in (2, 4):
                url = cluster.create_database(f"bench_once_{processes}")
                asyncio.run(_seed(url, Path(tmp)))
                r = asyncio.run(_race(url, Path(tmp), processes))
                rows.append(
                    (
                        f"exactly-once, {processes} racing processes ({SERVERS} servers, {LEARNERS} learners, {DAYS} days)",
                        f"posts made {r.made} / expected {r.expected} (QOTD {r.qotd_made}/{r.qotd_expected},"
                        f" reminders {r.reminders_made}/{r.reminders_expected}) · twice {r.twice} · missing {r.missing}"
                        f" · won per process {r.per_process} · slowest day {max(r.seconds):.2f} s",
                    )
                )
                if r.twice or r.missing or r.made != r.expected:
                    failures.append(
                        f"exactly-once with {processes} processes: {r.made} posts for {r.expected} expected"
                    )
    finally:
        cluster.stop()
    return failures


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(_worker(sys.argv[2], sys.argv[3]))
    else:
        from bench import run_alone

        run_alone(run)
