"""Answer quality: key-fact recall, helpful share and declines, for the old composer and the new, in one run.

The questions (bench/answers.yaml) were written blind, before the notes were read; a third of each kind is
held out and only ever run. `python -m bench answers` prints one table per split.
"""

from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.domain.answering import Answer, AnswerService
from bot.domain.conversation import Turn

SET = Path(__file__).with_name("answers.yaml")
# Later sets, each written blind (bench/QUESTIONS.md); their splits are reported with the prefix, e.g. "fresh-dev".
LATER = (
    (Path(__file__).with_name("answers_fresh.yaml"), "fresh-"),
    (Path(__file__).with_name("answers_fresh3.yaml"), "fresh3-"),
    (Path(__file__).with_name("answers_fresh4.yaml"), "fresh4-"),
)
DEV_SPLITS = ("dev", "fresh-dev", "fresh3-dev", "fresh4-dev")  # the only splits ever read or tuned on
HELPFUL_RECALL = 2 / 3


@dataclass(frozen=True)
class Asked:
    """One question to put to the bot: a single question, or one turn of a conversation."""

    id: str
    kind: str  # the item's kind; conversation turns are "followup" after the first
    split: str
    question: str
    facts: tuple[str, ...]
    offtopic: bool
    parts: tuple[tuple[str, ...], ...] = ()
    conversation: str | None = None
    first_turn: bool = True


def load(path: Path = SET, prefix: str = "") -> list[Asked]:
    """Every question and conversation turn of the set, in order; ``prefix`` names the set in each split."""
    data = yaml.safe_load(path.read_text())
    out: list[Asked] = []
    for item in data["questions"]:
        kind, split = item["kind"], prefix + item["split"]
        if kind == "conversation":
            for n, turn in enumerate(item["turns"]):
                out.append(
                    Asked(
                        id=f"{item['id']}#{n + 1}",
                        kind="conversation" if n == 0 else "followup",
                        split=split,
                        question=turn["question"],
                        facts=tuple(turn.get("facts", ())),
                        offtopic=bool(turn.get("offtopic")),
                        conversation=item["id"],
                        first_turn=n == 0,
                    )
                )
            continue
        out.append(
            Asked(
                id=item["id"],
                kind=kind,
                split=split,
                question=item["question"],
                facts=tuple(item.get("facts", ())),
                offtopic=kind == "offtopic",
                parts=tuple(tuple(p["facts"]) for p in item.get("parts", ())),
            )
        )
    return out


def load_all() -> list[Asked]:
    """Every set's questions, each split named after its set."""
    return load() + [q for path, prefix in LATER if path.exists() for q in load(path, prefix)]


def recall(answer: Answer, facts: tuple[str, ...]) -> float:
    """The share of key facts the answer states; a decline states none."""
    if answer.abstained or not facts:
        return 0.0
    return sum(bool(re.search(f, answer.answer, re.I)) for f in facts) / len(facts)


@dataclass
class Tally:
    recall: list[float] = field(default_factory=list)
    helpful: list[bool] = field(default_factory=list)
    declined: list[bool] = field(default_factory=list)  # off-topic questions only
    false_declines: list[bool] = field(default_factory=list)  # in-scope questions only
    parts: list[float] = field(default_factory=list)  # multi-part: share of parts covered
    latency: list[float] = field(default_factory=list)


Ask = Callable[[str, list[Turn]], Answer]


def legacy(service: AnswerService) -> Ask:
    """The composer before issue 14: the best chunk's most similar sentences; a thread keeps its first question."""
    from bot.domain.answering import ANSWER_LIMIT, check_question

    def ask(question: str, history: list[Turn]) -> Answer:
        started = time.perf_counter()
        text = check_question(question)
        query = f"{history[0].question} {text}" if history else text
        result = service.retriever.search(query)
        confidence = service.calibration.confidence(result.features)
        if not result.hits or confidence < service.threshold:
            return Answer(text, True, confidence, "", [], (time.perf_counter() - started) * 1000)
        sentences = service.retriever.best_sentences(result.hits[0], result.query_vector, ANSWER_LIMIT)
        return Answer(text, False, confidence, " ".join(sentences), [], (time.perf_counter() - started) * 1000)

    return ask


