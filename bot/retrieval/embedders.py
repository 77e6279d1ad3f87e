"""Which runtime embeds a batch: the one rule every index build follows."""

from __future__ import annotations

from collections.abc import Callable

from index.embedder import Embedder, NumpyMiniLM, SentenceTransformerEmbedder

EmbedderFactory = Callable[[int], Embedder]  # told how many texts wait, returns the runtime for them

# Below this many texts the NumPy runtime (0.2 s to load) beats importing torch (~5 s).
SMALL_BATCH = 400


def build_embedder(count: int) -> Embedder:
    """A fresh runtime for ``count`` texts: NumPy for a small batch, sentence-transformers (torch) for a large one."""
    return NumpyMiniLM() if count <= SMALL_BATCH else SentenceTransformerEmbedder()


def reusing_embedder() -> EmbedderFactory:
    """``build_embedder`` for a long-lived build thread: the NumPy runtime is kept between builds.

    An overlay build embeds a handful of texts, so reloading the weights each time would cost more than
    the embedding. The encoder is not shared with the answering thread (neither is documented thread-safe).
    """
    small: list[Embedder] = []

    def factory(count: int) -> Embedder:
        if count > SMALL_BATCH:
            return build_embedder(count)
        if not small:
            small.append(build_embedder(count))
        return small[0]

    return factory


def query_embedder() -> Embedder:
    """The encoder for questions: one short text at a time, so the quick-loading NumPy runtime."""
    return NumpyMiniLM()
