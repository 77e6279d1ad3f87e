import json

import numpy as np
import pytest

from bot.domain.content import load_knowledge
from index.chunking import chunk_document
from index.embedder import HashingEmbedder
from index.store import IndexCorrupt, IndexMissing, IndexStore, ModelMismatch
from tests.helpers import small_kb, write_concept


class CountingEmbedder(HashingEmbedder):
    """Counts how many texts it embeds, to prove incremental builds skip unchanged chunks."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0

    def encode(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return super().encode(texts)


def _chunks(root):
    kb = load_knowledge(root)
    assert kb.problems == []
    return [c for d in kb.documents() for c in chunk_document(d)]


@pytest.fixture
def kb(tmp_path):
    return small_kb(tmp_path / "knowledge")


def test_build_then_open(kb, tmp_path):
    """A build writes a manifest with model id, dimension and a hash per chunk, and opens again."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    report = store.build(_chunks(kb), lambda n: emb, emb.model_id)
    loaded = store.open(emb.model_id)
    assert report.embedded == report.chunks == len(loaded.chunks) > 0
    assert loaded.manifest["dim"] == emb.dim
    assert all(len(c["hash"]) == 32 for c in loaded.manifest["chunks"])


def test_open_gives_back_the_chunks_that_were_built(kb, tmp_path):
    """Opening a build yields Chunk objects equal to those built, sentences, urls and lines included."""
    store = IndexStore(tmp_path / "index")
    emb = HashingEmbedder()
    chunks = _chunks(kb)
    store.build(chunks, lambda n: emb, emb.model_id)
    loaded = store.open(emb.model_id)
    assert loaded.chunks == chunks
    assert [c.sentences for c in loaded.chunks] == [c.sentences for c in chunks]  # not part of equality
    assert [c.url for c in loaded.chunks] == [c.url for c in chunks]


def test_rebuild_embeds_only_changed_chunks(kb, tmp_path):
    """After editing one section, a rebuild embeds that chunk (and its sentences) only."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    first = store.build(_chunks(kb), lambda n: emb, emb.model_id)
    write_concept(kb, "overfitting", "Overfitting", "Overfitting is memorising noise. A new sentence here.")
    second = store.build(_chunks(kb), lambda n: emb, emb.model_id)
    assert second.embedded == 1
    assert second.reused == first.chunks - 1
    assert second.sentences_embedded == 2


def test_unchanged_rebuild_never_creates_the_embedder(kb, tmp_path):
    """When nothing changed, the embedder factory is not even called."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    store.build(_chunks(kb), lambda n: emb, emb.model_id)

    def refuse(n):
        raise AssertionError("nothing changed, nothing to embed")

    assert store.build(_chunks(kb), refuse, emb.model_id).embedded == 0


def test_crash_mid_build_keeps_the_previous_index(kb, tmp_path, monkeypatch):
    """A build that dies while writing leaves CURRENT on the last good build, which still loads."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    good = store.build(_chunks(kb), lambda n: emb, emb.model_id)
    write_concept(kb, "overfitting", "Overfitting", "Changed text that will never be published.")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("index.store.KeywordIndex.save", boom)
    with pytest.raises(OSError, match="disk full"):
        store.build(_chunks(kb), lambda n: emb, emb.model_id)
    loaded = store.open(emb.model_id)
    assert loaded.build_id == good.build_id
    assert not list((tmp_path / "index" / "builds").glob(".tmp-*"))


def test_leftover_temp_dir_is_cleaned(kb, tmp_path):
    """A temp directory left by a killed build is removed by the next build and never read."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    (tmp_path / "index" / "builds" / ".tmp-killed").mkdir(parents=True)
    store.build(_chunks(kb), lambda n: emb, emb.model_id)
    assert not (tmp_path / "index" / "builds" / ".tmp-killed").exists()


def test_refuses_an_index_from_another_model(kb, tmp_path):
    """Opening an index built by a different model raises ModelMismatch naming both models."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    store.build(_chunks(kb), lambda n: emb, "other/model")
    with pytest.raises(ModelMismatch, match="other/model"):
        store.open(emb.model_id)


def test_missing_and_corrupt_indexes_are_typed(kb, tmp_path):
    """No build raises IndexMissing; a truncated vectors file raises IndexCorrupt."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    with pytest.raises(IndexMissing):
        store.open(emb.model_id)
    store.build(_chunks(kb), lambda n: emb, emb.model_id)
    current = store.current_dir()
    assert current is not None
    (current / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorrupt):
        store.open(emb.model_id)
    (current / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorrupt):
        store.open(emb.model_id)


def test_force_rebuild_reembeds_everything(kb, tmp_path):
    """--force ignores the previous build's vectors."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    first = store.build(_chunks(kb), lambda n: emb, emb.model_id)
    assert store.build(_chunks(kb), lambda n: emb, emb.model_id, force=True).embedded == first.chunks


def test_hnsw_is_used_above_the_threshold(kb, tmp_path):
    """Above the size threshold the dense index is approximate (HNSW) and still finds the exact match."""
    store = IndexStore(tmp_path / "index")
    emb = CountingEmbedder()
    chunks = _chunks(kb)
    store.build(chunks, lambda n: emb, emb.model_id, approximate_above=1)
    loaded = store.open(emb.model_id)
    assert loaded.manifest["dense_index"] == "hnsw"
    from index import dense

    _, ids = dense.search(loaded.faiss, loaded.vectors[2], 1)
    assert int(ids[0]) == 2
    assert json.loads((store.current_dir() / "manifest.json").read_text())["model_id"] == emb.model_id
    assert np.allclose(np.linalg.norm(loaded.vectors, axis=1), 1.0, atol=1e-5)
