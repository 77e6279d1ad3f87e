"""State-core benchmarks: answer throughput, session start over a large history, and no lost updates.

Run: .venv/bin/python -m bench state
Each backend gets fresh databases: SQLite files in a temporary directory, and databases in a throwaway
PostgreSQL cluster on loopback (tests/pg.py), skipped with the reason when PostgreSQL is missing. Every ratio
compares against a baseline measured in the same run, on the same backend, because these machines are noisy.
Every timed loop is bounded by a count and by LOOP_BUDGET_S.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import quiz_bank
from bot.domain.content import load_knowledge
from bot.domain.quiz import QuizBank, QuizService, SessionView
from bot.domain.streaks import local_day
from bot.storage import SqlStore, open_store
from bot.storage.tables import answers, cards, learners, quiz_sessions, streak_events

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday; clocks only move forward from here

LOOP_BUDGET_S = 20.0  # a slow machine reports fewer samples (n=...) rather than blowing the 3-minute budget
PER_SESSION = 5  # QuizService's default session length
SEQUENTIAL_LEARNERS = 40
CONCURRENT_LEARNERS = 50
CONCURRENT_ROUNDS = 3
HISTORY_LEARNERS = 10_000
SMALL_HISTORY_LEARNERS = 100  # the baseline database: same history per learner, 1% of the learners
START_ROUNDS = 3
STARTS_PER_ROUND = 100
WARM_UP = 10
VETERANS = 10  # their start ranks every card by retrievability, the slowest path; a few suffice
SEED_BATCH = 5_000
TARGET_P95_MS = 20.0  # issue target: starting a session with 10,000 learners' histories, SQLite
TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney")

# A one-row table outside the schema: the cheapest write transaction the backend can do.
_probe_metadata = MetaData()
probe = Table("bench_probe", _probe_metadata, Column("id", Integer, primary_key=True), Column("v", Integer))

Rows = list[tuple[str, str]]
Connect = Callable[[str], Awaitable[SqlStore]]


@dataclass
class Clock:
    """One clock shared by every task: concurrent answers must all land on the same learner day."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def next_day(self) -> None:
        self.now += timedelta(days=1)


def _ms(seconds: list[float]) -> list[float]:
    return [s * 1000 for s in seconds]


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _lat(ms: list[float]) -> str:
    return f"p50 {statistics.median(ms):.2f} ms · p95 {_p(ms, 95):.2f} ms"


def _ratio(num: list[float], den: list[float]) -> str:
    return f"p50 {statistics.median(num) / statistics.median(den):.2f}× · p95 {_p(num, 95) / _p(den, 95):.2f}×"


def load_bank() -> QuizBank:
    return quiz_bank(load_knowledge(ROOT / "knowledge"))


# ----------------------------------------------------------------------------------------------------------
# Answer throughput


async def _timed(call: Awaitable[Any], sink: list[float]) -> Any:
    t = time.perf_counter()
    result = await call
    sink.append(time.perf_counter() - t)
    return result


async def bare_inserts(engine: AsyncEngine, count: int, sink: list[float]) -> None:
    async def one() -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(probe).values(v=1))

    for _ in range(count):
        await _timed(one(), sink)


async def answer_session(quiz: QuizService, view: SessionView, rng: random.Random, sink: list[float]) -> None:
    """One learner works through a session in order, right about 70% of the time, at a human-ish pace."""
    user = view.session.user_id
    for position, item_id in enumerate(view.session.item_ids):
        item = quiz.bank.items[item_id]
        choice = item.answer if rng.random() < 0.7 else (item.answer + 1) % 4
        elapsed = timedelta(seconds=rng.uniform(4, 60))
        feedback = await _timed(quiz.submit(view.id, position, choice, user, elapsed), sink)
        assert not feedback.repeated


async def start_sessions(quiz: QuizService, users: range) -> list[SessionView]:
    views = [await quiz.start_daily(u, name=f"bench {u}") for u in users]
    assert not any(v.resumed for v in views)
    return views