def current(service: AnswerService) -> Ask:
    def ask(question: str, history: list[Turn]) -> Answer:
        return service.ask(question, history=history)

    return ask


def run(ask: Ask, questions: list[Asked]) -> Iterator[tuple[Asked, Answer]]:
    """Each question answered in order, conversations carrying their recent turns."""
    histories: dict[str, list[Turn]] = defaultdict(list)
    for q in questions:
        history = histories[q.conversation] if q.conversation else []
        answer = ask(q.question, list(history))
        if q.conversation:
            history.append(
                Turn(q.question, answer.standalone_question or q.question, answer.doc_ids, datetime.now(UTC))
            )
        yield q, answer


def score(pairs: list[tuple[Asked, Answer]]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = defaultdict(Tally)
    for q, answer in pairs:
        for key in (q.kind, "all"):
            t = tallies[key]
            t.latency.append(answer.latency_ms)
            if q.offtopic:
                t.declined.append(answer.abstained)
                continue
            r = recall(answer, q.facts) if q.facts else (0.0 if answer.abstained else 1.0)
            t.recall.append(r)
            t.helpful.append(not answer.abstained and r >= HELPFUL_RECALL - 1e-9)
            t.false_declines.append(answer.abstained)
            if q.parts:
                covered = [not answer.abstained and all(re.search(f, answer.answer, re.I) for f in p) for p in q.parts]
                t.parts.append(sum(covered) / len(covered))
    return tallies


def _mean(values: list[Any]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "—"


def table(tallies: dict[str, Tally]) -> list[tuple[str, str]]:
    rows = []
    for kind in sorted(tallies, key=lambda k: (k == "all", k)):
        t = tallies[kind]
        bits = []
        if t.recall:
            bits += [
                f"recall {_mean(t.recall)}",
                f"helpful {_mean(t.helpful)}",
                f"false declines {_mean(t.false_declines)}",
            ]
        if t.parts:
            bits.append(f"all parts covered {_mean([p == 1.0 for p in t.parts])}")
        if t.declined:
            bits.append(f"off-topic declined {_mean(t.declined)}")
        bits.append(f"n={len(t.latency)}")
        rows.append((kind, " · ".join(bits)))
    return rows


def warm_latency(service: AnswerService, ask: Ask, questions: list[Asked], count: int = 80) -> tuple[float, float]:
    """Median time to answer, and of one model forward of the same question, interleaved question by question.

    Interleaving keeps the baseline honest on a shared machine: measured once up front, a quiet minute against a
    busy one made the ratio swing from 0.5 to 19.
    """
    singles = [q.question for q in questions if q.first_turn][:count]
    for text in singles[:5]:  # warm-up
        ask(text, [])
    forwards, answers = [], []
    for text in singles:
        started = time.perf_counter()
        service.retriever.embedder.encode([text])
        forwards.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ask(text, [])
        answers.append((time.perf_counter() - started) * 1000)
    return statistics.median(answers), statistics.median(forwards)


def main(rows: list[tuple[str, str]], split: str | None = None) -> dict[str, dict[str, Tally]]:
    from bench.harness import open_service

    service = open_service()
    questions = load_all()
    results: dict[str, dict[str, Tally]] = {}
    for name, ask in (("old", legacy(service)), ("new", current(service))):
        pairs = list(run(ask, questions))
        for part in dict.fromkeys(q.split for q in questions):
            if split and part != split:
                continue
            tallies = score([(q, a) for q, a in pairs if q.split == part])
            results[f"{name}/{part}"] = tallies
            rows += [(f"{name} composer · {part} · {k}", v) for k, v in table(tallies)]
        p50, forward = warm_latency(service, ask, questions)
        rows.append(
            (
                f"{name} composer · warm p50",
                f"{p50:.1f} ms = {p50 / forward:.2f} × one forward of the same question ({forward:.1f} ms), interleaved",
            )
        )
    return results
