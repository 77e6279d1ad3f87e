"""Composing an extractive answer: the right passages of the right entries, with their structure kept whole.

The retriever ranks chunks; this module decides what of them to show. It works on *blocks*, the pieces
of a note that must be shown whole: a sentence, a list with its lead-in, a code block with its lead-in.
Every word shown comes from the notes; nothing is rephrased.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from bot.domain.questions import LIBRARIES, Analysis
from index.chunking import Chunk
from index.text import STOPWORDS, split_sentences

BlockKind = Literal["sentence", "list", "code"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9*`])")
_HOW_HEADING = re.compile(
    r"^(how|what (are|is) the (best |main |practical )?(ways?|steps|options)|what are (some )?(good|best) practices|"
    r"when should|which)\b",
    re.I,
)
_WHAT_HEADING = re.compile(r"^(what|why|who)\b", re.I)
_YESNO_HEADING = re.compile(r"^(do|does|is|are|should|can|could|will|must|am)\b", re.I)
LEAD_BONUS = 0.05
# A yes/no question wants a verdict: a sentence that says "no need", "should", "avoid" or "not" answers it, one
# that only describes the topic does not.
_VERDICT = re.compile(
    r"^(?:yes|no|usually|generally|rarely|often)\b|\b(?:not|no need|never|don't|do not|doesn't|does not|"
    r"shouldn't|should|avoid|must|unnecessary|unless|only if|worth|misleading|instead)\b",
    re.I,
)
VERDICT_BONUS = 0.04
# A compare that asks which to choose ("poetry vs uv, which should I use?") wants the verdict too, not two portraits.
_CHOOSES = re.compile(r"\b(?:which (?:one|is better|should)|should i (?:use|pick|choose|learn|go with)|better|worth)\b")
REDUNDANT = 0.85  # cosine above which two sentences say the same thing
SECONDARY_MARGIN = 0.08  # a second entry joins only if its relevance is within this of the first's


@dataclass(frozen=True)
class Block:
    """A piece of a note that is shown whole, in the note's order."""

    kind: BlockKind
    text: str  # Markdown, as shown
    sentences: tuple[str, ...]  # the index's sentences inside it, for scoring
    order: int
    paragraph: int  # sentences of one paragraph are joined with a space, not a line break


# A sentence that opens by pointing back ("It…", "This means…") is shown with the sentence it points to.
_ANAPHOR = re.compile(
    r"^(?:it|its|this|that|these|those|they|their|them|such|both|here|then|instead|otherwise)\b", re.I
)

_COUNT = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|both|several|\d+)\b", re.I)


def trim_list(block: Block, budget: int, relevance: Callable[[str], float] | None = None) -> Block | None:
    """A list cut to the items that fit, unless its lead-in promises a count the cut would break.

    With ``relevance``, the items most relevant to the question are kept (a learner asking how to make a Docker
    image smaller wants the "slim base image" item, wherever it sits); without, the first ones. Either way the
    kept items stay in the note's order, each with its nested lines.
    """
    if block.kind != "list" or len(block.text) <= budget:
        return block if len(block.text) <= budget else None
    lines = block.text.split("\n")
    lead = None if _LIST_ITEM.match(lines[0]) else lines[0]
    if lead is not None and _COUNT.search(lead):
        return None
    items: list[list[str]] = []
    for line in lines[1:] if lead is not None else lines:
        if items and line.startswith(" "):  # a nested line belongs to the item above it
            items[-1].append(line)
        else:
            items.append([line])
    order = list(range(len(items)))
    numbered = all(re.match(r"\s*\d+[.)]\s", item[0]) for item in items)
    if numbered:  # steps: "1. … 3. …" with 2 left out reads as a broken list, so only the first steps are kept
        relevance = None
    if relevance is not None:
        order.sort(key=lambda i: -relevance(" ".join(items[i])))
    taken: set[int] = set()
    size = len(lead) if lead is not None else -1
    for i in order:
        grow = sum(len(line) + 1 for line in items[i])
        if size + grow > budget:
            if relevance is None:
                break
            continue
        taken.add(i)
        size += grow
    kept: list[str] = [lead] if lead is not None else []
    kept += [line for i in sorted(taken) for line in items[i]]
    shown = [k for k in kept if _LIST_ITEM.match(k)]
    if len(shown) < 2:  # a lead-in with one item is a dangling bullet, not a list
        return _item_as_prose(items[order[0]], block, budget) if relevance is not None and items else None
    text = "\n".join(kept)
    return Block(
        "list",
        text,
        tuple(s for s in block.sentences if s in text or s.lstrip("- ") in text),
        block.order,
        block.paragraph,
    )


