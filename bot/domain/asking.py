"""What happens around an answer: the per-user rate limit, the question log, thread context and feedback."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.domain.conversation import MAX_AGE, MAX_TURNS, Turn
from bot.domain.errors import StudyBotError
from bot.domain.ports import AskedRecord, Clock, StateStore, utc_now
from bot.domain.quiz import ensure_learner

if TYPE_CHECKING:  # a type only: importing answering pulls in the retriever (FAISS, bm25s), ~1.5 s of console start
    from bot.domain.answering import Answer

MAX_COMMENT = 1000  # Discord's modal paragraph fields allow up to 4000; moderators read these in embeds


class RateLimited(StudyBotError):
    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, int(retry_after.total_seconds() + 0.999))
        super().__init__(f"You're asking quickly! Please wait {seconds} s before your next question.")
        self.retry_after = retry_after


class NotesLoading(StudyBotError):
    """The index is still being loaded or built (a fresh start): everything but answering already works."""

    def __init__(self) -> None:
        super().__init__("I'm still loading my notes, try again in a minute.")


class NotesUnavailable(StudyBotError):
    """The index could not be loaded or built: questions are off until a restart, everything else works."""

    def __init__(self, error_id: str) -> None:
        super().__init__(
            "I couldn't load my notes, so I can't answer questions right now; quizzes, streaks and everything "
            f"else still work. Please tell a moderator the error id `{error_id}`."
        )
        self.error_id = error_id


class UnknownAnswer(StudyBotError):
    def __init__(self) -> None:
        super().__init__("I can't find that answer any more; ask the question again with /ask.")


@dataclass
class RateLimiter:
    """A sliding window per user: at most ``limit`` questions in any ``window``.

    It lives in memory: a restart forgets it, which only ever errs on the generous side.
    """

    limit: int
    window: timedelta
    clock: Clock = utc_now
    _hits: dict[int, deque[datetime]] = field(default_factory=dict)

    def check(self, user_id: int) -> None:
        """Count one question for the user, or raise RateLimited without counting it."""
        now = self.clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            raise RateLimited(hits[0] + self.window - now)
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle users so memory stays bounded on big servers
            for user in [u for u, h in self._hits.items() if not h or now - h[-1] >= self.window]:
                del self._hits[user]


class AskLog:
    def __init__(self, store: StateStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def record(
        self,
        answer: Answer,
        *,
        user_id: int,
        name: str | None,
        guild_id: int,
        channel_id: int,
        thread_id: int | None = None,
    ) -> int:
        now = self.clock()
        sources = tuple(dict.fromkeys(s.doc_id for s in answer.sources if s.doc_id))
        async with self.store.transaction() as repos:
            await ensure_learner(repos, user_id, name, now)
            return await repos.add_asked(
                AskedRecord(
                    user_id=user_id,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    thread_id=thread_id,
                    question=answer.question,
                    abstained=answer.abstained,
                    confidence=answer.confidence,
                    sources=sources,
                    created_at=now,
                    standalone=answer.standalone_question if answer.rewritten else None,
                )
            )

    async def history(self, thread_id: int) -> list[Turn]:
        """The thread's recent answered turns, oldest first, bounded in count and age."""
        now = self.clock()
        async with self.store.transaction() as repos:
            rows = await repos.recent_in_thread(thread_id, now - MAX_AGE, MAX_TURNS)
        return [Turn(r.question, r.standalone or r.question, r.sources, r.created_at) for r in rows]

    async def attach_thread(self, asked_id: int, thread_id: int) -> None:
        async with self.store.transaction() as repos:
            await repos.set_thread(asked_id, thread_id)

    async def is_answer_thread(self, thread_id: int) -> bool:
        """Whether a thread was opened by an answer (not, say, a question-of-the-day discussion)."""
        async with self.store.transaction() as repos:
            return await repos.first_asked_in_thread(thread_id) is not None

    async def get(self, asked_id: int, guild_id: int) -> AskedRecord:
        async with self.store.transaction() as repos:
            asked = await repos.get_asked(asked_id)
        if asked is None or asked.guild_id != guild_id:  # never reveal another server's questions
            raise UnknownAnswer()
        return asked

    async def feedback(
        self, asked_id: int, *, user_id: int, guild_id: int, helpful: bool, comment: str | None = None
    ) -> None:
        """Store a vote (a second vote from the same learner replaces the first)."""
        await self.get(asked_id, guild_id)
        now = self.clock()
        text = comment.strip()[:MAX_COMMENT] if comment and comment.strip() else None
        async with self.store.transaction() as repos:
            await ensure_learner(repos, user_id, None, now)
            await repos.set_feedback(asked_id, user_id, guild_id, helpful, text, now)


class Answers(Protocol):
    """Where answers come from: each server's index, off the event loop (``bot.retrieval.answerer.Answerer``)."""

    @property
    def ready(self) -> bool:
        """False until the index is loaded; ``ask`` raises ``NotesLoading`` meanwhile."""
        ...

    @property
    def failure(self) -> str | None:
        """The error id under which loading the index failed (questions are then refused), else None."""
        ...

    async def ask(
        self, question: str, history: Sequence[Turn] = (), *, via: str = "slash", guild_id: int | None = None
    ) -> Answer: ...


@dataclass(frozen=True)
class Asked:
    """An answer, the id it was logged under (feedback and "quiz me" buttons carry that id), and the thread's turns
    it was answered with (a generated answer needs them too)."""

    id: int
    answer: Answer
    history: Sequence[Turn] = ()


class Questions:
    """Answers a question and logs it, in one call, so every way of asking records the same way."""

    def __init__(self, answers: Answers, log: AskLog) -> None:
        self.answers = answers
        self.log = log

    def ensure_ready(self) -> None:
        """Raise ``NotesLoading`` before any slow work while the index loads (``NotesUnavailable`` if loading
        failed), so the refusal is immediate and private."""
        if self.answers.failure is not None:
            raise NotesUnavailable(self.answers.failure)
        if not self.answers.ready:
            raise NotesLoading()

    async def ask(
        self,
        question: str,
        *,
        user_id: int,
        name: str | None,
        guild_id: int | None,
        channel_id: int,
        thread_id: int | None = None,
        via: str = "slash",
    ) -> Asked:
        """In a thread, the recent turns come along, so a follow-up ("why does that help?") is understood."""
        history = await self.log.history(thread_id) if thread_id is not None else []
        answer = await self.answers.ask(question, history, via=via, guild_id=guild_id)
        asked_id = await self.log.record(
            answer,
            user_id=user_id,
            name=name,
            guild_id=guild_id or 0,
            channel_id=channel_id,
            thread_id=thread_id,
        )
        return Asked(asked_id, answer, tuple(history))
