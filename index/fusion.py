"""Combining the dense and keyword rankings into one."""

from __future__ import annotations

import numpy as np

RRF_K = 60


def rrf(rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None) -> dict[int, float]:
    """Reciprocal-rank fusion: robust because it ignores the two scorers' incomparable scales."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + weight / (k + rank + 1)
    return fused


def weighted(dense: np.ndarray, keyword: np.ndarray, alpha: float) -> np.ndarray:
    """alpha * cosine + (1 - alpha) * BM25 scaled to [0, 1] by the query's best BM25 score."""
    top = float(keyword.max()) if keyword.size else 0.0
    scaled = keyword / top if top > 0 else np.zeros_like(keyword)
    return alpha * dense + (1.0 - alpha) * scaled
