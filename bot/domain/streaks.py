"""Daily practice streaks, computed as a pure function of the learner's event log.

Nothing here reads a clock, a database or Discord: callers pass the events and ``now``. Replaying a log
therefore always gives the same state, whatever order storage returns it in. The rules, including how
timezone changes are handled, are explained for users and developers in ``docs/streaks.md``.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, available_timezones

from bot.domain.errors import StudyBotError

ActivityKind = Literal["practice", "qotd"]
DayKind = Literal["practice", "qotd", "freeze", "bridge"]

FREEZE_EVERY = 7  # a freeze is earned each time the streak reaches a multiple of this on a practice day
MAX_FREEZES = 2
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)  # datetime's resolution, so the finest step a day boundary can sit on
_SHOWN_NAME = 64  # the bad name is echoed back to the user; keep a pasted essay out of the reply


class InvalidTimezone(StudyBotError):
    """The name is not in the IANA tz database; ``suggestions`` holds close matches for the UI to offer."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        shown = name if len(name) <= _SHOWN_NAME else name[: _SHOWN_NAME - 1] + "…"
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f'"{shown}" is not a timezone I know.{hint} Use an IANA name such as Europe/Berlin or America/New_York.'
        )
        self.name = name
        self.suggestions = suggestions


# Files some systems keep beside the zones: "localtime" is the server's own zone, never the learner's.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _timezone_names() -> dict[str, str]:
    """Lower-cased IANA name to its canonical spelling, read once: walking the tz database takes milliseconds."""
    return {name.lower(): name for name in available_timezones() - _NOT_ZONES}


def search_timezones(text: str, limit: int = 25) -> list[str]:
    """IANA names for autocomplete: prefix matches first, then names containing the text, alphabetically."""
    wanted = text.strip().lower().replace(" ", "_")
    names = sorted(_timezone_names().values())
    if not wanted:
        popular = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Kolkata"]
        return popular[:limit]
    starts = [n for n in names if n.lower().startswith(wanted) or n.lower().rsplit("/", 1)[-1].startswith(wanted)]
    contains = [n for n in names if wanted in n.lower() and n not in starts]
    return (starts + contains)[:limit]


def _suggest(name: str) -> tuple[str, ...]:
    wanted = name.strip().lower().replace(" ", "_")
    names = _timezone_names()
    # People type the city ("berlin", "new york") more often than the region.
    cities = {canonical.rsplit("/", 1)[-1].lower(): canonical for canonical in names.values()}
    if wanted in cities:
        return (cities[wanted],)
    found = [names[n] for n in difflib.get_close_matches(wanted, names, n=3, cutoff=0.75)]
    found += [cities[c] for c in difflib.get_close_matches(wanted, cities, n=3, cutoff=0.8)]
    return tuple(dict.fromkeys(found))[:3]


def parse_timezone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name, ignoring case and surrounding spaces.

    Names are checked against the tz database's list rather than left to ``ZoneInfo``, which opens any file
    under the zoneinfo folder, such as ``localtime`` or ``posixrules``, that a learner should never pick.
    """
    canonical = _timezone_names().get(name.strip().lower())
    if canonical is None:
        raise InvalidTimezone(name, _suggest(name))
    return ZoneInfo(canonical)


def _require_utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware UTC datetime, got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def _require_hour(hour: int) -> None:
    if not 0 <= hour <= 23:
        raise ValueError(f"day_start_hour must be between 0 and 23, got {hour}")


def _day_of(at: datetime, zone: ZoneInfo, day_start_hour: int) -> date:
    # Wall-clock arithmetic on purpose: a day starts when the local clock reads day_start_hour:00, or at the
    # first instant after a DST gap that swallowed it, and 23- and 25-hour days fall out of that for free.
    wall = at.astimezone(zone).replace(tzinfo=None)
    return (wall - timedelta(hours=day_start_hour)).date()


def local_day(at: datetime, tz: str, day_start_hour: int = 0) -> date:
    """The learner's calendar date for the instant ``at``, given their timezone and day-start hour."""
    at = _require_utc(at, "at")
    _require_hour(day_start_hour)
    return _day_of(at, parse_timezone(tz), day_start_hour)


