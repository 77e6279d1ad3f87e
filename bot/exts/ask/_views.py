"""What the answer buttons do: votes, the "what went wrong?" modal and "Quiz me on this"."""

from __future__ import annotations

import discord

from bot.domain.asking import MAX_COMMENT
from bot.domain.ports import LOCAL_GUILD
from bot.exts import _ui
from bot.exts.quiz._views import question_message


class WhatWentWrong(_ui.GuardedModal, title="What went wrong?"):
    details: discord.ui.TextInput[WhatWentWrong] = discord.ui.TextInput(
        label="Tell the moderators what was wrong or missing",
        style=discord.TextStyle.paragraph,
        placeholder="e.g. It answered about decision trees, but I asked about random forests.",
        required=False,
        max_length=MAX_COMMENT,
    )

    def __init__(self, asked_id: int, user_id: int) -> None:
        # discord.py files open forms by custom_id alone: without the user in it, a second learner opening the
        # form on the same answer would replace the first one's, whose submit then found no form.
        super().__init__(custom_id=f"askfb:{asked_id}:{user_id}", timeout=600)
        self.asked_id = asked_id

    async def on_submit(self, interaction: _ui.Interaction) -> None:  # type: ignore[override]
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _ui.bot_of(interaction).services.asks.feedback(
            self.asked_id,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id or LOCAL_GUILD,
            helpful=False,
            comment=self.details.value,
        )
        await interaction.followup.send("Thanks: the moderators will see your note.", ephemeral=True)


async def on_answer_action(interaction: _ui.Interaction, action: str, asked_id: int) -> None:
    bot = _ui.bot_of(interaction)
    guild_id = interaction.guild_id or LOCAL_GUILD
    if action == "down":
        await interaction.response.send_modal(
            WhatWentWrong(asked_id, interaction.user.id)
        )  # a modal must be the first response
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    if action == "up":
        await bot.services.asks.feedback(asked_id, user_id=interaction.user.id, guild_id=guild_id, helpful=True)
        await interaction.followup.send("Thanks for the feedback! 👍", ephemeral=True)
        return
    asked = await bot.services.asks.get(asked_id, guild_id)
    view = await bot.services.quiz.start_targeted(
        interaction.user.id, asked.sources, guild_id=guild_id, name=interaction.user.display_name
    )
    if view.next is None:
        await interaction.followup.send("I have no quiz questions on those topics yet.", ephemeral=True)
        return
    note = f"A short quiz on what that answer covered ({view.total} question{'s' * (view.total != 1)})."
    await interaction.followup.send(**question_message(view.next, note=note), ephemeral=True)
