"""The fuzz suite's report: each boundary records how many inputs it tried and how they ended.

The summary is printed at the end of the session and written to ``fuzz-report.md`` in pytest's base temporary
directory, so a CI log shows the figures without anything to download.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.outcomes import OutcomeReport

# At least 2,000 generated inputs per boundary (issue 11); FUZZ_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))

REPORT = OutcomeReport("Fuzz report", ("boundary", "inputs"), "fuzz-report.md")
record = REPORT.record


@pytest.fixture(scope="session", autouse=True)
def fuzz_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield from REPORT.written(tmp_path_factory)
