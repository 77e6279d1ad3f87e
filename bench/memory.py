"""Resident memory against the number of servers with overlays, and the first question after an eviction.

Each measurement is a fresh child process that loads what ``studybot run`` loads before it answers: discord.py,
the database services (SQLite, migrated), the shipped index with the query encoder (``open_indexes``), then the
servers' overlay indexes (opened from disk, as after a restart), one question asked in each server. Its resident
set (``VmRSS``) is read after a garbage collection. Without a budget every server index stays in memory; with
one, the least recently asked are evicted. The overlays (one short note per server, so each server index is a
full copy of the shipped one plus that note) are built once, before the children run.

Latency: in the child with the budget and the most servers, the first question in an evicted server (its index
read back from disk) against a question in a server whose index is in memory; medians.

Each configuration runs ``repeats`` times (a fresh child each); the tables give the median. Ratios compare with
the same run's shipped-index-alone child. "Flat past the budget" passes when going from the first count of
servers past the budget to the largest adds less resident memory than one server index costs without a budget
(the slope of the unbounded children).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVERS = (0, 10, 30, 100)
BUDGET_MB = 50  # small enough that 30 and 100 servers are past it
REPEATS = 3
LATENCY_RUNS = 20
FIRST_GUILD = 7000


def _overlay(n: int) -> object:
    from bot.domain.ports import KbOverlay
    from index.chunking import Document

    body = (
        f"# Study circle {n}\n\n## When does study circle {n} meet?\n"
        f"Study circle {n} meets every week to read one machine learning paper; members take turns presenting it.\n"
    )
    doc = Document(f"guild-circle-{n}", f"Study circle {n}", f"overlay/circle-{n}.md", body, "soft-skills")
    return KbOverlay(FIRST_GUILD + n, 1, (doc,))


def _settings(data: Path, budget_mb: int | None) -> object:
    from bot.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data,
        knowledge_dir=ROOT / "knowledge",
        index_path=data / "index",
        index_memory_mb=budget_mb or 1_000_000,
    )


def _rss() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in bytes (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def child(servers: int, budget_mb: int | None, data: Path) -> dict[str, object]:
    """One bot-like process: load, open ``servers`` overlays, ask once in each; report memory (and latency)."""
    import bot.client  # noqa: F401  (discord.py and the cogs' imports, as in the bot)
    from bot.app import open_indexes, open_services

    settings = _settings(data, budget_mb)

    async def services() -> None:
        opened = await open_services(settings)  # type: ignore[arg-type]
        await opened.close()

    asyncio.run(services())
    indexes = open_indexes(settings, lambda _msg: None)  # type: ignore[arg-type]
    if budget_mb is None:
        indexes.memory_budget = None
    for n in range(servers):
        overlay = _overlay(n)
        outcome = indexes.load(overlay)  # type: ignore[arg-type]
        assert outcome.action == "opened", outcome
        indexes.service(FIRST_GUILD + n).ask(f"When does study circle {n} meet?")
    gc.collect()
    rss, peak = _rss()
    result: dict[str, object] = {
        "servers": servers,
        "budget_mb": budget_mb,
        "rss": rss,
        "peak": peak,
        "index_bytes": indexes.memory_bytes(),
        "resident": len(indexes.resident()),
    }
    if budget_mb is not None and len(indexes.resident()) < servers:  # past the budget: some server was evicted
        cold, warm, wrong = [], [], 0
        for n in range(LATENCY_RUNS):
            evicted = next(g for g in range(servers) if FIRST_GUILD + g not in indexes.resident())
            started = time.perf_counter()
            answer = indexes.service(FIRST_GUILD + evicted).ask(f"When does study circle {evicted} meet?")
            cold.append(time.perf_counter() - started)
            wrong += not answer.sources or answer.sources[0].doc_id != f"guild-circle-{evicted}"
            started = time.perf_counter()
            indexes.service(FIRST_GUILD + evicted).ask(f"What do members of study circle {evicted} do? {n}")
            warm.append(time.perf_counter() - started)
        result.update(cold=cold, warm=warm, wrong=wrong)
    return result


def _prepare(data: Path, servers: int) -> float:
    """Build the overlays on disk once (seeded from the shipped index: only each note is embedded)."""
    import shutil

    from bot.app import open_indexes
    from bot.retrieval.shipped import IndexService

    shipped = ROOT / "data" / "index"
    settings = _settings(data, None)
    if IndexService(_settings(ROOT / "data", None)).status().built and not (data / "index").exists():  # type: ignore[arg-type]
        shutil.copytree(shipped, data / "index")  # reuse the checkout's built index rather than build it again
    started = time.perf_counter()
    indexes = open_indexes(settings, lambda msg: print(f"  {msg}", file=sys.stderr))  # type: ignore[arg-type]
    indexes.memory_budget = 0  # nothing needs to stay in memory while building
    for n in range(servers):
        indexes.publish(_overlay(n))  # type: ignore[arg-type]
    return time.perf_counter() - started


def _measure(data: Path, servers: int, budget_mb: int | None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", "child", str(servers), str(budget_mb or 0), str(data)],
        cwd=ROOT,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(value: float) -> str:
    return f"{value / 2**20:.0f} MB"


def run(
    rows: list[tuple[str, str]],
    servers: tuple[int, ...] = SERVERS,
    budget_mb: int = BUDGET_MB,
    repeats: int = REPEATS,
) -> list[str]:
    failures: list[str] = []
    counts = tuple(sorted({0, *servers}))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        seconds = _prepare(data, max(counts))
        rows.append((f"memory: build {max(counts)} server overlays (once, seeded)", f"{seconds:.1f} s"))
        runs: dict[tuple[int, int | None], list[dict[str, Any]]] = {}
        for _ in range(repeats):  # round-robin, so a change in the machine's load spreads over every configuration
            for budget in (None, budget_mb):
                for count in counts:
                    if count == 0 and budget is not None:
                        continue  # no server index: the budget changes nothing
                    runs.setdefault((count, budget), []).append(_measure(data, count, budget))
    rss = {key: statistics.median(int(r["rss"]) for r in found) for key, found in runs.items()}
    base = rss[(0, None)]
    rows.append(("memory: children per configuration", f"{repeats} (each RSS below is their median)"))
    for (count, budget), found in runs.items():
        label = "no budget" if budget is None else f"budget {budget} MB"
        last = found[-1]
        rows.append(
            (
                f"memory: RSS, shipped index + {count} servers, {label}",
                f"{_mb(rss[(count, budget)])} · {rss[(count, budget)] / base:.2f}× baseline · "
                f"peak {_mb(statistics.median(int(r['peak']) for r in found))} · "
                f"{last['resident']} in memory ({_mb(last['index_bytes'])} counted)",
            )
        )
    verdict = "PASS" if base < 400 * 2**20 else "FAIL"
    rows.append(("memory: baseline, the shipped index alone (target < 400 MB)", f"{_mb(base)}: {verdict}"))
    if verdict == "FAIL":
        failures.append(f"memory: the shipped index alone holds {_mb(base)} resident")
    unbounded = sorted(c for c in counts if c)
    per_server = (rss[(max(counts), None)] - base) / max(counts)
    counted = int(runs[(max(counts), None)][-1]["index_bytes"]) - int(runs[(0, None)][-1]["index_bytes"])
    rows.append(
        (
            "memory: one server index, no budget (slope)",
            f"{per_server / 2**20:.1f} MB per server · {per_server / (counted / max(counts)):.2f}× what the budget counts",
        )
    )
    past = [c for c in unbounded if runs[(c, budget_mb)][-1]["resident"] < c]  # counts where something was evicted
    if len(past) >= 2:
        first, last_count = past[0], past[-1]
        growth = rss[(last_count, budget_mb)] - rss[(first, budget_mb)]
        free_growth = rss[(last_count, None)] - rss[(first, None)]
        flat = "PASS" if growth < per_server else "FAIL"
        rows.append(
            (
                f"memory: {first} → {last_count} servers under the budget (target: flat)",
                f"{growth / 2**20:+.0f} MB, {growth / free_growth:.3f}× the {free_growth / 2**20:+.0f} MB without one "
                f"(< one index: {flat})",
            )
        )
        if flat == "FAIL":
            failures.append(f"memory: {growth / 2**20:+.0f} MB from {first} to {last_count} servers under the budget")
    timed = runs.get((max(counts), budget_mb), [])
    cold = [t for r in timed for t in r.get("cold", [])]
    warm = [t for r in timed for t in r.get("warm", [])]
    if cold and warm:
        rows.append(
            (
                "memory: first question after an eviction (reopen from disk)",
                f"median {statistics.median(cold) * 1000:.0f} ms · max {max(cold) * 1000:.0f} ms (n={len(cold)}) · "
                f"{statistics.median(cold) / statistics.median(warm):.1f}× baseline",
            )
        )
        rows.append(
            (
                "memory: question in a server already in memory (baseline)",
                f"median {statistics.median(warm) * 1000:.0f} ms · max {max(warm) * 1000:.0f} ms (n={len(warm)})",
            )
        )
    wrong = sum(int(r.get("wrong", 0)) for r in timed)
    if wrong:
        failures.append(f"memory: {wrong} reopened servers answered from the wrong index")
    return failures


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        servers, budget, data = int(sys.argv[2]), int(sys.argv[3]) or None, Path(sys.argv[4])
        print(json.dumps(child(servers, budget, data)))
    else:
        from bench import run_alone

        run_alone(run)
