"""Moderators manage a server's quiz items and learners report wrong ones, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.app import Services, open_services
from bot.domain.content import KnowledgeBase, Skill
from bot.domain.moderation import NotModerator
from bot.domain.ports import Actor
from bot.domain.quiz import NoQuizItems, plan_daily
from bot.domain.quiz_admin import (
    InvalidQuizItem,
    NotInServer,
    QuizItemNotFound,
    ShippedItemReadOnly,
)
from bot.storage.tables import audit_log, guild_config, quiz_item_state, quiz_overlay
from tests.state import FakeClock, settings_for

GUILD, OTHER = 900, 901
ROLE = 4242
OWNER = Actor(1, GUILD, "/quizbank add", manage_guild=True, name="Owner")
ROLE_MOD = Actor(2, GUILD, "/quizbank suspend", role_ids=frozenset({ROLE}), name="Mod")
LEARNER = Actor(3, GUILD, "/quizbank add", role_ids=frozenset({7}), name="Learner")
SOURCE = "concept-bias-variance-tradeoff"

QUESTION = "Which zebra stripe pattern is unique to each individual zebra?"
CHOICES = ["All of them", "None of them", "Only the tail", "Only the legs"]
EXPLANATION = "Every zebra has its own stripe pattern, like a fingerprint."


async def set_role(state: Services, guild_id: int, role_id: int) -> None:
    async with state.store.engine.begin() as conn:
        await conn.execute(
            insert(guild_config).values(guild_id=guild_id, moderator_role_id=role_id, updated_at=state.quiz.clock())
        )


async def audit(state: Services, guild_id: int = GUILD) -> list[Any]:
    async with state.store.engine.connect() as conn:
        rows = await conn.execute(select(audit_log).where(audit_log.c.guild_id == guild_id).order_by(audit_log.c.id))
        return list(rows)


async def add_zebra(state: Services, actor: Actor = OWNER, **fields: Any) -> str:
    values: dict[str, Any] = {
        "skill": Skill.MATH,
        "question": QUESTION,
        "choices": CHOICES,
        "answer_index": 0,
        "explanation": EXPLANATION,
        "source_id": SOURCE,
        "topic": "zebras",
    } | fields
    return await state.quiz_admin.add_item(actor, **values)


def shipped_item(state: Services) -> str:
    return sorted(state.bank.items)[0]


async def test_every_moderator_method_refuses_a_learner_and_audits_it(state: Services) -> None:
    """add, edit, suspend, restore and reports raise NotModerator for a learner, change nothing, log a refusal."""
    await set_role(state, GUILD, ROLE)
    item_id = shipped_item(state)
    admin = state.quiz_admin
    calls = [
        admin.add_item(LEARNER, "math", QUESTION, CHOICES, 0, EXPLANATION, SOURCE),
        admin.edit_item(LEARNER, item_id, explanation=EXPLANATION),
        admin.suspend(LEARNER, item_id, "wrong"),
        admin.restore(LEARNER, item_id),
        admin.reports(LEARNER, GUILD),
    ]
    for call in calls:
        with pytest.raises(NotModerator):
            await call
    rows = await audit(state)
    assert [(r.action, r.outcome, r.author_id, r.command) for r in rows] == [
        (action, "refused", LEARNER.user_id, "/quizbank add")
        for action in ("quiz.add", "quiz.edit", "quiz.suspend", "quiz.restore", "quiz.reports")
    ]
    async with state.store.engine.connect() as conn:
        assert (await conn.execute(select(quiz_overlay))).first() is None
        assert (await conn.execute(select(quiz_item_state))).first() is None


async def test_manage_server_and_the_configured_role_are_moderators(state: Services) -> None:
    """Manage Server or the server's moderator role may act; the same role in an unconfigured server may not."""
    await set_role(state, GUILD, ROLE)
    item_id = await add_zebra(state, OWNER)
    suspended = await state.quiz_admin.suspend(ROLE_MOD, item_id, "checking the facts")
    assert suspended.suspended and suspended.reason == "checking the facts"
    assert await state.quiz_admin.reports(ROLE_MOD) == []
    with pytest.raises(NotModerator):
        await state.quiz_admin.suspend(Actor(2, OTHER, "/quizbank suspend", role_ids=frozenset({ROLE})), item_id, "")
    with pytest.raises(NotModerator):  # Manage Server here says nothing about another server's reports
        await state.quiz_admin.reports(OWNER, OTHER)
    # A refusal is logged in the server of the one refused (its moderators review their members), naming the
    # other server: the same rule as for the knowledge base, since both go through the one moderation gate.
    assert [(r.action, r.outcome, r.detail) for r in await audit(state)] == [
        ("quiz.add", "ok", QUESTION),
        ("quiz.suspend", "ok", "checking the facts"),
        ("quiz.reports", "refused", f"asked about server {OTHER}"),
    ]
    assert [(r.action, r.outcome) for r in await audit(state, OTHER)] == [("quiz.suspend", "refused")]


