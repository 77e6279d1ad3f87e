"""/kb, /quizbank and /config: thin commands over the knowledge, quiz and server-settings services.

``default_permissions(manage_guild=True)`` only hides these commands from most members. The services check
every call server-side (Manage Server, or the role set with /config moderator-role) and audit it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.forms import check_form_editable
from bot.domain.knowledge_admin import Scope
from bot.domain.quiz import LETTERS
from bot.exts import _limits, _ui
from bot.exts.moderation._views import (
    AnswerGapButton,
    EntryModal,
    QuizItemModal,
    actor_of,
    changed,
    confirm_remove,
)

if TYPE_CHECKING:
    from bot.client import StudyBot

log = logging.getLogger(__name__)
_NO_ENDPOINT = "this bot has no model endpoint configured"

UPLOAD_LIMIT = 1024 * 1024
GAPS_SHOWN = 10
SKILLS = [app_commands.Choice(name=s.label, value=s.value) for s in Skill]


async def _entries(interaction: _ui.Interaction, current: str, origin: Scope) -> list[app_commands.Choice[str]]:
    """Entries of this server only (its own, the shipped base, or the base entries it hid)."""
    if interaction.guild_id is None:
        return []
    try:
        found = await _ui.bot_of(interaction).services.kb_admin.search_entries(
            interaction.guild_id, current, origin=origin, limit=_limits.AUTOCOMPLETE_CHOICES
        )
    except StudyBotError:  # the database is away: no suggestions rather than an error log
        return []
    return [
        app_commands.Choice(name=_ui.clip(f"{title} ({doc_id})", _limits.CHOICE_NAME), value=doc_id)
        for doc_id, title, _ in found
    ]


async def own_entries(interaction: _ui.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return await _entries(interaction, current, "overlay")


async def base_entries(interaction: _ui.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return await _entries(interaction, current, "base")


async def hidden_entries(interaction: _ui.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return await _entries(interaction, current, "hidden")


async def quiz_items(interaction: _ui.Interaction, current: str) -> list[app_commands.Choice[str]]:
    if interaction.guild_id is None:
        return []
    try:
        found = await _ui.bot_of(interaction).services.quiz_admin.search_items(
            interaction.guild_id, current, limit=_limits.AUTOCOMPLETE_CHOICES
        )
    except StudyBotError:
        return []
    return [
        app_commands.Choice(name=_ui.clip(f"{label} ({item_id})", _limits.CHOICE_NAME), value=item_id)
        for item_id, label in found
    ]


def _when(moment: datetime | None) -> str:
    return discord.utils.format_dt(moment, "R") if moment is not None else "never"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class KnowledgeCog(commands.GroupCog, group_name="kb", group_description="Moderators: this server's knowledge base"):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="add", description="Write a new entry for this server (opens a form).")
    async def add(self, interaction: _ui.Interaction) -> None:
        await self.bot.services.moderation.check(actor_of(interaction, "/kb add"), "kb.add")
        await interaction.response.send_modal(EntryModal(title="New knowledge entry"))

    @app_commands.command(name="edit", description="Edit one of this server's entries (opens a pre-filled form).")
    @app_commands.describe(entry="The entry to edit (start typing its title)")
    @app_commands.autocomplete(entry=own_entries)
    async def edit(self, interaction: _ui.Interaction, entry: str) -> None:
        actor = actor_of(interaction, "/kb edit")
        await self.bot.services.moderation.check(actor, "kb.edit")
        found = await self.bot.services.kb_admin.entry(actor.guild_id, entry)
        check_form_editable(found)
        defaults = {"title": found.title, "skill": found.skill, "body": found.body}
        await interaction.response.send_modal(
            EntryModal(title="Edit entry", doc_id=found.doc_id, defaults=defaults, revision=found.revision)
        )

    @app_commands.command(name="remove", description="Remove one of this server's entries (asks first).")
    @app_commands.describe(entry="The entry to remove (start typing its title)")
    @app_commands.autocomplete(entry=own_entries)
    async def remove(self, interaction: _ui.Interaction, entry: str) -> None:
        actor = actor_of(interaction, "/kb remove")
        await self.bot.services.moderation.check(actor, "kb.remove")
        found = await self.bot.services.kb_admin.entry(actor.guild_id, entry)
        await interaction.response.send_message(
            f"Remove **{_ui.safe(found.title, 200)}** from this server's knowledge base? "
            "Its history is kept, and /kb rollback can restore it.",
            view=confirm_remove(interaction.user.id, found.doc_id),
            ephemeral=True,
            allowed_mentions=_ui.NO_PINGS,
        )

    @app_commands.command(name="hide", description="Hide a shipped entry from this server's answers.")
    @app_commands.describe(entry="The shipped entry to hide here (start typing its title)")
    @app_commands.autocomplete(entry=base_entries)
    async def hide(self, interaction: _ui.Interaction, entry: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.kb_admin.hide(actor_of(interaction, "/kb hide"), entry)
        changed(interaction)
        await _ui.send_ephemeral(
            interaction, f"Hidden `{_ui.safe(entry, 120)}` in this server. /kb unhide restores it."
        )

    @app_commands.command(name="unhide", description="Show a shipped entry you hid again.")
    @app_commands.describe(entry="The hidden entry to show again")
    @app_commands.autocomplete(entry=hidden_entries)
    async def unhide(self, interaction: _ui.Interaction, entry: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.kb_admin.unhide(actor_of(interaction, "/kb unhide"), entry)
        changed(interaction)
        await _ui.send_ephemeral(interaction, f"`{_ui.safe(entry, 120)}` is back in this server's answers.")

    @app_commands.command(name="import", description="Import entries, resources or quiz items from a file.")
    @app_commands.describe(file="A .md entry with front matter, a resources .yaml or a quiz .yaml (at most 1 MB)")
    async def import_(self, interaction: _ui.Interaction, file: discord.Attachment) -> None:
        actor = actor_of(interaction, "/kb import")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.moderation.check(actor, "kb.import")
        if file.size > UPLOAD_LIMIT:
            raise StudyBotError(f"`{_ui.safe(file.filename, 100)}` is larger than 1 MB; split it into smaller files.")
        data = await file.read()
        result = await self.bot.services.kb_admin.import_files(actor, [(file.filename, data)], reason="/kb import")
        changed(interaction)
        await _ui.send_ephemeral(interaction, f"Imported `{_ui.safe(file.filename, 100)}`: {result.describe()}.")

    @app_commands.command(name="history", description="The revisions of one of this server's entries.")
    @app_commands.describe(entry="The entry (start typing its title)")
    @app_commands.autocomplete(entry=own_entries)
    async def history(self, interaction: _ui.Interaction, entry: str) -> None:
        actor = actor_of(interaction, "/kb history")
        await interaction.response.defer(ephemeral=True, thinking=True)
        revisions = await self.bot.services.kb_admin.history(actor, entry)
        lines = [
            f"**{r.number}** · {r.action} · <@{r.author_id}> · {_when(r.created_at)}"
            + (f" · {_ui.safe(r.reason, 80)}" if r.reason else "")
            for r in revisions
        ]
        embed = discord.Embed(
            title=_ui.clip(f"History of {entry}", _limits.EMBED_TITLE),
            description=_ui.whole_lines(lines, _limits.EMBED_DESCRIPTION),
            colour=discord.Colour.dark_teal(),
        )
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=_ui.NO_PINGS)

    @app_commands.command(name="diff", description="What changed in an entry between two revisions.")
    @app_commands.describe(entry="The entry", old="The older revision number", new="The newer revision number")
    @app_commands.rename(old="from", new="to")
    @app_commands.autocomplete(entry=own_entries)
    async def diff(
        self,
        interaction: _ui.Interaction,
        entry: str,
        old: app_commands.Range[int, 1],
        new: app_commands.Range[int, 1],
    ) -> None:
        actor = actor_of(interaction, "/kb diff")
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.bot.services.kb_admin.diff(actor, entry, old, new)
        body = text.replace("```", "`\u200b``") or "(no differences)"
        budget = _limits.MESSAGE_LIMIT - 40
        shown = body if len(body) <= budget else body[: body.rfind("\n", 0, budget - 20)] + "\n… (cut)"
        await _ui.send_ephemeral(interaction, f"Revision {old} → {new}:\n```diff\n{shown}\n```")

    @app_commands.command(name="rollback", description="Restore an entry as it was at an earlier revision.")
    @app_commands.describe(entry="The entry to restore", revision="The revision number to restore (see /kb history)")
    @app_commands.autocomplete(entry=own_entries)
    async def rollback(self, interaction: _ui.Interaction, entry: str, revision: app_commands.Range[int, 1]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        restored = await self.bot.services.kb_admin.rollback(
            actor_of(interaction, "/kb rollback"), entry, revision, reason=f"rollback to revision {revision}"
        )
        changed(interaction)
        state = "removed" if restored.deleted else "live"
        await _ui.send_ephemeral(
            interaction,
            f"Rolled `{restored.doc_id}` back to revision {revision}: now revision {restored.revision}, {state}.",
        )

    @app_commands.command(name="gaps", description="Questions I couldn't answer here, most asked first.")
    async def gaps(self, interaction: _ui.Interaction) -> None:
        actor = actor_of(interaction, "/kb gaps")
        await interaction.response.defer(ephemeral=True, thinking=True)
        gaps = (await self.bot.services.review.gaps(actor))[:GAPS_SHOWN]
        if not gaps:
            await _ui.send_ephemeral(interaction, "No open gaps: I could answer every question asked here.")
            return
        lines = [
            f"**{n}.** {_ui.safe(g.question, 150)} · asked {g.count}× · last {_when(g.last_asked)}"
            for n, g in enumerate(gaps, 1)
        ]
        embed = discord.Embed(
            title="🕳️ Knowledge gaps",
            description=_ui.whole_lines(lines, _limits.EMBED_DESCRIPTION),
            colour=discord.Colour.orange(),
        )
        embed.set_footer(text="Answer a gap to write an entry for it; the gap then closes.")
        view = discord.ui.View(timeout=None)
        for n, gap in enumerate(gaps, 1):  # 10 buttons: two rows of five
            view.add_item(AnswerGapButton(gap.id, f"Answer {n}"))
        await interaction.followup.send(embed=embed, view=view, ephemeral=True, allowed_mentions=_ui.NO_PINGS)

    @app_commands.command(name="reports", description="Unhelpful-answer feedback and reported quiz questions.")
    async def reports(self, interaction: _ui.Interaction) -> None:
        actor = actor_of(interaction, "/kb reports")
        await interaction.response.defer(ephemeral=True, thinking=True)
        answers = await self.bot.services.review.feedback_reports(actor)
        items = await self.bot.services.quiz_admin.reports(actor)
        embed = discord.Embed(title="🚩 Reports", colour=discord.Colour.red())
        answer_lines = [
            f"👎 {_ui.safe(r.question, 120)}" + (f" — “{_ui.safe(r.comment, 200)}”" if r.comment else "")
            for r in answers
        ]
        item_lines = [
            f"`{r.item_id}` · {r.count} report(s){' · ⏸️ suspended' if r.suspended else ''}"
            + (f" — “{_ui.safe('; '.join(r.reasons), 200)}”" if r.reasons else "")
            for r in items
        ]
        embed.add_field(name="Answers marked not helpful", value=_ui.whole_lines(answer_lines) or "None.", inline=False)
        embed.add_field(name="Quiz questions", value=_ui.whole_lines(item_lines) or "None.", inline=False)
        await interaction.followup.send(embed=_ui.fit_embed(embed), ephemeral=True, allowed_mentions=_ui.NO_PINGS)

    @app_commands.command(name="status", description="The index serving this server: version, last build, errors.")
    async def status(self, interaction: _ui.Interaction) -> None:
        actor = actor_of(interaction, "/kb status")
        await self.bot.services.moderation.check(actor, "kb.status")
        status = self.bot.kb_status(actor.guild_id)
        embed = discord.Embed(title="📚 Knowledge index", colour=discord.Colour.dark_teal())
        embed.add_field(name="Live version", value=str(status.version_live))
        embed.add_field(name="Latest change", value=str(status.version_wanted))
        built = datetime.fromisoformat(status.built_at) if status.built_at else None
        embed.add_field(name="Last rebuilt", value=_when(built))
        embed.add_field(name="Chunks", value=str(status.chunks))
        pending = "building now" if status.building else "waiting" if status.pending else "none"
        embed.add_field(name="Pending changes", value=pending)
        error = f"{_ui.safe(status.last_error, 900)} ({_when(status.last_error_at)})" if status.last_error else "none"
        embed.add_field(name="Last error", value=error, inline=False)
        if status.knowledge_problems:
            problems = [f"• {_ui.safe(p, 200)}" for p in status.knowledge_problems]
            embed.add_field(name="Knowledge files left out", value=_ui.whole_lines(problems), inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=_ui.NO_PINGS)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class QuizBankCog(commands.GroupCog, group_name="quizbank", group_description="Moderators: this server's quiz items"):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="add", description="Write a new quiz question for this server (opens a form).")
    @app_commands.describe(skill="The skill the question practises")
    @app_commands.choices(skill=SKILLS)
    async def add(self, interaction: _ui.Interaction, skill: app_commands.Choice[str]) -> None:
        await self.bot.services.moderation.check(actor_of(interaction, "/quizbank add"), "quiz.add")
        await interaction.response.send_modal(QuizItemModal(skill=skill.value))

    @app_commands.command(name="edit", description="Edit one of this server's quiz questions (pre-filled form).")
    @app_commands.describe(item="The quiz item to edit (start typing its question)")
    @app_commands.autocomplete(item=quiz_items)
    async def edit(self, interaction: _ui.Interaction, item: str) -> None:
        actor = actor_of(interaction, "/quizbank edit")
        await self.bot.services.moderation.check(actor, "quiz.edit")
        found = await self.bot.services.quiz_admin.item(actor.guild_id, item)
        defaults = {
            "prompt": found.prompt,
            "options": "\n".join(found.options),
            "answer": LETTERS[found.answer],
            "explanation": found.explanation,
            "topic": found.topic,
        }
        await interaction.response.send_modal(QuizItemModal(skill=found.skill, item_id=found.id, defaults=defaults))

    @app_commands.command(name="suspend", description="Stop a quiz question from appearing in this server.")
    @app_commands.describe(item="The quiz item to suspend", reason="Why (kept in the audit log)")
    @app_commands.autocomplete(item=quiz_items)
    async def suspend(self, interaction: _ui.Interaction, item: str, reason: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.quiz_admin.suspend(actor_of(interaction, "/quizbank suspend"), item, reason or "")
        await _ui.send_ephemeral(interaction, f"Suspended `{_ui.safe(item, 100)}`: it won't appear in /quiz here.")

    @app_commands.command(name="restore", description="Let a suspended quiz question appear again.")
    @app_commands.describe(item="The suspended quiz item to restore")
    @app_commands.autocomplete(item=quiz_items)
    async def restore(self, interaction: _ui.Interaction, item: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.quiz_admin.restore(actor_of(interaction, "/quizbank restore"), item)
        await _ui.send_ephemeral(interaction, f"Restored `{_ui.safe(item, 100)}`; its reports are marked resolved.")


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ConfigCog(commands.GroupCog, group_name="config", group_description="Moderators: StudyBot's settings here"):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name="moderator-role", description="Members with this role may moderate StudyBot.")
    @app_commands.describe(role="The role; leave empty to clear it (Manage Server always works)")
    async def moderator_role(self, interaction: _ui.Interaction, role: discord.Role | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.moderation.set_moderator_role(
            actor_of(interaction, "/config moderator-role"), role.id if role else None
        )
        text = f"Moderator role: {role.mention}." if role else "Moderator role cleared: Manage Server only."
        await _ui.send_ephemeral(interaction, text)

    @app_commands.command(name="help-channels", description="Channels where every post is answered as a question.")
    @app_commands.describe(
        first="A help channel; leave all three empty to have none", second="Another help channel", third="A third one"
    )
    async def help_channels(
        self,
        interaction: _ui.Interaction,
        first: discord.TextChannel | None = None,
        second: discord.TextChannel | None = None,
        third: discord.TextChannel | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        channels = [c for c in (first, second, third) if c is not None]
        await self.bot.services.moderation.set_help_channels(
            actor_of(interaction, "/config help-channels"), [c.id for c in channels]
        )
        listed = ", ".join(c.mention for c in channels) or "none"
        await _ui.send_ephemeral(interaction, f"Help channels: {listed}.")

    @app_commands.command(name="qotd", description="Where and when the question of the day is posted.")
    @app_commands.describe(channel="Channel to post in; leave empty to turn it off", hour="UTC hour to post (0-23)")
    async def qotd(
        self,
        interaction: _ui.Interaction,
        channel: discord.TextChannel | None = None,
        hour: app_commands.Range[int, 0, 23] = 9,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.moderation.set_qotd(
            actor_of(interaction, "/config qotd"), channel.id if channel else None, hour
        )
        text = (
            f"Question of the day: {channel.mention} at {hour:02d}:00 UTC." if channel else "Question of the day off."
        )
        await _ui.send_ephemeral(interaction, text)

    @app_commands.command(name="generation", description="Answers written by the model from the notes, or extracts.")
    @app_commands.describe(state="on: a model writes answers, each sentence checked; off: extracts from the notes")
    async def generation(self, interaction: _ui.Interaction, state: Literal["on", "off"]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.services.moderation.set_generation(actor_of(interaction, "/config generation"), state == "on")
        text = {
            "off": "Generated answers off: answers here are extracts from the notes.",
            "no endpoint": "Generated answers on here, but " + _NO_ENDPOINT + ", so answers stay extracts.",
            "on": "Generated answers on: a model writes each answer from the notes, and every sentence is checked.",
        }[self._generation(state == "on")]
        await _ui.send_ephemeral(interaction, text)

    def _generation(self, allowed: bool) -> str:
        """What a server gets: "off" (its moderators' choice), "no endpoint" (none configured) or "on"."""
        if not allowed:
            return "off"
        return "on" if self.bot.services.generators is not None else "no endpoint"

    @app_commands.command(name="show", description="StudyBot's settings in this server.")
    async def show(self, interaction: _ui.Interaction) -> None:
        actor = actor_of(interaction, "/config show")
        await interaction.response.defer(ephemeral=True, thinking=True)
        config = await self.bot.services.moderation.show(actor)
        channels = ", ".join(f"<#{c}>" for c in config.help_channels or ()) or "none"
        # The settings' default channel belongs to one server only: elsewhere it means "off".
        channel = self.bot.get_channel(config.qotd_channel_id) if config.qotd_channel_id else None
        here = isinstance(channel, discord.abc.GuildChannel) and channel.guild.id == interaction.guild_id
        qotd = f"<#{config.qotd_channel_id}> at {config.qotd_hour or 0:02d}:00 UTC" if here else "off"
        embed = discord.Embed(title="⚙️ StudyBot in this server", colour=discord.Colour.dark_grey())
        role = f"<@&{config.moderator_role_id}>" if config.moderator_role_id else "none (Manage Server only)"
        embed.add_field(name="Moderator role", value=role, inline=False)
        embed.add_field(name="Help channels", value=channels, inline=False)
        embed.add_field(name="Question of the day", value=qotd, inline=False)
        generation = {"off": "off (extracts from the notes)", "no endpoint": _NO_ENDPOINT, "on": "on"}[
            self._generation(config.generate is not False)
        ]
        embed.add_field(name="Generated answers", value=generation, inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=_ui.NO_PINGS)
