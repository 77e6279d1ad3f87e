"""Answering questions from the knowledge base: extractive, grounded, and honest about gaps."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.domain.errors import InvalidQuestion
from index.confidence import Calibration
from index.retriever import Hit, HybridRetriever
from index.text import clean

ANSWER_LIMIT = 1000  # characters of answer text; leaves room for sources inside Discord's 2,000
MAX_QUESTION = 2000
MAX_SOURCES = 5

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
        }


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


def _source(hit: Hit) -> Source:
    chunk = hit.chunk
    title = chunk.title if chunk.kind == "resource" else " › ".join(chunk.heading_path)
    return Source(
        title=title,
        path=chunk.path,
        url=chunk.url,
        text=chunk.text,
        score=round(hit.score, 4),
        doc_id=chunk.doc_id,
        skill=chunk.skill,
    )


class AnswerService:
    """Turns a question into an answer with sources, or an honest 'not in my notes yet'."""

    def __init__(self, retriever: HybridRetriever, calibration: Calibration, threshold: float | None = None) -> None:
        self.retriever = retriever
        self.calibration = calibration
        self.threshold = calibration.threshold if threshold is None else threshold

    def ask(self, question: str, context: str | None = None) -> Answer:
        """Answer ``question``; ``context`` (an earlier question in the same thread) helps short follow-ups."""
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
            )
        query = f"{clean(context)[:500]} {text}" if context else text
        result = self.retriever.search(query)
        confidence = self.calibration.confidence(result.features)
        top_docs = result.by_document(MAX_SOURCES)
        if not result.hits or confidence < self.threshold:
            topics = list(dict.fromkeys(h.chunk.title for h in result.hits if h.chunk.kind == "entry"))[:3]
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
            )
        best = result.hits[0]
        sentences = self.retriever.best_sentences(best, result.query_vector, ANSWER_LIMIT)
        answer = " ".join(sentences)
        skill = best.chunk.skill
        related = [_source(h) for h in result.hits if h.chunk.kind == "resource" and h.chunk.skill == skill][:3]
        if len(related) < 3:
            related += [s for s in self._resources(skill) if s.doc_id not in {r.doc_id for r in related}][
                : 3 - len(related)
            ]
        return Answer(
            question=text,
            abstained=False,
            confidence=confidence,
            answer=answer,
            sources=[_source(h) for h in top_docs],
            latency_ms=(time.perf_counter() - started) * 1000,
            related_resources=related,
            skill=skill,
        )

    def _resources(self, skill: str) -> list[Source]:
        return [
            Source(
                title=c.title,
                path=c.path,
                url=c.url,
                text=c.text,
                score=0.0,
                doc_id=c.doc_id,
                skill=c.skill,
            )
            for c in self.retriever.index.chunks
            if c.kind == "resource" and c.skill == skill
        ]
