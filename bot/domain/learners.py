"""Everything about a learner that is not a quiz: streak, settings, leaderboards, progress, privacy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.ports import LOCAL_GUILD, Clock, ExportedData, Learner, StateStore, utc_now
from bot.domain.quiz import QuizBank, QuizBanks, ensure_learner, retrievability, skill_stats
from bot.domain.streaks import StreakState, TimezoneChange, compute_streak, local_day, parse_timezone

Period = Literal["week", "all"]
LEADERBOARD_SIZE = 10
ACTIVITY_DAYS = 30
# Mastery is the chance of recalling an item a day from now. Retrievability *now* is 100% for anything just
# reviewed, right or wrong, which would make every chart look perfect straight after practice.
MASTERY_HORIZON = timedelta(days=1)
EARLY_ESTIMATE_BELOW = 5  # answers in a skill; below this, mastery is shown as an early estimate


DEFAULT_REMINDER_HOUR = 18  # local time: after work or classes, before the day is over


class InvalidSetting(StudyBotError):
    pass


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    user_id: int
    name: str
    points: int
    streak: int


@dataclass(frozen=True)
class Leaderboard:
    period: Period
    since: datetime | None
    rows: tuple[LeaderRow, ...]
    viewer: LeaderRow | None  # the viewer's own row when they rank below the shown rows


@dataclass(frozen=True)
class SkillProgressStats:
    skill: Skill
    mastery: float | None  # mean FSRS retrievability of practised items, a day from now
    accuracy: float | None
    seen: int
    total: int
    answers: int = 0  # what mastery and accuracy rest on

    @property
    def early(self) -> bool:
        """Mastery from a handful of answers is an early estimate: FSRS rates a fresh correct answer as well kept."""
        return self.mastery is not None and self.answers < EARLY_ESTIMATE_BELOW


@dataclass(frozen=True)
class Progress:
    name: str
    skills: tuple[SkillProgressStats, ...]
    activity: tuple[tuple[date, int], ...]  # the last 30 local days, oldest first: answers per day
    streak: StreakState


def week_start(now: datetime) -> datetime:
    """Weekly boards run Monday 00:00 to Monday 00:00 UTC: one shared week for a server spread over zones."""
    start = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), UTC)
    return start - timedelta(days=start.weekday())


class LearnerService:
    def __init__(
        self, store: StateStore, bank: QuizBank, clock: Clock = utc_now, banks: QuizBanks | None = None
    ) -> None:
        self.store = store
        self.bank = bank
        self.banks = banks if banks is not None else QuizBanks(store, bank)
        self.clock = clock

    async def learner(self, user_id: int, name: str | None = None) -> Learner:
        async with self.store.transaction() as repos:
            return await ensure_learner(repos, user_id, name, self.clock())

    async def streak(self, user_id: int) -> StreakState:
        now = self.clock()
        async with self.store.transaction() as repos:
            learner = await repos.get_learner(user_id)
            tz, hour = (learner.timezone, learner.day_start_hour) if learner else ("UTC", 0)
            events = (await repos.events([user_id])).get(user_id, [])
        return compute_streak(events, now, tz, hour)

    async def set_timezone(self, user_id: int, timezone: str, day_start_hour: int | None = None) -> Learner:
        """Change the learner's calendar. The change is logged so the streak engine can date it exactly."""
        zone = parse_timezone(timezone)
        if day_start_hour is not None and not 0 <= day_start_hour <= 23:
            raise InvalidSetting("The day-start hour must be between 0 and 23.")
        now = self.clock()
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, None, now)
            hour = learner.day_start_hour if day_start_hour is None else day_start_hour
            if (learner.timezone, learner.day_start_hour) != (zone.key, hour):
                learner.timezone, learner.day_start_hour = zone.key, hour
                await repos.save_learner(learner)
                await repos.add_event(user_id, TimezoneChange(at=now, tz=zone.key, day_start_hour=hour))
            return learner

    async def switch_reminder(self, user_id: int, *, on: bool, hour: int | None = None) -> Learner:
        """Turn the daily reminder on at ``hour`` (default: the learner's last hour, else the evening) or off."""
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidSetting("The reminder hour must be between 0 and 23.")
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, None, self.clock())
            learner.reminder_hour = (
                (hour if hour is not None else learner.reminder_hour or DEFAULT_REMINDER_HOUR) if on else None
            )
            await repos.save_learner(learner)
            return learner

    async def set_reminder(self, user_id: int, hour: int | None) -> Learner:
        """The daily reminder at ``hour`` local time, or none."""
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidSetting("The reminder hour must be between 0 and 23.")
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, None, self.clock())
            learner.reminder_hour = hour
            await repos.save_learner(learner)
            return learner

    async def set_hidden(self, user_id: int, hidden: bool) -> Learner:
        async with self.store.transaction() as repos:
            learner = await ensure_learner(repos, user_id, None, self.clock())
            learner.leaderboard_hidden = hidden
            await repos.save_learner(learner)
            return learner

    async def leaderboard(
        self, guild_id: int, period: Period = "all", *, viewer: int | None = None, size: int = LEADERBOARD_SIZE
    ) -> Leaderboard:
        now = self.clock()
        since = week_start(now) if period == "week" else None
        async with self.store.transaction() as repos:
            top = await repos.points(guild_id, since, size)
            mine = None
            if viewer is not None and viewer not in {r.user_id for r in top}:
                found = await repos.points_of(guild_id, viewer, since)
                me = await repos.get_learner(viewer)
                if found and me and not me.leaderboard_hidden:
                    mine = (me, *found)
            ids = [r.user_id for r in top] + ([mine[0].user_id] if mine else [])
            events = await repos.events(ids)
            learners = {i: await repos.get_learner(i) for i in ids}

        def streak_of(user_id: int) -> int:
            learner = learners.get(user_id)
            tz, hour = (learner.timezone, learner.day_start_hour) if learner else ("UTC", 0)
            return compute_streak(events.get(user_id, []), now, tz, hour).current

        # Competition ranking ("1224"): equal points share a rank, as points_of counts it for the viewer.
        rows = tuple(
            LeaderRow(1 + sum(o.points > r.points for o in top), r.user_id, r.name, r.points, streak_of(r.user_id))
            for r in top
        )
        viewer_row = None
        if mine:
            learner, points, rank = mine
            viewer_row = LeaderRow(rank, learner.user_id, learner.name, points, streak_of(learner.user_id))
        return Leaderboard(period, since, rows, viewer_row)

    async def progress(self, user_id: int, *, guild_id: int = LOCAL_GUILD) -> Progress:
        """Mastery over the items of the server asked from (its own, without the ones it suspended)."""
        now = self.clock()
        async with self.store.transaction() as repos:
            bank = await self.banks.active(repos, guild_id)
            learner = await repos.get_learner(user_id)
            tz, hour = (learner.timezone, learner.day_start_hour) if learner else ("UTC", 0)
            cards = await repos.cards(user_id)
            times = await repos.answer_times(user_id, now - timedelta(days=ACTIVITY_DAYS + 1))
            events = (await repos.events([user_id])).get(user_id, [])
        streak = compute_streak(events, now, tz, hour)
        skills = []
        for stats in skill_stats(bank, cards):
            practised = [cards[i.id] for i in bank.by_skill.get(stats.skill, []) if i.id in cards]
            practised = [c for c in practised if c.reps]
            skills.append(
                SkillProgressStats(
                    skill=stats.skill,
                    mastery=sum(retrievability(c, now + MASTERY_HORIZON) for c in practised) / len(practised)
                    if practised
                    else None,
                    accuracy=stats.correct / stats.answers if stats.answers else None,
                    seen=stats.seen,
                    total=stats.total,
                    answers=stats.answers,
                )
            )
        per_day = Counter(local_day(t, tz, hour) for t in times)
        days = [streak.today - timedelta(days=n) for n in range(ACTIVITY_DAYS - 1, -1, -1)]
        return Progress(
            name=learner.name if learner else str(user_id),
            skills=tuple(skills),
            activity=tuple((d, per_day.get(d, 0)) for d in days),
            streak=streak,
        )

    async def export(self, user_id: int) -> dict[str, Any]:
        """All stored data about the learner, JSON-ready: what /privacy attaches and the console writes."""
        async with self.store.transaction() as repos:
            data: ExportedData = await repos.export_user(user_id)
        return {"user_id": str(data.user_id), "exported_at": self.clock().isoformat(), "tables": data.tables}

    async def forget(self, user_id: int) -> dict[str, int]:
        async with self.store.transaction() as repos:
            return await repos.delete_user(user_id)
