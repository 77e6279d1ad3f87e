"""End-to-end fixtures: a fake Discord per test, and guards that fail a test on broken rules or discord.py errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.e2e.fake_discord import FakeDiscord


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expect_violations: the test inspects fake.violations itself, so leftover violations do not fail it",
    )
    # discord.py imports audioop for voice, which Python 3.11 deprecates; nothing here uses voice.
    config.addinivalue_line("filterwarnings", "ignore:'audioop' is deprecated:DeprecationWarning")


# The fake runs on the test's own event loop, so e2e modules mark their tests
# `pytest.mark.asyncio(loop_scope="function")` (the suite's default loop is the session's).
@pytest_asyncio.fixture(loop_scope="function")
async def fake_discord(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord; the test fails if it leaves violations that it did not consume."""
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        # stop() turns interactions that were never acknowledged into violations, so check afterwards.
        await fake.stop()
        stubborn = await _cancel_leftovers()
    if stubborn:
        pytest.fail("tasks outlived the test and ignored cancellation:\n" + "\n".join(stubborn), pytrace=False)
    if fake.violations and request.node.get_closest_marker("expect_violations") is None:
        listed = "\n".join(f"  - {v}" for v in fake.violations)
        pytest.fail(f"the fake Discord recorded {len(fake.violations)} violation(s):\n{listed}", pytrace=False)


async def _cancel_leftovers(grace: float = 15.0) -> list[str]:
    """Cancel the tasks a test left behind, while its loop still runs; describe any that refuse to end.

    Without this, a task that swallows cancellation hangs the loop's teardown with no clue which task it was.
    """
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in leftovers:
        task.cancel()
    if not leftovers:
        return []
    _, pending = await asyncio.wait(leftovers, timeout=grace)
    described = []
    for task in pending:
        frames = task.get_stack(limit=8)
        where = " <- ".join(
            f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno} {f.f_code.co_name}" for f in frames
        )
        described.append(f"  - {task.get_name()}: {where or task.get_coro()!r}")
    for task in pending:
        # The loop's teardown would wait for these forever; forget them so the failure below is reported instead.
        asyncio.tasks._unregister_task(task)  # type: ignore[attr-defined]
    return described


class DiscordErrorLog(logging.Handler):
    """Collects records at ERROR or above from the ``discord`` loggers (unhandled errors in commands, views, events)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, fragment: str) -> logging.LogRecord:
        """Consume the first record whose message contains ``fragment``: the test caused that error on purpose."""
        for record in self.records:
            if fragment in record.getMessage():
                self.records.remove(record)
                return record
        raise AssertionError(
            f"no discord error log contains {fragment!r}; got {[r.getMessage() for r in self.records]}"
        )

    def verify(self) -> None:
        """Fail the test if any record is left."""
        if not self.records:
            return
        lines = []
        for record in self.records:
            lines.append(f"  - {record.name}: {record.getMessage()}")
            if record.exc_info and record.exc_info[1] is not None:
                lines.append(f"    {type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        pytest.fail("discord.py logged errors during the test:\n" + "\n".join(lines), pytrace=False)


@contextlib.contextmanager
def watching_discord_errors() -> Iterator[DiscordErrorLog]:
    """Collects what ``discord`` loggers log at ERROR or above, and fails the test at the end if any was unexpected."""
    handler = DiscordErrorLog()
    logger = logging.getLogger("discord")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
    handler.verify()


@pytest.fixture(autouse=True)
def discord_errors() -> Iterator[DiscordErrorLog]:
    """Fails the test when a ``discord`` logger logs at ERROR or above; ``discord_errors.expect`` consumes one."""
    with watching_discord_errors() as handler:
        yield handler
