"""Index faults: a build killed at random points, and every file of a build damaged in turn."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.store import IndexCorrupt, IndexStore
from tests.fault.conftest import record
from tests.helpers import small_kb, write_concept

ROOT = Path(__file__).resolve().parents[2]
MODEL = "test/hashing"
BUILDER = """
import sys, time
from bot.domain.content import load_knowledge
from index.chunking import chunk_document
from index.embedder import HashingEmbedder
from index.store import IndexStore

class Slow(HashingEmbedder):
    def encode(self, texts):
        time.sleep(0.002 * len(texts))  # stretch the build, so a kill lands anywhere in it
        return super().encode(texts)

kb, root = sys.argv[1], sys.argv[2]
chunks = [c for d in load_knowledge(__import__("pathlib").Path(kb)).documents() for c in chunk_document(d)]
while True:
    IndexStore(__import__("pathlib").Path(root)).build(chunks, lambda n: Slow(), "test/hashing", force=True)
"""


def test_kill_during_builds_never_leaves_a_broken_index(tmp_path):
    """SIGKILL at 20 random moments of back-to-back builds: the index always opens intact, and the next build works."""
    kb = small_kb(tmp_path / "knowledge")
    for i in range(6):
        write_concept(kb, f"topic-{i}", f"Topic {i}", f"Topic {i} is about gradients and losses. " * 20)
    root = tmp_path / "index"
    from bot.domain.content import load_knowledge
    from index.chunking import chunk_document
    from index.embedder import HashingEmbedder

    chunks = [c for d in load_knowledge(kb).documents() for c in chunk_document(d)]
    IndexStore(root).build(chunks, lambda n: HashingEmbedder(), MODEL)  # something to lose
    rng = random.Random(11)
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", BUILDER, str(kb), str(root)], cwd=ROOT)
        time.sleep(rng.uniform(0.5, 4.0))  # interpreter start-up included: kills land before, during, between builds
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = IndexStore(root).open(MODEL)  # never IndexMissing or IndexCorrupt: a good build always survives
        assert len(loaded.chunks) == len(chunks)
        record("kill during index build", "intact build served" + (" (after fallback)" if loaded.notice else ""))
    report = IndexStore(root).build(
        list(IndexStore(root).open(MODEL).chunks), lambda n: HashingEmbedder(), MODEL, force=False
    )
    assert report.embedded == 0  # the surviving build's vectors are reused


DAMAGES = {
    "flipped byte": lambda p: p.write_bytes(_flip(p.read_bytes())),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: max(0, p.stat().st_size // 2)]),
    "deleted": lambda p: p.unlink(),
    "emptied": lambda p: p.write_bytes(b""),
}


def _flip(raw: bytes) -> bytes:
    if not raw:
        return b"x"
    middle = len(raw) // 2
    return raw[:middle] + bytes([raw[middle] ^ 0xFF]) + raw[middle + 1 :]


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_every_damaged_file_is_refused(tmp_path, damage):
    """Each file of a build, damaged in four ways: never served; the older intact build answers instead."""
    from bot.domain.content import load_knowledge
    from index.chunking import chunk_document
    from index.embedder import HashingEmbedder

    kb = small_kb(tmp_path / "knowledge")
    chunks = [c for d in load_knowledge(kb).documents() for c in chunk_document(d)]
    store = IndexStore(tmp_path / "index")
    first = store.build(chunks, lambda n: HashingEmbedder(), MODEL)
    second = store.build(chunks[:-1], lambda n: HashingEmbedder(), MODEL)
    files = sorted(p for p in (store.builds / second.build_id).rglob("*") if p.is_file())
    pristine = {p: p.read_bytes() for p in files}
    for path in files:
        DAMAGES[damage](path)
        loaded = store.open(MODEL)
        assert loaded.build_id == first.build_id, f"{path.name} {damage} was served"
        record(f"damaged index file ({damage})", "refused, intact build served")
        path.write_bytes(pristine[path])
    assert store.open(MODEL).build_id == second.build_id
    for path in files:  # with no intact build left, damage is refused outright
        DAMAGES[damage](path)
    for path in (store.builds / first.build_id).glob("vectors.npy"):
        path.write_bytes(b"")
    with pytest.raises(IndexCorrupt):
        store.open(MODEL)