async def answering(label: str, connect: Connect, bank: QuizBank, rows: Rows, failures: list[str]) -> None:
    store = await connect("answers")
    try:
        async with store.engine.begin() as conn:
            await conn.run_sync(_probe_metadata.create_all)
        clock = Clock()
        quiz = QuizService(store, bank, clock)
        rng = random.Random(7)
        deadline = time.perf_counter() + LOOP_BUDGET_S

        # Sequential: one learner at a time, so the latency is the transaction's own. Each session alternates
        # with as many bare inserts, so a noisy spell on the machine hits the answers and their baseline alike.
        views = await start_sessions(quiz, range(1, 1 + SEQUENTIAL_LEARNERS))
        await answer_session(quiz, views[0], rng, [])  # warm-up: compiled-statement cache, FSRS
        await bare_inserts(store.engine, WARM_UP, [])
        seq_s: list[float] = []
        insert_s: list[float] = []
        for view in views[1:]:
            await answer_session(quiz, view, rng, seq_s)
            await bare_inserts(store.engine, PER_SESSION, insert_s)
            if time.perf_counter() > deadline:
                break

        # 50 learners answering at once, a new day (so a new session each) every round; each round is paired
        # with one of bare inserts from 50 tasks: what the pool and the backend allow with nothing else to do.
        conc_s: list[float] = []
        conc_rates, conc_insert_rates = [], []
        deadline = time.perf_counter() + LOOP_BUDGET_S
        for _ in range(CONCURRENT_ROUNDS):
            clock.next_day()
            views = await start_sessions(quiz, range(1001, 1001 + CONCURRENT_LEARNERS))
            before = len(conc_s)
            t = time.perf_counter()
            await asyncio.gather(*(answer_session(quiz, v, random.Random(v.id), conc_s) for v in views))
            conc_rates.append((len(conc_s) - before) / (time.perf_counter() - t))
            t = time.perf_counter()
            await asyncio.gather(*(bare_inserts(store.engine, PER_SESSION, []) for _ in range(CONCURRENT_LEARNERS)))
            conc_insert_rates.append(CONCURRENT_LEARNERS * PER_SESSION / (time.perf_counter() - t))
            if time.perf_counter() > deadline:
                break

        # The harshest case for lost updates: every answer of every learner at once, plus a double click.
        clock.next_day()
        burst_rate = await burst(quiz, range(2001, 2001 + CONCURRENT_LEARNERS), failures, label)

        insert_ms, seq_ms, conc_ms = _ms(insert_s), _ms(seq_s), _ms(conc_s)
        insert_rate, seq_rate = len(insert_s) / sum(insert_s), len(seq_s) / sum(seq_s)
        conc_rate, conc_insert_rate = statistics.median(conc_rates), statistics.median(conc_insert_rates)
        rows += [
            (
                f"{label}: bare INSERT, one row per transaction",
                f"{_lat(insert_ms)} · {insert_rate:,.0f}/s (n={len(insert_ms)})",
            ),
            (f"{label}: answer, sequential", f"{_lat(seq_ms)} · {seq_rate:,.0f} answers/s (n={len(seq_ms)})"),
            (f"{label}: answer / bare INSERT (sequential)", _ratio(seq_ms, insert_ms)),
            (
                f"{label}: bare INSERT, {CONCURRENT_LEARNERS} concurrent tasks",
                f"{conc_insert_rate:,.0f}/s (median of {len(conc_insert_rates)} rounds)",
            ),
            (
                f"{label}: answer, {CONCURRENT_LEARNERS} concurrent learners",
                f"{conc_rate:,.0f} answers/s (median of {len(conc_rates)} rounds) · per answer {_lat(conc_ms)} "
                f"(n={len(conc_ms)})",
            ),
            (
                f"{label}: concurrent answer rate vs baselines",
                f"{conc_rate / seq_rate:.2f}× sequential answers/s · "
                f"{conc_rate / conc_insert_rate:.2f}× concurrent bare INSERT/s",
            ),
            (
                f"{label}: burst ({CONCURRENT_LEARNERS} learners × all {PER_SESSION} answers + a double click)",
                f"{burst_rate:,.0f} answers/s",
            ),
        ]
        problems = await verify(store.engine)
        if problems:
            failures += [f"{label}: {p}" for p in problems]
            rows.append((f"{label}: lost-update check", "FAILED: " + "; ".join(problems)))
        else:
            rows.append((f"{label}: lost-update check", "verified: no lost updates " + await _census(store.engine)))
    finally:
        await store.close()


