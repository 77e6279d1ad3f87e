"""Rich renderings of domain results for the terminal, shared by ``studybot ask`` and ``studybot chat``.

Every piece of text that comes from a user or the knowledge base goes through ``escape``: quiz prompts hold
code such as ``x[0]``, which rich would otherwise read as markup and swallow.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.domain.learners import Leaderboard, Progress
from bot.domain.ports import Learner
from bot.domain.quiz import LETTERS, Feedback, Question, SessionSummary
from bot.domain.streaks import MAX_FREEZES, StreakState

if TYPE_CHECKING:
    from bot.domain.answering import Answer  # imports the retriever: not worth it for a type


def print_answer(out: Console, answer: Answer) -> None:
    style = "yellow" if answer.abstained else "green"
    title = "Not in my notes yet" if answer.abstained else f"Answer · confidence {answer.confidence:.0%}"
    if answer.rewritten and not answer.abstained:
        out.print(Text(f"Answering: {answer.standalone_question}", style="italic dim"))
    out.print(Panel(escape(answer.answer), title=title, border_style=style, title_align="left"))
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
    table.add_column("Seen", justify="right")
    for s in p.skills:
        table.add_row(s.skill.label, _percent(s.mastery), _percent(s.accuracy), f"{s.seen}/{s.total}")
    answers = sum(n for _, n in p.activity)
    footer = Text(f"{_streak_line(p.streak)} · {answers} answers in the last {len(p.activity)} days.")
    return Group(table, footer, Text(f"Chart saved to {chart}", style="bold"))


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
