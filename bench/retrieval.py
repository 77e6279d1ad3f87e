"""Retrieval benchmarks: quality, warm latency, rebuild cost, cold start and peak memory.

Every ratio compares against a baseline measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import devset
from bench.harness import open_retriever
from bot.domain.answering import AnswerService
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.confidence import Calibration
from index.embedder import SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def quality(rows: list[tuple[str, str]]) -> AnswerService:
    """hit@k per retrieval mode and abstention, for the dev questions and the held-out ones separately."""
    retriever = open_retriever()
    service = AnswerService(retriever, Calibration.load())
    for split in ("dev", "heldout"):
        questions = devset.load(split=split)
        for mode in ("hybrid", "keyword", "dense"):
            m = devset.quality(retriever, questions, mode)  # type: ignore[arg-type]
            rows.append(
                (
                    f"quality {mode} · {split}",
                    f"hit@1 {m['hit@1']:.3f} · hit@3 {m['hit@3']:.3f} · MRR@5 {m['mrr@5']:.3f} (n={int(m['n'])})",
                )
            )
        inside = [q for q in questions if q.expect]
        outside = [q for q in questions if not q.expect]
        declined = sum(service.ask(q.text).abstained for q in outside) / len(outside)
        false_abstain = sum(service.ask(q.text).abstained for q in inside) / len(inside)
        rows.append(
            (
                f"abstention · {split}",
                f"out-of-scope declined {declined:.3f} (n={len(outside)}) · "
                f"in-scope falsely declined {false_abstain:.3f} (n={len(inside)})",
            )
        )
    return service


def latency(service: AnswerService, rows: list[tuple[str, str]]) -> None:
    questions = [q.text for q in devset.load()]
    reference = SentenceTransformerEmbedder()
    for q in questions[:10]:  # warm-up of both runtimes
        service.ask(q)
        reference.encode([q])
    # Each measure runs in its own pass: interleaving them lets torch's OpenMP threads, which spin
    # after every call, slow down whatever runs next.
    ask_ms, st_ms, np_ms = [], [], []
    for _ in range(3):
        for sink, call in ((st_ms, reference.encode), (np_ms, service.retriever.embedder.encode), (ask_ms, None)):
            for q in questions:
                t = time.perf_counter()
                if call is None:
                    service.ask(q)
                else:
                    call([q])
                sink.append((time.perf_counter() - t) * 1000)
            time.sleep(0.5)
    p50, p95 = statistics.median(ask_ms), _pct(ask_ms, 95)
    st50, np50 = statistics.median(st_ms), statistics.median(np_ms)
    rows.append(("one model forward (sentence-transformers)", f"p50 {st50:.2f} ms"))
    rows.append(("one model forward (NumPy runtime)", f"p50 {np50:.2f} ms"))
    rows.append(("warm ask, whole pipeline", f"p50 {p50:.2f} ms · p95 {p95:.2f} ms"))
    rows.append(
        ("warm ask p50 / one forward", f"{p50 / st50:.2f}× sentence-transformers · {p50 / np50:.2f}× NumPy runtime")
    )


def rebuild(rows: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        knowledge = Path(tmp) / "knowledge"
        shutil.copytree(ROOT / "knowledge", knowledge)
        settings = Settings(_env_file=None, data_dir=Path(tmp) / "data", knowledge_dir=knowledge)  # type: ignore[call-arg]
        service = IndexService(settings)
        t = time.perf_counter()
        full = service.build()
        full_s = time.perf_counter() - t
        entry = knowledge / "concepts" / "dropout.md"
        entry.write_text(
            entry.read_text().replace(
                "## Where should I use dropout",
                "Dropout rates of 0.1 to 0.5 are common.\n\n## Where should I use dropout",
            )
        )
        t = time.perf_counter()
        inc = service.build()
        inc_s = time.perf_counter() - t
    rows.append(("full build", f"{full_s:.1f} s ({full.chunks} chunks, {full.sentences_embedded} sentences)"))
    rows.append(
        (
            "incremental rebuild after a one-entry edit",
            f"{inc_s:.2f} s ({inc.embedded} chunk, {inc.sentences_embedded} sentence re-embedded)",
        )
    )
    rows.append(("incremental / full", f"{inc_s / full_s:.1%}"))


def cold_start(rows: list[tuple[str, str]]) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [str(Path(sys.executable).with_name("studybot")), "ask", "--json", "What is overfitting?"]
    walls, rss = [], []
    for _ in range(5):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t)
        rss.append(usage.ru_maxrss / 1024)
        assert os.waitstatus_to_exitcode(status) == 0
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t
    rows.append(
        (
            "cold start: `studybot ask --json` (index built)",
            f"median {statistics.median(walls):.2f} s over 5 runs (bare python: {bare:.2f} s)",
        )
    )
    rows.append(("peak RSS of that process", f"median {statistics.median(rss):.0f} MB"))
