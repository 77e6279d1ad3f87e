"""How quiz questions, feedback and summaries look on Discord, and the persistent answer buttons.

Buttons are ``DynamicItem``s whose custom_id carries the session, position and choice, so a quiz message keeps
working after the bot restarts: no view has to be in memory for a click to be understood.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import discord

from bot import metrics
from bot.domain.content import Skill
from bot.domain.quiz import LETTERS, Feedback, Question, SessionSummary
from bot.exts import _limits, _ui

QUIZ_COLOUR = discord.Colour.blurple()
RIGHT = discord.Colour.green()
WRONG = discord.Colour.red()
MAX_THINKING = timedelta(hours=1)  # longer than this, the learner walked away: don't read it as "hard"


def difficulty_dots(level: int) -> str:
    return "●" * level + "○" * (3 - level)


def question_embed(question: Question, *, heading: str | None = None) -> discord.Embed:
    item = question.item
    options = "\n".join(f"**{LETTERS[i]}.** {option}" for i, option in enumerate(item.options))
    embed = discord.Embed(
        title=_ui.clip(
            heading or f"Question {question.number} of {question.total} · {Skill(item.skill).label}",
            _limits.EMBED_TITLE,
        ),
        description=f"{item.prompt}\n\n{options}",
        colour=QUIZ_COLOUR,
    )
    embed.set_footer(text=f"Difficulty {difficulty_dots(item.difficulty)} · {item.topic}")
    return embed


def feedback_embed(feedback: Feedback) -> discord.Embed:
    item = feedback.question.item
    right = f"**{LETTERS[item.answer]}.** {item.options[item.answer]}"
    if feedback.correct:
        title, colour, lead = "✅ Correct!", RIGHT, f"{right} (+{feedback.points} point{'s' * (feedback.points != 1)})"
    else:
        title, colour = "❌ Not quite", WRONG
        lead = f"You chose **{LETTERS[feedback.choice]}**. The answer is {right}."
    return discord.Embed(
        title=title,
        description=_ui.clip(
            f"{lead}\n\n{item.explanation}\n\n📖 Read more: **{feedback.source_title}**", _limits.EMBED_DESCRIPTION
        ),
        colour=colour,
    )


def summary_embed(summary: SessionSummary) -> discord.Embed:
    lines = [f"You got **{summary.correct} of {summary.total}** right (+{summary.points} points)."]
    if summary.streak is not None:
        streak = summary.streak
        days = "day" if streak.current == 1 else "days"
        lines.append(f"🔥 Streak: **{streak.current} {days}** (best {streak.best}) · ❄️ freezes: {streak.freezes}")
        reset = discord.utils.format_dt(streak.resets_at, "R")
        lines.append(f"Your day resets {reset}. Come back tomorrow to keep it going!")
    return discord.Embed(title="🎉 Practice complete", description="\n".join(lines), colour=RIGHT)


class ChoiceButton(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"quiz:(?P<sid>[0-9a-f]{16}):(?P<pos>\d{1,2}):(?P<choice>[0-3])",
):
    def __init__(self, session_id: str, position: int, choice: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=LETTERS[choice],
                style=discord.ButtonStyle.secondary,
                custom_id=f"quiz:{session_id}:{position}:{choice}",
            )
        )
        self.session_id, self.position, self.choice = session_id, position, choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChoiceButton:
        return cls(match["sid"], int(match["pos"]), int(match["choice"]))

    async def run(self, interaction: _ui.Interaction) -> None:
        await interaction.response.defer()  # an update of this message follows; Discord wants it within 3 s
        bot = _ui.bot_of(interaction)
        feedback = await bot.services.quiz.submit(
            self.session_id, self.position, self.choice, interaction.user.id, thinking_time(interaction)
        )
        if not feedback.repeated:
            metrics.QUIZ_ANSWERS.labels(str(feedback.correct).lower()).inc()
        if feedback.repeated:
            ended = " This quiz has ended." if feedback.next is None else ""
            verdict = "right" if feedback.correct else "not right"
            await _ui.send_ephemeral(
                interaction,
                f"You already answered question {feedback.question.number} "
                f"(you chose {LETTERS[feedback.choice]}, which was {verdict}).{ended}",
            )
            return
        await interaction.edit_original_response(**after_answer(feedback, reportable=interaction.guild_id is not None))


class ReportItemButton(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"qrep:(?P<item>[a-z0-9-]{1,80})",
):
    """Under a quiz explanation: any learner may flag a question as wrong or unclear."""

    def __init__(self, item_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Report this question",
                emoji="🚩",
                style=discord.ButtonStyle.secondary,
                custom_id=f"qrep:{item_id}",
            )
        )
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ReportItemButton:
        return cls(match["item"])

    async def run(self, interaction: _ui.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await _ui.bot_of(interaction).services.quiz_admin.report(
            interaction.guild_id or 0, self.item_id, interaction.user.id
        )
        text = "Thanks: a moderator will review this question."
        if outcome.suspended_now:
            text += " It has enough reports that I've paused it from quizzes until then."
        await _ui.send_ephemeral(interaction, text)


def thinking_time(interaction: _ui.Interaction) -> timedelta | None:
    message = interaction.message
    if message is None:
        return None
    shown = message.edited_at or message.created_at
    elapsed = discord.utils.utcnow() - shown
    return elapsed if timedelta(0) <= elapsed <= MAX_THINKING else None


def answer_view(question: Question) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for choice in range(len(LETTERS)):
        view.add_item(ChoiceButton(question.session_id, question.position, choice))
    return view


def question_message(question: Question, *, note: str | None = None) -> dict[str, Any]:
    return {"content": note, "embeds": [question_embed(question)], "view": answer_view(question)}


def after_answer(feedback: Feedback, *, reportable: bool = True) -> dict[str, Any]:
    """The quiz message after an answer: the feedback, then the next question or the summary."""
    embeds = [feedback_embed(feedback)]
    report = ReportItemButton(feedback.question.item.id)
    report.item.row = 1  # under the answer buttons: a learner flags the question they just saw explained
    if feedback.next is not None:
        embeds.append(question_embed(feedback.next))
        view = answer_view(feedback.next)
    else:
        if feedback.summary is not None:
            embeds.append(summary_embed(feedback.summary))
        view = discord.ui.View(timeout=None)
    if reportable:  # reports go to a server's moderators; a quiz in DMs has none
        view.add_item(report)
    return {"content": None, "embeds": embeds, "view": view}