def _item_as_prose(item: list[str], block: Block, budget: int) -> Block | None:
    """The one most relevant item of a list, shown as the sentences it is, when it reads as prose on its own.

    "`requirements.txt` is pip's simple format. Produced by `pip freeze`, …" stands alone; "keep data out;" does
    not, and neither does an item with nested lines.
    """
    text = _LIST_ITEM.sub("", item[0], count=1)
    if len(item) > 1 or len(text) > budget or not re.match(r"[A-Z`*\"]", text) or not text.endswith("."):
        return None
    sentences = tuple(s for s in block.sentences if s.lstrip("- ") in text)
    # A paragraph of its own (-1): the item was a line of its own in the note, so it is never run into the
    # sentence before it as if the note said them together; " … " marks the items left out.
    return Block("sentence", text, sentences, block.order, -1)


def _sentences(text: str) -> list[str]:
    """The notes' sentences as written: no NFKC, which would turn "x²" into "x2" and "β₁" into "β1"."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(" ".join(text.split()))) if s]


def parse_blocks(text: str) -> list[Block]:
    """Cut a chunk's Markdown into blocks: a list keeps its lead-in, a code block stays whole."""
    blocks: list[Block] = []
    lines = text.splitlines()
    paragraph = 0
    prose: list[str] = []

    def flush_prose() -> None:
        if prose:
            start = len(blocks)
            for sentence in _sentences(" ".join(prose)):
                last = blocks[-1] if len(blocks) > start else None
                if last is not None and _ANAPHOR.match(sentence):  # "It does not change…" needs what "it" is
                    blocks[-1] = Block(
                        "sentence", f"{last.text} {sentence}", (*last.sentences, sentence), last.order, paragraph
                    )
                    continue
                blocks.append(Block("sentence", sentence, (sentence,), len(blocks), paragraph))
            prose.clear()

    def take_lead_in() -> str | None:
        """The sentence just before a list or code block, when it introduces it (ends with ':')."""
        if prose:
            sentences = _sentences(" ".join(prose))
            if sentences and sentences[-1].endswith(":"):
                prose[:] = [" ".join(sentences[:-1])] if len(sentences) > 1 else []
                return sentences[-1]
            return None
        last = blocks[-1] if blocks else None
        if last is not None and last.kind == "sentence" and last.text.endswith(":"):
            blocks.pop()
            return last.text
        return None

    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            lead = take_lead_in()
            flush_prose()
            fence = _FENCE.match(line)
            assert fence is not None
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(fence.group(1)):
                end += 1
            opening = re.sub(r"\s+runnable\s*$", "", line.rstrip())  # the test marker is not for readers
            code = "\n".join([opening, *lines[i + 1 : end], fence.group(1)])
            shown = f"{lead}\n{code}" if lead else code
            blocks.append(Block("code", shown, (lead,) if lead else (), len(blocks), paragraph))
            paragraph += 1
            i = end + 1
            continue
        if _LIST_ITEM.match(line):
            lead = take_lead_in()
            flush_prose()
            items: list[str] = []
            base = len(line) - len(line.lstrip())
            while i < len(lines) and lines[i].strip() and not _FENCE.match(lines[i]):
                if _LIST_ITEM.match(lines[i]) or not items:
                    indent = len(lines[i]) - len(lines[i].lstrip()) - base  # a nested item keeps its depth
                    items.append(" " * max(0, indent) + lines[i].strip())
                else:  # a wrapped item continues on the next line
                    items[-1] = f"{items[-1]} {lines[i].strip()}"
                i += 1
            scored = tuple(s for item in items for s in split_sentences(item))
            body = "\n".join(items)
            blocks.append(
                Block(
                    "list",
                    f"{lead}\n{body}" if lead else body,
                    ((lead,) if lead else ()) + scored,
                    len(blocks),
                    paragraph,
                )
            )
            paragraph += 1
            continue
        if not line.strip():
            flush_prose()
            paragraph += 1
        else:
            prose.append(line.strip())
        i += 1
    flush_prose()
    return blocks


class SentenceVectors(Protocol):
    """The index's sentence embeddings, looked up per chunk row."""

    def __call__(self, row: int) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Candidate:
    """A retrieved chunk offered to the composer."""

    row: int
    chunk: Chunk
    score: float  # the retriever's fused score


@dataclass
class Passage:
    """What is shown from one chunk: some of its blocks, in the note's order."""

    chunk: Chunk
    blocks: list[Block] = field(default_factory=list)

    @property
    def text(self) -> str:
        out: list[str] = []
        previous: Block | None = None
        for block in sorted(self.blocks, key=lambda b: b.order):
            if out and previous is not None and block.kind == previous.kind == "sentence":
                joiner = " " if block.paragraph == previous.paragraph and block.order == previous.order + 1 else " … "
                out[-1] += joiner + block.text
            else:
                out.append(block.text)
            previous = block
        return "\n".join(out)

    @property
    def size(self) -> int:
        return sum(len(b.text) + 1 for b in self.blocks)


