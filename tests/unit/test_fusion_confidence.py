import numpy as np
import pytest

from index.confidence import FEATURES, Calibration, fit
from index.fusion import rrf, weighted


def test_rrf_rewards_agreement():
    """A document ranked well by both lists beats one ranked first by only one list."""
    fused = rrf([[1, 2, 3], [2, 4, 1]])
    assert max(fused, key=fused.__getitem__) == 2


def test_weighted_scales_bm25_by_best_score():
    """Weighted fusion rescales BM25 to [0, 1] and mixes it with cosine by alpha."""
    out = weighted(np.array([0.5, 0.2]), np.array([10.0, 5.0]), alpha=0.5)
    assert out == pytest.approx([0.75, 0.35])


def test_weighted_without_keyword_matches_is_pure_cosine():
    """With no BM25 matches, fusion falls back to the cosine part alone."""
    assert weighted(np.array([0.4]), np.array([0.0]), alpha=0.75) == pytest.approx([0.3])


def test_confidence_is_a_probability_and_monotone():
    """Confidence lies in [0, 1] and rises with the top cosine when weights are positive."""
    cal = Calibration(weights=(5.0, 0.0, 0.0, 0.0, 0.0, 0.0), bias=-2.0, threshold=0.5)
    low = cal.confidence(dict.fromkeys(FEATURES, 0.0))
    high = cal.confidence({**dict.fromkeys(FEATURES, 0.0), "top_cosine": 1.0})
    assert 0.0 <= low < high <= 1.0


def test_fit_separates_clear_classes():
    """Logistic fitting finds weights that score positives above negatives."""
    rows = [{**dict.fromkeys(FEATURES, 0.0), "top_cosine": v} for v in (0.1, 0.2, 0.25, 0.6, 0.7, 0.8)]
    weights, bias = fit(rows, [0, 0, 0, 1, 1, 1])
    cal = Calibration(weights, bias, 0.5)
    assert cal.confidence(rows[0]) < 0.5 < cal.confidence(rows[-1])


def test_calibration_roundtrip(tmp_path):
    """A saved calibration loads back identically; one fitted on other features is refused."""
    path = tmp_path / "c.json"
    cal = Calibration((1.0, 2.0, 3.0, 4.0, 5.0, 6.0), -1.0, 0.4)
    cal.save(path)
    assert Calibration.load(path) == cal
    path.write_text('{"features": ["x"], "weights": [1], "bias": 0, "threshold": 0.5}')
    with pytest.raises(ValueError, match="refit"):
        Calibration.load(path)
