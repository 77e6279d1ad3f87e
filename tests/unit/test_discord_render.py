"""Rendering for Discord: escaping echoed text, whole-line truncation, embed limits, error mapping."""

from __future__ import annotations

import re

import discord
from discord import app_commands
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.answering import Answer, Source
from bot.domain.errors import StudyBotError
from bot.exts import _limits, _ui
from bot.exts.ask._render import answer_embed, answer_view


def test_safe_neutralises_mentions_and_markdown() -> None:
    """Echoed user text cannot ping or format: @everyone, user mentions and markdown are escaped."""
    text = _ui.safe("hi @everyone <@123456789012345678> **bold** `code`")
    assert "@\u200beveryone" in text and "<@123456789012345678>" not in text
    assert "\\*\\*bold\\*\\*" in text and "\\`code\\`" in text


def test_safe_clips_without_a_dangling_escape() -> None:
    """Clipping escaped text never leaves a lone backslash before the ellipsis."""
    clipped = _ui.safe("*" * 50, 10)
    assert len(clipped) <= 10 and clipped.endswith("…") and not clipped.endswith("\\…")


@given(st.lists(st.text(min_size=1, max_size=300).filter(lambda s: "\n" not in s), max_size=30), st.integers(20, 1024))
def test_whole_lines_never_cut_a_line(lines: list[str], limit: int) -> None:
    """Every kept line is complete, the result fits the limit, and any cut is announced with a count."""
    joined = _ui.whole_lines(lines, limit)
    assert len(joined) <= limit
    kept = joined.split("\n") if joined else []
    if kept and kept[-1].startswith("…and "):
        more = int(re.findall(r"\d+", kept[-1])[0])
        kept = kept[:-1]
        assert len(kept) + more == len(lines)
    assert kept == lines[: len(kept)]


def long_answer(n_sources: int) -> Answer:
    sources = [
        Source(f"Title {i} " + "x" * 120, f"concepts/c{i}.md", f"https://example.org/{i}/" + "p" * 60, "t", 0.5)
        for i in range(n_sources)
    ]
    return Answer("q", False, 0.87, "A" * 5000, sources, 3.0, related_resources=sources[:5])


def test_answer_embed_respects_discord_limits_and_keeps_links_whole() -> None:
    """A huge answer with many long sources fits every embed limit, and no source link is cut in half."""
    embed = answer_embed(long_answer(40), "why? " * 200)
    assert len(embed) <= _limits.EMBED_TOTAL and len(embed.fields) <= _limits.EMBED_FIELDS
    assert len(embed.description or "") <= _limits.EMBED_DESCRIPTION
    assert len(embed.author.name or "") <= _limits.EMBED_TITLE
    for field in embed.fields:
        assert len(field.value or "") <= _limits.EMBED_FIELD_VALUE
        for line in (field.value or "").split("\n"):
            assert line.startswith("…and ") or re.fullmatch(r"• \[[^\]]+\]\(https://\S+\)", line), line


def test_abstention_embed_lists_closest_topics_and_where_to_look() -> None:
    """When the bot abstains, the embed says so and points to topics it does cover and to /resources."""
    answer = Answer("q", True, 0.1, "That's not in my notes yet.", [], 1.0, closest_topics=["Overfitting"])
    embed = answer_embed(answer, "what is a quasar?")
    assert embed.title == "🤔 Not in my notes yet"
    assert [f.name for f in embed.fields] == ["Closest topics I cover", "Where to look"]
    assert "/resources" in (embed.fields[1].value or "")


def test_answer_buttons_fit_one_row_and_encode_the_answer() -> None:
    """An answer has at most 3 buttons, all persistent (custom_id with the answer id); abstentions get no quiz."""
    view = answer_view(42, long_answer(2))
    ids = [getattr(item, "custom_id", None) for item in view.children]
    assert ids == ["ask:up:42", "ask:down:42", "ask:quiz:42"]
    abstained = answer_view(7, Answer("q", True, 0.1, "no", [], 1.0))
    assert len(abstained.children) == 2


def test_error_messages_are_friendly_and_unexpected_ones_are_flagged() -> None:
    """Domain errors show their own message; unknown errors are not 'expected' so they get an error id."""
    assert _ui.error_message(StudyBotError("Nope.")) == ("Nope.", True)
    wrapped = app_commands.CommandInvokeError.__new__(app_commands.CommandInvokeError)
    wrapped.original = StudyBotError("Inner.")
    assert _ui.error_message(wrapped) == ("Inner.", True)
    assert _ui.error_message(ValueError("secret detail")) == ("", False)


def test_fit_embed_drops_trailing_fields_to_fit() -> None:
    """An embed over 6,000 characters or 25 fields loses trailing fields until it fits."""
    embed = discord.Embed(title="t", description="d")
    for i in range(30):
        embed.add_field(name=f"f{i}", value="v" * 1000)
    fitted = _ui.fit_embed(embed)
    assert len(fitted) <= _limits.EMBED_TOTAL and len(fitted.fields) <= _limits.EMBED_FIELDS
    assert fitted.fields[0].name == "f0"
