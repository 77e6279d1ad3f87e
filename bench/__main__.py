"""Run benchmarks and print one table: `make bench` (= `.venv/bin/python -m bench`) runs them all.

`python -m bench discord` measures event-loop lag under 50 concurrent /ask; `python -m bench kb` the time from a
server's new knowledge entry to its first answer; `python -m bench notify` the same across two processes on
PostgreSQL, LISTEN/NOTIFY against polling; `python -m bench once` exactly-once daily work under 2 and 4 racing
processes; `python -m bench state` runs only the state core's (SQLite and PostgreSQL), `python -m bench retrieval` only
retrieval's, `python -m bench answers` answer quality (old and new composer, dev and held-out), `python -m bench grounding` the generated-answer grounding checker, `python -m bench memory` resident memory against the number of servers with overlays (and the first question after an eviction), `python -m bench coldstart` the time from `studybot run` to IDENTIFY and to the first answer (fresh and warm data folder). Suites are imported only when chosen, so the state run never loads an embedding model.
`python -m bench --help` lists the options (server counts, repeats and runs of `memory` and `coldstart`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from bench import print_table

SUITES = ("retrieval", "answers", "state", "discord", "kb", "grounding", "notify", "once", "memory", "coldstart")


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if any(c < 0 for c in counts) or len({c for c in counts if c}) < 2:
        raise argparse.ArgumentTypeError("expected at least two different positive server counts, e.g. 10,30,100")
    return counts


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a number of at least {low}, got {value}")
        return value

    return parse


_positive = _at_least(1)


def parser() -> argparse.ArgumentParser:
    from bench import memory

    args = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run StudyBot's benchmarks and print one table (no suite named: all of them).",
    )
    args.add_argument("suites", nargs="*", metavar="SUITE", help=f"any of: {', '.join(SUITES)}")
    group = args.add_argument_group("memory")
    group.add_argument(
        "--memory-servers",
        type=_counts,
        default=memory.SERVERS,
        metavar="N,N,...",
        help="server counts with overlays (0, the shipped index alone, is always measured; "
        f"default {','.join(map(str, memory.SERVERS))})",
    )
    group.add_argument(
        "--memory-budget-mb",
        type=_positive,
        default=memory.BUDGET_MB,
        metavar="MB",
        help=f"STUDYBOT_INDEX_MEMORY_MB for the bounded children (default {memory.BUDGET_MB})",
    )
    group.add_argument(
        "--memory-repeats",
        type=_positive,
        default=memory.REPEATS,
        metavar="N",
        help=f"children per configuration; the median is reported (default {memory.REPEATS})",
    )
    group = args.add_argument_group("coldstart")
    group.add_argument(
        "--coldstart-fresh-runs",
        type=_positive,
        default=1,
        metavar="N",
        help="starts on a new data folder, each a full index build of minutes (default 1)",
    )
    group.add_argument(
        "--coldstart-warm-runs",
        type=_at_least(0),
        default=3,
        metavar="N",
        help="starts on the first fresh run's folder (default 3)",
    )
    return args


def main(argv: list[str] | None = None) -> None:
    options = parser().parse_args(sys.argv[1:] if argv is None else argv)
    chosen = options.suites or list(SUITES)
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
    if "notify" in chosen:
        from bench import kb_notify

        failures += kb_notify.run(rows)
    if "once" in chosen:
        from bench import exactly_once

        failures += exactly_once.run(rows)
    if "memory" in chosen:
        from bench import memory

        failures += memory.run(rows, options.memory_servers, options.memory_budget_mb, options.memory_repeats)
    if "coldstart" in chosen:
        from bench import coldstart

        coldstart.run(rows, options.coldstart_fresh_runs, options.coldstart_warm_runs)
    print_table(rows)
    if failures:
        # Correctness, not speed: a benchmark that lost an update must not look like a pass.
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
