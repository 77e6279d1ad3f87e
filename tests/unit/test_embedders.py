"""Embedder selection: one rule for every index build."""

import pytest

from bot.retrieval import embedders


class Small:
    """Stands in for the NumPy runtime (no weights loaded)."""


class Large:
    """Stands in for sentence-transformers (no torch imported)."""


@pytest.fixture(autouse=True)
def fake_runtimes(monkeypatch):
    monkeypatch.setattr(embedders, "NumpyMiniLM", Small)
    monkeypatch.setattr(embedders, "SentenceTransformerEmbedder", Large)


def test_small_batches_use_numpy_and_large_ones_torch():
    """Up to SMALL_BATCH texts the quick-loading runtime embeds; beyond it, the torch one."""
    assert isinstance(embedders.build_embedder(1), Small)
    assert isinstance(embedders.build_embedder(embedders.SMALL_BATCH), Small)
    assert isinstance(embedders.build_embedder(embedders.SMALL_BATCH + 1), Large)


def test_the_reusing_factory_keeps_one_numpy_runtime_and_follows_the_same_rule():
    """A build thread's factory reuses its NumPy runtime between small builds, and picks torch for large ones."""
    factory = embedders.reusing_embedder()
    first = factory(3)
    assert isinstance(first, Small)
    assert factory(embedders.SMALL_BATCH) is first
    assert isinstance(factory(embedders.SMALL_BATCH + 1), Large)
    assert embedders.reusing_embedder()(3) is not first  # each factory owns its runtime
