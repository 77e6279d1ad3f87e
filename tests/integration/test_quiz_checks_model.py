"""The quiz-bank checks with the real model: the calibrated threshold, and the shipped bank within every limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from bot.domain.content import load_knowledge
from bot.domain.quiz_checks import DUPLICATE_THRESHOLD, check_quiz, quiz_rows

ROOT = Path(__file__).resolve().parents[2]
PAIRS = yaml.safe_load((ROOT / "tests" / "data" / "quiz_duplicate_pairs.yaml").read_text())["pairs"]


def test_threshold_reproduces_its_calibration(numpy_model):
    """On the labelled pairs, the threshold flags at least the 4 of 10 duplicates and at most the 8 of 20 distinct pairs README reports."""
    a = numpy_model.encode([p["a"] for p in PAIRS])
    b = numpy_model.encode([p["b"] for p in PAIRS])
    cosine = np.sum(a * b, axis=1)
    flagged = {
        label: sum(1 for p, c in zip(PAIRS, cosine, strict=True) if p["label"] == label and c > DUPLICATE_THRESHOLD)
        for label in ("duplicate", "distinct")
    }
    assert flagged["duplicate"] >= 4, flagged
    assert flagged["distinct"] <= 8, flagged


def test_shipped_bank_passes_every_quiz_check(numpy_model):
    """The shipped quiz bank has no near-duplicates and every shortcut share within its limit."""
    kb = load_knowledge(ROOT / "knowledge")
    report = check_quiz(quiz_rows(kb), numpy_model.encode)
    assert report.findings == []
    assert report.duplicates == []
