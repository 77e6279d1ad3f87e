from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from discord import app_commands
from discord.ext import commands

from bot.domain.content import Skill
from bot.domain.ports import LOCAL_GUILD
from bot.domain.quiz import DEFAULT_COUNT, MAX_COUNT
from bot.exts import _ui
from bot.exts.quiz import _daily
from bot.exts.quiz._views import question_message

if TYPE_CHECKING:
    from bot.client import StudyBot

log = logging.getLogger(__name__)

SKILL_CHOICES = [app_commands.Choice(name=skill.label, value=skill.value) for skill in Skill]


class QuizCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        self._loop: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._loop = self.bot.spawn(self._scheduler(), "daily-scheduler")

    async def cog_unload(self) -> None:
        if self._loop is not None:
            self._loop.cancel()

    async def _scheduler(self) -> None:
        """Question of the day and reminders; each tick is idempotent, so restarts never double-post."""
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            try:
                await _daily.post_questions_of_the_day(self.bot)
                await _daily.send_reminders(self.bot)
            except Exception:
                log.exception("daily scheduler tick failed; retrying next tick")
            await asyncio.sleep(self.bot.settings.scheduler_seconds)

    @app_commands.command(name="quiz", description="Today's practice: questions picked for you by spaced repetition.")
    @app_commands.describe(
        count=f"How many questions (1-{MAX_COUNT}, default {DEFAULT_COUNT})", skill="Practise one skill"
    )
    @app_commands.choices(skill=SKILL_CHOICES)
    async def quiz(
        self,
        interaction: _ui.Interaction,
        count: app_commands.Range[int, 1, MAX_COUNT] = DEFAULT_COUNT,
        skill: app_commands.Choice[str] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        view = await self.bot.services.quiz.start_daily(
            interaction.user.id,
            guild_id=interaction.guild_id or LOCAL_GUILD,
            name=interaction.user.display_name,
            count=count,
            skill=Skill(skill.value) if skill else None,
        )
        if view.next is None:
            await _ui.send_ephemeral(interaction, "There is nothing left in today's practice. Try /quiz again.")
            return
        note = f"Welcome back! Resuming today's practice at question {view.next.number}." if view.resumed else None
        await interaction.followup.send(**question_message(view.next, note=note), ephemeral=True)
