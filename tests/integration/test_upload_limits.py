"""Uploads are limited before they are read (issue 11, repros 9 and 10): alias bombs and huge files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bot.domain.uploads import MAX_FILE_BYTES, parse_uploads
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
# 517 bytes, nine nested levels of aliases: expanded, 9**9 strings ("billion laughs").
BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
).encode()


def _cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(args, {"STUDYBOT_DATA_DIR": str(tmp_path / "data")}, timeout=120)  # type: ignore[no-any-return]


def test_alias_bomb_is_refused_at_once():
    """Repro 9: a billion-laughs upload is one file:line problem, found in well under a second."""
    started = time.perf_counter()
    upload = parse_uploads([("lol.yaml", BOMB)])
    assert time.perf_counter() - started < 1
    assert upload.problems == ["lol.yaml:2: invalid YAML: aliases (*a) are not allowed; write the value out"]


def test_deep_nesting_is_refused():
    """A file nested 100,000 levels deep is a problem, not a RecursionError."""
    upload = parse_uploads([("deep.yaml", b"[" * 100_000)])
    # libyaml stops at its own depth limit first; the pure-Python parser at ours: either is a file:line problem
    assert upload.problems and re.search(
        r"^deep\.yaml:1: invalid YAML: .*(nested more than|nesting depth)", upload.problems[0]
    )


def test_alias_bomb_through_kb_import(tmp_path):
    """Repro 9 end to end: `kb import` of the bomb prints the problem and exits 1, no MemoryError."""
    bomb = tmp_path / "lol.yaml"
    bomb.write_bytes(BOMB)
    proc = _cli(["kb", "import", "--guild", "123", str(bomb)], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "lol.yaml:2: invalid YAML: aliases" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_oversized_upload_is_refused_before_it_is_read(tmp_path):
    """Repro 10: a 1 GB file is refused from its size; the process never holds it (peak memory far below 1 GB)."""
    huge = tmp_path / "huge.md"
    with open(huge, "wb") as fh:
        fh.truncate(1_000_000_000)  # sparse: costs no disk
    # RUSAGE_CHILDREN of this process would include every earlier CLI run of the session (the model loads ~1 GB),
    # so a fresh parent runs the command and reports the peak of its only child.
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], check=False); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(done.returncode)"
    )
    env = {**os.environ, "STUDYBOT_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "bot", "kb", "import", "--guild", "123", str(huge)]
    proc = subprocess.run(
        [sys.executable, "-c", probe, *command],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 1, proc.stderr
    assert f"huge.md:1: the file is 1,000,000,000 bytes; the limit is {MAX_FILE_BYTES:,} bytes" in proc.stdout
    assert peak_kb < 600_000, f"a child peaked at {peak_kb / 1000:.0f} MB"
