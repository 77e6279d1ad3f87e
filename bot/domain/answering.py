"""Answering questions from the knowledge base: extractive, grounded, and honest about gaps."""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from bot.domain.compose import Candidate, Composer, Passage, mentions, render, source_label
from bot.domain.conversation import Turn, own_words, refers_back, rewrite
from bot.domain.errors import InvalidQuestion
from bot.domain.questions import Analysis, analyze, search_text
from index.chunking import Chunk
from index.confidence import Calibration
from index.retriever import Hit, HybridRetriever, SearchResult
from index.text import clean

ANSWER_LIMIT = 1000  # characters of answer text; leaves room for sources inside Discord's 2,000
PART_LIMIT = 450  # at least this much per part of a multi-part question, so no part is starved
MAX_PARTS = 4  # parts answered from one message; more is a list of questions, not a question
MAX_QUESTION = 2000
MAX_SOURCES = 5
CANDIDATES = 8  # chunks offered to the composer
LEARN_MORE_MIN = 0.35  # fused score a resource hit needs to come first under "learn more"
TOPIC_BONUS = 0.05  # added to the entries a follow-up leans on: "how do I read it?" is about the last answer's topic
# Taken from a section an earlier part of the same question already showed: "what's a random seed, and why do I
# still get different results on GPU after setting it?" wants the GPU section second, not the rest of the seeds one.
SHOWN_PENALTY = 0.05
REFERS_MARGIN = 0.05  # how much surer the search must be of a rewrite that resolves a pronoun it was not sure of

# Text that tries to steer the bot rather than ask about ML. The bot is extractive, so it could not
# obey anyway; declining openly is clearer than answering with a passage that merely shares words.
_INJECTION = re.compile(
    r"@everyone|@here|<@[!&]?\d+>|"
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instruction|instructions|rules|prompt|guidelines|previous)\b|"
    r"\b(system prompt|jailbreak|developer mode|do anything now)\b|\byou are now\b|\bpretend (to be|you are)\b|"
    r"\b(ping|mention|tag) (everyone|all|every ?one|here)\b",
    re.I,
)


@dataclass(frozen=True)
class Source:
    title: str
    path: str
    url: str | None
    text: str
    score: float
    doc_id: str = field(default="", compare=False)
    skill: str = field(default="", compare=False)


@dataclass(frozen=True)
class Answer:
    question: str
    abstained: bool
    confidence: float
    answer: str
    sources: list[Source]
    latency_ms: float
    related_resources: list[Source] = field(default_factory=list)
    closest_topics: list[str] = field(default_factory=list)
    skill: str | None = None
    standalone_question: str = ""  # the follow-up rewritten to stand alone, or the question itself
    kind: str = "explain"
    # The composer's passages, in the order shown: what an optional generated answer is written from.
    passages: tuple[Passage, ...] = field(default=(), compare=False, repr=False)

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """The entries the answer cites, for a conversation's memory and "Quiz me on this"."""
        return tuple(dict.fromkeys(s.doc_id for s in self.sources if s.doc_id))

    @property
    def rewritten(self) -> bool:
        """Whether the answer is to a rewritten follow-up, which the reply should show."""
        return bool(self.standalone_question) and self.standalone_question != self.question

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape of ``studybot ask --json``."""
        return {
            "question": self.question,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "answer": self.answer,
            "sources": [
                {k: v for k, v in asdict(s).items() if k in ("title", "path", "url", "text", "score")}
                for s in self.sources
            ],
            "latency_ms": round(self.latency_ms, 3),
            "standalone_question": self.standalone_question or self.question,
            "kind": self.kind,
        }


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def check_question(raw: str) -> str:
    """Clean user text, or raise a friendly error explaining what a question should look like."""
    text = clean(raw)
    if not text:
        raise InvalidQuestion("Please type a question, for example: *What is overfitting?*")
    if sum(ch.isalpha() for ch in text) < 2:
        raise InvalidQuestion(
            "I couldn't find a question in that. Try asking in words, like *How do I choose a learning rate?*"
        )
    return text[:MAX_QUESTION]


def _resource_source(chunk: Chunk, score: float) -> Source:
    return Source(chunk.title, chunk.path, chunk.url, chunk.text, round(score, 4), chunk.id, chunk.skill)


def _source(hit: Hit) -> Source:
    chunk = hit.chunk
    return Source(
        title=source_label(chunk),
        path=chunk.path,
        url=chunk.url,
        text=chunk.text,
        score=round(hit.score, 4),
        doc_id=chunk.doc_id,
        skill=chunk.skill,
    )


_EACH_SIDE = "My notes don't compare these directly, so here is each side."
_RESOURCE_KIND = {
    "video": re.compile(r"\b(youtube|videos?|lectures?|watch|playlist|channel)\b"),
    "book": re.compile(r"\b(books?|textbooks?|read|pdf)\b"),
    "course": re.compile(r"\b(course|courses|mooc|class|specialization)\b"),
    "tutorial": re.compile(r"\b(tutorials?|hands-on|walkthrough)\b"),
}
_FREE = re.compile(r"\b(free|no cost|cheap|without paying)\b")


@dataclass
class _Part:
    """One answered (or declined) piece of a reply, with the hits it was composed from."""

    question: str
    confidence: float
    passages: list[Passage]
    hits: list[Hit]
    note: str = ""  # a one-line caveat shown before the passages
    query_vector: np.ndarray | None = None

    @property
    def answered(self) -> bool:
        return bool(self.passages)

    @property
    def doc_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.chunk.doc_id for p in self.passages))


def _merge(question: str, parts: Sequence[_Part]) -> _Part:
    """Parts answered from the same sections, shown as one answer: each chunk's blocks together, in note order."""
    passages: dict[str, Passage] = {}
    for part in parts:
        for passage in part.passages:
            merged = passages.setdefault(passage.chunk.id, Passage(passage.chunk))
            merged.blocks += [b for b in passage.blocks if b not in merged.blocks]
    return _Part(
        question,
        max(p.confidence for p in parts),
        list(passages.values()),
        [h for p in parts for h in p.hits],
        query_vector=parts[0].query_vector,
    )


