"""Pure quiz-engine logic: ratings from correctness and time, and how sessions are planned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fsrs
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.content import QuizItem, Skill
from bot.domain.learners import week_start
from bot.domain.ports import CardRecord
from bot.domain.quiz import QuizBank, new_card, plan_daily, plan_targeted, rating_for, review, skill_order

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


def item(n: int, skill: Skill, difficulty: int = 1, source: str = "entry-a", topic: str = "t") -> QuizItem:
    return QuizItem(
        id=f"q-{skill.value}-{n:03d}",
        skill=skill,
        topic=topic,
        difficulty=difficulty,
        prompt=f"Question number {n} about {skill.value}?",
        options=["one", "two", "three", "four"],
        answer=n % 4,
        explanation="Because the explanation says so, at some length.",
        source=source,
    )


BANK = QuizBank([item(n, s, 1 + n % 3) for s in Skill for n in range(6)], {"entry-a": "Entry A"})


def seen(item_id: str, *, due_in: timedelta, correct: bool) -> CardRecord:
    rating = fsrs.Rating.Good if correct else fsrs.Rating.Again
    card = review(new_card(1, item_id, NOW - timedelta(days=3)), rating, NOW - timedelta(days=3))
    card.due = NOW + due_in
    return card


def test_rating_follows_correctness_and_time() -> None:
    """Wrong is Again; right is Easy when quick, Good normally or when untimed, Hard when slow."""
    assert rating_for(False, timedelta(seconds=3)) == fsrs.Rating.Again
    assert rating_for(True, timedelta(seconds=5)) == fsrs.Rating.Easy
    assert rating_for(True, timedelta(seconds=25)) == fsrs.Rating.Good
    assert rating_for(True, None) == fsrs.Rating.Good
    assert rating_for(True, timedelta(minutes=2)) == fsrs.Rating.Hard


def test_new_learner_starts_with_easy_items_of_an_untouched_skill() -> None:
    """With no history, items come from the first never-practised skill, easiest first."""
    chosen = plan_daily(BANK, {}, NOW, 5, seed="x")
    items = [BANK.items[i] for i in chosen]
    assert {i.skill for i in items} == {Skill.PYTHON}
    assert [i.difficulty for i in items] == sorted(i.difficulty for i in items)


def test_due_items_come_first_most_overdue_first() -> None:
    """Due reviews open the session in order of how overdue they are; items not yet due are left out."""
    cards = {
        "q-math-001": seen("q-math-001", due_in=-timedelta(hours=1), correct=True),
        "q-math-002": seen("q-math-002", due_in=-timedelta(days=2), correct=True),
        "q-math-003": seen("q-math-003", due_in=timedelta(days=2), correct=True),
    }
    chosen = plan_daily(BANK, cards, NOW, 5)
    assert chosen[:2] == ["q-math-002", "q-math-001"]
    assert "q-math-003" not in chosen


def test_skill_order_prefers_untouched_then_weakest() -> None:
    """Skills never practised come first; among practised ones the lowest accuracy leads."""
    cards = {
        c.item_id: c
        for c in (seen(f"q-{s.value}-000", due_in=timedelta(days=5), correct=s != Skill.MATH) for s in Skill)
    }
    assert skill_order(BANK, cards)[0] == Skill.MATH
    del cards["q-evaluation-000"]
    assert skill_order(BANK, cards)[0] == Skill.EVALUATION


def test_everything_seen_falls_back_to_weakest_memories() -> None:
    """When every item has been seen and little is due, the session fills with the least-remembered items."""
    cards = {i: seen(i, due_in=timedelta(days=3), correct=True) for i in BANK.items}
    assert len(plan_daily(BANK, cards, NOW, 7)) == 7


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 10),
    history=st.dictionaries(
        st.sampled_from(sorted(BANK.items)), st.tuples(st.integers(-72, 72), st.booleans()), max_size=40
    ),
    skill=st.none() | st.sampled_from(list(Skill)),
)
def test_plans_never_repeat_and_respect_the_size(
    count: int, history: dict[str, tuple[int, bool]], skill: Skill | None
) -> None:
    """For any history, a plan has no repeats, at most `count` items, and only the chosen skill if one is set."""
    cards = {i: seen(i, due_in=timedelta(hours=h), correct=ok) for i, (h, ok) in history.items()}
    chosen = plan_daily(BANK, cards, NOW, count, skill=skill)
    assert len(chosen) == len(set(chosen)) == min(count, len(BANK.by_skill[skill]) if skill else count)
    if skill is not None:
        assert {BANK.items[i].skill for i in chosen} == {skill}


def test_targeted_matches_sources_or_topics() -> None:
    """Targeted plans use items whose source or topic matches, unseen before already-remembered ones."""
    bank = QuizBank(
        [item(1, Skill.MATH, source="entry-x"), item(2, Skill.MATH, topic="Bayes"), item(3, Skill.MATH)],
        {},
    )
    assert set(plan_targeted(bank, {}, NOW, ["entry-x"], ["bayes"])) == {"q-math-001", "q-math-002"}
    cards = {"q-math-001": seen("q-math-001", due_in=timedelta(days=4), correct=True)}
    assert plan_targeted(bank, cards, NOW, ["entry-x"], ["bayes"]) == ["q-math-002", "q-math-001"]


def test_week_starts_monday_midnight_utc() -> None:
    """The weekly board counts from Monday 00:00 UTC of the current week."""
    assert week_start(NOW) == datetime(2026, 3, 2, tzinfo=UTC)
    assert week_start(datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) == datetime(2026, 3, 2, tzinfo=UTC)
