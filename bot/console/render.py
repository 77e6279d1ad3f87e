"""Rich renderings of domain results for the terminal, shared by ``studybot ask`` and ``studybot chat``.

Every piece of text that comes from a user or the knowledge base goes through ``escape``: quiz prompts hold
code such as ``x[0]``, which rich would otherwise read as markup and swallow.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.domain.learners import EARLY_ESTIMATE_BELOW, Leaderboard, Progress, SkillProgressStats
from bot.domain.ports import Learner
from bot.domain.quiz import LETTERS, Feedback, Question, SessionSummary
from bot.domain.streaks import MAX_FREEZES, StreakState

if TYPE_CHECKING:
    from bot.domain.answering import Answer  # imports the retriever: not worth it for a type


# The domain's decline ends with next steps that exist on Discord only (curated resources, moderators), and names
# the closest topics in passing; the terminal replaces both with steps it can take (``decline_hints``).
_DISCORD_ONLY = re.compile(
    r"\s*(The closest topics I do cover: [^\n]*?\.(?= |$)|For more, browse the curated resources[^.]*\.)"
)

SkillOf = Callable[[str], "str | None"]  # an entry title -> its skill slug, None when unknown


def nearest_skill(answer: Answer, skill_of: SkillOf) -> str | None:
    """The answer's skill, or for a decline the skill of the closest topic it found."""
    if answer.skill:
        return answer.skill
    for topic in answer.closest_topics:
        skill = skill_of(topic)
        if skill:
            return skill
    return None


def decline_hints(answer: Answer, skill_of: SkillOf, quiz: str = "/quiz {skill}", fallback: str = "/help") -> list[str]:
    """What to do after a decline, using only what this terminal offers: related topics, and a quiz to practise."""
    lines = []
    if answer.closest_topics:
        lines.append(f"Related topics you can ask about: {', '.join(answer.closest_topics)}.")
    skill = nearest_skill(answer, skill_of)
    if skill:
        lines.append(f"Or practise the nearest skill: {quiz.format(skill=skill)}")
    if not lines:
        lines.append(f"Try a question about machine learning, Python or maths, or type {fallback}.")
    return lines


def print_answer(
    out: Console, answer: Answer, skill_of: SkillOf | None = None, quiz: str = "/quiz {skill}", fallback: str = "/help"
) -> None:
    """An answer as panels and a table on a terminal; as plain, unwrapped lines when piped (tools grep them)."""
    text = answer.answer
    hints: list[str] = []
    if answer.abstained and skill_of is not None:
        text = _DISCORD_ONLY.sub("", text).strip()
        hints = decline_hints(answer, skill_of, quiz, fallback)
    if not out.is_terminal:
        _print_plain(out, answer, text, hints)
        return
    style = "yellow" if answer.abstained else "green"
    title = "Not in my notes yet" if answer.abstained else f"Answer · confidence {answer.confidence:.0%}"
    if answer.rewritten and not answer.abstained:
        out.print(Text(f"Answering: {answer.standalone_question}", style="italic dim"))
    out.print(Panel(escape(text), title=title, border_style=style, title_align="left"))
    for hint in hints:
        out.print(Text(hint, style="yellow"))
    if answer.sources:
        table = Table(title="Sources", title_justify="left", show_lines=False)
        table.add_column("#", justify="right")
        table.add_column("Source")
        table.add_column("Where")
        table.add_column("Score", justify="right")
        for i, s in enumerate(answer.sources, 1):
            table.add_row(str(i), escape(s.title), escape(s.url or s.path), f"{s.score:.2f}")
        out.print(table)
    if answer.related_resources:
        out.print("[bold]Learn more:[/]")
        for r in answer.related_resources:
            out.print(f"  • {escape(r.title)} — {escape(r.url or r.path)}")


def _print_plain(out: Console, answer: Answer, text: str, hints: list[str]) -> None:
    def line(value: str = "") -> None:
        out.print(value, markup=False, highlight=False, soft_wrap=True)

    line("Not in my notes yet:" if answer.abstained else f"Answer (confidence {answer.confidence:.0%}):")
    line(text)
    for hint in hints:
        line(hint)
    if answer.sources:
        line("Sources:")
        for i, s in enumerate(answer.sources, 1):
            line(f"  {i}. {s.title} — {s.url or s.path} ({s.score:.2f})")
    if answer.related_resources:
        line("Learn more:")
        for r in answer.related_resources:
            line(f"  • {r.title} — {r.url or r.path}")


