"""Knowledge files that are too large, unreadable or not files at all (issue 11, repros 3-5), and one bad entry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from bot.domain.content import MAX_KNOWLEDGE_BYTES, fingerprint, load_knowledge
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.embedder import HashingEmbedder
from tests.helpers import small_kb, write_concept

ROOT = Path(__file__).resolve().parents[2]


def _within(seconds: float, work):
    """``work()``'s result, failing (not hanging) if it does not return in time."""
    box: list = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, f"did not return within {seconds}s"
    return box[0]


@pytest.fixture
def kb(tmp_path):
    return small_kb(tmp_path / "knowledge")


def test_oversized_concept_is_refused_with_file_and_line(kb):
    """Repro 3: a 5 MB concept with valid front matter is a file:1 problem naming the limit, not 'all valid'."""
    path = write_concept(kb, "huge", "Huge", "Words about overfitting. " * 210_000)
    assert path.stat().st_size > MAX_KNOWLEDGE_BYTES
    problems = load_knowledge(kb).problems
    assert problems == [
        f"knowledge/concepts/huge.md:1: the file is {path.stat().st_size:,} bytes; "
        f"the limit is {MAX_KNOWLEDGE_BYTES:,} bytes per file"
    ]


def test_unreadable_file_is_a_problem_not_a_traceback(kb, monkeypatch):
    """Repro 4: a PermissionError on one file becomes a file:1 problem; loading and fingerprinting go on."""
    target = str(kb / "concepts" / "overfitting.md")
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if str(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    kb_loaded = load_knowledge(kb)
    assert kb_loaded.problems == ["knowledge/concepts/overfitting.md:1: cannot read: Permission denied"]
    assert "concept-gradient-descent" in kb_loaded.entries
    assert fingerprint(kb)  # no exception


@pytest.mark.skipif(not Path("/usr/bin/setpriv").exists() or os.geteuid() != 0, reason="needs root and setpriv")
def test_unreadable_file_as_a_non_root_user():
    """Repro 4 for real: as user nobody, a chmod 000 concept is a problem for `kb validate` and `ask` (no traceback)."""
    base = Path(tempfile.mkdtemp(prefix="studybot-nobody-"))
    try:
        kb = small_kb(base / "knowledge")
        for p in [base, *base.rglob("*")]:
            p.chmod(0o777 if p.is_dir() else 0o644)
        (kb / "concepts" / "overfitting.md").chmod(0)
        env = {**os.environ, "STUDYBOT_KNOWLEDGE_DIR": str(kb), "STUDYBOT_DATA_DIR": str(base / "data")}
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "bot"]
        validate = subprocess.run(
            [*nobody, "kb", "validate"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False
        )
        assert validate.returncode == 1, validate.stderr
        assert "concepts/overfitting.md:1: cannot read: Permission denied" in validate.stdout
        assert "Traceback" not in validate.stderr
    finally:
        (base / "knowledge" / "concepts" / "overfitting.md").chmod(0o644)
        shutil.rmtree(base, ignore_errors=True)


def test_fifo_is_skipped_without_blocking(kb):
    """Repro 5: a FIFO named like a concept is reported as not a regular file, and validation returns."""
    os.mkfifo(kb / "concepts" / "x.md")
    problems = _within(10, lambda: load_knowledge(kb).problems)
    assert problems == ["knowledge/concepts/x.md:1: not a regular file (a FIFO, device or socket); skipped"]
    assert _within(10, lambda: fingerprint(kb))


def test_fifo_does_not_hang_kb_validate(kb):
    """Repro 5 end to end: `studybot kb validate` returns (exit 1) with a FIFO in concepts/."""
    os.mkfifo(kb / "concepts" / "x.md")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "validate"],
        capture_output=True,
        text=True,
        env={**os.environ, "STUDYBOT_KNOWLEDGE_DIR": str(kb)},
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "concepts/x.md:1: not a regular file" in proc.stdout


def _service(kb: Path, data: Path) -> IndexService:
    settings = Settings(_env_file=None, data_dir=data, knowledge_dir=kb)  # type: ignore[call-arg]
    return IndexService(settings, embedder_factory=lambda n: HashingEmbedder())


def test_bad_entry_keeps_the_last_good_index_answering(kb, tmp_path):
    """One bad concept no longer stops answers: ensure() serves the last good build and warns with file:line."""
    service = _service(kb, tmp_path / "data")
    good = service.ensure(lambda m: None)
    (kb / "concepts" / "broken.md").write_text("no front matter here\n")
    messages: list[str] = []
    loaded = service.ensure(messages.append)
    assert loaded.build_id == good.build_id
    assert any("concepts/broken.md:1" in m and "last good index" in m for m in messages)


def test_bad_entry_with_no_index_yet_indexes_the_valid_files(kb, tmp_path):
    """With no index at all, the valid files are indexed and the bad one named in a warning."""
    (kb / "concepts" / "broken.md").write_text("no front matter here\n")
    messages: list[str] = []
    loaded = _service(kb, tmp_path / "data").ensure(messages.append)
    assert {c.doc_id for c in loaded.chunks} >= {"concept-overfitting", "concept-gradient-descent"}
    assert loaded.manifest["problems"] and any("broken.md" in m for m in messages)
