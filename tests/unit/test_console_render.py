"""What the terminal shows: declines that point to what the console can do, unwrapped piped output, honest mastery."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from rich.console import Console

from bot.console import render
from bot.domain.answering import Answer, Source
from bot.domain.content import Skill
from bot.domain.learners import EARLY_ESTIMATE_BELOW, Progress, SkillProgressStats
from bot.domain.streaks import StreakState

DECLINE = (
    "That's not in my notes yet, so I won't guess. The closest topics I do cover: Overfitting, Learning rate. "
    "For more, browse the curated resources or ask a moderator to add it."
)
SKILLS = {"Overfitting": "machine-learning", "Learning rate": "machine-learning"}


def screen(print_to) -> str:
    buffer = io.StringIO()
    print_to(Console(file=buffer, width=80, force_terminal=False, color_system=None))
    return buffer.getvalue()


def decline(topics: list[str]) -> Answer:
    return Answer(
        question="how do I knit?",
        abstained=True,
        confidence=0.1,
        answer=DECLINE,
        sources=[],
        latency_ms=1.0,
        closest_topics=topics,
    )


def test_decline_suggests_related_topics_and_a_quiz_on_the_nearest_skill() -> None:
    """A decline names the related topics to ask and `/quiz <skill>`, never Discord-only steps (moderators)."""
    text = screen(lambda out: render.print_answer(out, decline(["Overfitting", "Learning rate"]), SKILLS.get))
    assert "Related topics you can ask about: Overfitting, Learning rate." in text
    assert "/quiz machine-learning" in text
    assert "moderator" not in text and "curated resources" not in text
    assert text.count("Overfitting") == 1  # the domain's own list of topics is replaced, not repeated


def test_decline_without_topics_still_says_what_to_try() -> None:
    """With no close topic, the decline points to /help instead of leaving the learner stuck."""
    text = screen(lambda out: render.print_answer(out, decline([]), SKILLS.get))
    assert "/help" in text and "moderator" not in text


def test_piped_answer_is_plain_and_never_wrapped_at_80_columns() -> None:
    """Output that is not a terminal keeps each sentence and URL on one line, without boxes."""
    sentence = "Overfitting is when a model learns the noise of its training data " * 3
    url = "https://example.org/a/very/long/path/that/would/be/cut/by/a/hard/wrap/at/eighty/columns/index.html"
    answer = Answer(
        question="q",
        abstained=False,
        confidence=0.9,
        answer=sentence.strip(),
        latency_ms=1.0,
        sources=[Source("Overfitting", "knowledge/concepts/overfitting.md", url, "t", 0.8)],
    )
    lines = screen(lambda out: render.print_answer(out, answer)).splitlines()
    assert sentence.strip() in lines
    assert any(url in line for line in lines)
    assert not any("│" in line or "╭" in line for line in lines)


def progress(*skills: SkillProgressStats) -> Progress:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    streak = StreakState(1, 1, 0, (), date(2025, 1, 1), True, now, timedelta(hours=3))
    return Progress("Ada", skills, ((date(2025, 1, 1), 3),), streak)


def test_mastery_from_few_answers_is_marked_as_an_early_estimate(tmp_path) -> None:
    """91% mastery from 3 answers shows as an early estimate with what it rests on; 10 answers show plainly."""
    early = SkillProgressStats(Skill.MATH, mastery=0.91, accuracy=2 / 3, seen=3, total=20, answers=3)
    settled = SkillProgressStats(Skill.PYTHON, mastery=0.8, accuracy=0.8, seen=8, total=20, answers=10)
    text = screen(lambda out: out.print(render.progress(progress(early, settled), tmp_path / "c.png")))
    assert "91%*" in text and "3 answers" in text and "67%" in text
    assert "80%*" not in text and "10 answers" in text
    assert f"fewer than {EARLY_ESTIMATE_BELOW} answers" in text
    assert early.early and not settled.early


def test_no_early_note_when_every_estimate_is_settled(tmp_path) -> None:
    """The footnote appears only when some skill's figure is an early estimate."""
    settled = SkillProgressStats(Skill.PYTHON, mastery=0.8, accuracy=0.8, seen=8, total=20, answers=10)
    text = screen(lambda out: out.print(render.progress(progress(settled), tmp_path / "c.png")))
    assert "early estimate" not in text
