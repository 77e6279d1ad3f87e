"""Run benchmarks and print one table: `make bench` (= `.venv/bin/python -m bench`) runs them all.

`python -m bench discord` measures event-loop lag under 50 concurrent /ask; `python -m bench kb` the time from a
server's new knowledge entry to its first answer; `python -m bench state` runs only the state core's (SQLite and PostgreSQL), `python -m bench retrieval` only
retrieval's, `python -m bench answers` answer quality (old and new composer, dev and held-out), `python -m bench grounding` the generated-answer grounding checker, `python -m bench memory` resident memory against the number of servers with overlays (and the first question after an eviction), `python -m bench coldstart` the time from `studybot run` to IDENTIFY and to the first answer (fresh and warm data folder). Suites are imported only when chosen, so the state run never loads an embedding model.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table

SUITES = ("retrieval", "answers", "state", "discord", "kb", "grounding", "memory", "coldstart")


def main(argv: list[str] | None = None) -> None:
    chosen = (sys.argv[1:] if argv is None else argv) or list(SUITES)
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown:
        raise SystemExit(f"unknown benchmark suite(s): {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows: list[tuple[str, str]] = []
    failures: list[str] = []
    if "retrieval" in chosen:
        from bench import retrieval

        service = retrieval.quality(rows)
        retrieval.latency(service, rows)
        retrieval.cold_start(rows)
        retrieval.rebuild(rows)
    if "answers" in chosen:
        from bench import answers

        answers.main(rows)
    if "state" in chosen:
        from bench import state

        failures += state.run(rows)
    if "discord" in chosen:
        from bench import discord_load

        discord_load.run(rows)
    if "grounding" in chosen:
        from bench import grounding

        grounding.run(rows)
    if "kb" in chosen:
        from bench import kb_publish

        failures += kb_publish.run(rows)
    if "memory" in chosen:
        from bench import memory

        failures += memory.run(rows)
    if "coldstart" in chosen:
        from bench import coldstart

        coldstart.run(rows)
    table = Table(title="StudyBot benchmarks")
    table.add_column("measure")
    table.add_column("result")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=160).print(table)
    if failures:
        # Correctness, not speed: a benchmark that lost an update must not look like a pass.
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