async def test_add_edit_suspend_restore(state: Services) -> None:
    """A moderator adds an item (id guild-<slug>), edits it, suspends and restores it; each step is audited."""
    item_id = await add_zebra(state)
    assert item_id == "guild-which-zebra-stripe-pattern-is-unique-to"
    added = await state.quiz_admin.item(GUILD, item_id)
    assert added.origin == "server" and added.prompt == QUESTION and added.source == SOURCE and not added.suspended
    assert added.difficulty == 2 and added.topic == "zebras"

    edited = await state.quiz_admin.edit_item(OWNER, item_id, answer_index=1, explanation="A" + EXPLANATION)
    assert (edited.answer, edited.explanation, edited.prompt) == (1, "A" + EXPLANATION, QUESTION)
    assert (await state.quiz_admin.item(GUILD, item_id)).answer == 1

    assert (await state.quiz_admin.suspend(OWNER, item_id, "  typo in   option C ")).reason == "typo in option C"
    assert item_id not in (await state.banks.bank_for(GUILD)).items
    restored = await state.quiz_admin.restore(OWNER, item_id)
    assert not restored.suspended and item_id in (await state.banks.bank_for(GUILD)).items

    rows = await audit(state)
    assert [(r.action, r.target, r.outcome) for r in rows] == [
        (action, item_id, "ok") for action in ("quiz.add", "quiz.edit", "quiz.suspend", "quiz.restore")
    ]
    assert rows[1].detail == "changed answer_index, explanation" and rows[2].detail == "typo in option C"


async def test_similar_long_questions_get_distinct_ids(state: Services) -> None:
    """Two questions whose slugs collide get distinct ids in the server; a repeated question is refused."""
    first = await add_zebra(state, question=QUESTION + " Think about it.")
    second = await add_zebra(state, question=QUESTION + " Look closely.")
    assert second == f"{first}-2"
    with pytest.raises(InvalidQuizItem, match=f"already item '{first}'"):
        await add_zebra(state, question=QUESTION.upper() + " think about it!")


async def test_invalid_items_list_every_problem(state: Services) -> None:
    """Bad input is refused with one friendly line per problem, named after the form's fields; nothing is saved."""
    with pytest.raises(InvalidQuizItem) as caught:
        await add_zebra(state, question="Short?", choices=["a", "b", "a"], answer_index=5, source_id="nope-nope")
    problems = caught.value.problems
    assert any(p.startswith("question:") for p in problems)
    assert any(p.startswith("choices:") and "exactly 4" in p for p in problems)
    assert any(p.startswith("answer_index:") for p in problems)
    with pytest.raises(InvalidQuizItem, match="source_id: no knowledge entry"):
        await add_zebra(state, source_id="concept-does-not-exist")
    with pytest.raises(InvalidQuizItem, match="skill"):
        await add_zebra(state, skill="astrology")
    assert await state.quiz_admin.search_items(GUILD, "zebra") == []
    assert [r.outcome for r in await audit(state)] == []


async def test_default_source_is_the_skill_entry(state: Services) -> None:
    """Without a source the item points at its skill's overview entry, whose title the bank knows."""
    item_id = await add_zebra(state, source_id=None, topic=None)
    item = await state.quiz_admin.item(GUILD, item_id)
    assert item.source == "skill-math" and item.topic == Skill.MATH.label
    assert state.bank.title_of(item.source) != item.source


async def test_shipped_items_are_read_only_and_unknown_ids_not_found(state: Services) -> None:
    """Editing a shipped item says to suspend it and add a copy; ids of other servers or nowhere are not found."""
    with pytest.raises(ShippedItemReadOnly, match="Suspend it"):
        await state.quiz_admin.edit_item(OWNER, shipped_item(state), explanation=EXPLANATION)
    theirs = await add_zebra(state, Actor(5, OTHER, "/quizbank add", manage_guild=True))
    for item_id in (theirs, "guild-nothing-here"):
        with pytest.raises(QuizItemNotFound):
            await state.quiz_admin.edit_item(OWNER, item_id, explanation=EXPLANATION)
        with pytest.raises(QuizItemNotFound):
            await state.quiz_admin.suspend(OWNER, item_id, "")
        with pytest.raises(QuizItemNotFound):
            await state.quiz_admin.item(GUILD, item_id)
        with pytest.raises(QuizItemNotFound):
            await state.quiz_admin.report(GUILD, item_id, 10)
    with pytest.raises(NotInServer):
        await state.quiz_admin.add_item(Actor(1, 0, "console", trusted=True), "math", QUESTION, CHOICES, 0, "x")


