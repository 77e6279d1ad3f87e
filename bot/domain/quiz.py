"""The quiz engine: daily practice and targeted sessions, idempotent answers, FSRS scheduling.

Selection is pure (``plan_daily``, ``plan_targeted``, ``rating_for``) and tested without storage;
``QuizService`` wraps it in transactions. A session fixes its items when it starts, so a restart, a second
device or a double click all see the same questions, and an answer is recorded at most once per position.
"""

from __future__ import annotations

import logging
import random
import secrets
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import fsrs
from pydantic import ValidationError

from bot.domain.content import QuizItem, Skill
from bot.domain.errors import StudyBotError
from bot.domain.ports import (
    LOCAL_GUILD,
    CardRecord,
    ChoiceRecord,
    Clock,
    Learner,
    Repos,
    SessionKind,
    SessionRecord,
    StateStore,
    utc_now,
)
from bot.domain.streaks import Activity, ActivityKind, StreakState, compute_streak, local_day

log = logging.getLogger(__name__)

DEFAULT_COUNT = 5
MAX_COUNT = 10
TARGETED_COUNT = 3
LETTERS = "ABCD"

# Answer time → FSRS rating for a correct answer. Reading a prompt and four options takes most people
# 10–20 s; a quick answer means the fact was at hand, a slow one that it was reconstructed.
EASY_WITHIN = timedelta(seconds=12)
HARD_AFTER = timedelta(seconds=45)

# Daily practice wants "come back tomorrow", not minute-level learning steps; fuzzing off keeps replays exact.
SCHEDULER = fsrs.Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)


class QuizError(StudyBotError):
    pass


class QuizNotFound(QuizError):
    def __init__(self) -> None:
        super().__init__("That quiz no longer exists. Start a new one with /quiz.")


class NotYourQuiz(QuizError):
    def __init__(self) -> None:
        super().__init__("This quiz isn't yours. Start your own with /quiz.")


class QuizEnded(QuizError):
    def __init__(self, why: str = "This quiz has ended. Start a new one with /quiz.") -> None:
        super().__init__(why)


class InvalidChoice(QuizError):
    def __init__(self, detail: str = "Pick one of A, B, C or D.") -> None:
        super().__init__(detail)


class NoQuizItems(QuizError):
    def __init__(self, what: str = "I have no quiz questions for that yet.") -> None:
        super().__init__(what)


class QuizBank:
    """The quiz items a session may use, with the titles of the entries that teach them."""

    def __init__(self, items: Iterable[QuizItem], titles: Mapping[str, str]) -> None:
        self.items: dict[str, QuizItem] = {item.id: item for item in items}
        self.titles = dict(titles)
        self.by_skill: dict[Skill, list[QuizItem]] = defaultdict(list)
        for item in self.items.values():
            self.by_skill[item.skill].append(item)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item_id: str) -> QuizItem | None:
        return self.items.get(item_id)

    def title_of(self, entry_id: str) -> str:
        return self.titles.get(entry_id, entry_id)


@dataclass(frozen=True)
class _GuildBanks:
    stamp: tuple[Any, ...]
    active: QuizBank  # what new sessions and the question of the day draw from
    known: QuizBank  # also the suspended items: sessions started before a suspension stay answerable