class _SentenceLookup:
    """The composer's view of the index's sentence vectors: one chunk row's sentences and their embeddings."""

    def __init__(self, retriever: HybridRetriever) -> None:
        self.retriever = retriever

    def __call__(self, row: int) -> dict[str, np.ndarray]:
        index = self.retriever.index
        start, end = index.sentence_spans[row]
        return {index.sentence_texts[i]: index.sentence_vectors[i] for i in range(start, end)}


class AnswerService:
    """Turns a question into an answer with sources, or an honest 'not in my notes yet'."""

    def __init__(self, retriever: HybridRetriever, calibration: Calibration, threshold: float | None = None) -> None:
        self.retriever = retriever
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else threshold
        # Not a bound method of this service: service → composer → service would be a reference cycle, and an
        # evicted server's index (bot/retrieval/servers.py) would stay in memory until a full garbage collection.
        self.composer = Composer(_SentenceLookup(retriever))

    def standalone(self, question: str, history: Sequence[Turn]) -> str:
        """The question as it stands alone: a follow-up borrows its subject from the turn before.

        A follow-up whose own words are not in the notes ("and what about pizza?") is not rewritten: bending
        it into the previous topic would answer something that was never asked.
        """
        words = own_words(question)
        if words and self.retriever.index.keyword.known_fraction(" ".join(words)) < 0.5:
            return question  # a new subject the notes don't know ("and what about pineapple on it?")
        rewritten = rewrite(question, history)
        if rewritten is None and history and refers_back(question):
            # "why can't I just call it on the test set too?" has words of its own, yet "it" is the last turn's
            # subject. Whether it is, the notes decide: the rewrite is kept only if the search is surer of it.
            cited = history[-1].doc_ids[:1]
            topic = next((c.title for c in self.retriever.index.chunks if cited and c.doc_id == cited[0]), None)
            forced = rewrite(question, history, force=True, topic=topic)
            if forced and self._search(forced)[1] > self._search(question)[1] + REFERS_MARGIN:
                return forced
        return rewritten or question

    def ask(self, question: str, context: str | None = None, history: Sequence[Turn] = ()) -> Answer:
        """Answer ``question``; ``history`` (the conversation's recent turns) resolves follow-ups.

        ``context`` is an earlier question given as plain text, kept for callers without a conversation.
        """
        started = time.perf_counter()
        text = check_question(question)
        if _INJECTION.search(text):
            return Answer(
                question=text,
                abstained=True,
                confidence=0.0,
                answer="I only answer study questions about becoming an ML engineer, from my notes. "
                "Ask me something like *What is cross-validation?*",
                sources=[],
                latency_ms=(time.perf_counter() - started) * 1000,
                standalone_question=text,
            )
        if not history and context:
            history = [Turn(clean(context)[:500], clean(context)[:500], (), _EPOCH)]
        asked = self.standalone(text, history)
        analysis = analyze(asked)
        # A follow-up that needed the conversation to make sense is about what the last answer cited.
        topic = history[-1].doc_ids if history and asked != text else ()
        if analysis.kind == "multipart":
            parts = self._parts(asked, analysis, topic)
        else:
            parts = [self._part(asked, analysis, ANSWER_LIMIT, topic=topic)]
        return self._answer(text, asked, analysis, parts, started)

    def _parts(self, asked: str, analysis: Analysis, topic: Collection[str] = ()) -> list[_Part]:
        """Each part answered in order, from its own search; what a part leaves of the budget goes to the next.

        A part that leans on the one before ("how big should each be?") borrows its subject and prefers what
        that part cited, and nothing an earlier part showed is shown again. When every part finds the same
        section first ("what is the law of large numbers and how does it differ from the central limit
        theorem"), the parts' pieces of it are shown as one passage in the note's order, under one source,
        rather than as a section cut in two under a repeated heading.
        (Each part still picks its own pieces, so a part that found a different section keeps its own heading.)
        """
        questions = analysis.parts[:MAX_PARTS]
        resolved: list[str] = []
        for text in questions:
            before = resolved[-1] if resolved else None
            resolved.append(self.standalone(text, [Turn(before, before, (), _EPOCH)]) if before else text)
        searches = [self._search(q) for q in resolved]
        parts: list[_Part] = []
        shown: set[str] = set()
        shown_in: set[str] = set()  # the chunks those blocks came from
        used = 0
        for n, (text, question, searched) in enumerate(zip(questions, resolved, searches, strict=True)):
            leans = parts[-1].doc_ids if parts and question != text else topic
            budget = max(PART_LIMIT, (ANSWER_LIMIT - used) // (len(questions) - n))
            part = self._part(question, analyze(question), budget, shown, leans, searched, shown_in)
            shown |= {b.text for p in part.passages for b in p.blocks}
            shown_in |= {p.chunk.id for p in part.passages}
            used += sum(p.size for p in part.passages)
            parts.append(part)
        if all(p.answered for p in parts) and len({p.passages[0].chunk.id for p in parts}) == 1:
            return [_merge(asked, parts)]
        return parts

    # -- one question ----------------------------------------------------------------------------
    def _search(self, text: str) -> tuple[SearchResult, float]:
        """Every search the answer makes (whole question, part or compare side) reads the text the same way."""
        result = self.retriever.search(search_text(text))
        return result, self.calibration.confidence(result.features)

    def _candidates(self, hits: Sequence[Hit], kind: str = "entry") -> list[Candidate]:
        return [Candidate(h.row, h.chunk, h.score) for h in hits if h.chunk.kind == kind][:CANDIDATES]

    def _part(
        self,
        question: str,
        analysis: Analysis,
        budget: int,
        shown: Collection[str] = (),
        topic: Collection[str] = (),
        searched: tuple[SearchResult, float] | None = None,
        shown_in: Collection[str] = (),
    ) -> _Part:
        """One (sub-)question answered; ``topic`` holds the entries the question leans on, which it prefers, and
        ``shown_in`` the chunks an earlier part showed from, which it leaves for others when they are as good."""
        result, confidence = searched or self._search(question)
        if not result.hits or confidence < self.threshold:
            return _Part(question, confidence, [], result.hits, query_vector=result.query_vector)
        if topic or shown_in:
            lifted = [
                replace(
                    h,
                    score=h.score
                    + (TOPIC_BONUS if h.chunk.doc_id in topic else 0.0)
                    - (SHOWN_PENALTY if h.chunk.id in shown_in else 0.0),
                )
                for h in result.hits
            ]
            result = replace(result, hits=sorted(lifted, key=lambda h: -h.score))
        if analysis.kind == "recommend":
            picked = self._recommend(result.hits, analysis, budget)
            if picked.passages:
                picked.question, picked.confidence = question, confidence
                return picked
        if analysis.kind == "compare" and len(analysis.subjects) == 2:
            part = self._compare(question, analysis, result, confidence, budget, shown)
            part.query_vector = result.query_vector
            return part
        candidates = self._candidates(result.hits)
        passages = self.composer.select(candidates, result.query_vector, analysis, budget, shown=shown)
        note = ""
        if analysis.library and not any(
            mentions(" ".join(p.chunk.heading_path) + " " + p.chunk.text, analysis.library) for p in passages
        ):
            note = f"My notes don't show this in {analysis.library} specifically, so here is the general answer."
            passages = self.composer.select(
                candidates, result.query_vector, analysis, budget - len(note) - 3, shown=shown
            )
        return _Part(question, confidence, passages, result.hits, note, result.query_vector)

    def _compare(
        self,
        question: str,
        analysis: Analysis,
        result: SearchResult,
        confidence: float,
        budget: int,
        shown: Collection[str] = (),
    ) -> _Part:
        """Both sides: one entry that covers both when the notes have it, else each side from its own search.

        ``shown`` holds what an earlier part of the reply showed: "what is X and how does it differ from Y" often
        finds one section twice, and the second part should show its rest, not repeat it.
        """
        fix = self.retriever.index.keyword.normalize  # "precison vs recal": the sides as the search read them
        a, b = (fix(side) for side in analysis.subjects[:2])
        ranked = self.composer.rank(self._candidates(result.hits), analysis)

        def covers(cand: Candidate) -> bool:
            """A chunk compares the two when its heading names both, or its text dwells on both."""
            heading, text = " ".join(cand.chunk.heading_path[1:]).lower(), cand.chunk.text.lower()

            def count(where: str, side: str) -> int:
                return max((len(re.findall(rf"\b{re.escape(w)}", where)) for w in own_words(side) or [side]), default=0)

            in_heading = count(heading, a) and count(heading, b)
            return bool(in_heading or (count(text, a) >= 2 and count(text, b) >= 2))

        both = [c for c in ranked[:4] if covers(c)]
        if both:
            covered = self.composer.select(
                both + [c for c in ranked if c not in both],
                result.query_vector,
                analysis,
                budget,
                2,
                rerank=False,
                shown=shown,
            )
            return _Part(question, confidence, covered, result.hits)
        passages: list[Passage] = []
        hits: list[Hit] = list(result.hits)
        side_budget = (budget - len(_EACH_SIDE) - 3) // 2
        for side in (a, b):
            side_result, side_conf = self._search(f"what is {side}")
            if side_conf < self.threshold:
                continue
            side_analysis = analyze(f"what is {side}")
            chosen = self.composer.select(
                self._candidates(side_result.hits),
                side_result.query_vector,
                side_analysis,
                side_budget,
                max_entries=1,
                shown=shown,
            )
            passages += [p for p in chosen if p.chunk.id not in {q.chunk.id for q in passages}]
            hits += side_result.hits
        note = _EACH_SIDE if len(passages) > 1 else ""
        return _Part(question, confidence, passages, hits, note)

    def _recommend(self, hits: Sequence[Hit], analysis: Analysis, budget: int) -> _Part:
        """Curated resources for "where can I learn…": the medium and price asked for first."""
        wants = [kind for kind, pattern in _RESOURCE_KIND.items() if pattern.search(analysis.normalized)]
        free = bool(_FREE.search(analysis.normalized))

        def value(hit: Hit) -> float:
            text = hit.chunk.text.lower()
            bonus = 0.1 if any(f" {kind}" in text.split(" for learning")[0] for kind in wants) else 0.0
            bonus += 0.05 if free and re.search(r": (a )?free (?!to audit)", text) else 0.0
            return hit.score + bonus

        resources = sorted((h for h in hits if h.chunk.kind == "resource"), key=value, reverse=True)[:3]
        if not resources:
            return _Part("", 0.0, [], list(hits))
        from bot.domain.compose import Block

        passages = []
        used = 0
        for hit in resources:
            chunk = hit.chunk
            blurb = chunk.text.split(" Topics: ")[0]
            line = f"- **{chunk.title}**{blurb[len(chunk.title) :]}" if blurb.startswith(chunk.title) else f"- {blurb}"
            if used + len(line) > budget:
                break
            used += len(line) + 1
            passages.append(Passage(chunk, [Block("list", line, (), 0, 0)]))
        return _Part("", 0.0, passages, list(hits))

    # -- the reply -------------------------------------------------------------------------------
    def _answer(self, text: str, asked: str, analysis: Analysis, parts: list[_Part], started: float) -> Answer:
        answered = [p for p in parts if p.answered]
        confidence = max((p.confidence for p in (answered or parts)), default=0.0)
        if not answered:
            return self._decline(text, asked, analysis, parts, confidence, started)
        multi = len(parts) > 1
        segments: list[str] = []
        for part in parts:
            body = render(part.passages) if part.answered else "That part isn't in my notes yet, so I won't guess."
            if part.note and part.answered:
                body = f"*{part.note}*\n{body}"
            if multi:
                where = ", ".join(dict.fromkeys(source_label(p.chunk) for p in part.passages))
                body = f"**{part.question[:1].upper()}{part.question[1:]}**\n{body}" + (
                    f"\n*Source: {where}*" if where else ""
                )
            segments.append(body)
        used: dict[str, Passage] = {}
        for part in answered:
            for passage in part.passages:
                used.setdefault(passage.chunk.doc_id, passage)
        scores = {h.chunk.id: h for part in answered for h in part.hits}
        sources = []
        for passage in list(used.values())[:MAX_SOURCES]:
            hit = scores.get(passage.chunk.id)
            sources.append(
                Source(
                    title=source_label(passage.chunk),
                    path=passage.chunk.path,
                    url=passage.chunk.url,
                    text=passage.chunk.text,
                    score=round(hit.score, 4) if hit else 0.0,
                    doc_id=passage.chunk.doc_id,
                    skill=passage.chunk.skill,
                )
            )
        skill = sources[0].skill
        related: list[Source] = []
        if analysis.kind != "recommend":
            related = self._learn_more(answered, skill, {s.doc_id for s in sources})
        return Answer(
            question=text,
            abstained=False,
            confidence=confidence,
            answer="\n\n".join(segments),
            sources=sources,
            latency_ms=(time.perf_counter() - started) * 1000,
            related_resources=related,
            skill=skill,
            standalone_question=asked,
            kind=analysis.kind,
            passages=tuple(p for part in answered for p in part.passages),
        )

    def _decline(
        self, text: str, asked: str, analysis: Analysis, parts: list[_Part], confidence: float, started: float
    ) -> Answer:
        hits = [h for part in parts for h in part.hits]
        topics = list(dict.fromkeys(h.chunk.title for h in hits if h.chunk.kind == "entry"))[:3]
        where = f" The closest topics I do cover: {', '.join(topics)}." if topics else ""
        return Answer(
            question=text,
            abstained=True,
            confidence=confidence,
            answer="That's not in my notes yet, so I won't guess."
            + where
            + " For more, browse the curated resources or ask a moderator to add it.",
            sources=[],
            latency_ms=(time.perf_counter() - started) * 1000,
            closest_topics=topics,
            standalone_question=asked,
            kind=analysis.kind,
        )

    def _learn_more(self, parts: Sequence[_Part], skill: str, shown: set[str], limit: int = 3) -> list[Source]:
        """Resources the search itself found for this question first, then the answer's skill's nearest ones."""
        found = [h for part in parts for h in part.hits if h.chunk.kind == "resource" and h.chunk.doc_id not in shown]
        out = [_source(h) for h in found if h.score >= LEARN_MORE_MIN][:limit]
        query = parts[0].query_vector
        if len(out) < limit and query is not None:
            index = self.retriever.index
            taken = shown | {s.doc_id for s in out}
            rows = [
                (row, c)
                for row, c in enumerate(index.chunks)
                if c.kind == "resource" and c.skill == skill and c.doc_id not in taken
            ]
            if rows:
                sims = index.vectors[[r for r, _ in rows]] @ query
                out += [_resource_source(rows[i][1], float(sims[i])) for i in np.argsort(-sims)[: limit - len(out)]]
        return out
