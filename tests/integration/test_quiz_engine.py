"""The quiz engine and learner services over the shipped quiz bank, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Services, open_services
from bot.domain.content import KnowledgeBase, Skill
from bot.domain.ports import Actor
from bot.domain.quiz import InvalidChoice, NoQuizItems, NotYourQuiz, QuizNotFound
from bot.domain.streaks import InvalidTimezone
from tests.state import FakeClock, settings_for

ADA, BO = 111, 222
GUILD, OTHER_GUILD = 900, 901


async def answer_all(state: Services, session_id: str, user: int, *, right: bool) -> None:
    view = await state.quiz.view(session_id, user)
    while view.next is not None:
        item = view.next.item
        choice = item.answer if right else (item.answer + 1) % 4
        await state.quiz.submit(session_id, view.next.position, choice, user, timedelta(seconds=20))
        view = await state.quiz.view(session_id, user)


async def test_daily_session_has_five_distinct_items_by_default(state: Services) -> None:
    """A new learner's daily session holds 5 different items, all new, from one never-practised skill."""
    view = await state.quiz.start_daily(ADA, name="Ada")
    items = [state.bank.items[i] for i in view.session.item_ids]
    assert len(items) == 5 and len(set(view.session.item_ids)) == 5
    assert len({i.skill for i in items}) == 1
    assert view.next is not None and view.next.position == 0 and not view.resumed


@pytest.mark.parametrize("count", [0, 11])
async def test_session_size_is_bounded(state: Services, count: int) -> None:
    """Asking for fewer than 1 or more than 10 questions is refused with a clear message."""
    with pytest.raises(InvalidChoice, match="1 to 10"):
        await state.quiz.start_daily(ADA, count=count)


async def test_chosen_skill_and_ten_questions(state: Services) -> None:
    """With a chosen skill and count 10, all ten distinct items come from that skill."""
    view = await state.quiz.start_daily(ADA, count=10, skill=Skill.EVALUATION)
    assert len(set(view.session.item_ids)) == 10
    assert {state.bank.items[i].skill for i in view.session.item_ids} == {Skill.EVALUATION}


async def test_unfinished_session_resumes_after_restart(
    state: Services, db_url: str, tmp_path: Path, clock: FakeClock, shipped_kb: KnowledgeBase
) -> None:
    """A half-answered session is resumed, with the same items and next question, by a fresh process."""
    view = await state.quiz.start_daily(ADA)
    first = view.next
    assert first is not None
    await state.quiz.submit(view.id, 0, first.item.answer, ADA)
    await state.close()
    restarted = await open_services(settings_for(db_url, tmp_path), clock, kb=shipped_kb)
    try:
        again = await restarted.quiz.start_daily(ADA)
        assert again.resumed and again.id == view.id
        assert again.session.item_ids == view.session.item_ids
        assert again.next is not None and again.next.position == 1
        assert set(again.answered) == {0}
    finally:
        await restarted.close()


async def test_answering_twice_counts_once(state: Services) -> None:
    """A second answer to the same question returns the first result and changes nothing."""
    view = await state.quiz.start_daily(ADA)
    item = view.next.item  # type: ignore[union-attr]
    first = await state.quiz.submit(view.id, 0, item.answer, ADA)
    second = await state.quiz.submit(view.id, 0, (item.answer + 1) % 4, ADA)
    assert first.correct and not first.repeated
    assert second.repeated and second.correct and second.choice == item.answer
    async with state.store.transaction() as repos:
        assert len(await repos.choices(view.id)) == 1
        assert (await repos.cards(ADA))[item.id].reps == 1


async def test_concurrent_double_click_records_one_answer(state: Services) -> None:
    """Ten simultaneous answers to one question (double clicks, two devices) record exactly one."""
    view = await state.quiz.start_daily(ADA)
    item = view.next.item  # type: ignore[union-attr]
    results = await asyncio.gather(*(state.quiz.submit(view.id, 0, c % 4, ADA) for c in range(10)))
    assert sum(not r.repeated for r in results) == 1
    assert len({r.choice for r in results}) == 1  # everyone sees the first result
    async with state.store.transaction() as repos:
        assert len(await repos.choices(view.id)) == 1
        assert (await repos.cards(ADA))[item.id].reps == 1


async def test_feedback_explains_and_points_to_the_source(state: Services) -> None:
    """Each answer returns correctness, the explanation and the entry that teaches the item."""
    view = await state.quiz.start_daily(ADA)
    item = view.next.item  # type: ignore[union-attr]
    wrong = await state.quiz.submit(view.id, 0, (item.answer + 1) % 4, ADA)
    assert not wrong.correct and wrong.answer == item.answer and wrong.points == 0
    assert wrong.explanation == item.explanation
    assert wrong.source == item.source and state.bank.title_of(item.source) != item.source
    assert wrong.source_title == state.bank.title_of(item.source)
    assert wrong.next is not None and wrong.next.position == 1