class QuizBanks:
    """Each server's quiz bank: the shipped items, minus those it suspended, plus its own.

    Built lazily and cached per server under a stamp read inside the caller's transaction, so a change made
    by another process (the CLI beside the bot) is seen by the next session without any notification.
    """

    def __init__(self, store: StateStore, base: QuizBank) -> None:
        self.store = store
        self.base = base
        self._cache: dict[int, _GuildBanks] = {}

    async def bank_for(self, guild_id: int) -> QuizBank:
        async with self.store.transaction() as repos:
            return await self.active(repos, guild_id)

    async def active(self, repos: Repos, guild_id: int) -> QuizBank:
        """The items a new session may draw in this server."""
        banks = await self._banks(repos, guild_id)
        return self.base if banks is None else banks.active

    async def known(self, repos: Repos, guild_id: int) -> QuizBank:
        """Every item this server can name, suspended or not: for answering and reviewing sessions."""
        banks = await self._banks(repos, guild_id)
        return self.base if banks is None else banks.known

    def invalidate(self, guild_id: int) -> None:
        self._cache.pop(guild_id, None)

    async def _banks(self, repos: Repos, guild_id: int) -> _GuildBanks | None:
        if guild_id == LOCAL_GUILD:
            return None
        stamp = await repos.quiz_bank_stamp(guild_id)
        if stamp is None:
            self._cache.pop(guild_id, None)
            return None
        cached = self._cache.get(guild_id)
        if cached is not None and cached.stamp == stamp:
            return cached
        own = []
        for record in await repos.quiz_items(guild_id):
            try:
                own.append(QuizItem.model_validate(record.item))
            except ValidationError:
                log.warning("skipping invalid quiz item %s of server %s", record.item_id, guild_id)
        suspended = {s.item_id for s in (await repos.quiz_item_states(guild_id)).values() if s.suspended}
        known = QuizBank([*self.base.items.values(), *own], self.base.titles)
        active = QuizBank([i for i in known.items.values() if i.id not in suspended], self.base.titles)
        banks = self._cache[guild_id] = _GuildBanks(stamp, active, known)
        return banks


# ----------------------------------------------------------------------------------------------------------
# Pure selection and scheduling


def rating_for(correct: bool, elapsed: timedelta | None) -> fsrs.Rating:
    if not correct:
        return fsrs.Rating.Again
    if elapsed is None:
        return fsrs.Rating.Good
    if elapsed <= EASY_WITHIN:
        return fsrs.Rating.Easy
    if elapsed > HARD_AFTER:
        return fsrs.Rating.Hard
    return fsrs.Rating.Good


