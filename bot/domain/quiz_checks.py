"""Checks that a quiz bank cannot be gamed: test-taking shortcuts and near-duplicate prompts.

Two shortcuts a learner can use without knowing anything:

* **longest option**: pick the option with the most characters;
* **word overlap**: pick the option sharing the most content words with the prompt.

An item "falls to" a shortcut only when the key is the *strict* winner: a tie between the key and
another option is not counted, because a learner guessing among the tied options is no better than chance.

Near-duplicate items are found by cosine similarity of sentence embeddings of each prompt followed by its key:
the question alone over-matches templated prompts ("What is `-7 // 2`?" vs "What is `-7 % 3`?"), and the key
anchors the idea being tested. The embedder is passed in (any callable returning L2-normalised rows), so the
logic is tested with a fake and the CLI uses the real model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.domain.content import KnowledgeBase

# Limits from issue 16. Per file: key-longest share. Whole bank: always-pick-longest and word-overlap scores.
MAX_LONGEST_PER_FILE = 0.30
MAX_LONGEST_BANK = 0.35
MAX_OVERLAP = 0.40
# Cosine (prompt + key, all-MiniLM-L6-v2) above which two items are reported as near-duplicates. Calibrated on
# labelled pairs (tests/data/quiz_duplicate_pairs.yaml): knowledge/README.md "Quiz bank checks" gives the figures.
DUPLICATE_THRESHOLD = 0.80

# Function words that carry no topic: sharing "the" or "which" with the prompt is no clue to the key.
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each either else ever every few for from
    further had has have having he her here hers him his how i if in into is it its itself just least less
    may me might more most much must my neither no nor not now of off on once one only or other our ours out
    over own per same shall she should so some such than that the their theirs them then there these they
    this those through thus to too under until up upon us very via was we were what when where whether which
    while who whom whose why will with within without would yet you your yours
    """.split()  # noqa: SIM905 - a word list is easier to read and extend as prose
)
_WORD = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> set[str]:
    """Lower-cased runs of letters and digits, minus stop words and one-character runs ("ReLU's" gives {"relu"})."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1}


def _strict_winner(scores: Sequence[int]) -> int | None:
    """The index of the single highest score, or None when the top score is shared."""
    best = max(scores)
    winners = [i for i, s in enumerate(scores) if s == best]
    return winners[0] if len(winners) == 1 else None


def longest_option(options: Sequence[str]) -> int | None:
    """The option with strictly the most characters (surrounding spaces ignored), or None on a tie."""
    return _strict_winner([len(o.strip()) for o in options])


def overlap_option(prompt: str, options: Sequence[str]) -> int | None:
    """The option sharing strictly the most content words with the prompt, or None on a tie."""
    asked = content_words(prompt)
    return _strict_winner([len(asked & content_words(o)) for o in options])


@dataclass(frozen=True)
class QuizRow:
    """What the checks need from one item, and where it is (``file:line``)."""

    id: str
    path: str
    line: int
    prompt: str
    options: tuple[str, ...]
    answer: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def idea(self) -> str:
        """What the duplicate check embeds: the question followed by its correct answer."""
        return f"{self.prompt} {self.options[self.answer]}"


@dataclass(frozen=True)
class ShortcutShares:
    """How often each shortcut finds the key, over one file or the whole bank."""

    items: int
    longest: list[QuizRow]
    overlap: list[QuizRow]

    @property
    def longest_share(self) -> float:
        return len(self.longest) / self.items if self.items else 0.0

    @property
    def overlap_share(self) -> float:
        return len(self.overlap) / self.items if self.items else 0.0


def shortcut_shares(rows: Sequence[QuizRow]) -> ShortcutShares:
    """The items whose key is the strict winner of each shortcut."""
    longest = [r for r in rows if longest_option(r.options) == r.answer]
    overlap = [r for r in rows if overlap_option(r.prompt, r.options) == r.answer]
    return ShortcutShares(items=len(rows), longest=longest, overlap=overlap)


Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class DuplicateCluster:
    """Items whose prompts are linked by similarity above the threshold (single linkage)."""

    rows: list[QuizRow]
    similarity: float  # the highest pairwise cosine inside the cluster


def duplicate_clusters(
    rows: Sequence[QuizRow], embed: Embed, threshold: float = DUPLICATE_THRESHOLD
) -> list[DuplicateCluster]:
    """Group items whose prompt + key embeddings exceed ``threshold`` in cosine; one batch embedding for the bank.

    Single linkage (union-find over the pairs above the threshold): if A≈B and B≈C they form one cluster,
    which is what an author deduplicating wants to see together.
    """
    if len(rows) < 2:
        return []
    vectors = np.asarray(embed([r.idea for r in rows]), dtype=np.float32)
    similarity = vectors @ vectors.T
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first, second = np.nonzero(np.triu(similarity > threshold, k=1))
    for i, j in zip(first.tolist(), second.tolist(), strict=True):
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in sorted(set(first.tolist()) | set(second.tolist())):
        groups.setdefault(root(i), []).append(i)
    clusters = []
    for members in groups.values():
        block = similarity[np.ix_(members, members)]
        np.fill_diagonal(block, -1.0)
        clusters.append(DuplicateCluster(rows=[rows[i] for i in members], similarity=float(block.max())))
    return sorted(clusters, key=lambda c: (c.rows[0].path, c.rows[0].line))


@dataclass
class QuizReport:
    """The findings of every check, as ``file:line: message`` lines, split by whether they break a limit."""

    per_file: dict[str, ShortcutShares]
    bank: ShortcutShares
    duplicates: list[DuplicateCluster] | None  # None: the check did not run
    findings: list[str] = field(default_factory=list)  # limit breaches and duplicate clusters

    def summary(self) -> list[str]:
        """One line per file and one for the bank: item count, longest share, overlap share."""
        lines = [
            f"{path}: {s.items} items, key longest {s.longest_share:.0%}, overlap winner {s.overlap_share:.0%}"
            for path, s in sorted(self.per_file.items())
        ]
        dup = "not checked" if self.duplicates is None else str(len(self.duplicates))
        lines.append(
            f"quiz bank: {self.bank.items} items, always-longest {self.bank.longest_share:.0%}, "
            f"most-overlap {self.bank.overlap_share:.0%}, near-duplicate clusters {dup}"
        )
        return lines


def quiz_rows(kb: KnowledgeBase) -> list[QuizRow]:
    """Every valid quiz item of a loaded knowledge base, in file order."""
    rows = []
    for item_id, item in kb.quiz.items():
        path, line = kb.quiz_lines[item_id]
        rows.append(QuizRow(item_id, path, line, item.prompt, tuple(item.options), item.answer))
    return rows


def check_quiz(rows: Sequence[QuizRow], embed: Embed | None, threshold: float = DUPLICATE_THRESHOLD) -> QuizReport:
    """Run every check; ``embed=None`` skips the near-duplicate check (the report says so)."""
    by_file: dict[str, list[QuizRow]] = {}
    for row in rows:
        by_file.setdefault(row.path, []).append(row)
    per_file = {path: shortcut_shares(file_rows) for path, file_rows in by_file.items()}
    bank = shortcut_shares(rows)
    findings: list[str] = []
    for path, shares in sorted(per_file.items()):
        first = by_file[path][0].line
        if shares.longest_share > MAX_LONGEST_PER_FILE:
            findings.append(
                f"{path}:{first}: the key is the longest option in {len(shares.longest)}/{shares.items} items "
                f"({shares.longest_share:.0%}), limit {MAX_LONGEST_PER_FILE:.0%}"
            )
        if shares.overlap_share > MAX_OVERLAP:
            findings.append(
                f"{path}:{first}: the key shares the most words with the prompt in {len(shares.overlap)}/"
                f"{shares.items} items ({shares.overlap_share:.0%}), limit {MAX_OVERLAP:.0%}"
            )
    if rows and bank.longest_share > MAX_LONGEST_BANK:
        findings.append(
            f"{rows[0].where}: always picking the longest option scores {bank.longest_share:.0%} "
            f"over the bank, limit {MAX_LONGEST_BANK:.0%}"
        )
    if rows and bank.overlap_share > MAX_OVERLAP:
        findings.append(
            f"{rows[0].where}: always picking the option with most words in common with the prompt scores "
            f"{bank.overlap_share:.0%} over the bank, limit {MAX_OVERLAP:.0%}"
        )
    duplicates = None if embed is None else duplicate_clusters(rows, embed, threshold)
    for cluster in duplicates or []:
        head, *others = cluster.rows
        also = ", ".join(f"{r.where} ({r.id})" for r in others)
        findings.append(
            f"{head.where}: near-duplicate items (cosine {cluster.similarity:.2f} > {threshold:.2f}): "
            f"{head.id} ~ {also}"
        )
    return QuizReport(per_file=per_file, bank=bank, duplicates=duplicates, findings=findings)