async def test_suspended_item_leaves_this_servers_quiz_plans_only(state: Services, clock: FakeClock) -> None:
    """An item suspended in one server is never planned there, and is planned as before in another server."""
    day = clock.now.date()  # a new learner's local day: UTC, starting at midnight
    carol, dan = 31, 32
    x = plan_daily(state.bank, {}, clock.now, 10, skill=Skill.EVALUATION, seed=f"{carol}:{day}")[0]
    dan_plan = plan_daily(state.bank, {}, clock.now, 10, skill=Skill.EVALUATION, seed=f"{dan}:{day}")
    for item_id in {x, dan_plan[0]}:
        await state.quiz_admin.suspend(OWNER, item_id, "wrong")

    here = await state.quiz.start_daily(carol, guild_id=GUILD, count=10, skill=Skill.EVALUATION)
    assert len(here.session.item_ids) == 10 and x not in here.session.item_ids
    there = await state.quiz.start_daily(dan, guild_id=OTHER, count=10, skill=Skill.EVALUATION)
    assert list(there.session.item_ids) == dan_plan

    source = state.bank.items[x].source
    targeted_here = await state.quiz.start_targeted(carol, [source], guild_id=GUILD, count=50)
    targeted_there = await state.quiz.start_targeted(carol, [source], guild_id=OTHER, count=50)
    assert x not in targeted_here.session.item_ids and x in targeted_there.session.item_ids
    assert set(targeted_here.session.item_ids) < set(targeted_there.session.item_ids)


async def test_suspended_item_is_never_the_question_of_the_day_there(state: Services, clock: FakeClock) -> None:
    """The question of the day skips an item suspended in that server; another server can still get it."""
    pool = sorted(state.bank.items)
    x = random.Random(f"{GUILD}:{clock.now.date()}").choice(pool)  # what GUILD would post today
    await state.quiz_admin.suspend(OWNER, x, "wrong")
    post = await state.daily.claim_qotd(GUILD, 5, hour=9)
    assert post is not None and post.item_id != x
    # A server whose pick today is the same item still posts it.
    other = next(g for g in itertools.count(OTHER) if random.Random(f"{g}:{clock.now.date()}").choice(pool) == x)
    other_post = await state.daily.claim_qotd(other, 6, hour=9)
    assert other_post is not None and other_post.item_id == x


async def test_three_learners_reports_suspend_an_item_once(state: Services) -> None:
    """Reports from three learners suspend the item; a repeat report or a fourth one does not count twice."""
    item_id = shipped_item(state)
    first = await state.quiz_admin.report(GUILD, item_id, 11, "option B is also right")
    again = await state.quiz_admin.report(GUILD, item_id, 11, "still wrong")
    second = await state.quiz_admin.report(GUILD, item_id, 12)
    assert (first.count, first.suspended_now, first.repeated) == (1, False, False)
    assert (again.count, again.suspended_now, again.repeated) == (1, False, True)
    assert (second.count, second.suspended_now) == (2, False)
    assert item_id in (await state.banks.bank_for(GUILD)).items

    third = await state.quiz_admin.report(GUILD, item_id, 13, "typo")
    assert (third.count, third.suspended_now) == (3, True)
    fourth = await state.quiz_admin.report(GUILD, item_id, 14)
    assert (fourth.count, fourth.suspended_now) == (4, False)
    assert item_id not in (await state.banks.bank_for(GUILD)).items
    assert item_id in (await state.banks.bank_for(OTHER)).items
    found = await state.quiz_admin.item(GUILD, item_id)
    assert found.suspended and found.reason == "3 learner reports"
    async with state.store.engine.connect() as conn:
        row = (await conn.execute(select(quiz_item_state).where(quiz_item_state.c.item_id == item_id))).one()
    assert row.author_id is None

    [reported] = await state.quiz_admin.reports(OWNER, GUILD)
    assert (reported.item_id, reported.count, reported.suspended) == (item_id, 4, True)
    assert reported.reasons == ("option B is also right", "typo")
    assert [(r.action, r.author_id) for r in await audit(state)] == [("quiz.autosuspend", 13)]

    await state.quiz_admin.restore(OWNER, item_id)
    assert await state.quiz_admin.reports(OWNER, GUILD) == []
    reopened = await state.quiz_admin.report(GUILD, item_id, 11)  # a restored item can be reported afresh
    assert (reopened.count, reopened.suspended_now, reopened.repeated) == (1, False, False)


