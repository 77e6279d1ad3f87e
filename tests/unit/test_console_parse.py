"""The console's command parser: what each typed line means, and the friendly errors for what it can't mean."""

from __future__ import annotations

import pytest

from bot.console._parsing import (
    _NAMES,
    HELP,
    Ask,
    Quit,
    SetDayStart,
    SetHidden,
    SetTimezone,
    ShowHelp,
    ShowLeaderboard,
    ShowProgress,
    ShowSettings,
    ShowStreak,
    StartQuiz,
    StopQuiz,
    UsageError,
    parse_choice,
    parse_line,
)
from bot.domain.content import Skill
from bot.domain.errors import StudyBotError


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("What is overfitting?", Ask("What is overfitting?")),
        ("  what is a tuple  ", Ask("what is a tuple")),
        ("/quiz", StartQuiz(5, None)),
        ("/quiz 3", StartQuiz(3, None)),
        ("/quiz 3 math", StartQuiz(3, Skill.MATH)),
        ("/QUIZ 10 Soft-Skills", StartQuiz(10, Skill.SOFT_SKILLS)),
        ("/quiz ml-stack", StartQuiz(5, Skill.ML_STACK)),
        ("/streak", ShowStreak()),
        ("/progress", ShowProgress()),
        ("/leaderboard", ShowLeaderboard("all")),
        ("/leaderboard week", ShowLeaderboard("week")),
        ("/leaderboard ALL", ShowLeaderboard("all")),
        ("/settings", ShowSettings()),
        ("/settings timezone Europe/Berlin", SetTimezone("Europe/Berlin")),
        ("/settings tz new york", SetTimezone("new york")),
        ("/settings day-start 4", SetDayStart(4)),
        ("/settings leaderboard hide", SetHidden(True)),
        ("/settings leaderboard show", SetHidden(False)),
        ("/help", ShowHelp()),
        ("/quit", Quit()),
        ("/exit", Quit()),
    ],
)
def test_parse_line_understands_every_documented_form(line, expected):
    """Each command form in /help parses to its command value; any other text is a question."""
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("", "Type a question"),
        ("   ", "Type a question"),
        ("/", "after the slash"),
        ("/quizz", "Did you mean /quiz?"),
        ("/leaderbord", "Did you mean /leaderboard?"),
        ("/frobnicate", "Type /help"),
        ("/stop", "no quiz running"),
        ("/quiz 0", "1 to 10"),
        ("/quiz 11", "1 to 10"),
        ("/quiz 3 maths", "Did you mean math?"),
        ("/quiz 3 math extra", "Usage: /quiz"),
        ("/leaderboard month", "week or /leaderboard all"),
        ("/settings timezone", "Which timezone?"),
        ("/settings day-start dawn", "0-23"),
        ("/settings leaderboard maybe", "hide or /settings leaderboard show"),
        ("/settings colour blue", 'no setting "colour"'),
        ("/streak now", "takes nothing"),
    ],
)
def test_bad_lines_raise_a_friendly_usage_error(line, says):
    """Malformed commands raise a StudyBotError whose message says what to type instead."""
    with pytest.raises(UsageError) as caught:
        parse_line(line)
    assert isinstance(caught.value, StudyBotError)
    assert says in caught.value.message


def test_day_start_range_is_left_to_the_domain():
    """The parser accepts any whole hour; the domain's range check gives the one message for 0-23."""
    assert parse_line("/settings day-start 99") == SetDayStart(99)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a", 0),
        ("B", 1),
        (" c ", 2),
        ("d)", 3),
        ("(b)", 1),
        ("/stop", StopQuiz()),
        ("/quit", Quit()),
        ("/help", ShowHelp()),
    ],
)
def test_parse_choice_reads_letters_in_any_case_and_the_ways_out(line, expected):
    """Answers are letters a-d in any case (with optional brackets); /stop, /quit and /help still work."""
    assert parse_choice(line) == expected


@pytest.mark.parametrize("line", ["e", "7", "1", "", "ab", "/quiz"])
def test_parse_choice_refuses_anything_else(line):
    """Out-of-range letters, digits (options are often numbers) and other commands re-prompt with a hint."""
    with pytest.raises(UsageError) as caught:
        parse_choice(line)
    assert "/stop" in caught.value.message


def test_help_names_every_command_the_parser_knows():
    """Every slash command in /help parses, so the help never advertises a command that doesn't exist."""
    examples = {"[count]": "3", "[skill]": "math", "[week|all]": "week", "<zone>": "UTC", "<hour>": "4"}
    for usage, _ in HELP[1:]:
        if usage == "/stop":  # a quiz-only command: it parses at the answer prompt
            assert isinstance(parse_choice(usage), StopQuiz)
            continue
        line = " ".join(examples.get(word, word) for word in usage.replace("hide|show", "hide").split())
        assert not isinstance(parse_line(line), Ask), usage


def test_help_lists_every_command_including_stop():
    """Every command name the parser accepts, and /stop from inside a quiz, has a row in /help."""
    listed = {usage.split()[0] for usage, _ in HELP[1:]}
    assert {f"/{name}" for name in _NAMES} | {"/stop"} <= listed
