"""The two daily rhythms: a server's question of the day, and learners' opt-in reminders."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.content import QuizItem
from bot.domain.errors import StudyBotError
from bot.domain.ports import Clock, Learner, QotdPost, SessionRecord, StateStore, utc_now
from bot.domain.quiz import Feedback, QuizService, ensure_learner
from bot.domain.streaks import compute_streak, local_day

RECENT_QOTD = 60  # don't repeat a server's question of the day within this many posts


class QotdNotFound(StudyBotError):
    def __init__(self) -> None:
        super().__init__("That question of the day is no longer available.")


@dataclass(frozen=True)
class Reminder:
    learner: Learner
    streak: int


class DailyService:
    def __init__(self, store: StateStore, quiz: QuizService, clock: Clock = utc_now) -> None:
        self.store = store
        self.quiz = quiz
        self.banks = quiz.banks  # one cache of server banks, shared with the quiz engine
        self.clock = clock

    async def claim_qotd(self, guild_id: int, channel_id: int, hour: int) -> QotdPost | None:
        """Today's question for a server once its posting hour (UTC) has come, exactly once across restarts.

        Returns None when it is too early or today's question was already claimed.
        """
        now = self.clock()
        if now.hour < hour:
            return None
        async with self.store.transaction() as repos:
            bank = await self.banks.active(repos, guild_id)  # never a question this server suspended
            if not bank.items:
                return None
            recent = set(await repos.recent_qotd_items(guild_id, RECENT_QOTD))
            pool = sorted(i for i in bank.items if i not in recent) or sorted(bank.items)
            item_id = random.Random(f"{guild_id}:{now.date()}").choice(pool)
            post = QotdPost(guild_id, channel_id, now.date(), item_id, now)
            post.id = await repos.add_qotd(post)
        return post if post.id is not None else None

    async def posted(self, post_id: int, message_id: int) -> None:
        async with self.store.transaction() as repos:
            await repos.set_qotd_message(post_id, message_id)

    async def get(self, post_id: int, guild_id: int) -> QotdPost:
        post, _ = await self.question(post_id, guild_id)
        return post

    async def question(self, post_id: int, guild_id: int) -> tuple[QotdPost, QuizItem]:
        """The post and its item, which may be one of the server's own."""
        async with self.store.transaction() as repos:
            post = await repos.get_qotd(post_id)
            if post is None or post.guild_id != guild_id:
                raise QotdNotFound()
            item = (await self.banks.known(repos, guild_id)).get(post.item_id)
        if item is None:
            raise QotdNotFound()
        return post, item

    async def submit(self, post_id: int, guild_id: int, user_id: int, choice: int, name: str | None = None) -> Feedback:
        """Each learner answers a question of the day once; it counts for their streak like a practice session."""
        post = await self.get(post_id, guild_id)
        now = self.clock()
        session_id = hashlib.sha256(f"qotd:{post_id}:{user_id}".encode()).hexdigest()[:16]
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, name, now)
            await repos.add_session_if_absent(
                SessionRecord(
                    id=session_id,
                    user_id=user_id,
                    guild_id=guild_id,
                    kind="qotd",
                    local_day=local_day(now, learner.timezone, learner.day_start_hour),
                    item_ids=(post.item_id,),
                    created_at=now,
                )
            )
        return await self.quiz.submit(session_id, 0, choice, user_id)

    async def due_reminders(self) -> list[Reminder]:
        """Learners whose reminder hour it is locally, who have not practised today and were not yet reminded.

        Each returned reminder is already claimed (marked sent), so it goes out at most once per local day,
        even if the bot restarts or two processes run; a reminder hour missed while offline is skipped.
        """
        now = self.clock()
        due = []
        async with self.store.transaction() as repos:
            candidates = await repos.learners_with_reminders()
            events = await repos.events([c.user_id for c in candidates])
            for learner in candidates:
                if learner.reminder_hour != _local_hour(now, learner):
                    continue
                streak = compute_streak(events[learner.user_id], now, learner.timezone, learner.day_start_hour)
                if streak.practised_today or learner.last_reminder_day == streak.today:
                    continue
                if await repos.claim_reminder(learner.user_id, streak.today):
                    due.append(Reminder(learner, streak.current))
        return due


def _local_hour(now: datetime, learner: Learner) -> int:
    return now.astimezone(ZoneInfo(learner.timezone)).hour