@dataclass(frozen=True)
class Activity:
    """A finished practice session or question of the day, with the calendar setting in effect at that moment.

    The setting is stored with the event, not looked up later, so changing timezone never moves past days.
    """

    at: datetime
    tz: str
    day_start_hour: int = 0
    kind: ActivityKind = "practice"

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _require_utc(self.at, "Activity.at"))
        object.__setattr__(self, "tz", parse_timezone(self.tz).key)
        _require_hour(self.day_start_hour)
        if self.kind not in get_args(ActivityKind):
            raise ValueError(f"Activity.kind must be practice or qotd, got {self.kind!r}")


@dataclass(frozen=True)
class TimezoneChange:
    """From ``at`` on, the learner's calendar is ``tz`` with days starting at ``day_start_hour``.

    Log one whenever the learner changes the setting: it tells the engine exactly which dates an eastward
    move skipped. Without it, a change is assumed to happen at the first event that shows the new setting.
    """

    at: datetime
    tz: str
    day_start_hour: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _require_utc(self.at, "TimezoneChange.at"))
        object.__setattr__(self, "tz", parse_timezone(self.tz).key)
        _require_hour(self.day_start_hour)


Event = Activity | TimezoneChange


@dataclass(frozen=True)
class DayRecord:
    """One date of the streak history, in the timezone that dated it, and what kept it.

    ``freeze`` and ``bridge`` days keep a streak alive without practice: a freeze covers a missed day, a bridge
    a date an eastward timezone change skipped. A freeze is dated in the timezone that found the day missed.
    """

    date: date
    tz: str
    kind: DayKind


@dataclass(frozen=True)
class StreakState:
    """The streak as of ``now``; ``practised_today`` means today is already covered (after a westward move it
    can be true before any practice, because today's date was counted in the old timezone)."""

    current: int
    best: int
    freezes: int
    days: tuple[DayRecord, ...]
    today: date
    practised_today: bool
    resets_at: datetime
    time_left: timedelta


_Setting = tuple[str, int]


def _sort_key(event: Event) -> tuple[datetime, int, str, int, str]:
    """A total order, so events sharing a timestamp replay identically whatever order storage returns."""
    if isinstance(event, TimezoneChange):
        return (event.at, 0, event.tz, event.day_start_hour, "")
    return (event.at, 1, event.tz, event.day_start_hour, event.kind)


def _setting_day(at: datetime, setting: _Setting) -> date:
    return _day_of(at, ZoneInfo(setting[0]), setting[1])


