"""What a typed line means, as plain values: no terminal, no services, so every rule is unit-tested.

Bad input raises ``UsageError``, a ``StudyBotError`` whose message says what to type instead; the session
prints it like any other domain error and carries on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.quiz import DEFAULT_COUNT, LETTERS, MAX_COUNT


class UsageError(StudyBotError):
    pass


@dataclass(frozen=True)
class Ask:
    text: str


@dataclass(frozen=True)
class StartQuiz:
    count: int = DEFAULT_COUNT
    skill: Skill | None = None


@dataclass(frozen=True)
class ShowStreak:
    pass


@dataclass(frozen=True)
class ShowProgress:
    pass


@dataclass(frozen=True)
class ShowLeaderboard:
    period: Literal["week", "all"] = "all"


@dataclass(frozen=True)
class ShowSettings:
    pass


@dataclass(frozen=True)
class SetTimezone:
    name: str


@dataclass(frozen=True)
class SetDayStart:
    hour: int


@dataclass(frozen=True)
class SetHidden:
    hidden: bool


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class NewConversation:
    pass


@dataclass(frozen=True)
class StopQuiz:
    pass


@dataclass(frozen=True)
class SetGenerate:
    """Turn generated answers on or off for this session (needs STUDYBOT_LLM_BASE_URL)."""

    on: bool


Command = (
    Ask
    | StartQuiz
    | ShowStreak
    | ShowProgress
    | ShowLeaderboard
    | ShowSettings
    | SetTimezone
    | SetDayStart
    | SetHidden
    | ShowHelp
    | NewConversation
    | SetGenerate
    | Quit
)
QuizInput = int | StopQuiz | Quit | ShowHelp  # an option index 0-3, or a way out of the question

# (usage, what it does): the /help table and the source of command names for suggestions.
HELP: tuple[tuple[str, str], ...] = (
    ("any text", "ask a question; the answer comes with its sources, and follow-ups remember the topic"),
    ("/new", "start a new conversation, so the next question is not read as a follow-up"),
    (
        "/quiz [count] [skill]",
        f"today's practice, 1-{MAX_COUNT} questions (default {DEFAULT_COUNT}); resumes an unfinished one",
    ),
    ("/streak", "your streak, best streak and freezes"),
    ("/progress", "mastery per skill, and a chart saved as a PNG"),
    ("/leaderboard [week|all]", "points on this computer's board"),
    ("/settings", "show your settings"),
    ("/settings timezone <zone>", "your IANA timezone, e.g. Europe/Berlin"),
    ("/settings day-start <hour>", "the hour (0-23) your day starts, for night owls"),
    ("/settings leaderboard hide|show", "leave or join the leaderboard"),
    ("/stop", "inside a quiz: pause it (/quiz picks it up again at the next question)"),
    ("/generate on", "have the configured model write answers from the sources, each sentence checked"),
    ("/generate off", "back to answers extracted from the notes"),
    ("/help", "this list"),
    ("/quit", "leave (Ctrl-D and Ctrl-C work too)"),
)
SKILLS = ", ".join(s.value for s in Skill)
_SIMPLE: dict[str, Command] = {
    "streak": ShowStreak(),
    "progress": ShowProgress(),
    "help": ShowHelp(),
    "new": NewConversation(),
    "quit": Quit(),
    "exit": Quit(),
}
_NAMES = ("quiz", "streak", "progress", "leaderboard", "settings", "new", "generate", "help", "quit")
_SETTINGS_USAGE = "Try /settings timezone Europe/Berlin, /settings day-start 4 or /settings leaderboard hide."


def parse_line(line: str) -> Command:
    """A line at the main prompt: a slash command, or a question."""
    text = line.strip()
    if not text:
        raise UsageError("Type a question, like: What is overfitting? Or /help to see the commands.")
    if not text.startswith("/"):
        return Ask(text)
    words = text[1:].split()
    if not words:
        raise UsageError("Type a command after the slash, like /quiz. Type /help for the list.")
    name, args = words[0].lower(), words[1:]
    if name in _SIMPLE:
        if args:
            raise UsageError(f"/{name} takes nothing after it.")
        return _SIMPLE[name]
    if name == "quiz":
        return _quiz(args)
    if name == "leaderboard":
        return _leaderboard(args)
    if name == "settings":
        return _settings(args)
    if name == "generate":
        if len(args) != 1 or args[0].lower() not in ("on", "off"):
            raise UsageError("Use /generate on or /generate off.")
        return SetGenerate(args[0].lower() == "on")
    if name == "stop":
        raise UsageError("There is no quiz running. Start one with /quiz.")
    raise UsageError(f"I don't know the command /{name}.{_did_you_mean(name, _NAMES, '/')} Type /help for the list.")


def parse_choice(line: str) -> QuizInput:
    """A line at a quiz question: a letter (any case, ``b``, ``B)`` or ``(b)``), or /stop, /quit, /help."""
    text = line.strip().lower()
    if text == "/stop":
        return StopQuiz()
    if text in ("/quit", "/exit"):
        return Quit()
    if text == "/help":
        return ShowHelp()
    if text.startswith("/"):
        raise UsageError("You're in a quiz: answer with a letter, or /stop to pause it (/quiz picks it up again).")
    letter = text.strip("().")
    if len(letter) == 1 and letter.upper() in LETTERS:
        return LETTERS.index(letter.upper())
    # Digits are refused rather than read as positions: options are often numbers themselves ("4", "16").
    shown = f' "{line.strip()[:20]}" is not an option.' if text else ""
    raise UsageError(f"{shown} Type a, b, c or d, or /stop to pause the quiz.".lstrip())


def _quiz(args: list[str]) -> StartQuiz:
    count, skill = DEFAULT_COUNT, None
    if len(args) > 2:
        raise UsageError("Usage: /quiz [count] [skill], for example /quiz 3 math.")
    for arg in args:
        if arg.isdigit():
            count = int(arg)
            if not 1 <= count <= MAX_COUNT:
                raise UsageError(f"A quiz holds 1 to {MAX_COUNT} questions.")
        else:
            skill = _skill(arg)
    return StartQuiz(count, skill)


def _skill(arg: str) -> Skill:
    slug = arg.lower()
    try:
        return Skill(slug)
    except ValueError:
        hint = _did_you_mean(slug, [s.value for s in Skill])
        raise UsageError(f'I don\'t know the skill "{arg[:40]}".{hint} Skills: {SKILLS}.') from None


def _leaderboard(args: list[str]) -> ShowLeaderboard:
    if not args:
        return ShowLeaderboard()
    period = args[0].lower()
    if len(args) > 1 or period not in ("week", "all"):
        raise UsageError("Usage: /leaderboard week or /leaderboard all.")
    return ShowLeaderboard("week" if period == "week" else "all")


def _settings(args: list[str]) -> ShowSettings | SetTimezone | SetDayStart | SetHidden:
    if not args:
        return ShowSettings()
    what, rest = args[0].lower(), args[1:]
    if what in ("timezone", "tz"):
        if not rest:
            raise UsageError("Which timezone? For example: /settings timezone Europe/Berlin")
        return SetTimezone(" ".join(rest))  # "New York" reaches the domain, which suggests America/New_York
    if what in ("day-start", "daystart", "day_start"):
        if len(rest) != 1 or not rest[0].isdigit():
            raise UsageError("Give the hour your day starts, 0-23: for example /settings day-start 4")
        return SetDayStart(int(rest[0]))
    if what == "leaderboard":
        if len(rest) != 1 or rest[0].lower() not in ("hide", "show"):
            raise UsageError("Use /settings leaderboard hide or /settings leaderboard show.")
        return SetHidden(rest[0].lower() == "hide")
    raise UsageError(f'There is no setting "{what[:40]}". {_SETTINGS_USAGE}')


def _did_you_mean(word: str, options: list[str] | tuple[str, ...], prefix: str = "") -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" Did you mean {prefix}{close[0]}?" if close else ""
