"""Logging set-up: a library that turns its own logger up to DEBUG after set-up still prints nothing below INFO."""

from __future__ import annotations

import logging

import pytest

from bot.logs import setup_logging


@pytest.fixture(autouse=True)
def restore_logging():
    """setup_logging replaces the root handlers: put the test session's back afterwards."""
    root, library = logging.getLogger(), logging.getLogger("bm25s")
    saved = (root.handlers[:], root.level, library.level)
    yield
    root.handlers[:], _, _ = saved
    root.setLevel(saved[1])
    library.setLevel(saved[2])


@pytest.mark.parametrize("quiet", [False, True])
def test_debug_from_a_library_that_sets_its_own_level_is_hidden(capsys, quiet: bool) -> None:
    """bm25s sets its logger to DEBUG on import (after set-up): its DEBUG line must not reach the screen at INFO."""
    setup_logging("INFO", quiet=quiet)
    library = logging.getLogger("bm25s")
    library.setLevel(logging.DEBUG)  # what `import bm25s` does
    library.debug("Building index from tokens")
    library.warning("a real problem")
    err = capsys.readouterr().err
    assert "Building index from tokens" not in err
    assert "a real problem" in err