async def test_simultaneous_reports_suspend_exactly_once(state: Services) -> None:
    """Three learners reporting at the same moment still suspend the item, exactly once."""
    item_id = shipped_item(state)
    outcomes = await asyncio.gather(*(state.quiz_admin.report(GUILD, item_id, user) for user in (21, 22, 23)))
    assert sorted(o.count for o in outcomes) == [1, 2, 3]
    assert sum(o.suspended_now for o in outcomes) == 1
    assert (await state.quiz_admin.item(GUILD, item_id)).suspended


async def test_a_servers_own_item_never_reaches_another_server(state: Services) -> None:
    """Server A's item is planned and found in A only: B's plans, search and lookups never see it."""
    item_id = await add_zebra(state)
    assert (item_id, QUESTION) in await state.quiz_admin.search_items(GUILD, "zebra")
    assert await state.quiz_admin.search_items(OTHER, "zebra") == []
    assert await state.quiz_admin.search_items(GUILD, "guild-") == [(item_id, QUESTION)]

    here = await state.quiz.start_targeted(40, [], topics=["Zebras"], guild_id=GUILD)
    assert here.session.item_ids == (item_id,) and here.next is not None and here.next.item.prompt == QUESTION
    with pytest.raises(NoQuizItems):
        await state.quiz.start_targeted(40, [], topics=["zebras"], guild_id=OTHER)
    with pytest.raises(NoQuizItems):
        await state.quiz.start_targeted(40, [], topics=["zebras"])  # the console's bank is the shipped one
    with pytest.raises(QuizItemNotFound):
        await state.quiz_admin.item(OTHER, item_id)
    for learner in (41, 42):
        view = await state.quiz.start_daily(learner, guild_id=OTHER, count=10, skill=Skill.MATH)
        assert item_id not in view.session.item_ids


async def test_session_started_before_suspension_can_be_finished(state: Services) -> None:
    """Suspending an item doesn't break a session that already holds it: it can be viewed and answered."""
    item_id = await add_zebra(state)
    view = await state.quiz.start_targeted(50, [], topics=["zebras"], guild_id=GUILD)
    await state.quiz_admin.suspend(OWNER, item_id, "wrong")
    again = await state.quiz.view(view.id, 50)
    assert again.next is not None and again.next.item.id == item_id
    feedback = await state.quiz.submit(view.id, 0, 0, 50)
    assert feedback.correct and feedback.question.item.id == item_id and feedback.summary is not None
    with pytest.raises(NoQuizItems):
        await state.quiz.start_targeted(50, [], topics=["zebras"], guild_id=GUILD)


async def test_progress_counts_the_servers_bank(state: Services) -> None:
    """/progress in a server counts its own items and leaves out the suspended ones."""

    def math_total(progress: Any) -> int:
        return next(s.total for s in progress.skills if s.skill == Skill.MATH)

    shipped = math_total(await state.learners.progress(60))
    await add_zebra(state)
    await state.quiz_admin.suspend(OWNER, state.bank.by_skill[Skill.MATH][0].id, "wrong")
    await state.quiz_admin.suspend(OWNER, state.bank.by_skill[Skill.MATH][1].id, "wrong")
    assert math_total(await state.learners.progress(60, guild_id=GUILD)) == shipped - 1
    assert math_total(await state.learners.progress(60, guild_id=OTHER)) == shipped
    assert math_total(await state.learners.progress(60)) == shipped


async def test_another_process_sees_changes_at_once(
    state: Services, db_url: str, tmp_path: Path, clock: FakeClock, shipped_kb: KnowledgeBase
) -> None:
    """A second process (the CLI beside the bot) sees a server's additions and suspensions on its next read."""
    other_process = await open_services(settings_for(db_url, tmp_path), clock, kb=shipped_kb)
    try:
        assert await other_process.banks.bank_for(GUILD) is other_process.bank  # nothing changed yet
        item_id = await add_zebra(state)
        assert item_id in (await other_process.banks.bank_for(GUILD)).items
        # Same clock reading for every change: the stamp must still move.
        await state.quiz_admin.edit_item(OWNER, item_id, answer_index=3)
        assert (await other_process.banks.bank_for(GUILD)).items[item_id].answer == 3
        await state.quiz_admin.suspend(OWNER, item_id, "wrong")
        assert item_id not in (await other_process.banks.bank_for(GUILD)).items
        await state.quiz_admin.restore(OWNER, item_id)
        assert item_id in (await other_process.banks.bank_for(GUILD)).items
        cached = await other_process.banks.bank_for(GUILD)
        assert await other_process.banks.bank_for(GUILD) is cached  # unchanged: served from the cache
    finally:
        await other_process.close()
