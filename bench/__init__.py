"""Benchmarks: `python -m bench` runs them all and prints tables; results go in bench/RESULTS.md."""

from __future__ import annotations

import sys
from collections.abc import Callable


def print_table(rows: list[tuple[str, str]], title: str = "StudyBot benchmarks") -> None:
    """The benchmarks' one output: a two-column table of measures and results."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("result")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=160).print(table)


def run_alone(run: Callable[[list[tuple[str, str]]], list[str]]) -> None:
    """Run one suite as its own script (``python -m bench.<suite>``): print its table, exit 1 if it found failures."""
    found: list[tuple[str, str]] = []
    problems = run(found)
    print_table(found)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    raise SystemExit(1 if problems else 0)
