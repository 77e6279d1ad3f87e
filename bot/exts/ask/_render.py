"""How an answer looks on Discord: an embed with sources that never cut a link, and its buttons."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import discord

from bot.domain.answering import Answer, Source
from bot.exts import _limits, _ui

ANSWERED = discord.Colour.teal()
ABSTAINED = discord.Colour.orange()
EXTRACTED = "answered only from StudyBot's notes"


def source_line(source: Source) -> str:
    title = discord.utils.escape_markdown(source.title)
    return f"• [{title}]({source.url})" if source.url else f"• {title} · `{source.path}`"


def answer_embed(answer: Answer, question: str, provenance: str | None = None) -> discord.Embed:
    """The answer as an embed; ``provenance`` replaces the footer's "answered only from StudyBot's notes"."""
    if answer.abstained:
        embed = discord.Embed(
            title="🤔 Not in my notes yet",
            description=_ui.clip(answer.answer, _limits.EMBED_DESCRIPTION),
            colour=ABSTAINED,
        )
        if answer.closest_topics:
            embed.add_field(
                name="Closest topics I cover",
                value=_ui.whole_lines(f"• {discord.utils.escape_markdown(t)}" for t in answer.closest_topics),
                inline=False,
            )
        embed.add_field(
            name="Where to look",
            value="Browse curated resources with /resources, or ask a moderator to add this topic.",
            inline=False,
        )
    else:
        body = answer.answer
        if answer.rewritten:  # show how a follow-up was understood, so a wrong guess is easy to spot
            body = f"*Answering: {discord.utils.escape_markdown(answer.standalone_question)}*\n\n{body}"
        embed = discord.Embed(description=_ui.clip(body, _limits.EMBED_DESCRIPTION), colour=ANSWERED)
        if answer.sources:
            embed.add_field(name="Sources", value=_ui.whole_lines(map(source_line, answer.sources)), inline=False)
        if answer.related_resources:
            embed.add_field(
                name="Learn more", value=_ui.whole_lines(map(source_line, answer.related_resources)), inline=False
            )
        embed.set_footer(text=f"Confidence {answer.confidence:.0%} · {provenance or EXTRACTED}")
    embed.set_author(name=_ui.clip(f"Q: {' '.join(question.split())}", _limits.EMBED_TITLE))
    return _ui.fit_embed(embed)


class AnswerAction(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"ask:(?P<action>up|down|quiz):(?P<id>\d{1,18})",
):
    LOOK: ClassVar[dict[str, tuple[str, str, discord.ButtonStyle]]] = {
        "up": ("Helpful", "👍", discord.ButtonStyle.secondary),
        "down": ("Not helpful", "👎", discord.ButtonStyle.secondary),
        "quiz": ("Quiz me on this", "🧠", discord.ButtonStyle.primary),
    }

    def __init__(self, action: str, asked_id: int) -> None:
        label, emoji, style = self.LOOK[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"ask:{action}:{asked_id}"))
        self.action, self.asked_id = action, asked_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerAction:
        return cls(match["action"], int(match["id"]))

    async def run(self, interaction: _ui.Interaction) -> None:
        from bot.exts.ask._views import on_answer_action

        await on_answer_action(interaction, self.action, self.asked_id)


def answer_view(asked_id: int, answer: Answer) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerAction("up", asked_id))
    view.add_item(AnswerAction("down", asked_id))
    if not answer.abstained and answer.sources:
        view.add_item(AnswerAction("quiz", asked_id))
    return view