def help_table(rows: tuple[tuple[str, str], ...]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    for usage, meaning in rows:
        table.add_row(escape(usage), escape(meaning))
    return table


def question(q: Question) -> RenderableType:
    item = q.item
    header = Text(f"Question {q.number} of {q.total} · {item.skill.label} · {item.topic}", style="bold cyan")
    options = Table(show_header=False, box=None, padding=(0, 1, 0, 0))
    options.add_column(style="bold")
    options.add_column()
    for letter, option in zip(LETTERS, item.options, strict=True):
        options.add_row(f"  {letter})", Text(option))
    return Group(Text(""), header, Text(item.prompt), options)


def feedback(fb: Feedback) -> RenderableType:
    right = f"{LETTERS[fb.answer]}) {fb.question.item.options[fb.answer]}"
    if fb.correct:
        verdict = Text(f"✓ Correct! +{fb.points} point{'' if fb.points == 1 else 's'}", style="bold green")
    else:
        verdict = Text(f"✗ Not quite: the answer is {right}", style="bold red")
    if fb.repeated:
        verdict.append("  (already answered earlier; the first answer counts)", style="dim")
    learn = Text(f"Learn more: {fb.source_title}", style="dim")
    return Group(verdict, Text(fb.explanation), learn)


def summary(s: SessionSummary) -> RenderableType:
    lines = [Text(f"Quiz complete: {s.correct} of {s.total} correct, +{s.points} points.", style="bold")]
    if s.streak is not None:
        lines.append(Text(_streak_line(s.streak)))
    return Panel(Group(*lines), border_style="green", title="Well done", title_align="left")


def streak(state: StreakState, timezone: str) -> RenderableType:
    lines = [Text(_streak_line(state), style="bold")]
    resets = state.resets_at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")
    if state.practised_today:
        lines.append(
            Text(f"Today is done ✓. The next day starts at {resets} ({timezone}), in {_span(state.time_left)}.")
        )
    elif state.current:
        lines.append(Text(f"Practise within {_span(state.time_left)} (before {resets} {timezone}) to keep it: /quiz"))
    else:
        lines.append(Text("Finish a /quiz today to start one."))
    return Group(*lines)


def leaderboard(board: Leaderboard, viewer: int) -> RenderableType:
    heading = "This week's leaderboard (since Monday 00:00 UTC)" if board.period == "week" else "All-time leaderboard"
    if not board.rows:
        return Text(f"{heading}: no points yet. Finish a /quiz to get on it.")
    table = Table(title=heading, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Learner")
    table.add_column("Points", justify="right")
    table.add_column("Streak", justify="right")
    rows = list(board.rows)
    if board.viewer is not None:
        table.add_row("…", "", "", "")
        rows.append(board.viewer)
    for row in rows:
        style = "bold" if row.user_id == viewer else None
        table.add_row(str(row.rank), Text(row.name), str(row.points), str(row.streak), style=style)
    return table


def progress(p: Progress, chart: Path) -> RenderableType:
    table = Table(title=f"Progress of {escape(p.name)}", title_justify="left")
    table.add_column("Skill")
    table.add_column("Mastery", justify="right")
    table.add_column("Accuracy", justify="right")
    table.add_column("Based on", justify="right")
    table.add_column("Seen", justify="right")
    for s in p.skills:
        table.add_row(s.skill.label, mastery(s), _percent(s.accuracy), _based_on(s), f"{s.seen}/{s.total}")
    answers = sum(n for _, n in p.activity)
    footer = Text(f"{_streak_line(p.streak)} · {answers} answers in the last {len(p.activity)} days.")
    lines: list[RenderableType] = [table, footer]
    if any(s.early for s in p.skills):
        lines.append(Text(EARLY_NOTE, style="dim"))
    return Group(*lines, Text(f"Chart saved to {chart}", style="bold"))


EARLY_NOTE = (
    f"* early estimate: fewer than {EARLY_ESTIMATE_BELOW} answers. Mastery is your chance of recalling these "
    "questions tomorrow; it settles, and can drop, as you answer more."
)


def mastery(s: SkillProgressStats) -> str:
    """Mastery with how sure it is: a figure from a handful of answers is marked as an early estimate."""
    return _percent(s.mastery) + ("*" if s.early else "")


def _based_on(s: SkillProgressStats) -> str:
    return "—" if not s.answers else f"{s.answers} answer{'' if s.answers == 1 else 's'}"


def settings(learner: Learner) -> RenderableType:
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Name", Text(learner.name))
    table.add_row("Timezone", learner.timezone)
    table.add_row("Day starts at", f"{learner.day_start_hour:02d}:00")
    table.add_row("Leaderboard", "hidden" if learner.leaderboard_hidden else "shown")
    return table


def _streak_line(state: StreakState) -> str:
    days = "day" if state.current == 1 else "days"
    return f"Streak: {state.current} {days} · best {state.best} · freezes {state.freezes} of {MAX_FREEZES}"


def _span(delta: timedelta) -> str:
    minutes = max(int(delta.total_seconds()) // 60, 1)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"
