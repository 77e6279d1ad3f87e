from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.content import Skill
from bot.domain.streaks import StreakState
from bot.exts import _limits, _ui

if TYPE_CHECKING:
    from bot.client import StudyBot

HISTORY_DAYS = 14
DAY_MARK = {"practice": "🟩", "qotd": "🟦", "freeze": "❄️", "bridge": "🟨"}


def streak_embed(streak: StreakState) -> discord.Embed:
    counted = {d.date: d.kind for d in streak.days}
    days = [streak.today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]
    strip = "".join(DAY_MARK.get(counted.get(d, ""), "⬜") for d in days)
    status = "✅ Today is done." if streak.practised_today else "⏳ Not practised yet today."
    embed = discord.Embed(
        title=f"🔥 {streak.current}-day streak",
        description=(
            f"{status} Your day resets {discord.utils.format_dt(streak.resets_at, 'R')}.\n\n"
            f"**Last {HISTORY_DAYS} days** (oldest first)\n{strip}\n"
            "🟩 practice · 🟦 question of the day · ❄️ freeze · 🟨 timezone bridge · ⬜ missed"
        ),
        colour=discord.Colour.orange(),
    )
    embed.add_field(name="Best", value=f"{streak.best} days")
    embed.add_field(name="Freezes", value=f"{streak.freezes} of 2 (one earned every 7 days in a row)")
    return embed


class ProgressCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(name="streak", description="Your streak: current, best, freezes and the last 14 days.")
    async def streak(self, interaction: _ui.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        streak = await self.bot.services.learners.streak(interaction.user.id)
        await interaction.followup.send(embed=streak_embed(streak), ephemeral=True)

    @app_commands.command(name="leaderboard", description="This server's top learners by quiz points.")
    @app_commands.describe(period="This week (from Monday 00:00 UTC) or all time")
    @app_commands.guild_only()
    async def leaderboard(self, interaction: _ui.Interaction, period: Literal["week", "all"] = "week") -> None:
        await interaction.response.defer(thinking=True)
        board = await self.bot.services.learners.leaderboard(
            interaction.guild_id or 0, period, viewer=interaction.user.id
        )
        title = "🏆 This week's leaderboard" if period == "week" else "🏆 All-time leaderboard"
        if not board.rows:
            text = "No points yet. Answer /quiz questions to get on the board!"
        else:
            lines = [f"**{r.rank}.** {_ui.safe(r.name, 64)} · {r.points} pts · 🔥 {r.streak}" for r in board.rows]
            if board.viewer is not None:
                v = board.viewer
                lines.append(f"…\n**{v.rank}.** {_ui.safe(v.name, 64)} (you) · {v.points} pts · 🔥 {v.streak}")
            text = _ui.whole_lines(lines, _limits.EMBED_DESCRIPTION)
        embed = discord.Embed(title=title, description=text, colour=discord.Colour.gold())
        embed.set_footer(text="Points: correct answers weighted by difficulty. Hide yourself with /settings.")
        await interaction.followup.send(embed=embed)

    @app_commands.command(name="progress", description="Your mastery per skill and the last 30 days, as a chart.")
    async def progress(self, interaction: _ui.Interaction) -> None:
        from bot.charts import progress_png

        await interaction.response.defer(ephemeral=True, thinking=True)
        progress = await self.bot.services.learners.progress(interaction.user.id, guild_id=interaction.guild_id or 0)
        png = await asyncio.to_thread(progress_png, progress)  # matplotlib is CPU-bound: keep the loop free
        lines = []
        for s in progress.skills:
            mastery = "not practised yet" if s.mastery is None else f"mastery {s.mastery:.0%}"
            lines.append(f"**{Skill(s.skill).label}**: {mastery} · seen {s.seen}/{s.total}")
        embed = discord.Embed(title="📈 Your progress", description="\n".join(lines), colour=discord.Colour.blue())
        embed.set_image(url="attachment://progress.png")
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename="progress.png"), ephemeral=True
        )
