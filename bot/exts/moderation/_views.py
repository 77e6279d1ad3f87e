"""Modals and persistent buttons of the moderation commands.

Every action goes through the domain services, which check moderator rights server-side; these classes only
collect input and show results. Buttons are ``DynamicItem``s so they still work after a restart.
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord

from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.knowledge_admin import EditConflict
from bot.domain.ports import Actor
from bot.domain.quiz import LETTERS
from bot.exts import _limits, _ui

BODY_LIMIT = _limits.TEXT_INPUT_VALUE
TITLE_LIMIT = 120  # the entry schema's limit
SKILL_HINT = ", ".join(s.value for s in Skill)


def actor_of(interaction: _ui.Interaction, command: str) -> Actor:
    """The member as Discord resolved them for this interaction; the domain decides what they may do."""
    user = interaction.user
    roles = frozenset(r.id for r in getattr(user, "roles", ()))
    perms = interaction.permissions
    owner = interaction.guild is not None and interaction.guild.owner_id == user.id
    return Actor(
        user_id=user.id,
        guild_id=interaction.guild_id or 0,
        command=command,
        role_ids=roles,
        manage_guild=bool(perms.manage_guild or perms.administrator or owner),
        name=user.display_name,
    )


def parse_skill(text: str | None) -> Skill | None:
    """A skill typed by hand: its id or its label, any case; None when it matches none of the seven."""
    wanted = (text or "").strip().lower()
    for skill in Skill:
        if wanted in (skill.value, skill.label.lower()):
            return skill
    return None


def changed(interaction: _ui.Interaction) -> None:
    """Tell the re-indexer that this server's knowledge changed (other processes notice by polling)."""
    if interaction.guild_id is not None:
        _ui.bot_of(interaction).knowledge_changed(interaction.guild_id)


# --------------------------------------------------------------------------------------------------- entries


