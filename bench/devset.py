"""The retrieval dev set and the quality metrics computed on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from index.chunking import Chunk
from index.retriever import HybridRetriever, Mode, SearchResult

DEVSET = Path(__file__).with_name("devset.yaml")
# devset.yaml was tuned on in earlier rounds; devset_extra.yaml (written blind for the new notes) holds out a third.
SETS = (DEVSET, DEVSET.with_name("devset_extra.yaml"))


@dataclass(frozen=True)
class DevQuestion:
    text: str
    expect: tuple[str, ...]  # entry ids, or "resources:<skill>"; empty means out of scope
    split: str = "dev"  # "heldout" questions are only ever run, never tuned on


def load(paths: tuple[Path, ...] = SETS, split: str | None = None) -> list[DevQuestion]:
    """The dev-set questions of every set, or only those of one split."""
    questions: list[DevQuestion] = []
    for path in paths:
        data = yaml.safe_load(path.read_text())
        questions += [DevQuestion(q["q"], tuple(q["expect"]), q.get("split", "dev")) for q in data["in_scope"]]
        questions += [DevQuestion(q, ()) for q in data["out_of_scope"]]
        questions += [DevQuestion(q, (), "heldout") for q in data.get("out_of_scope_heldout", [])]
    return [q for q in questions if split is None or q.split == split]


def is_match(chunk: Chunk, expect: tuple[str, ...]) -> bool:
    return chunk.doc_id in expect or (chunk.kind == "resource" and f"resources:{chunk.skill}" in expect)


def first_hit_rank(result: SearchResult, expect: tuple[str, ...], depth: int = 5) -> int | None:
    for rank, hit in enumerate(result.by_document(depth), 1):
        if is_match(hit.chunk, expect):
            return rank
    return None


def quality(retriever: HybridRetriever, questions: list[DevQuestion], mode: Mode) -> dict[str, float]:
    """hit@1, hit@3 and MRR@5 over the in-scope questions, at document level."""
    ranks = []
    for q in questions:
        if q.expect:
            ranks.append(first_hit_rank(retriever.search(q.text, mode=mode), q.expect))
    n = len(ranks)
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@3": sum(r is not None and r <= 3 for r in ranks) / n,
        "mrr@5": sum(1 / r for r in ranks if r) / n,
        "n": float(n),
    }