def to_fsrs(card: CardRecord) -> fsrs.Card:
    return fsrs.Card(
        # An explicit id: without one fsrs makes a unique id by sleeping 1 ms, which blocks the event loop.
        card_id=0,
        state=fsrs.State(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=card.due,
        last_review=card.last_review,
    )


def new_card(user_id: int, item_id: str, now: datetime) -> CardRecord:
    return CardRecord(user_id=user_id, item_id=item_id, state=fsrs.State.Learning.value, step=0, due=now)


def review(card: CardRecord, rating: fsrs.Rating, at: datetime) -> CardRecord:
    reviewed, _ = SCHEDULER.review_card(to_fsrs(card), rating, at)
    return CardRecord(
        user_id=card.user_id,
        item_id=card.item_id,
        state=reviewed.state.value,
        step=reviewed.step,
        stability=reviewed.stability,
        difficulty=reviewed.difficulty,
        due=reviewed.due,
        last_review=reviewed.last_review,
        reps=card.reps + 1,
        correct=card.correct + (rating != fsrs.Rating.Again),
    )


def retrievability(card: CardRecord, now: datetime) -> float:
    if card.last_review is None:
        return 0.0
    return float(SCHEDULER.get_card_retrievability(to_fsrs(card), now))


@dataclass(frozen=True)
class SkillStats:
    skill: Skill
    total: int
    seen: int
    answers: int
    correct: int

    @property
    def smoothed_accuracy(self) -> float:
        # Laplace smoothing: one lucky answer must not make a skill look mastered.
        return (self.correct + 1) / (self.answers + 2)


def skill_stats(bank: QuizBank, cards: Mapping[str, CardRecord]) -> list[SkillStats]:
    stats = []
    for skill in Skill:
        items = bank.by_skill.get(skill, [])
        practised = [cards[i.id] for i in items if i.id in cards and cards[i.id].reps]
        stats.append(
            SkillStats(
                skill=skill,
                total=len(items),
                seen=len(practised),
                answers=sum(c.reps for c in practised),
                correct=sum(c.correct for c in practised),
            )
        )
    return stats


def skill_order(bank: QuizBank, cards: Mapping[str, CardRecord]) -> list[Skill]:
    """Where new items come from: skills never practised first, then the weakest (by smoothed accuracy)."""
    stats = [s for s in skill_stats(bank, cards) if s.total]
    untouched = [s for s in stats if s.seen == 0]
    touched = sorted((s for s in stats if s.seen), key=lambda s: (s.smoothed_accuracy, s.seen))
    return [s.skill for s in untouched + touched]


def _unseen(bank: QuizBank, skill: Skill, cards: Mapping[str, CardRecord], rng: random.Random) -> list[QuizItem]:
    fresh = [i for i in bank.by_skill.get(skill, []) if i.id not in cards or not cards[i.id].reps]
    rng.shuffle(fresh)  # different learners meet different items first...
    return sorted(fresh, key=lambda i: i.difficulty)  # ...but always the easier ones before the harder


def plan_daily(
    bank: QuizBank,
    cards: Mapping[str, CardRecord],
    now: datetime,
    count: int,
    *,
    skill: Skill | None = None,
    seed: str = "",
) -> list[str]:
    """Due reviews first (most overdue first), then new items by ``skill_order``, then the weakest memories.

    With ``skill`` chosen, every item comes from that skill. No item appears twice.
    """
    rng = random.Random(seed)
    chosen: list[str] = []

    def allowed(item_id: str) -> bool:
        item = bank.get(item_id)
        return item is not None and (skill is None or item.skill == skill) and item_id not in chosen

    due = sorted((c for c in cards.values() if c.reps and c.due <= now), key=lambda c: (c.due, c.item_id))
    chosen += [c.item_id for c in due if allowed(c.item_id)][:count]
    for s in [skill] if skill else skill_order(bank, cards):
        for item in _unseen(bank, s, cards, rng):
            if len(chosen) >= count:
                return chosen
            chosen.append(item.id)
    if len(chosen) < count:
        # Everything has been seen and too little is due: revisit what is most likely forgotten.
        weakest = sorted(
            (c for c in cards.values() if c.reps and allowed(c.item_id)),
            key=lambda c: (retrievability(c, now), c.item_id),
        )
        chosen += [c.item_id for c in weakest][: count - len(chosen)]
    return chosen


def plan_targeted(
    bank: QuizBank,
    cards: Mapping[str, CardRecord],
    now: datetime,
    sources: Collection[str],
    topics: Collection[str] = (),
    count: int = TARGETED_COUNT,
) -> list[str]:
    """Items taught by the given entries or on the given topics: due first, then unseen, then weakest."""
    wanted_topics = {t.strip().lower() for t in topics}
    matching = [i for i in bank.items.values() if i.source in sources or i.topic.lower() in wanted_topics]

    def priority(item: QuizItem) -> tuple[int, float, str]:
        card = cards.get(item.id)
        if card is None or not card.reps:
            return (1, 0.0, item.id)
        if card.due <= now:
            return (0, 0.0, item.id)
        return (2, retrievability(card, now), item.id)

    return [i.id for i in sorted(matching, key=priority)[:count]]


# ----------------------------------------------------------------------------------------------------------
# What the service returns


@dataclass(frozen=True)
class Question:
    session_id: str
    position: int  # 0-based
    total: int
    item: QuizItem

    @property
    def number(self) -> int:
        return self.position + 1


@dataclass(frozen=True)
class SessionSummary:
    correct: int
    total: int
    points: int
    streak: StreakState | None  # None for sessions that do not count towards the streak


@dataclass(frozen=True)
class Feedback:
    question: Question
    choice: int
    correct: bool
    points: int
    repeated: bool  # this position was already answered: the first result is returned unchanged
    next: Question | None
    summary: SessionSummary | None  # set once the last question is answered
    source_title: str  # the title of the entry that teaches this item, as the learner's server knows it

    @property
    def answer(self) -> int:
        return self.question.item.answer

    @property
    def explanation(self) -> str:
        return self.question.item.explanation

    @property
    def source(self) -> str:
        return self.question.item.source


@dataclass(frozen=True)
class SessionView:
    session: SessionRecord
    answered: Mapping[int, ChoiceRecord]
    next: Question | None
    resumed: bool = False

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def total(self) -> int:
        return len(self.session.item_ids)

    @property
    def finished(self) -> bool:
        return self.session.finished_at is not None


# ----------------------------------------------------------------------------------------------------------


async def _source_title(repos: Repos, bank: QuizBank, guild_id: int, source: str) -> str:
    """The title of a shipped entry, else of the server's own entry (its own quiz items cite those), else the id."""
    if source in bank.titles:
        return bank.titles[source]
    if guild_id != LOCAL_GUILD:
        entry = await repos.get_entry(guild_id, source)
        if entry is not None:
            return entry.title
    return source


async def ensure_learner(repos: Repos, user_id: int, name: str | None, now: datetime) -> Learner:
    learner = await repos.get_learner(user_id)
    if learner is None:
        learner = Learner(user_id=user_id, name=(name or str(user_id))[:100], created_at=now)
        await repos.save_learner(learner)
    elif name and name[:100] != learner.name:
        learner.name = name[:100]
        await repos.save_learner(learner)
    return learner


class QuizService:
    def __init__(
        self, store: StateStore, bank: QuizBank, clock: Clock = utc_now, banks: QuizBanks | None = None
    ) -> None:
        self.store = store
        self.banks = banks if banks is not None else QuizBanks(store, bank)  # ``bank``: the shipped items
        self.clock = clock

    async def start_daily(
        self,
        user_id: int,
        *,
        guild_id: int = LOCAL_GUILD,
        name: str | None = None,
        count: int = DEFAULT_COUNT,
        skill: Skill | None = None,
    ) -> SessionView:
        """Today's practice: resumes the learner's unfinished session for today, else plans a new one."""
        if not 1 <= count <= MAX_COUNT:
            raise InvalidChoice(f"A practice session holds 1 to {MAX_COUNT} questions.")
        now = self.clock()
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, name, now)
            day = local_day(now, learner.timezone, learner.day_start_hour)
            current = await repos.open_session(user_id, "daily", day)
            if current is not None:
                return await self._view(repos, current, resumed=True)
            cards = await repos.cards(user_id)
            bank = await self.banks.active(repos, guild_id)
            items = plan_daily(bank, cards, now, count, skill=skill, seed=f"{user_id}:{day}")
            if not items:
                raise NoQuizItems()
            return await self._create(repos, user_id, guild_id, "daily", day, items, now)

    async def start_targeted(
        self,
        user_id: int,
        sources: Collection[str],
        *,
        topics: Collection[str] = (),
        guild_id: int = LOCAL_GUILD,
        name: str | None = None,
        count: int = TARGETED_COUNT,
    ) -> SessionView:
        """ "Quiz me on this": a short session on the entries an answer cited."""
        now = self.clock()
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, name, now)
            day = local_day(now, learner.timezone, learner.day_start_hour)
            cards = await repos.cards(user_id)
            items = plan_targeted(await self.banks.active(repos, guild_id), cards, now, sources, topics, count)
            if not items:
                raise NoQuizItems("I have no quiz questions on those topics yet.")
            return await self._create(repos, user_id, guild_id, "targeted", day, items, now)

    async def view(self, session_id: str, user_id: int) -> SessionView:
        async with self.store.transaction() as repos:
            session = await self._owned(repos, session_id, user_id, lock=False)
            return await self._view(repos, session)

    async def submit(
        self, session_id: str, position: int, choice: int, user_id: int, elapsed: timedelta | None = None
    ) -> Feedback:
        """Record an answer once. Answering an answered position again returns the first result."""
        now = self.clock()
        async with self.store.transaction() as repos:
            # The row lock serialises answers to one session (two devices, a double click) on PostgreSQL;
            # SQLite transactions are serial already.
            session = await self._owned(repos, session_id, user_id, lock=True)
            if not 0 <= position < len(session.item_ids):
                raise InvalidChoice("That question is not part of this quiz.")
            bank = await self.banks.known(repos, session.guild_id)
            answered = {a.position: a for a in await repos.choices(session_id)}
            if position in answered:
                return await self._feedback(repos, bank, session, answered, answered[position], repeated=True)
            if session.finished_at is not None:
                raise QuizEnded()
            if not 0 <= choice < len(LETTERS):
                raise InvalidChoice()
            item = bank.get(session.item_ids[position])
            if item is None:
                raise QuizEnded("That question has been retired from the quiz bank. Start a new quiz with /quiz.")

            correct = choice == item.answer
            rating = rating_for(correct, elapsed)
            card = (await repos.cards(user_id, [item.id], lock=True)).get(item.id) or new_card(user_id, item.id, now)
            await repos.save_card(review(card, rating, now))
            record = ChoiceRecord(
                session_id=session_id,
                position=position,
                user_id=user_id,
                guild_id=session.guild_id,
                item_id=item.id,
                choice=choice,
                correct=correct,
                points=item.difficulty if correct else 0,
                rating=rating.value,
                answered_at=now,
                elapsed_ms=None if elapsed is None else int(elapsed.total_seconds() * 1000),
            )
            await repos.add_choice(record)
            answered[position] = record

            summary = None
            if len(answered) == len(session.item_ids):
                await repos.finish_session(session_id, now)
                session.finished_at = now
                summary = await self._summarise(repos, session, answered, now)
            return await self._feedback(repos, bank, session, answered, record, repeated=False, summary=summary)

    # ------------------------------------------------------------------------------------------------------

    async def _owned(self, repos: Repos, session_id: str, user_id: int, *, lock: bool) -> SessionRecord:
        session = await repos.get_session(session_id, lock=lock)
        if session is None:
            raise QuizNotFound()
        if session.user_id != user_id:
            raise NotYourQuiz()
        return session

    async def _create(
        self, repos: Repos, user_id: int, guild_id: int, kind: SessionKind, day: date, items: list[str], now: datetime
    ) -> SessionView:
        session = SessionRecord(
            id=secrets.token_hex(8),  # 16 characters: small enough for Discord's 100-character custom_id
            user_id=user_id,
            guild_id=guild_id,
            kind=kind,
            local_day=day,
            item_ids=tuple(items),
            created_at=now,
        )
        await repos.add_session(session)
        return await self._view(repos, session)

    async def _view(self, repos: Repos, session: SessionRecord, *, resumed: bool = False) -> SessionView:
        bank = await self.banks.known(repos, session.guild_id)
        answered = {a.position: a for a in await repos.choices(session.id)}
        return SessionView(session, answered, self._next(bank, session, answered), resumed)

    @staticmethod
    def _question(bank: QuizBank, session: SessionRecord, position: int) -> Question | None:
        item = bank.get(session.item_ids[position])
        return None if item is None else Question(session.id, position, len(session.item_ids), item)

    def _next(self, bank: QuizBank, session: SessionRecord, answered: Mapping[int, ChoiceRecord]) -> Question | None:
        for position in range(len(session.item_ids)):
            if position not in answered:
                return self._question(bank, session, position)
        return None

    async def _feedback(
        self,
        repos: Repos,
        bank: QuizBank,
        session: SessionRecord,
        answered: Mapping[int, ChoiceRecord],
        record: ChoiceRecord,
        *,
        repeated: bool,
        summary: SessionSummary | None = None,
    ) -> Feedback:
        question = self._question(bank, session, record.position)
        if question is None:
            raise QuizEnded("That question has been retired from the quiz bank. Start a new quiz with /quiz.")
        return Feedback(
            source_title=await _source_title(repos, bank, session.guild_id, question.item.source),
            question=question,
            choice=record.choice,
            correct=record.correct,
            points=record.points,
            repeated=repeated,
            next=self._next(bank, session, answered),
            summary=summary,
        )

    async def _summarise(
        self, repos: Repos, session: SessionRecord, answered: Mapping[int, ChoiceRecord], now: datetime
    ) -> SessionSummary:
        learner = await repos.get_learner(session.user_id)
        tz, hour = (learner.timezone, learner.day_start_hour) if learner else ("UTC", 0)
        kind: ActivityKind = "qotd" if session.kind == "qotd" else "practice"
        await repos.add_event(session.user_id, Activity(at=now, tz=tz, day_start_hour=hour, kind=kind))
        events = (await repos.events([session.user_id])).get(session.user_id, [])
        return SessionSummary(
            correct=sum(a.correct for a in answered.values()),
            total=len(session.item_ids),
            points=sum(a.points for a in answered.values()),
            streak=compute_streak(events, now, tz, hour),
        )
