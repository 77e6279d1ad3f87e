"""Question of the day, reminders, the question log and feedback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

from bot.app import Services
from bot.domain.answering import Answer, Source
from bot.domain.asking import NotesLoading, NotesUnavailable, Questions, UnknownAnswer
from bot.domain.conversation import Turn
from bot.domain.daily import QotdNotFound
from tests.state import FakeClock

GUILD, OTHER = 900, 901


def answer(question: str, *, abstained: bool = False, doc: str = "concept-overfitting") -> Answer:
    sources = [] if abstained else [Source("Overfitting", "concepts/overfitting.md", None, "text", 0.9, doc_id=doc)]
    return Answer(question, abstained, 0.2 if abstained else 0.9, "An answer.", sources, 5.0)


async def test_qotd_is_claimed_once_per_server_and_day(state: Services, clock: FakeClock) -> None:
    """Before the hour nothing is claimed; then exactly one claim per server per UTC day wins, across callers."""
    clock.now = clock.now.replace(hour=8)
    assert await state.daily.claim_qotd(GUILD, 5, hour=9) is None
    clock.advance(hours=1)
    claims = await asyncio.gather(*(state.daily.claim_qotd(GUILD, 5, hour=9) for _ in range(5)))
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].item_id in state.bank.items
    assert await state.daily.claim_qotd(OTHER, 5, hour=9) is not None
    clock.advance(days=1)
    tomorrow = await state.daily.claim_qotd(GUILD, 5, hour=9)
    assert tomorrow is not None and tomorrow.item_id != won[0].item_id


async def test_qotd_answer_counts_once_and_for_the_streak(state: Services, clock: FakeClock) -> None:
    """Answering the question of the day twice counts once, returns the first result, and keeps the streak."""
    clock.now = clock.now.replace(hour=10)
    post = await state.daily.claim_qotd(GUILD, 5, hour=9)
    assert post is not None and post.id is not None
    item = state.bank.items[post.item_id]
    first = await state.daily.submit(post.id, GUILD, 111, item.answer, name="Ada")
    again = await state.daily.submit(post.id, GUILD, 111, (item.answer + 1) % 4)
    assert first.correct and first.summary is not None and first.summary.streak is not None
    assert first.summary.streak.current == 1
    assert again.repeated and again.correct
    other = await state.daily.submit(post.id, GUILD, 222, (item.answer + 1) % 4, name="Bo")
    assert not other.correct and not other.repeated
    with pytest.raises(QotdNotFound):
        await state.daily.submit(post.id, OTHER, 111, 0)  # another server cannot reach this post


async def test_reminders_go_out_once_at_the_local_hour_unless_practised(state: Services, clock: FakeClock) -> None:
    """A reminder is due at the learner's local hour, once per day, and not after they practised."""
    clock.now = clock.now.replace(hour=7)  # 08:00 in Berlin (UTC+1 in March)
    await state.learners.set_timezone(111, "Europe/Berlin")
    await state.learners.set_reminder(111, 8)
    await state.learners.set_timezone(222, "Europe/Berlin")
    await state.learners.set_reminder(222, 8)
    view = await state.quiz.start_daily(222)
    for position, item_id in enumerate(view.session.item_ids):
        await state.quiz.submit(view.id, position, state.bank.items[item_id].answer, 222)
    due = await state.daily.due_reminders()
    assert [r.learner.user_id for r in due] == [111]
    assert await state.daily.due_reminders() == []  # already sent today
    clock.advance(hours=1)
    assert await state.daily.due_reminders() == []  # 09:00 local: not the hour
    clock.advance(hours=23)
    assert [r.learner.user_id for r in await state.daily.due_reminders()] == [111, 222]
    await state.learners.set_reminder(111, None)
    clock.advance(days=1)
    assert [r.learner.user_id for r in await state.daily.due_reminders()] == [222]


async def test_switching_the_reminder_on_picks_an_hour(state: Services) -> None:
    """On without an hour: the evening, or the learner's last hour; on with an hour: that hour; off: none."""
    assert (await state.learners.switch_reminder(333, on=True)).reminder_hour == 18
    assert (await state.learners.switch_reminder(333, on=True, hour=7)).reminder_hour == 7
    assert (await state.learners.switch_reminder(333, on=True)).reminder_hour == 7
    assert (await state.learners.switch_reminder(333, on=False, hour=9)).reminder_hour is None


