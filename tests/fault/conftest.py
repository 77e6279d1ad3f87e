"""The fault suite's report, printed at the end and written to ``fault-report.md`` in pytest's base temp dir."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator

import pytest

OUTCOMES: dict[str, Counter[str]] = defaultdict(Counter)


def record(fault: str, outcome: str) -> None:
    OUTCOMES[fault][outcome] += 1


@pytest.fixture(scope="session", autouse=True)
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if not OUTCOMES:
        return
    lines = ["# Fault report", "", "| fault | trials | outcomes |", "|---|---|---|"]
    for fault, counts in sorted(OUTCOMES.items()):
        shown = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
        lines.append(f"| {fault} | {sum(counts.values())} | {shown} |")
    text = "\n".join(lines) + "\n"
    (tmp_path_factory.getbasetemp() / "fault-report.md").write_text(text)
    print("\n" + text)