async def test_feedback_names_a_servers_own_entry_by_its_title(state: Services) -> None:
    """A server's own quiz item citing the server's own entry shows that entry's title, not its raw id (bug fix)."""
    owner = Actor(1, GUILD, "/kb add", manage_guild=True, name="Owner")
    entry = await state.kb_admin.add(
        owner, "Kolmogorov-Arnold networks", "math", "A KAN learns a small function on every edge of the network."
    )
    await state.quiz_admin.add_item(
        owner,
        Skill.MATH,
        "Where does a Kolmogorov-Arnold network put its learnable functions?",
        ["On the edges", "On the nodes only", "In the loss", "Nowhere"],
        0,
        "A KAN learns one small function per edge, instead of fixed activations on nodes.",
        entry.doc_id,
        topic="kan",
    )
    view = await state.quiz.start_targeted(ADA, [entry.doc_id], guild_id=GUILD)
    assert view.next is not None and view.next.item.source == entry.doc_id
    feedback = await state.quiz.submit(view.id, 0, 0, ADA)
    assert feedback.source_title == "Kolmogorov-Arnold networks"
    again = await state.quiz.submit(view.id, 0, 0, ADA)  # a repeated click shows the same title
    assert again.repeated and again.source_title == "Kolmogorov-Arnold networks"


async def test_foreign_missing_and_bad_answers_are_refused(state: Services) -> None:
    """Someone else's session, an unknown session, a bad letter or position each raise a friendly error."""
    view = await state.quiz.start_daily(ADA)
    with pytest.raises(NotYourQuiz):
        await state.quiz.submit(view.id, 0, 0, BO)
    with pytest.raises(NotYourQuiz):
        await state.quiz.view(view.id, BO)
    with pytest.raises(QuizNotFound):
        await state.quiz.submit("nope", 0, 0, ADA)
    with pytest.raises(InvalidChoice, match="A, B, C or D"):
        await state.quiz.submit(view.id, 0, 4, ADA)
    with pytest.raises(InvalidChoice, match="not part of this quiz"):
        await state.quiz.submit(view.id, 9, 0, ADA)


async def test_finishing_counts_the_day_and_summarises(state: Services, clock: FakeClock) -> None:
    """The last answer finishes the session, counts today for the streak and returns score and points."""
    view = await state.quiz.start_daily(ADA)
    for position, item_id in enumerate(view.session.item_ids):
        item = state.bank.items[item_id]
        feedback = await state.quiz.submit(view.id, position, item.answer, ADA, timedelta(seconds=5))
    assert feedback.summary is not None and feedback.next is None
    assert feedback.summary.correct == 5 and feedback.summary.total == 5
    assert feedback.summary.points == sum(state.bank.items[i].difficulty for i in view.session.item_ids)
    assert feedback.summary.streak is not None and feedback.summary.streak.current == 1
    clock.advance(days=1)
    second = await state.quiz.start_daily(ADA)
    await answer_all(state, second.id, ADA, right=True)
    assert (await state.learners.streak(ADA)).current == 2


async def test_wrong_answers_come_back_first_the_next_day(state: Services, clock: FakeClock) -> None:
    """Items answered wrongly are due the next day and open the next day's session; right ones are not due."""
    first = await state.quiz.start_daily(ADA)
    wrong = set(first.session.item_ids[:2])
    for position, item_id in enumerate(first.session.item_ids):
        item = state.bank.items[item_id]
        choice = (item.answer + 1) % 4 if item_id in wrong else item.answer
        await state.quiz.submit(first.id, position, choice, ADA, timedelta(seconds=20))
    clock.advance(days=1, minutes=1)
    second = await state.quiz.start_daily(ADA)
    assert set(second.session.item_ids[:2]) == wrong
    assert not set(second.session.item_ids[2:]) & set(first.session.item_ids)


async def test_new_items_come_from_the_weakest_practised_skill(state: Services, clock: FakeClock) -> None:
    """After every skill is practised, new items come from the skill with the worst accuracy."""
    for skill in Skill:
        view = await state.quiz.start_daily(ADA, skill=skill, count=2)
        await answer_all(state, view.id, ADA, right=skill != Skill.MATH)
        clock.advance(hours=1)
    clock.advance(days=30)  # everything is due: limit the session to new items by asking for more than are due
    view = await state.quiz.start_daily(ADA, count=10)
    due = 2 * len(Skill)
    assert len(view.session.item_ids) == 10 and due >= 10
    clock.advance(days=1)
    # Answer every due card right, so the next session is due-free and shows the new-item choice.
    await answer_all(state, view.id, ADA, right=True)
    clock.advance(hours=1)
    view = await state.quiz.start_daily(ADA, count=10)
    new = [i for i in view.session.item_ids if i not in (await _seen(state, ADA))]
    assert new and {state.bank.items[i].skill for i in new} == {Skill.MATH}