async def burst(quiz: QuizService, users: range, failures: list[str], label: str) -> float:
    """Every position of every session, and position 0 twice, submitted at the same moment.

    Exactly one of the two position-0 answers must report ``repeated``, and exactly one answer per session
    must carry the summary (the one that saw all the others): a lost update shows up as none or two.
    """
    views = await start_sessions(quiz, users)
    calls = []
    for view in views:
        user, items = view.session.user_id, view.session.item_ids
        choices = [quiz.bank.items[i].answer for i in items]
        calls += [quiz.submit(view.id, p, choices[p], user) for p in range(len(items))]
        calls.append(quiz.submit(view.id, 0, choices[0], user))
    t = time.perf_counter()
    results = await asyncio.gather(*calls)
    rate = sum(len(v.session.item_ids) for v in views) / (time.perf_counter() - t)
    repeated = Counter(f.question.session_id for f in results if f.repeated)
    summaries = Counter(f.question.session_id for f in results if f.summary is not None)
    for view in views:
        if repeated[view.id] != 1 or summaries[view.id] != 1:
            failures.append(
                f"{label}: burst session {view.id}: {repeated[view.id]} repeated, {summaries[view.id]} summaries"
            )
    return rate


async def verify(engine: AsyncEngine) -> list[str]:
    """Recount everything from the answers table; the answers database holds only benchmark learners."""
    problems = []
    async with engine.connect() as conn:
        sessions = (await conn.execute(select(quiz_sessions))).all()
        answer_rows = (await conn.execute(select(answers))).all()
        card_rows = {(r.user_id, r.item_id): r for r in await conn.execute(select(cards))}
        events = Counter(
            r.user_id
            for r in await conn.execute(select(streak_events.c.user_id).where(streak_events.c.kind == "practice"))
        )
    expected = sum(len(s.item_ids) for s in sessions)
    if len(answer_rows) != expected:
        problems.append(f"{len(answer_rows)} answers stored, {expected} expected")
    per_session = Counter(a.session_id for a in answer_rows)
    short = [s.id for s in sessions if per_session[s.id] != len(s.item_ids)]
    if short:
        problems.append(f"{len(short)} sessions with missing answers")
    unfinished = [s.id for s in sessions if s.finished_at is None]
    if unfinished:
        problems.append(f"{len(unfinished)} sessions not finished")
    reps = Counter((a.user_id, a.item_id) for a in answer_rows)
    right = Counter((a.user_id, a.item_id) for a in answer_rows if a.correct)
    wrong_cards = [k for k in reps.keys() | card_rows.keys() if k not in card_rows or card_rows[k].reps != reps[k]]
    wrong_cards += [k for k in card_rows if card_rows[k].correct != right[k]]
    if wrong_cards:
        problems.append(f"{len(set(wrong_cards))} cards whose reps or correct count disagree with the answers")
    finished = Counter(s.user_id for s in sessions if s.finished_at is not None and s.kind == "daily")
    if finished != events:
        problems.append(f"streak events {sum(events.values())} ≠ finished daily sessions {sum(finished.values())}")
    return problems


