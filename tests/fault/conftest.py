"""The fault suite's report, printed at the end and written to ``fault-report.md`` in pytest's base temp dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outcomes import OutcomeReport

REPORT = OutcomeReport("Fault report", ("fault", "trials"), "fault-report.md")
record = REPORT.record


@pytest.fixture(scope="session", autouse=True)
def fault_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield from REPORT.written(tmp_path_factory)