async def _seen(state: Services, user: int) -> set[str]:
    async with state.store.transaction() as repos:
        return {k for k, c in (await repos.cards(user)).items() if c.reps}


async def test_targeted_practice_uses_the_cited_entries(state: Services) -> None:
    """'Quiz me on this' builds a short session from items whose source is one of the given entries."""
    source = next(iter(state.bank.items.values())).source
    view = await state.quiz.start_targeted(ADA, [source])
    assert 1 <= len(view.session.item_ids) <= 3
    assert all(state.bank.items[i].source == source for i in view.session.item_ids)
    assert view.session.kind == "targeted"
    with pytest.raises(NoQuizItems):
        await state.quiz.start_targeted(ADA, ["no-such-entry"])


async def test_timezone_setting_and_invalid_zone(state: Services) -> None:
    """A valid IANA zone is saved and logged for the streak engine; a typo is refused with a suggestion."""
    learner = await state.learners.set_timezone(ADA, "europe/berlin")
    assert learner.timezone == "Europe/Berlin"
    with pytest.raises(InvalidTimezone, match="Europe/Berlin"):
        await state.learners.set_timezone(ADA, "Europe/Berln")
    async with state.store.transaction() as repos:
        events = (await repos.events([ADA]))[ADA]
    assert [e.tz for e in events] == ["Europe/Berlin"]


async def test_leaderboard_per_server_week_and_hidden(state: Services, clock: FakeClock) -> None:
    """Boards rank by difficulty-weighted points per server and period, show streaks, and honour hiding."""
    for user, name, right in [(ADA, "Ada", True), (BO, "Bo", False)]:
        view = await state.quiz.start_daily(user, guild_id=GUILD, name=name)
        await answer_all(state, view.id, user, right=right)
    board = await state.learners.leaderboard(GUILD, "week")
    assert [(r.rank, r.name, r.streak) for r in board.rows] == [(1, "Ada", 1)]  # Bo has no points
    assert board.rows[0].points >= 5
    assert (await state.learners.leaderboard(OTHER_GUILD, "all")).rows == ()
    clock.advance(days=8)
    assert (await state.learners.leaderboard(GUILD, "week")).rows == ()
    assert [r.name for r in (await state.learners.leaderboard(GUILD, "all")).rows] == ["Ada"]
    await state.learners.set_hidden(ADA, True)
    assert (await state.learners.leaderboard(GUILD, "all")).rows == ()


async def test_leaderboard_shows_the_viewer_below_the_top(state: Services) -> None:
    """A viewer outside the shown rows gets their own rank; equal points share a rank."""
    for user, name, count in [(ADA, "Ada", 5), (BO, "Bo", 1), (333, "Cy", 5)]:
        view = await state.quiz.start_daily(user, guild_id=GUILD, name=name, count=count, skill=Skill.PYTHON)
        await answer_all(state, view.id, user, right=True)
    board = await state.learners.leaderboard(GUILD, "all", viewer=BO, size=2)
    assert [(r.rank, r.name) for r in board.rows] == [(1, "Ada"), (1, "Cy")]
    assert board.viewer is not None and (board.viewer.rank, board.viewer.name) == (3, "Bo")


async def test_progress_reports_mastery_accuracy_and_activity(state: Services) -> None:
    """Progress gives per-skill mastery, accuracy and items seen, and today's answers in the activity strip."""
    view = await state.quiz.start_daily(ADA, skill=Skill.PYTHON, count=4)
    await answer_all(state, view.id, ADA, right=True)
    progress = await state.learners.progress(ADA)
    python = next(s for s in progress.skills if s.skill == Skill.PYTHON)
    assert python.seen == 4 and python.accuracy == 1.0 and python.mastery is not None and 0.5 < python.mastery <= 1
    assert python.total == len(state.bank.by_skill[Skill.PYTHON])
    assert all(s.mastery is None and s.seen == 0 for s in progress.skills if s.skill != Skill.PYTHON)
    assert len(progress.activity) == 30 and progress.activity[-1][1] == 4
    assert progress.streak.current == 1


async def test_export_then_forget_removes_everything(state: Services) -> None:
    """The export is JSON holding the learner's rows; forgetting deletes them and a new export is empty."""
    view = await state.quiz.start_daily(ADA, guild_id=GUILD, name="Ada")
    await answer_all(state, view.id, ADA, right=True)
    await state.learners.set_timezone(ADA, "Asia/Tokyo")
    exported = json.loads(json.dumps(await state.learners.export(ADA)))
    assert exported["tables"]["learners"][0]["timezone"] == "Asia/Tokyo"
    assert len(exported["tables"]["answers"]) == 5
    deleted = await state.learners.forget(ADA)
    assert deleted["answers"] == 5 and deleted["learners"] == 1
    after = await state.learners.export(ADA)
    assert all(rows == [] for rows in after["tables"].values())
    assert (await state.learners.streak(ADA)).current == 0
