"""Run every benchmark and print one table: `make bench` or `.venv/bin/python -m bench`."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from bench import retrieval


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows: list[tuple[str, str]] = []
    service = retrieval.quality(rows)
    retrieval.latency(service, rows)
    retrieval.cold_start(rows)
    retrieval.rebuild(rows)
    table = Table(title="StudyBot benchmarks")
    table.add_column("measure")
    table.add_column("result")
    for name, value in rows:
        table.add_row(name, value)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
