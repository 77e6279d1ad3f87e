"""The fuzz suite's report: each boundary records how many inputs it tried and how they ended.

The summary is printed at the end of the session and written to ``fuzz-report.md`` in pytest's base temporary
directory, so a CI log shows the figures without anything to download.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

# At least 2,000 generated inputs per boundary (issue 11); FUZZ_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))

OUTCOMES: dict[str, Counter[str]] = defaultdict(Counter)


def record(boundary: str, outcome: str) -> None:
    OUTCOMES[boundary][outcome] += 1


@pytest.fixture(scope="session", autouse=True)
def fuzz_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if not OUTCOMES:
        return
    lines = ["# Fuzz report", "", "| boundary | inputs | outcomes |", "|---|---|---|"]
    for boundary, counts in sorted(OUTCOMES.items()):
        shown = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
        lines.append(f"| {boundary} | {sum(counts.values())} | {shown} |")
    text = "\n".join(lines) + "\n"
    (tmp_path_factory.getbasetemp() / "fuzz-report.md").write_text(text)
    print("\n" + text)
