"""Calibrated confidence: a logistic model over retrieval signals, fitted on the dev set.

The coefficients live in ``calibration.json`` beside this file and are refitted by
``python -m bench.calibrate`` whenever the knowledge base or the signals change.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FEATURES = ("top_cosine", "max_cosine", "known_fraction", "top_term_coverage", "agree", "topic_margin")
DEFAULT_PATH = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features.get(name, 0.0) for w, name in zip(self.weights, FEATURES, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> Calibration:
        data = json.loads(path.read_text())
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was fitted on other features; refit with python -m bench.calibrate")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), float(data["threshold"]))

    def save(self, path: Path = DEFAULT_PATH) -> None:
        data = {
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
        }
        path.write_text(json.dumps(data, indent=2) + "\n")


def fit(
    rows: list[dict[str, float]], labels: list[int], l2: float = 1.0, steps: int = 50
) -> tuple[tuple[float, ...], float]:
    """Logistic regression by Newton's method with a small L2 penalty (few features, so it can't overfit much)."""
    x = np.array([[r[f] for f in FEATURES] for r in rows], dtype=np.float64)
    x = np.hstack([x, np.ones((len(x), 1))])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (p - y) + penalty @ w
        hess = (x.T * (p * (1 - p))) @ x + penalty
        w -= np.linalg.solve(hess, grad)
    return tuple(float(v) for v in w[:-1]), float(w[-1])
