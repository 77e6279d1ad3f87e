"""Nothing shown that is not in the notes: every answer line of the answer benchmark is found in the index."""

from __future__ import annotations

import re

import pytest

from bench import answers as bench_answers
from bot.domain.answering import Answer

pytestmark = pytest.mark.model

# What the composer adds around the notes' own words: part headings (the learner's question), the source line,
# one-line caveats, a declined part, and the resource title it bolds.
_FRAMING = re.compile(
    r"^(\*\*[^*].*\*\*|\*Source: .*\*|\*My notes .*\*|\*Answering: .*\*|That part isn't in my notes yet.*)$"
)


def _norm(text: str) -> str:
    return " ".join(text.replace("*", "").replace("`", "").split())


def pieces(answer: Answer) -> list[str]:
    """The pieces of an answer that must be quoted from the notes (framing removed, '…' splits quotes)."""
    if answer.abstained:  # a decline quotes no note: it says so, in StudyBot's own words
        return []
    out = []
    for line in answer.answer.split("\n"):
        if not line.strip() or _FRAMING.match(line.strip()):
            continue
        out += [p for p in (_norm(x) for x in line.split(" … ")) if p]
    return out


@pytest.fixture(scope="module")
def corpus(shipped_service) -> list[str]:
    service = shipped_service.answer_service(lambda msg: None)
    return [_norm(c.text) for c in service.retriever.index.chunks]


def test_every_benchmark_answer_line_is_in_the_notes(shipped_service, corpus):
    """Run both answer benchmark sets (every split); every shown line is a verbatim piece of some note."""
    service = shipped_service.answer_service(lambda msg: None)
    questions = bench_answers.load_all()
    checked = 0
    missing: list[tuple[str, str]] = []
    for q, answer in bench_answers.run(bench_answers.current(service), questions):
        for piece in pieces(answer):
            checked += 1
            # a resource's bullet is its indexed blurb with the title bolded: drop the list marker only
            text = piece[2:] if piece.startswith("- ") and not any(piece in c for c in corpus) else piece
            text = text.removesuffix("…").rstrip()  # a block cut to the budget ends in "…": its start is quoted
            if not any(text in c for c in corpus):
                missing.append((q.id, piece[:120]))
    assert checked > 500
    assert not missing, missing[:10]
