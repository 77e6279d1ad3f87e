"""The fuzz and fault suites' reports: each trial records how it ended, and the session prints a table of them.

The table is also written to a file in pytest's base temporary directory, so a CI log shows the figures
without anything to download.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest


class OutcomeReport:
    def __init__(self, title: str, columns: tuple[str, str], filename: str) -> None:
        self.title, self.columns, self.filename = title, columns, filename
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)

    def record(self, name: str, outcome: str) -> None:
        self.outcomes[name][outcome] += 1

    def text(self) -> str:
        lines = [f"# {self.title}", "", f"| {self.columns[0]} | {self.columns[1]} | outcomes |", "|---|---|---|"]
        for name, counts in sorted(self.outcomes.items()):
            shown = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
            lines.append(f"| {name} | {sum(counts.values())} | {shown} |")
        return "\n".join(lines) + "\n"

    def written(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
        """The body of a session fixture: after the session, print the table and write it to ``filename``."""
        yield
        if not self.outcomes:
            return
        text = self.text()
        (tmp_path_factory.getbasetemp() / self.filename).write_text(text)
        print("\n" + text)