class EntryModal(_ui.GuardedModal):
    """Title, skill and body of an entry: for /kb add, /kb edit and answering a gap."""

    def __init__(
        self,
        *,
        title: str,
        doc_id: str | None = None,
        gap_id: int | None = None,
        defaults: dict[str, str] | None = None,
        revision: int | None = None,
    ) -> None:
        super().__init__(title=_ui.clip(title, _limits.MODAL_TITLE), timeout=15 * 60)
        self.doc_id, self.gap_id, self.revision = doc_id, gap_id, revision
        d = defaults or {}
        self.entry_title: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Title", max_length=TITLE_LIMIT, default=d.get("title")
        )
        self.skill: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Skill",
            max_length=40,
            required=False,
            default=d.get("skill"),
            placeholder=SKILL_HINT[: _limits.TEXT_INPUT_PLACEHOLDER],
        )
        self.body: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Body (Markdown)",
            style=discord.TextStyle.paragraph,
            max_length=BODY_LIMIT,
            default=d.get("body"),
        )
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Reason for the change (optional)", max_length=200, required=False
        )
        for item in (self.entry_title, self.skill, self.body, self.reason):
            self.add_item(item)

    async def on_submit(self, interaction: _ui.Interaction) -> None:  # type: ignore[override]
        skill = parse_skill(self.skill.value)
        draft = {"title": self.entry_title.value, "body": self.body.value, "reason": self.reason.value}
        if skill is None:
            # Not one of the seven: ask with a select rather than failing the whole modal.
            view = SkillPick(self, draft)
            await interaction.response.send_message(
                "Which skill does this entry belong to?", view=view, ephemeral=True, allowed_mentions=_ui.NO_PINGS
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.save(interaction, skill, draft)

    async def save(self, interaction: _ui.Interaction, skill: Skill, draft: dict[str, str]) -> None:
        admin = _ui.bot_of(interaction).services.kb_admin
        if self.gap_id is not None:
            actor = actor_of(interaction, "/kb gaps")
            review = _ui.bot_of(interaction).services.review
            entry = await review.answer_gap(actor, self.gap_id, draft["title"], skill.value, draft["body"])
            verb = "Answered the gap with"
        elif self.doc_id is None:
            actor = actor_of(interaction, "/kb add")
            entry = await admin.add(actor, draft["title"], skill.value, draft["body"], reason=draft["reason"])
            verb = "Added"
        else:
            actor = actor_of(interaction, "/kb edit")
            try:
                entry = await admin.edit(
                    actor,
                    self.doc_id,
                    title=draft["title"],
                    skill=skill.value,
                    body=draft["body"],
                    reason=draft["reason"],
                    expected_revision=self.revision,
                )
            except EditConflict as conflict:  # nothing is lost: the moderator gets their text back
                text = f"# {draft['title']}\n\n{draft['body']}\n"
                await interaction.followup.send(
                    conflict.message,
                    file=discord.File(io.BytesIO(text.encode()), filename=f"{self.doc_id}-draft.md"),
                    ephemeral=True,
                    allowed_mentions=_ui.NO_PINGS,
                )
                return
            verb = "Updated"
        changed(interaction)
        await interaction.followup.send(
            f"{verb} **{_ui.safe(entry.title, 200)}** (`{entry.doc_id}`, revision {entry.revision}). "
            "Learners in this server can ask about it within a few seconds.",
            ephemeral=True,
            allowed_mentions=_ui.NO_PINGS,
        )


class SkillPick(discord.ui.View):
    """Finishes a modal whose skill was missing; lives only as long as the modal's draft (15 minutes)."""

    def __init__(self, modal: EntryModal, draft: dict[str, str]) -> None:
        super().__init__(timeout=15 * 60)
        self.add_item(SkillSelect(modal, draft))


class SkillSelect(discord.ui.Select[SkillPick]):
    def __init__(self, modal: EntryModal, draft: dict[str, str]) -> None:
        super().__init__(
            placeholder="Pick the skill", options=[discord.SelectOption(label=s.label, value=s.value) for s in Skill]
        )
        self.modal, self.draft = modal, draft

    async def callback(self, interaction: _ui.Interaction) -> None:  # type: ignore[override]
        try:
            await interaction.response.edit_message(content="Saving…", view=None)
            await self.modal.save(interaction, Skill(self.values[0]), self.draft)
        except Exception as error:
            await _ui.report(interaction, error)


class RemoveEntryButton(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kbrm:(?P<user>\d{1,20}):(?P<answer>yes|no):(?P<doc>[a-z0-9-]{1,70})",
):
    def __init__(self, user_id: int, answer: str, doc_id: str) -> None:
        yes = answer == "yes"
        super().__init__(
            discord.ui.Button(
                label="Yes, remove it" if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=f"kbrm:{user_id}:{answer}:{doc_id}",
            )
        )
        self.user_id, self.answer, self.doc_id = user_id, answer, doc_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RemoveEntryButton:
        return cls(int(match["user"]), match["answer"], match["doc"])

    async def run(self, interaction: _ui.Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise StudyBotError("This button isn't yours: run /kb remove yourself.")
        if self.answer == "no":
            await interaction.response.edit_message(content="Cancelled: nothing was removed.", view=None)
            return
        await interaction.response.defer()
        entry = await _ui.bot_of(interaction).services.kb_admin.remove(
            actor_of(interaction, "/kb remove"), self.doc_id, reason="removed with /kb remove"
        )
        changed(interaction)
        await interaction.edit_original_response(
            content=f"Removed **{_ui.safe(entry.title, 200)}** (revision {entry.revision}). "
            f"`/kb rollback entry:{entry.doc_id}` brings it back.",
            view=None,
        )


def confirm_remove(user_id: int, doc_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RemoveEntryButton(user_id, "yes", doc_id))
    view.add_item(RemoveEntryButton(user_id, "no", doc_id))
    return view


class AnswerGapButton(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kbgap:(?P<gap>\d{1,12})",
):
    def __init__(self, gap_id: int, label: str = "Answer") -> None:
        super().__init__(
            discord.ui.Button(
                label=_ui.clip(label, _limits.BUTTON_LABEL),
                style=discord.ButtonStyle.primary,
                custom_id=f"kbgap:{gap_id}",
            )
        )
        self.gap_id = gap_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerGapButton:
        return cls(int(match["gap"]))

    async def run(self, interaction: _ui.Interaction) -> None:
        bot = _ui.bot_of(interaction)
        # Refuse non-moderators before they type a whole entry; saving checks again.
        await bot.services.moderation.check(actor_of(interaction, "/kb gaps"), "kb.gap")
        await interaction.response.send_modal(EntryModal(title="Answer a gap", gap_id=self.gap_id))


# ------------------------------------------------------------------------------------------------ quiz items


def quiz_item_fields(
    skill: str, *, prompt: str, options: str, answer: str, explanation: str, topic: str
) -> dict[str, Any]:
    """The quiz-item form's text as ``QuizAdmin.add_item``'s fields; an answer other than one letter A-D is refused.

    The length check matters: a blank answer used to pass as "A", because ``"" in "ABCD"`` is true.
    """
    letter = answer.strip().upper()
    if len(letter) != 1 or letter not in LETTERS:
        raise StudyBotError("The correct option must be one of the letters A, B, C or D.")
    return {
        "skill": skill,
        "question": prompt,
        "choices": [line.strip() for line in options.splitlines() if line.strip()],
        "answer_index": LETTERS.index(letter),
        "explanation": explanation,
        "topic": topic,
    }


class QuizItemModal(_ui.GuardedModal):
    """A quiz item's text: for /quizbank add and /quizbank edit."""

    def __init__(self, *, skill: str, item_id: str | None = None, defaults: dict[str, str] | None = None) -> None:
        super().__init__(title="Edit quiz item" if item_id else "New quiz item", timeout=15 * 60)
        self.skill_id, self.item_id = skill, item_id
        d = defaults or {}
        self.prompt: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Question", style=discord.TextStyle.paragraph, min_length=10, max_length=300, default=d.get("prompt")
        )
        self.options: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Four options, one per line (A to D)",
            style=discord.TextStyle.paragraph,
            max_length=420,
            default=d.get("options"),
        )
        self.answer: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Correct option (A, B, C or D)", min_length=1, max_length=1, default=d.get("answer")
        )
        self.explanation: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Explanation",
            style=discord.TextStyle.paragraph,
            min_length=20,
            max_length=600,
            default=d.get("explanation"),
        )
        self.topic: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Topic (a few words)", max_length=60, default=d.get("topic")
        )
        for item in (self.prompt, self.options, self.answer, self.explanation, self.topic):
            self.add_item(item)

    async def on_submit(self, interaction: _ui.Interaction) -> None:  # type: ignore[override]
        fields = quiz_item_fields(
            self.skill_id,
            prompt=self.prompt.value,
            options=self.options.value,
            answer=self.answer.value,
            explanation=self.explanation.value,
            topic=self.topic.value,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        admin = _ui.bot_of(interaction).services.quiz_admin
        if self.item_id is None:
            item_id = await admin.add_item(actor_of(interaction, "/quizbank add"), **fields)
            text = f"Added quiz item `{item_id}`: it can appear in /quiz in this server from now on."
        else:
            await admin.edit_item(actor_of(interaction, "/quizbank edit"), self.item_id, **fields)
            text = f"Updated quiz item `{self.item_id}`."
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=_ui.NO_PINGS)