@dataclass
class _Ledger:
    """The history being replayed; every date is appended in increasing order, so none appears twice."""

    days: list[DayRecord] = field(default_factory=list)
    run: int = 0  # length of the run of consecutive dates ending at the last recorded date
    best: int = 0
    freezes: int = 0
    # Dates an eastward change jumped over since the last activity, with the timezone that skipped them.
    # They become bridges only when a later day closes the gap, so an abandoned streak records none.
    skipped: dict[date, str] = field(default_factory=dict)

    @property
    def last(self) -> date | None:
        return self.days[-1].date if self.days else None

    def change(self, at: datetime, old: _Setting, new: _Setting) -> None:
        last = self.last
        if last is None:
            return
        before, after = _setting_day(at, old), _setting_day(at, new)
        # The learner will live every date from the new "today" on, so none of those counts as skipped; this
        # is what stops a quick trip east and back from bridging a day that is then lived without practice.
        self.skipped = {d: tz for d, tz in self.skipped.items() if d < after}
        day = max(before, last) + _ONE_DAY
        while day < after:
            self.skipped[day] = new[0]
            day += _ONE_DAY

    def cover_gap(self, today: date, tz: str) -> bool:
        """Fill the dates between the last recorded one and ``today`` with bridges and freezes, if the
        freezes held can cover every missed date; otherwise record nothing, so the freezes are kept."""
        last = self.last
        if last is None:
            return False
        gap = (today - last).days - 1
        if gap <= 0:
            return True
        missed = gap - sum(1 for d in self.skipped if last < d < today)
        if missed > self.freezes:
            return False
        self.freezes -= missed
        for offset in range(1, gap + 1):
            day = last + timedelta(days=offset)
            bridged_by = self.skipped.get(day)
            self._append(DayRecord(day, bridged_by or tz, "freeze" if bridged_by is None else "bridge"))
        return True

    def record(self, activity: Activity) -> None:
        day = _day_of(activity.at, ZoneInfo(activity.tz), activity.day_start_hour)
        last = self.last
        if last is not None and day <= last:
            # Same date, or an earlier one after moving west: it adds no day and fills nothing retroactively.
            self._attribute_to_last(activity.kind)
            return
        if not self.cover_gap(day, activity.tz):
            self.run = 0
        self.skipped.clear()  # every skipped date is now either bridged or behind a restart
        self._append(DayRecord(day, activity.tz, activity.kind))

    def _attribute_to_last(self, kind: ActivityKind) -> None:
        # Only a question-of-the-day date can change: a practice the same day makes it a practice day,
        # which may earn the freeze the question alone did not.
        if kind == "practice" and self.days[-1].kind == "qotd":
            self.days[-1] = replace(self.days[-1], kind="practice")
            self._maybe_earn_freeze()

    def _append(self, record: DayRecord) -> None:
        self.days.append(record)
        self.run += 1
        self.best = max(self.best, self.run)
        if record.kind == "practice":
            self._maybe_earn_freeze()

    def _maybe_earn_freeze(self) -> None:
        if self.run % FREEZE_EVERY == 0:
            self.freezes = min(MAX_FREEZES, self.freezes + 1)


def _next_day_start(now: datetime, zone: ZoneInfo, day_start_hour: int, today: date) -> datetime:
    """The first instant after ``now`` that belongs to a later local day than ``today``.

    Usually that is tomorrow's ``day_start_hour``:00 on the wall clock. When a jump of the clock (DST, or a
    zone moving across the date line) swallows that wall time mid-jump, the day begins at the jump, which is
    earlier, so we bisect back to it.
    """

    def later(at: datetime) -> bool:
        return _day_of(at, zone, day_start_hour) > today

    wall = datetime.combine(today + _ONE_DAY, time(day_start_hour))
    candidates = [
        start
        for fold in (0, 1)
        if (start := wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)) > now and later(start)
    ]
    # Two days always move the wall clock into a later date, even across the date line.
    hi = min(candidates, default=now + 2 * _ONE_DAY)
    if not later(hi - _TICK):
        return hi
    lo = now
    while hi - lo > _TICK:
        mid = lo + (hi - lo) / 2
        if later(mid):
            hi = mid
        else:
            lo = mid
    return hi


def compute_streak(events: Iterable[Event], now: datetime, tz: str, day_start_hour: int = 0) -> StreakState:
    """Replay the learner's log and return their streak as of ``now``.

    ``tz`` and ``day_start_hour`` are the learner's current setting; "today" is evaluated in it. Events after
    ``now`` are ignored, so a past state can be reproduced exactly from the full log.
    """
    now = _require_utc(now, "now")
    _require_hour(day_start_hour)
    zone = parse_timezone(tz)
    ledger = _Ledger()
    setting: _Setting | None = None
    for event in sorted(events, key=_sort_key):
        if event.at > now:
            break
        new = (event.tz, event.day_start_hour)
        if setting is not None and new != setting:
            ledger.change(event.at, setting, new)
        setting = new
        if isinstance(event, Activity):
            ledger.record(event)
    current_setting = (zone.key, day_start_hour)
    if setting is not None and setting != current_setting:
        ledger.change(now, setting, current_setting)

    today = _day_of(now, zone, day_start_hour)
    alive = ledger.cover_gap(today, zone.key)
    last = ledger.last
    resets_at = _next_day_start(now, zone, day_start_hour, today)
    return StreakState(
        current=ledger.run if alive else 0,
        best=ledger.best,
        freezes=ledger.freezes,
        days=tuple(ledger.days),
        today=today,
        practised_today=last is not None and today <= last,
        resets_at=resets_at,
        time_left=resets_at - now,
    )
