"""The memory an index is counted at is what loading it really allocates (issue 13: the budget undercounted)."""

from __future__ import annotations

import gc
import tracemalloc

from bot.domain.content import load_knowledge
from index.chunking import chunk_document
from index.embedder import HashingEmbedder
from index.footprint import deep_size, faiss_bytes
from index.store import IndexStore
from tests.helpers import small_kb


def test_an_index_counts_what_loading_it_allocates(tmp_path):
    """LoadedIndex.memory_bytes is within 10% of the memory tracemalloc sees a load allocate (plus FAISS's own copy
    of the vectors, which tracemalloc cannot see); vectors and characters alone fall well short of it."""
    emb = HashingEmbedder()
    kb = load_knowledge(small_kb(tmp_path / "knowledge"))
    store = IndexStore(tmp_path / "index")
    store.build([c for d in kb.documents() for c in chunk_document(d)], lambda n: emb, emb.model_id)
    store.open(emb.model_id)  # the first load imports and caches; measure a second one
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        index = store.open(emb.model_id)
        gc.collect()
        allocated = tracemalloc.get_traced_memory()[0] - before + faiss_bytes(index.faiss)
    finally:
        tracemalloc.stop()
    counted = index.memory_bytes()
    vectors_and_text = (
        index.vectors.nbytes * 2
        + index.sentence_vectors.nbytes
        + index.offtopic_vectors.nbytes
        + sum(len(c.text) for c in index.chunks)
        + sum(len(t) for t in index.sentence_texts)
    )
    assert abs(counted - allocated) <= 0.10 * allocated, (counted, allocated)
    assert vectors_and_text < 0.9 * allocated


def test_deep_size_counts_shared_objects_and_array_buffers_once():
    """An object reachable twice, and a view of an array counted with its base, are counted once."""
    import numpy as np

    words = ["alpha" * 20]
    array = np.zeros(1000, dtype=np.float32)
    alone = deep_size({"a": words, "v": array})
    twice = deep_size({"a": words, "b": words, "v": array, "w": array[:10]})
    assert alone >= array.nbytes + 100
    assert twice - alone < 400  # one more dict slot, key and view header: not another list nor another buffer