def mentions(text: str, library: str) -> bool:
    low = f" {text.lower()} "
    return any(
        (alias.strip() in low) if alias.endswith((".", "(")) else re.search(rf"\b{re.escape(alias.strip())}\b", low)
        for alias in LIBRARIES.get(library, (library.lower(),))
    )


def other_libraries(text: str, library: str) -> bool:
    """Whether a passage is about a different library than the one asked for (Keras when PyTorch was asked)."""
    rivals = {"PyTorch", "TensorFlow", "Keras", "JAX", "XGBoost", "LightGBM", "scikit-learn"} - {library}
    return any(mentions(text, lib) for lib in rivals) and not mentions(text, library)


_STEM = re.compile(r"(ing|ed|es|s|ation|ations|ize|ise|er)$")
_HEADING_STOP = STOPWORDS | {"use", "using", "used", "work", "works"}


def _stems(text: str) -> set[str]:
    return {_STEM.sub("", w)[:6] for w in re.findall(r"[a-z0-9]{3,}", text.lower()) if w not in _HEADING_STOP}


def heading_fits(chunk: Chunk, analysis: Analysis) -> float:
    """A bonus for a section whose heading asks the question asked: the same kind, and the same words."""
    heading = chunk.heading_path[-1] if len(chunk.heading_path) > 1 else ""
    shared = _stems(heading) & _stems(analysis.text)
    bonus = 0.015 * min(len(shared), 3)
    question = analysis.normalized.lstrip()
    if question.startswith("why") and heading.lower().startswith("why"):
        return bonus + 0.04
    if analysis.kind == "yesno" and _YESNO_HEADING.search(heading):  # the section that gives the verdict
        return bonus + 0.04
    if analysis.kind in ("howto", "recommend") and _HOW_HEADING.search(heading):
        return bonus + 0.02
    if analysis.kind == "explain" and _WHAT_HEADING.search(heading):
        return bonus + 0.02
    if analysis.kind == "compare":
        low = heading.lower()
        hits = sum(1 for s in analysis.subjects if any(w in low for w in s.split() if len(w) > 2))
        return bonus + 0.02 * hits + (0.02 if re.search(r"differ|\bvs\b|versus|compare|or\b", low) else 0.0)
    return bonus


def _lookup(table: dict[str, np.ndarray], sentence: str) -> list[np.ndarray]:
    """The index's vector for a sentence, also when the index cut the text elsewhere.

    The index splits before a capital or digit; blocks also split before `code` and **bold**, so a block's
    sentence may be a piece of an index sentence (or, rarely, hold a whole one).
    """
    if sentence in table:
        return [table[sentence]]
    # The index keeps its sentences NFKC-normalized ("σ²" is "σ2" there), blocks keep the notes' spelling.
    sentence = unicodedata.normalize("NFKC", sentence)
    if sentence in table:
        return [table[sentence]]
    return [v for k, v in table.items() if sentence in k or (len(k) >= 15 and k in sentence)]


def _cut(block: Block, room: int) -> Block:
    """The start of a block too long for any budget: whole lines of code with the fence closed, else words."""
    if block.kind == "code":
        lines = block.text.split("\n")
        fence = next((ln.strip()[:3] for ln in lines if _FENCE.match(ln)), "```")
        kept: list[str] = []
        for line in lines[:-1]:  # the last line is the closing fence, added back below
            if len("\n".join([*kept, line, "…", fence])) > room:
                break
            kept.append(line)
        if any(_FENCE.match(ln) for ln in kept):
            return Block("code", "\n".join([*kept, "…", fence]), (), block.order, block.paragraph)
        block = Block("sentence", block.text.split("\n", 1)[0], (), block.order, block.paragraph)
    cut = block.text[: room - 1].rsplit(" ", 1)[0] + "…" if len(block.text) > room else block.text
    return Block("sentence", cut, (), block.order, block.paragraph)


# What a block may add to the rendered answer beyond its text: the widest joiner between blocks (" … ").
_JOINER = 3
_PASSAGE_GAP = 2  # the blank line between passages


