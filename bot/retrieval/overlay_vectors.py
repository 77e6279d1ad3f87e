"""The vectors of a server's overlay, computed by the process that publishes it (``OverlayEncoder``, issue 13).

Stored in the database with the change, they let every other process that hears of it rebuild the server's index
without embedding: its rebuild was mostly embedding the new text, which the publisher had to do anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Executor

import numpy as np

from index.chunking import Document, chunk_document
from index.embedder import MODEL_ID, Embedder
from index.store import BATCH, vector_key


def overlay_texts(documents: Sequence[Document]) -> dict[str, str]:
    """Every text a server index embeds for these documents, by key: each chunk, and each of its sentences."""
    texts: dict[str, str] = {}
    for doc in documents:
        for chunk in chunk_document(doc):
            texts[chunk.content_hash] = chunk.embed_text
            texts.update((vector_key(s), s) for s in chunk.sentences)
    return texts


def decode(vectors: Mapping[str, bytes], dim: int) -> dict[str, np.ndarray]:
    """Stored vectors back as float32 arrays; any of another dimension is dropped (embedded again instead)."""
    out: dict[str, np.ndarray] = {}
    for key, raw in vectors.items():
        vector = np.frombuffer(raw, dtype="<f4")
        if vector.shape == (dim,) and np.isfinite(vector).all():
            out[key] = vector
    return out


class OverlayVectors:
    """``OverlayEncoder`` over an encoder used on one thread only (``executor``: the bot's answering thread)."""

    def __init__(self, embedder: Embedder, executor: Executor, model_id: str = MODEL_ID) -> None:
        self._embedder = embedder
        self._executor = executor
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    def keys(self, documents: Sequence[Document]) -> set[str]:
        return set(overlay_texts(documents))

    async def encode(self, documents: Sequence[Document], skip: Collection[str]) -> dict[str, bytes]:
        todo = {k: t for k, t in overlay_texts(documents).items() if k not in skip}
        if not todo:
            return {}
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._encode, todo)

    def _encode(self, todo: dict[str, str]) -> dict[str, bytes]:
        keys = sorted(todo, key=lambda k: len(todo[k]))  # batches of similar length pad least (as a build does)
        out: dict[str, bytes] = {}
        for i in range(0, len(keys), BATCH):
            batch = keys[i : i + BATCH]
            vectors = np.asarray(self._embedder.encode([todo[k] for k in batch]), dtype="<f4")
            out.update((k, vectors[row].tobytes()) for row, k in enumerate(batch))
        return out