async def _census(engine: AsyncEngine) -> str:
    async with engine.connect() as conn:
        counts = {
            t.name: (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (answers, quiz_sessions, cards, streak_events)
        }
    return (
        f"({counts['answers']:,} answers = Σ session lengths, {counts['quiz_sessions']:,} sessions all finished, "
        f"{counts['cards']:,} cards' reps = their answers, {counts['streak_events']:,} streak events = finished sessions)"
    )


# ----------------------------------------------------------------------------------------------------------
# Session start over a large history


def history(bank: QuizBank, count: int, now: datetime, seed: int) -> dict[Table, list[dict[str, Any]]]:
    """Two months of use per learner: 20–40 reviewed cards (some due), three finished sessions, three streak days."""
    rng = random.Random(seed)
    item_ids = sorted(bank.items)
    out: dict[Table, list[dict[str, Any]]] = {t: [] for t in (learners, cards, quiz_sessions, answers, streak_events)}
    for user in range(1, count + 1):
        tz, hour = rng.choice(TIMEZONES), rng.choice((0, 0, 4))
        out[learners].append(
            {
                "user_id": user,
                "name": f"learner {user}",
                "timezone": tz,
                "day_start_hour": hour,
                "leaderboard_hidden": False,
                "reminder_hour": None,
                "last_reminder_day": None,
                "created_at": now - timedelta(days=60),
            }
        )
        practised = rng.sample(item_ids, rng.randint(20, 40))
        for item in practised:
            last = now - timedelta(days=rng.randint(1, 30), minutes=rng.randint(0, 600))
            stability = rng.uniform(0.5, 40)
            reps = rng.randint(1, 4)
            out[cards].append(
                {
                    "user_id": user,
                    "item_id": item,
                    "state": 2,  # fsrs.State.Review
                    "step": None,
                    "stability": stability,
                    "difficulty": rng.uniform(1, 10),
                    "due": last + timedelta(days=stability),
                    "last_review": last,
                    "reps": reps,
                    "correct": rng.randint(0, reps),
                }
            )
        for days_ago in (1, 2, 3):
            created = now - timedelta(days=days_ago, minutes=rng.randint(0, 300))
            session_id = f"h{user:07d}{days_ago}"
            items = rng.sample(practised, PER_SESSION)
            finished = created + timedelta(minutes=3)
            out[quiz_sessions].append(
                {
                    "id": session_id,
                    "user_id": user,
                    "guild_id": 1 + user % 20,
                    "kind": "daily",
                    "local_day": local_day(created, tz, hour),
                    "item_ids": items,
                    "created_at": created,
                    "finished_at": finished,
                }
            )
            for position, item in enumerate(items):
                correct = rng.random() < 0.7
                out[answers].append(
                    {
                        "session_id": session_id,
                        "position": position,
                        "user_id": user,
                        "guild_id": 1 + user % 20,
                        "item_id": item,
                        "choice": bank.items[item].answer if correct else (bank.items[item].answer + 1) % 4,
                        "correct": correct,
                        "points": bank.items[item].difficulty if correct else 0,
                        "rating": 3 if correct else 1,
                        "elapsed_ms": rng.randint(4_000, 60_000),
                        "answered_at": created + timedelta(seconds=30 * (position + 1)),
                    }
                )
            out[streak_events].append(
                {"user_id": user, "kind": "practice", "at": finished, "timezone": tz, "day_start_hour": hour}
            )
    return out


def add_veterans(data: dict[Table, list[dict[str, Any]]], bank: QuizBank, users: range, now: datetime) -> None:
    """Learners who have seen every item and have nothing due: start_daily falls back to the weakest memories."""
    rng = random.Random(users.start)
    for user in users:
        data[learners].append(
            {
                "user_id": user,
                "name": f"veteran {user}",
                "timezone": "UTC",
                "day_start_hour": 0,
                "leaderboard_hidden": False,
                "reminder_hour": None,
                "last_reminder_day": None,
                "created_at": now - timedelta(days=200),
            }
        )
        for item in bank.items:
            last = now - timedelta(days=rng.randint(1, 10))
            data[cards].append(
                {
                    "user_id": user,
                    "item_id": item,
                    "state": 2,
                    "step": None,
                    "stability": rng.uniform(20, 60),
                    "difficulty": rng.uniform(1, 10),
                    "due": now + timedelta(days=rng.randint(START_ROUNDS + 2, 40)),  # still not due on the last day
                    "last_review": last,
                    "reps": 3,
                    "correct": 2,
                }
            )


async def seed(store: SqlStore, data: dict[Table, list[dict[str, Any]]]) -> float:
    """Bulk inserts straight into the tables, parents first; the service would take minutes for this."""
    t = time.perf_counter()
    async with store.engine.begin() as conn:
        for table, values in data.items():
            for i in range(0, len(values), SEED_BATCH):
                await conn.execute(insert(table), values[i : i + SEED_BATCH])
    if store.backend == "postgresql":
        async with store.engine.begin() as conn:
            # Autovacuum would analyse these tables soon after a real load; do it now so plans are the steady ones.
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - t


async def pk_select(engine: AsyncEngine, user: int) -> None:
    async with engine.begin() as conn:
        (await conn.execute(select(learners).where(learners.c.user_id == user))).one()


async def session_start(label: str, connect: Connect, bank: QuizBank, rows: Rows) -> None:
    big, small = await connect("history_big"), await connect("history_small")
    try:
        t = time.perf_counter()
        big_data = history(bank, HISTORY_LEARNERS, START, seed=1)
        veterans = range(HISTORY_LEARNERS + 1, HISTORY_LEARNERS + 1 + VETERANS)
        add_veterans(big_data, bank, veterans, START)
        small_data = history(bank, SMALL_HISTORY_LEARNERS, START, seed=2)
        generate_s = time.perf_counter() - t
        seed_s = await seed(big, big_data)
        await seed(small, small_data)
        sizes = " · ".join(f"{len(v):,} {t.name}" for t, v in big_data.items())
        rows.append(
            (
                f"{label}: history seeded (bulk INSERT)",
                f"{sizes} (with {VETERANS} veterans) in {seed_s:.1f} s (+{generate_s:.1f} s to generate)",
            )
        )

        clock = Clock()
        big_quiz, small_quiz = QuizService(big, bank, clock), QuizService(small, bank, clock)
        # Distinct learners on the big database, so every call plans and inserts a new session.
        sample = random.Random(3).sample(range(1, HISTORY_LEARNERS + 1), START_ROUNDS * STARTS_PER_ROUND + WARM_UP)
        for user in sample[:WARM_UP]:
            await big_quiz.start_daily(user)
            await pk_select(big.engine, user)
        for user in range(1, WARM_UP + 1):
            await small_quiz.start_daily(user)
        big_s: list[float] = []
        small_s: list[float] = []
        pk_s: list[float] = []
        deadline = time.perf_counter() + LOOP_BUDGET_S
        # Rounds interleave the three measures, so a noisy spell hits all of them. The small database's learners
        # start again each round, on the next day (advancing the clock), so those calls create sessions too.
        for round_ in range(START_ROUNDS):
            clock.next_day()
            users = sample[WARM_UP + round_ * STARTS_PER_ROUND :][:STARTS_PER_ROUND]
            for user in users:
                view = await _timed(big_quiz.start_daily(user), big_s)
                assert not view.resumed
            for user in range(1, min(STARTS_PER_ROUND, SMALL_HISTORY_LEARNERS) + 1):
                view = await _timed(small_quiz.start_daily(user), small_s)
                assert not view.resumed
            for user in users:
                await _timed(pk_select(big.engine, user), pk_s)
            if time.perf_counter() > deadline:
                break
        veteran_s: list[float] = []
        for user in veterans:
            view = await _timed(big_quiz.start_daily(user), veteran_s)
            assert not view.resumed
        big_ms, small_ms, pk_ms, veteran_ms = _ms(big_s), _ms(small_s), _ms(pk_s), _ms(veteran_s)
        verdict = "PASS" if _p(big_ms, 95) < TARGET_P95_MS else "FAIL"
        target = f" · target p95 < {TARGET_P95_MS:.0f} ms: {verdict}" if label == "SQLite" else ""
        rows += [
            (f"{label}: start_daily, {HISTORY_LEARNERS:,} learners", f"{_lat(big_ms)} (n={len(big_ms)}){target}"),
            (f"{label}: start_daily, {SMALL_HISTORY_LEARNERS:,} learners", f"{_lat(small_ms)} (n={len(small_ms)})"),
            (
                f"{label}: primary-key SELECT in a transaction, {HISTORY_LEARNERS:,} learners",
                f"{_lat(pk_ms)} (n={len(pk_ms)})",
            ),
            (
                f"{label}: start_daily {HISTORY_LEARNERS:,} / {SMALL_HISTORY_LEARNERS:,} learners",
                _ratio(big_ms, small_ms),
            ),
            (f"{label}: start_daily / primary-key SELECT ({HISTORY_LEARNERS:,} learners)", _ratio(big_ms, pk_ms)),
            (
                f"{label}: start_daily, a veteran (all {len(bank)} items seen, none due)",
                f"{_lat(veteran_ms)} (n={len(veteran_ms)}) · "
                f"{statistics.median(veteran_ms) / statistics.median(big_ms):.0f}× a typical learner's p50",
            ),
        ]
    finally:
        await big.close()
        await small.close()


# ----------------------------------------------------------------------------------------------------------


async def backend(label: str, url_for: Callable[[str], str], bank: QuizBank, rows: Rows, failures: list[str]) -> None:
    async def connect(name: str) -> SqlStore:
        return await open_store(url_for(name))

    await answering(label, connect, bank, rows, failures)
    await session_start(label, connect, bank, rows)


def run(rows: Rows) -> list[str]:
    """Append the state rows for SQLite, then PostgreSQL; return correctness failures (the caller exits non-zero)."""
    from tests.pg import PostgresCluster, postgres_unavailable_reason

    bank = load_bank()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="studybot-bench-") as tmp:
        asyncio.run(backend("SQLite", lambda name: f"sqlite+aiosqlite:///{tmp}/{name}.db", bank, rows, failures))
    reason = postgres_unavailable_reason()
    if reason is not None:
        rows.append(("PostgreSQL", f"skipped: {reason}"))
        return failures
    cluster = PostgresCluster()
    try:
        cluster.start()
    except RuntimeError as exc:
        rows.append(("PostgreSQL", f"skipped: the throwaway cluster did not start: {str(exc).splitlines()[0]}"))
        return failures
    try:
        asyncio.run(backend("PostgreSQL", cluster.create_database, bank, rows, failures))
    finally:
        cluster.stop()
    return failures
