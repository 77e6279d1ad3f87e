"""Hybrid retrieval over a loaded index: dense + BM25, fused, with the signals confidence needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from index import dense, fusion
from index.chunking import Chunk
from index.embedder import Embedder
from index.store import LoadedIndex

Mode = Literal["hybrid", "dense", "keyword"]
CANDIDATES = 50


@dataclass(frozen=True)
class Hit:
    row: int
    chunk: Chunk
    score: float  # the fused score used for ranking
    cosine: float
    bm25: float


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]  # best first, one per chunk
    query_vector: np.ndarray
    features: dict[str, float] = field(default_factory=dict)

    def by_document(self, limit: int) -> list[Hit]:
        """The best hit of each document, best first: sources should be distinct entries."""
        seen: set[str] = set()
        out: list[Hit] = []
        for hit in self.hits:
            if hit.chunk.doc_id not in seen:
                seen.add(hit.chunk.doc_id)
                out.append(hit)
                if len(out) == limit:
                    break
        return out


class HybridRetriever:
    def __init__(self, index: LoadedIndex, embedder: Embedder, alpha: float = 0.8) -> None:
        # alpha 0.8 is the best of 0.6-0.9 on the dev set; 0.7-0.9 all beat dense and BM25 alone.
        self.index = index
        self.embedder = embedder
        self.alpha = alpha

    def search(self, text: str, mode: Mode = "hybrid", limit: int = 20) -> SearchResult:
        text = self.index.keyword.normalize(text)
        query = self.embedder.encode([text])[0]
        return self.search_vector(text, query, mode, limit)

    def search_vector(self, text: str, query: np.ndarray, mode: Mode = "hybrid", limit: int = 20) -> SearchResult:
        idx = self.index
        _, dense_ids = dense.search(idx.faiss, query, CANDIDATES)
        bm25_all, terms = idx.keyword.scores(text)
        bm25_order = np.argsort(-bm25_all, kind="stable")[:CANDIDATES]
        bm25_ids = [int(i) for i in bm25_order if bm25_all[i] > 0]
        dense_list = [int(i) for i in dense_ids]
        candidates = np.asarray(sorted(set(dense_list) | set(bm25_ids)), dtype=np.int64)
        cosines = idx.vectors[candidates] @ query if len(candidates) else np.zeros(0, dtype=np.float32)
        bm25 = bm25_all[candidates] if len(candidates) else np.zeros(0, dtype=np.float32)
        if mode == "dense":
            scores = cosines
        elif mode == "keyword":
            scores = bm25.astype(np.float32)
        else:
            scores = fusion.weighted(cosines, bm25, self.alpha)
        order = np.argsort(-scores, kind="stable")[:limit]
        hits = [
            Hit(int(candidates[i]), idx.chunks[int(candidates[i])], float(scores[i]), float(cosines[i]), float(bm25[i]))
            for i in order
        ]
        dense_order = [int(candidates[i]) for i in np.argsort(-cosines, kind="stable")]
        features = self._features(text, terms, hits, dense_order, bm25_ids)
        # How much closer the question is to the notes than to everyday off-topic subjects: words like
        # "python" or "train" match the notes, but "ball python care" is nearer to "pets".
        off = float((idx.offtopic_vectors @ query).max()) if len(idx.offtopic_vectors) else 0.0
        features["topic_margin"] = features["max_cosine"] - off
        return SearchResult(hits=hits, query_vector=query, features=features)

    def _features(
        self, text: str, terms: list[str], hits: list[Hit], dense_ids: list[int], bm25_ids: list[int]
    ) -> dict[str, float]:
        """Signals for calibrated confidence; each is meaningful on any knowledge base."""
        kw = self.index.keyword
        top = hits[0] if hits else None
        top_terms = set(kw.query_terms(" ".join(top.chunk.heading_path) + " " + top.chunk.text)) if top else set()
        chunks = self.index.chunks
        agree = bool(dense_ids and bm25_ids and chunks[dense_ids[0]].doc_id == chunks[bm25_ids[0]].doc_id)
        return {
            "top_cosine": top.cosine if top else 0.0,
            "max_cosine": max((h.cosine for h in hits), default=0.0),
            "known_fraction": kw.known_fraction(text),
            "top_term_coverage": len(top_terms & set(terms)) / len(terms) if terms and top else 0.0,
            "agree": float(agree),
        }

    def best_sentences(self, hit: Hit, query: np.ndarray, budget: int) -> list[str]:
        """The most relevant sentences of one chunk, in reading order, within ``budget`` characters."""
        start, end = self.index.sentence_spans[hit.row]
        rows = np.arange(start, end)
        if not len(rows):
            return [hit.chunk.text[:budget]]
        sims = self.index.sentence_vectors[rows] @ query
        chosen: list[int] = []
        used = 0
        for i in np.argsort(-sims):
            text = self.index.sentence_texts[rows[i]]
            if used + len(text) + 1 > budget:
                if not chosen:  # even the best sentence is too long: cut it at a word boundary
                    return [text[: budget - 1].rsplit(" ", 1)[0] + "…"]
                continue
            chosen.append(int(rows[i]))
            used += len(text) + 1
        return [self.index.sentence_texts[r] for r in sorted(chosen)]
