"""Benchmarks: `python -m bench` runs them all and prints tables; results go in bench/RESULTS.md."""

from __future__ import annotations

import sys
from collections.abc import Callable


def run_alone(run: Callable[[list[tuple[str, str]]], list[str]]) -> None:
    """Run one suite as its own script (``python -m bench.<suite>``): print its rows, exit 1 if it found failures."""
    found: list[tuple[str, str]] = []
    problems = run(found)
    for name, value in found:
        print(f"{name}: {value}")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    raise SystemExit(1 if problems else 0)