async def test_ask_log_threads_and_feedback(state: Services) -> None:
    """Questions are logged per server; a thread's answered turns are its history; votes are per server."""
    asked = await state.asks.record(
        answer("what is overfitting?"), user_id=111, name="Ada", guild_id=GUILD, channel_id=5
    )
    await state.asks.attach_thread(asked, 77)
    rewritten = replace(answer("and in trees?"), standalone_question="what is overfitting in trees?")
    await state.asks.record(rewritten, user_id=111, name="Ada", guild_id=GUILD, channel_id=77, thread_id=77)
    await state.asks.record(
        answer("pizza?", abstained=True), user_id=111, name="Ada", guild_id=GUILD, channel_id=77, thread_id=77
    )
    history = await state.asks.history(77)
    assert [(t.question, t.standalone) for t in history] == [
        ("what is overfitting?", "what is overfitting?"),
        ("and in trees?", "what is overfitting in trees?"),
    ]
    assert history[0].doc_ids == ("concept-overfitting",)
    assert await state.asks.is_answer_thread(77) and not await state.asks.is_answer_thread(78)
    assert await state.asks.history(78) == []
    got = await state.asks.get(asked, GUILD)
    assert got.sources == ("concept-overfitting",)
    with pytest.raises(UnknownAnswer):
        await state.asks.get(asked, OTHER)
    await state.asks.feedback(asked, user_id=222, guild_id=GUILD, helpful=False, comment="  missed the point ")
    with pytest.raises(UnknownAnswer):
        await state.asks.feedback(asked, user_id=222, guild_id=OTHER, helpful=True)
    exported = await state.learners.export(222)
    assert [f["comment"] for f in exported["tables"]["feedback"]] == ["missed the point"]


class FakeAnswers:
    """Answers every question the same way and remembers how it was asked (with the thread's earlier questions)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], str, int | None]] = []
        self.ready = True
        self.failure: str | None = None

    async def ask(
        self, question: str, history: Sequence[Turn] = (), *, via: str = "slash", guild_id: int | None = None
    ) -> Answer:
        self.calls.append((question, tuple(t.question for t in history), via, guild_id))
        return answer(question)


async def test_one_call_answers_and_logs_a_question(state: Services) -> None:
    """Questions.ask answers from the asker's server (with the thread's earlier turns) and logs what it answered."""
    answers = FakeAnswers()
    questions = Questions(answers, state.asks)
    first = await questions.ask("what is overfitting?", user_id=111, name="Ada", guild_id=GUILD, channel_id=5)
    await state.asks.attach_thread(first.id, 77)
    follow = await questions.ask(
        "and in trees?", user_id=111, name="Ada", guild_id=GUILD, channel_id=77, thread_id=77, via="thread"
    )
    assert answers.calls == [
        ("what is overfitting?", (), "slash", GUILD),
        ("and in trees?", ("what is overfitting?",), "thread", GUILD),
    ]
    assert first.id != follow.id
    logged = await state.asks.get(follow.id, GUILD)
    assert (logged.question, logged.thread_id, logged.user_id) == ("and in trees?", 77, 111)
    assert [t.question for t in await state.asks.history(77)] == ["what is overfitting?", "and in trees?"]


async def test_the_service_container_refuses_questions_without_an_answerer(state: Services) -> None:
    """Services opened without an index (the CLI's database commands) say so instead of failing later."""
    with pytest.raises(RuntimeError, match="open_bot_services"):
        _ = state.questions


async def test_forget_me_removes_questions_and_votes(state: Services, clock: FakeClock) -> None:
    """Deleting a learner removes their logged questions and feedback along with everything else."""
    asked = await state.asks.record(answer("q?"), user_id=111, name="Ada", guild_id=GUILD, channel_id=5)
    await state.asks.feedback(asked, user_id=111, guild_id=GUILD, helpful=True)
    clock.advance(minutes=1)
    deleted = await state.learners.forget(111)
    assert deleted["asked_questions"] == 1 and deleted["feedback"] == 1
    assert all(rows == [] for rows in (await state.learners.export(111))["tables"].values())


async def test_questions_refuse_while_the_notes_load(state: Services) -> None:
    """Before the index is ready, ensure_ready raises NotesLoading with the 'still loading' line; after, it passes."""
    answers = FakeAnswers()
    answers.ready = False
    questions = Questions(answers, state.asks)
    with pytest.raises(NotesLoading, match="I'm still loading my notes, try again in a minute"):
        questions.ensure_ready()
    answers.ready = True
    questions.ensure_ready()


async def test_questions_refuse_with_the_error_id_when_the_notes_failed_to_load(state: Services) -> None:
    """After the index failed to load, ensure_ready raises NotesUnavailable naming the error id, not 'still loading'."""
    answers = FakeAnswers()
    answers.ready, answers.failure = False, "c0ffee42"
    with pytest.raises(NotesUnavailable, match="error id `c0ffee42`") as raised:
        Questions(answers, state.asks).ensure_ready()
    assert "still loading" not in str(raised.value)
