"""Real-model fixtures, shared by integration and e2e tests: the model loaded once per session, the shipped index built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.embedder import NumpyMiniLM, SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def numpy_model() -> NumpyMiniLM:
    return NumpyMiniLM()


@pytest.fixture(scope="session")
def st_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def shipped_settings(tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("data")
    return Settings(_env_file=None, data_dir=data, knowledge_dir=ROOT / "knowledge")  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def shipped_service(shipped_settings, st_model, numpy_model) -> IndexService:
    """An index of the shipped knowledge base, built once with the session's model."""
    service = IndexService(shipped_settings, embedder_factory=lambda n: st_model)
    service._query_embedder = numpy_model
    service.build()
    return service


def small_knowledge(dest: Path, names: tuple[str, ...] = ("cross-validation", "dropout", "overfitting")) -> Path:
    """A few shipped entries as a knowledge folder of their own (links to entries left behind are dropped).

    Tests of rebuilding (a damaged or foreign index) need an index to rebuild, not the whole shipped one: a few
    entries rebuild in seconds with the NumPy runtime, the shipped 640 chunks take minutes.
    """
    concepts = dest / "concepts"
    concepts.mkdir(parents=True)
    for name in names:
        text = (ROOT / "knowledge" / "concepts" / f"{name}.md").read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if not line.startswith("related:")]
        (concepts / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest
