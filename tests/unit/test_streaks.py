from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import StudyBotError
from bot.domain.streaks import (
    MAX_FREEZES,
    Activity,
    Event,
    InvalidTimezone,
    StreakState,
    TimezoneChange,
    compute_streak,
    local_day,
    parse_timezone,
)

PAGO, KIRI = "Pacific/Pago_Pago", "Pacific/Kiritimati"  # UTC-11 and UTC+14: a 25-hour jump skips a date


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: str) -> datetime:
    """The UTC instant of a local wall-clock time (the first one, if the wall time repeats)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def daily(first: str, count: int, tz: str = "UTC", at: str = "12:00") -> list[Event]:
    start = date.fromisoformat(first)
    return [Activity(local(f"{start + timedelta(days=i)}T{at}", tz), tz) for i in range(count)]


def kinds(state: StreakState) -> list[tuple[str, str]]:
    return [(str(d.date), d.kind) for d in state.days]


# --- examples: the basic rules ---------------------------------------------------------------------------


def test_three_consecutive_days_make_a_streak_of_three():
    """Practice on three consecutive UTC dates gives current and best streaks of 3."""
    state = compute_streak(daily("2024-06-01", 3), utc("2024-06-03T18:00"), "UTC")
    assert (state.current, state.best, state.freezes) == (3, 3, 0)
    assert state.practised_today
    assert [d.kind for d in state.days] == ["practice"] * 3


def test_several_sessions_on_one_date_count_once():
    """Three sessions on the same local date add one day, not three."""
    events = [Activity(utc(f"2024-06-01T{h:02}:00"), "UTC") for h in (1, 12, 23)]
    state = compute_streak(events, utc("2024-06-01T23:30"), "UTC")
    assert state.current == 1
    assert len(state.days) == 1


def test_a_missed_day_resets_the_streak():
    """Skipping a date without a freeze starts a new streak of 1; best remembers the old one."""
    events = [*daily("2024-06-01", 3), *daily("2024-06-05", 1)]
    state = compute_streak(events, utc("2024-06-05T20:00"), "UTC")
    assert (state.current, state.best) == (1, 3)


def test_streak_survives_until_the_end_of_the_next_day():
    """A streak whose last day was yesterday is still alive; a day later it is gone."""
    events = daily("2024-06-01", 3)
    tomorrow = compute_streak(events, utc("2024-06-04T23:59"), "UTC")
    assert (tomorrow.current, tomorrow.practised_today) == (3, False)
    assert compute_streak(events, utc("2024-06-05T00:00"), "UTC").current == 0


def test_freeze_earned_at_seven_covers_a_missed_day():
    """Seven practice days earn a freeze, which is spent automatically on the next missed date."""
    seven = daily("2024-06-01", 7)
    assert compute_streak(seven, utc("2024-06-07T20:00"), "UTC").freezes == 1
    state = compute_streak([*seven, *daily("2024-06-09", 1)], utc("2024-06-09T20:00"), "UTC")
    assert (state.current, state.freezes) == (9, 0)
    assert ("2024-06-08", "freeze") in kinds(state)


def test_freeze_is_spent_when_today_shows_the_missed_day():
    """Looking at the streak the day after a miss already uses the freeze, so the streak shows as alive."""
    state = compute_streak(daily("2024-06-01", 7), utc("2024-06-09T08:00"), "UTC")
    assert (state.current, state.freezes, state.practised_today) == (8, 0, False)
    assert kinds(state)[-1] == ("2024-06-08", "freeze")


def test_at_most_two_freezes_are_held():
    """Twenty-one days would earn three freezes; only two are kept, and both can cover a two-day gap."""
    three_weeks = daily("2024-06-01", 21)
    assert compute_streak(three_weeks, utc("2024-06-21T20:00"), "UTC").freezes == MAX_FREEZES
    state = compute_streak([*three_weeks, *daily("2024-06-24", 1)], utc("2024-06-24T20:00"), "UTC")
    assert (state.current, state.freezes) == (24, 0)


def test_a_gap_longer_than_the_freezes_resets_and_keeps_them():
    """Two missed dates with one freeze reset the streak and spend nothing."""
    events = [*daily("2024-06-01", 7), *daily("2024-06-10", 1)]
    state = compute_streak(events, utc("2024-06-10T20:00"), "UTC")
    assert (state.current, state.best, state.freezes) == (1, 7, 1)
    assert all(d.kind != "freeze" for d in state.days)


def test_question_of_the_day_counts_as_a_day():
    """A question of the day keeps the streak going and is recorded as qotd."""
    events = [
        Activity(utc("2024-06-01T10:00"), "UTC"),
        Activity(utc("2024-06-02T10:00"), "UTC", kind="qotd"),
        Activity(utc("2024-06-03T10:00"), "UTC"),
    ]
    state = compute_streak(events, utc("2024-06-03T20:00"), "UTC")
    assert state.current == 3
    assert [d.kind for d in state.days] == ["practice", "qotd", "practice"]


def test_freeze_needs_practice_on_the_seventh_day():
    """A seventh day kept by a question alone earns no freeze; practising later that date earns it."""
    qotd = [*daily("2024-06-01", 6), Activity(utc("2024-06-07T09:00"), "UTC", kind="qotd")]
    assert compute_streak(qotd, utc("2024-06-07T10:00"), "UTC").freezes == 0
    state = compute_streak([*qotd, Activity(utc("2024-06-07T21:00"), "UTC")], utc("2024-06-07T22:00"), "UTC")
    assert state.freezes == 1
    assert state.days[-1].kind == "practice"


def test_day_start_hour_moves_the_boundary():
    """With days starting at 04:00, a 03:00 session belongs to the previous date."""
    assert local_day(utc("2024-06-02T03:59"), "UTC", 4) == date(2024, 6, 1)
    assert local_day(utc("2024-06-02T04:00"), "UTC", 4) == date(2024, 6, 2)
    late_night = [Activity(utc("2024-06-01T20:00"), "UTC", 4), Activity(utc("2024-06-02T03:00"), "UTC", 4)]
    assert compute_streak(late_night, utc("2024-06-02T03:30"), "UTC", 4).current == 1


def test_events_after_now_are_ignored():
    """The state is as of ``now``: a later event in the log changes nothing, so past states replay exactly."""
    events = daily("2024-06-01", 3)
    assert compute_streak(events, utc("2024-06-02T13:00"), "UTC").current == 2


# --- examples: DST -----------------------------------------------------------------------------------------


def test_berlin_spring_forward_day_lasts_23_hours():
    """On 2024-03-31 Berlin skips 02:00-03:00, so the day lasts 23 hours and the countdown knows it."""
    state = compute_streak([], utc("2024-03-30T23:00"), "Europe/Berlin")  # local midnight
    assert state.today == date(2024, 3, 31)
    assert state.time_left == timedelta(hours=23)


def test_berlin_day_start_in_the_dst_gap_begins_at_the_transition():
    """With days starting at 02:00, the day of the spring-forward begins at 03:00 CEST, the end of the gap."""
    assert local_day(utc("2024-03-31T00:59"), "Europe/Berlin", 2) == date(2024, 3, 30)
    assert local_day(utc("2024-03-31T01:00"), "Europe/Berlin", 2) == date(2024, 3, 31)
    state = compute_streak([], utc("2024-03-31T00:30"), "Europe/Berlin", 2)
    assert (state.resets_at, state.time_left) == (utc("2024-03-31T01:00"), timedelta(minutes=30))
    events = [
        Activity(utc("2024-03-31T00:30"), "Europe/Berlin", 2),
        Activity(utc("2024-03-31T01:30"), "Europe/Berlin", 2),
    ]
    assert compute_streak(events, utc("2024-03-31T02:00"), "Europe/Berlin", 2).current == 2


def test_berlin_fall_back_day_lasts_25_hours_and_counts_once():
    """On 2024-10-27 02:30 happens twice in Berlin; both sessions land on one 25-hour date."""
    state = compute_streak([], utc("2024-10-26T22:00"), "Europe/Berlin")
    assert state.time_left == timedelta(hours=25)
    twice = [Activity(utc("2024-10-27T00:30"), "Europe/Berlin"), Activity(utc("2024-10-27T01:30"), "Europe/Berlin")]
    after = compute_streak(twice, utc("2024-10-27T02:00"), "Europe/Berlin")
    assert [d.date for d in after.days] == [date(2024, 10, 27)]


def test_new_york_spring_forward_with_day_start_in_the_gap():
    """New York skips 02:00-03:00 on 2024-03-10; with 02:00 day starts that date begins at 03:00 EDT."""
    state = compute_streak([], utc("2024-03-10T06:30"), "America/New_York", 2)  # 01:30 EST
    assert state.today == date(2024, 3, 9)
    assert state.resets_at == utc("2024-03-10T07:00")
    next_reset = compute_streak([], utc("2024-03-10T07:00"), "America/New_York", 2).resets_at
    assert next_reset - utc("2024-03-10T07:00") == timedelta(hours=23)


def test_new_york_fall_back_day_lasts_25_hours():
    """On 2024-11-03 New York repeats 01:00-02:00; a streak practised at 01:30 every day carries across it."""
    state = compute_streak([], utc("2024-11-03T04:00"), "America/New_York")
    assert state.time_left == timedelta(hours=25)
    events = daily("2024-11-01", 5, "America/New_York", at="01:30")
    assert compute_streak(events, local("2024-11-05T02:00", "America/New_York"), "America/New_York").current == 5


def test_day_start_inside_a_skipped_date_begins_at_the_jump():
    """Kiritimati skipped 1994-12-31; with 02:00 day starts, Dec 30 ends at the jump itself, not two hours later."""
    now = local("1994-12-30T12:00", KIRI)
    state = compute_streak([], now, KIRI, 2)
    assert state.resets_at == utc("1994-12-31T10:00")  # 23:59 -10:00 became 00:00 +14:00
    assert local_day(state.resets_at, KIRI, 2) == date(1994, 12, 31)


# --- examples: timezone changes ---------------------------------------------------------------------------


def test_eastward_change_bridges_the_skipped_date():
    """Moving from Pago Pago to Kiritimati at 23:30 jumps from Monday to Wednesday; Tuesday is bridged."""
    events = [
        Activity(local("2024-06-03T10:00", PAGO), PAGO),
        TimezoneChange(local("2024-06-03T23:30", PAGO), KIRI),
        Activity(local("2024-06-05T08:00", KIRI), KIRI),
    ]
    state = compute_streak(events, local("2024-06-05T09:00", KIRI), KIRI)
    assert kinds(state) == [("2024-06-03", "practice"), ("2024-06-04", "bridge"), ("2024-06-05", "practice")]
    assert state.current == 3
    assert state.days[1].tz == KIRI


def test_eastward_change_keeps_the_streak_alive_before_any_practice():
    """Right after the jump, today is Wednesday and the streak is alive but today still needs practice."""
    events = [Activity(local("2024-06-03T10:00", PAGO), PAGO), TimezoneChange(local("2024-06-03T23:30", PAGO), KIRI)]
    state = compute_streak(events, local("2024-06-05T01:00", KIRI), KIRI)
    assert (state.current, state.practised_today, state.today) == (2, False, date(2024, 6, 5))


def test_without_a_change_event_the_change_is_dated_by_the_first_new_activity():
    """An unlogged change is assumed at the first activity in the new zone: at 23:45 it skips Tuesday,
    but the next morning Tuesday was already lived in Pago Pago, so it is a missed day."""
    monday = Activity(local("2024-06-03T10:00", PAGO), PAGO)
    at_once = Activity(local("2024-06-03T23:45", PAGO), KIRI)
    assert compute_streak([monday, at_once], at_once.at, KIRI).current == 3
    next_morning = Activity(local("2024-06-04T07:00", PAGO), KIRI)
    assert compute_streak([monday, next_morning], next_morning.at, KIRI).current == 1


def test_an_unlogged_new_setting_is_dated_at_now():
    """Asked for the streak in a new zone that no event mentions, the engine dates the change at ``now``."""
    monday = Activity(local("2024-06-03T10:00", PAGO), PAGO)
    state = compute_streak([monday], local("2024-06-03T23:30", PAGO), KIRI)
    assert (state.today, state.current) == (date(2024, 6, 5), 2)
    assert kinds(state)[-1] == ("2024-06-04", "bridge")


def test_the_date_left_by_an_eastward_change_still_needs_practice():
    """Only dates never lived are bridged: the unpractised Monday being left is a missed day."""
    events = [
        Activity(local("2024-06-02T10:00", PAGO), PAGO),
        TimezoneChange(local("2024-06-03T23:30", PAGO), KIRI),
        Activity(local("2024-06-05T08:00", KIRI), KIRI),
    ]
    assert compute_streak(events, local("2024-06-05T09:00", KIRI), KIRI).current == 1


def test_westward_change_attributes_earlier_dates_to_the_last_day():
    """After moving west, sessions on dates already passed add nothing; the next new date extends the streak."""
    events = [
        *daily("2024-06-04", 2, KIRI, at="08:00"),  # Tue and Wed in Kiritimati
        Activity(local("2024-06-04T09:00", PAGO), PAGO),  # Tuesday again, now in Pago Pago
        Activity(local("2024-06-05T09:00", PAGO), PAGO),
    ]
    covered = compute_streak(events, local("2024-06-05T12:00", PAGO), PAGO)
    assert (covered.current, covered.practised_today) == (2, True)
    assert [d.date for d in covered.days] == [date(2024, 6, 4), date(2024, 6, 5)]
    thursday = Activity(local("2024-06-06T09:00", PAGO), PAGO)
    state = compute_streak([*events, thursday], thursday.at, PAGO)
    assert state.current == 3
    assert [d.date for d in state.days] == [date(2024, 6, 4), date(2024, 6, 5), date(2024, 6, 6)]


def test_a_quick_trip_east_and_back_bridges_nothing():
    """Jumping east and straight back means Tuesday will be lived after all, so it is not a free bridge."""
    events = [
        Activity(local("2024-06-03T10:00", PAGO), PAGO),
        TimezoneChange(local("2024-06-03T23:30", PAGO), KIRI),
        TimezoneChange(local("2024-06-03T23:40", PAGO), PAGO),
    ]
    state = compute_streak(events, local("2024-06-05T10:00", PAGO), PAGO)
    assert state.current == 0
    assert all(d.kind != "bridge" for d in state.days)


# --- examples: countdown and errors -----------------------------------------------------------------------


def test_reset_countdown_points_at_the_next_local_day_start():
    """The countdown runs to the next local day start, in UTC, honouring the day-start hour."""
    plain = compute_streak([], utc("2024-06-03T22:30"), "UTC")
    assert (plain.resets_at, plain.time_left) == (utc("2024-06-04T00:00"), timedelta(hours=1, minutes=30))
    # 01:45 in Kathmandu (UTC+05:45) with 04:00 day starts: today is still June 3 until 04:00 local.
    nepal = compute_streak([], utc("2024-06-03T20:00"), "Asia/Kathmandu", 4)
    assert nepal.today == date(2024, 6, 3)
    assert (nepal.resets_at, nepal.time_left) == (utc("2024-06-03T22:15"), timedelta(hours=2, minutes=15))


def test_invalid_timezone_is_a_typed_friendly_error():
    """An unknown name raises InvalidTimezone, a StudyBotError whose message suggests the close match."""
    with pytest.raises(InvalidTimezone) as caught:
        parse_timezone("Europe/Berlim")
    assert isinstance(caught.value, StudyBotError)
    assert "Europe/Berlin" in caught.value.suggestions
    assert "Europe/Berlin" in caught.value.message
    assert parse_timezone("Europe/Berlin").key == "Europe/Berlin"
    with pytest.raises(InvalidTimezone):
        compute_streak([], utc("2024-06-01T00:00"), "Mars/Olympus_Mons")
    with pytest.raises(InvalidTimezone):
        Activity(utc("2024-06-01T00:00"), "localtime")  # a file zoneinfo would open, but not a timezone


def test_timezone_names_are_forgiving_and_stored_canonically():
    """Case and spaces are ignored, a bare city is suggested with its region, and events keep the IANA spelling."""
    assert parse_timezone("  europe/berlin ").key == "Europe/Berlin"
    assert Activity(utc("2024-06-01T00:00"), "america/new_york").tz == "America/New_York"
    with pytest.raises(InvalidTimezone) as caught:
        parse_timezone("new york")
    assert caught.value.suggestions == ("America/New_York",)


@pytest.mark.parametrize(
    "build",
    [
        lambda naive: Activity(naive, "UTC"),
        lambda naive: TimezoneChange(naive, "UTC"),
        lambda naive: compute_streak([], naive, "UTC"),
        lambda naive: local_day(naive, "UTC"),
    ],
    ids=["activity", "change", "now", "local_day"],
)
def test_naive_datetimes_are_rejected(build):
    """Every entry point refuses a naive datetime with a ValueError that says why."""
    with pytest.raises(ValueError, match="timezone-aware"):
        build(datetime(2024, 6, 1, 12, 0))


def test_day_start_hour_must_be_an_hour_of_the_day():
    """A day-start hour outside 0-23 is a ValueError."""
    with pytest.raises(ValueError, match="day_start_hour"):
        local_day(utc("2024-06-01T00:00"), "UTC", 24)


# --- properties ---------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=200, deadline=None)
ZONES = [KIRI, PAGO, "Asia/Kathmandu", "Australia/Lord_Howe", "Europe/Berlin", "America/New_York", "UTC"]
HOURS = st.sampled_from([0, 0, 2, 3, 4, 23])  # 2 and 3 fall in DST gaps or repeats of the zones above
# UTC instants of 2024 DST transitions: Berlin, New York and Lord Howe (which shifts by 30 minutes).
TRANSITIONS = [
    utc(t)
    for t in (
        "2024-03-31T01:00",
        "2024-10-27T01:00",
        "2024-03-10T07:00",
        "2024-11-03T06:00",
        "2024-04-06T15:00",
        "2024-10-05T15:30",
    )
]
SETTINGS = st.tuples(st.sampled_from(ZONES), HOURS)
# Mostly another session the same day or the next, sometimes a gap of days: long enough runs to earn freezes.
STEP_MINUTES = st.one_of(
    st.integers(0, 8 * 60), st.integers(20 * 60, 28 * 60), st.integers(20 * 60, 28 * 60), st.integers(0, 4 * 24 * 60)
)
STEP_KIND = st.sampled_from(["practice"] * 4 + ["qotd", "week", "change", "move", "dateline"])


def dateline_hop(when: datetime, tz: str, minute: int) -> tuple[datetime, str, int]:
    """From Pago Pago, wait for 23:MM there and hop to Kiritimati, skipping a date; from elsewhere, go to Pago Pago."""
    if tz != PAGO:
        return when, PAGO, 0
    wall = when.astimezone(ZoneInfo(PAGO))  # Pago Pago has no DST, so wall-clock arithmetic is exact
    hop = wall.replace(hour=23, minute=minute, second=0, microsecond=0)
    if hop <= wall:
        hop += timedelta(days=1)
    return hop.astimezone(UTC), KIRI, 0


@st.composite
def logs(draw: st.DrawFn, *, strictly_increasing: bool = False) -> tuple[list[Event], datetime, str, int]:
    """An event log around DST transitions with logged ("change") and unlogged ("move") timezone changes, hops
    across the date line, the evaluation instant, and the learner's current setting."""
    anchor = draw(
        st.sampled_from(TRANSITIONS) | st.datetimes(datetime(2001, 1, 1), datetime(2037, 1, 1), timezones=st.just(UTC))
    )
    when = anchor - timedelta(minutes=draw(st.integers(0, 6 * 24 * 60)))
    tz, hour = draw(SETTINGS)
    events: list[Event] = []
    for minutes, kind, logged in draw(st.lists(st.tuples(STEP_MINUTES, STEP_KIND, st.booleans()), max_size=40)):
        when += timedelta(minutes=max(minutes, 1) if strictly_increasing else minutes)
        if kind == "dateline":
            when, tz, hour = dateline_hop(when, tz, minutes % 60)
        elif kind in ("change", "move"):
            tz, hour = draw(SETTINGS)
        if kind == "week":  # seven daily sessions at once, so runs reach the multiples of 7 that earn freezes
            for _ in range(7):
                events.append(Activity(when, tz, hour))
                when += timedelta(days=1)
        elif kind == "change" or (kind == "dateline" and logged):
            events.append(TimezoneChange(when, tz, hour))
        else:
            events.append(Activity(when, tz, hour, "qotd" if kind == "qotd" else "practice"))
    now = when + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    tz, hour = draw(st.just((tz, hour)) | SETTINGS)
    return events, now, tz, hour


def trailing_run(state: StreakState) -> int:
    run = 0
    expected = state.days[-1].date if state.days else None
    for record in reversed(state.days):
        if record.date != expected:
            break
        run += 1
        expected = record.date - timedelta(days=1)
    return run


@PROPERTY
@given(logs())
def test_streak_is_the_run_of_covered_days_ending_today_or_yesterday(log):
    """current is the run of consecutive practice/qotd/freeze/bridge dates ending today, yesterday or later."""
    state = compute_streak(*log)
    alive = bool(state.days) and state.days[-1].date >= state.today - timedelta(days=1)
    assert state.current == (trailing_run(state) if alive else 0)


@PROPERTY
@given(logs())
def test_history_dates_are_unique_and_ordered(log):
    """No local date is recorded twice, whatever the timezone changes: the history strictly increases."""
    dates = [d.date for d in compute_streak(*log).days]
    assert all(a < b for a, b in pairwise(dates))


@PROPERTY
@given(logs())
def test_best_is_the_longest_run_and_never_below_current(log):
    """best >= current, and best is exactly the longest run of consecutive recorded dates."""
    state = compute_streak(*log)
    longest = run = 0
    previous: date | None = None
    for record in state.days:
        run = run + 1 if previous is not None and record.date == previous + timedelta(days=1) else 1
        longest, previous = max(longest, run), record.date
    assert state.best >= state.current
    assert state.best == longest


@PROPERTY
@given(logs())
def test_freezes_stay_in_range_and_are_earned_before_use(log):
    """Walking the history, every freeze day spends one earned on an earlier practice day at a multiple of 7."""
    state = compute_streak(*log)
    held = run = 0
    previous: date | None = None
    for record in state.days:
        run = run + 1 if previous is not None and record.date == previous + timedelta(days=1) else 1
        previous = record.date
        if record.kind == "freeze":
            held -= 1
            assert held >= 0
        elif record.kind == "practice" and run % 7 == 0:
            held = min(MAX_FREEZES, held + 1)
        assert 0 <= held <= MAX_FREEZES
    assert state.freezes == held


SAME_INSTANT = st.lists(
    st.tuples(st.integers(0, 99), SETTINGS, st.sampled_from(["practice", "qotd", "change"])), max_size=8
)


@PROPERTY
@given(logs(), SAME_INSTANT, st.randoms(use_true_random=False))
def test_replay_is_deterministic_whatever_the_input_order(log, extras, rng):
    """Replaying the same log in any iteration order, with extra events sharing timestamps, gives the same state."""
    events, now, tz, hour = log
    for index, (other_tz, other_hour), kind in extras if events else ():
        at = events[index % len(events)].at
        events.append(
            TimezoneChange(at, other_tz, other_hour) if kind == "change" else Activity(at, other_tz, other_hour, kind)
        )
    shuffled = list(events)
    rng.shuffle(shuffled)
    first = compute_streak(events, now, tz, hour)
    assert compute_streak(iter(shuffled), now, tz, hour) == first
    assert compute_streak(list(reversed(events)), now, tz, hour) == first


@PROPERTY
@given(logs(strictly_increasing=True))
def test_no_activity_is_silently_lost(log):
    """Each activity's own date is recorded as practice/qotd, unless it was on or before a date already
    recorded when it happened (the westward rule) - and what was recorded before stays recorded."""
    events, now, tz, hour = log
    final = compute_streak(events, now, tz, hour)
    counted = {d.date for d in final.days if d.kind in ("practice", "qotd")}
    for i, event in enumerate(events):
        if not isinstance(event, Activity) or event.at > now:
            continue
        before = compute_streak(events[:i], event.at, event.tz, event.day_start_hour)
        day = local_day(event.at, event.tz, event.day_start_hour)
        assert day in counted or (before.days and day <= before.days[-1].date)
        assert {d.date for d in before.days if d.kind in ("practice", "qotd")} <= counted


@st.composite
def practised_every_lived_day(draw: st.DrawFn) -> list[Event]:
    """Practice only, moving between zones, where no date is ever left in the old zone without a session."""
    when = draw(st.sampled_from(TRANSITIONS)) - timedelta(hours=draw(st.integers(0, 72)))
    setting = draw(SETTINGS)
    events: list[Event] = [Activity(when, *setting)]
    for wanted, moves in draw(st.lists(st.tuples(st.integers(1, 30 * 60), st.booleans()), max_size=30)):
        new = draw(SETTINGS) if moves else setting
        # In the old zone, the next session may fall on the next date only if the zone stays the same.
        allowed = local_day(when, *setting) + timedelta(days=0 if new != setting else 1)
        step = timedelta(minutes=wanted)
        while local_day(when + step, *setting) > allowed:
            step //= 2
        when += step
        setting = new
        events.append(Activity(when, *setting))
    return events


@PROPERTY
@given(practised_every_lived_day())
def test_timezone_changes_never_cost_a_day_to_someone_who_practised_every_day(events):
    """If no date was lived without practice, every change keeps the streak whole: no freezes, no resets."""
    last = events[-1]
    assert isinstance(last, Activity)
    state = compute_streak(events, last.at, last.tz, last.day_start_hour)
    assert state.current == state.best == len(state.days)
    assert all(d.kind != "freeze" for d in state.days)


@PROPERTY
@given(
    st.sampled_from(TRANSITIONS) | st.datetimes(datetime(2001, 1, 1), datetime(2037, 1, 1), timezones=st.just(UTC)),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
    SETTINGS,
)
def test_reset_countdown_ends_exactly_where_tomorrow_begins(anchor, minutes, setting):
    """resets_at is the first instant of the next local date: later than now, at most 25 hours away."""
    now = anchor + timedelta(minutes=minutes, microseconds=minutes * 7)
    state = compute_streak([], now, *setting)
    assert state.today == local_day(now, *setting)
    assert now < state.resets_at <= now + timedelta(hours=25)
    assert state.time_left == state.resets_at - now
    assert local_day(state.resets_at, *setting) == state.today + timedelta(days=1)
    assert local_day(state.resets_at - timedelta(microseconds=1), *setting) == state.today
