"""The NumPy runtime used for queries gives the same vectors as sentence-transformers."""

import numpy as np
import pytest

TEXTS = [
    "What is overfitting?",
    "where can i learn linear algebra for free",
    "hi",
    "Gradient descent moves parameters against the gradient; the learning rate sets the step size. " * 12,
    "Ünïcödé, émojis 🙂 and CJK 機械学習 still tokenize.",
    "precison and recal??",
]


def test_vectors_match_the_reference_runtime(numpy_model, st_model):
    """Every vector agrees with sentence-transformers to 1e-5 (cosine > 0.99999), long and odd texts included."""
    ours = numpy_model.encode(TEXTS)
    reference = st_model.encode(TEXTS)
    assert ours.shape == reference.shape == (len(TEXTS), 384)
    assert np.abs(ours - reference).max() < 1e-5
    assert (ours * reference).sum(axis=1).min() > 0.99999


def test_batching_does_not_change_vectors(numpy_model):
    """Encoding texts together (with padding) gives the same vectors as one at a time."""
    together = numpy_model.encode(TEXTS)
    alone = np.vstack([numpy_model.encode([t]) for t in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_vectors_are_unit_length(numpy_model):
    """Vectors are L2-normalised, so FAISS inner product is cosine similarity."""
    norms = np.linalg.norm(numpy_model.encode(TEXTS), axis=1)
    assert norms == pytest.approx(np.ones(len(TEXTS)), abs=1e-5)
