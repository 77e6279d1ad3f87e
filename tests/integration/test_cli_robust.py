"""`studybot` as a hostile or unlucky user runs it: invalid bytes, damaged files (issue 11 reproductions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]


def run_bytes(args: list[str | bytes], settings, stdin: bytes | None = None, timeout: int = 300, **env: str):
    dirs = {"STUDYBOT_DATA_DIR": str(settings.data_dir), "STUDYBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    return run_cli(args, {**dirs, **env}, stdin=stdin, text=False, timeout=timeout)


@pytest.fixture(scope="module")
def ready(shipped_service):
    return shipped_service.settings


def test_invalid_utf8_line_does_not_end_the_batch(ready):
    """Repro 1: a line of invalid UTF-8 gets its own row; the lines after it are still answered, exit 0."""
    proc = run_bytes(
        ["ask", "--json"], ready, stdin=b"what is overfitting?\nwhat is \xc3\x28 overfitting\nwhat is dropout?\n"
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    rows = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(rows) == 3
    assert not rows[0]["abstained"] and not rows[2]["abstained"]
    assert "overfitting" in rows[1]["question"]
    assert b"Traceback" not in proc.stderr


def test_invalid_utf8_argument_is_answered(ready):
    """Repro 1: the same bytes as a command-line argument give one JSON answer, not a TypeError."""
    proc = run_bytes(["ask", "--json", b"what is \xc3\x28 overfitting"], ready)
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    row = json.loads(proc.stdout.decode("utf-8"))
    assert "overfitting" in row["question"]
    assert b"Traceback" not in proc.stderr


def test_invalid_utf8_is_never_echoed_raw(ready):
    """Repro 2: bytes that are not UTF-8 never come back raw: the output is valid UTF-8 JSON."""
    proc = run_bytes(["ask", "--json"], ready, stdin=b"\xff\xfe\xfd\n")
    assert proc.returncode == 0
    text = proc.stdout.decode("utf-8")  # raises on raw bytes
    row = json.loads(text)
    assert row["abstained"] and b"\xff" not in proc.stdout


def test_invalid_utf8_under_the_c_locale(ready):
    """Under LC_ALL=C (surrogate-escaped stdin) the batch is answered the same way."""
    proc = run_bytes(["ask", "--json"], ready, stdin=b"what is \xff overfitting?\n", LC_ALL="C", PYTHONUTF8="0")
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert json.loads(proc.stdout.decode("utf-8"))["question"]