class Composer:
    """Picks blocks across the best chunks for one (sub-)question, within a character budget."""

    def __init__(self, vectors: SentenceVectors) -> None:
        self.vectors = vectors

    def rank(self, candidates: Sequence[Candidate], analysis: Analysis) -> list[Candidate]:
        """Candidates re-ranked for what was asked: the kind of question and the library it names."""

        def value(c: Candidate) -> float:
            text = " ".join(c.chunk.heading_path) + " " + c.chunk.text
            bonus = heading_fits(c.chunk, analysis)
            if analysis.library:
                if mentions(text, analysis.library):
                    bonus += 0.05
                elif other_libraries(text, analysis.library):
                    bonus -= 0.05
            return c.score + bonus

        return sorted(candidates, key=value, reverse=True)

    def _relevance(self, cand: Candidate, query: np.ndarray) -> Callable[[str], float]:
        """How close a piece of a chunk (a list item) is to the question, by the index's sentence vectors."""
        table = self.vectors(cand.row)

        def score(text: str) -> float:
            vecs = [v for sentence in split_sentences(text.lstrip(" -*+")) for v in _lookup(table, sentence)]
            return max((float(v @ query) for v in vecs), default=0.0)

        return score

    def blocks(self, cand: Candidate, query: np.ndarray, analysis: Analysis) -> list[tuple[float, Block, np.ndarray]]:
        """Each block of a chunk with its relevance to the query and a vector for redundancy checks."""
        table = self.vectors(cand.row)
        out: list[tuple[float, Block, np.ndarray]] = []
        fallback = np.zeros_like(query)
        for block in parse_blocks(cand.chunk.text):
            vecs = [v for s in block.sentences for v in _lookup(table, s)]
            if not vecs:
                vecs = [v for s in split_sentences(block.text) for v in _lookup(table, s)]
            if vecs:
                sims = [float(v @ query) for v in vecs]
                best = int(np.argmax(sims))
                score, vec = sims[best], vecs[best]
            else:
                score, vec = 0.0, fallback
            if block.order == 0:  # a section opens with its direct answer to the question in its heading
                score += LEAD_BONUS
            if analysis.kind == "howto" and block.kind in ("list", "code"):
                score += 0.05
            choosing = analysis.kind == "compare" and _CHOOSES.search(analysis.normalized)
            if (analysis.kind == "yesno" or choosing) and _VERDICT.search(block.text):
                score += VERDICT_BONUS
            if analysis.library and block.kind != "code" and other_libraries(block.text, analysis.library):
                score -= 0.1
            if analysis.library and block.kind == "code" and mentions(block.text, analysis.library):
                score += 0.05
            out.append((score, block, vec))
        return out

    def select(
        self,
        candidates: Sequence[Candidate],
        query: np.ndarray,
        analysis: Analysis,
        budget: int,
        max_entries: int = 3,
        rerank: bool = True,
        shown: Collection[str] = (),
    ) -> list[Passage]:
        """The best chunk's most relevant blocks, then relevant, non-redundant blocks of the next ones.

        ``shown`` holds blocks an earlier part of the same reply already showed; they are not repeated.
        """
        ranked = self.rank(candidates, analysis) if rerank else list(candidates)
        if not ranked:
            return []
        passages: list[Passage] = []
        chosen: list[np.ndarray] = []
        used = 0
        top_score = ranked[0].score
        floor: float | None = None
        for n, cand in enumerate(ranked[: max_entries + 2]):
            if len(passages) >= max_entries or budget - used < 120:
                break
            if n and cand.score < top_score - SECONDARY_MARGIN:
                break
            scored = sorted(self.blocks(cand, query, analysis), key=lambda t: -t[0])
            if not scored:
                continue
            if floor is None:  # the first chunk's best block sets the bar for what the others must reach
                floor = scored[0][0] - 0.05
            passage = Passage(cand.chunk)
            gap = _PASSAGE_GAP if passages else 0
            for score, whole, vec in scored:
                if (n and score < floor) or whole.text in shown:
                    continue
                block: Block | None = whole
                room = budget - used - gap - _JOINER
                if len(whole.text) > room:
                    block = trim_list(whole, room, self._relevance(cand, query)) if n == 0 else None
                if block is None:
                    continue
                if chosen and any(float(vec @ c) > REDUNDANT for c in chosen if c.any()):
                    continue
                passage.blocks.append(block)
                used += len(block.text) + _JOINER
                if vec.any():
                    chosen.append(vec)
            if passage.blocks:
                passages.append(passage)
                used += gap
            elif n == 0:  # even the best block is too long: show its start, cut where it stays well-formed
                passages.append(Passage(cand.chunk, [_cut(scored[0][1], budget)]))
                break
        return passages


def render(passages: Sequence[Passage]) -> str:
    """Passages in ranking order, each in the note's order, separated by a blank line (list items by one)."""
    out = ""
    for p in passages:
        if not p.blocks:
            continue
        tight = out.endswith(("\n- ", "- ")) or (
            out and out.rsplit("\n", maxsplit=1)[-1].startswith("- ") and p.text.startswith("- ")
        )
        out += ("\n" if tight else "\n\n") + p.text if out else p.text
    return out


def source_label(chunk: Chunk) -> str:
    return chunk.title if chunk.kind == "resource" else " › ".join(chunk.heading_path)


Search = Callable[[str], tuple[list[Candidate], np.ndarray, float]]
