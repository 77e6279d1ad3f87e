from __future__ import annotations

import io
import json
import re
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.resources import ResourceLink
from bot.domain.streaks import search_timezones
from bot.exts import _limits, _ui

if TYPE_CHECKING:
    from bot.client import StudyBot


WHAT_WE_STORE = (
    "• Your Discord user id and display name\n"
    "• Your settings: timezone, day-start hour, reminder, leaderboard visibility\n"
    "• Your quiz sessions and answers, and each item's review schedule\n"
    "• Your streak history (which days counted, in which timezone)\n"
    "• Questions you asked me, and feedback you gave on answers\n\n"
    "Nothing else: no messages beyond questions addressed to me. Delete it all with /forget-me."
)

HELP = [
    ("/ask question", "Ask a study question. I answer only from my notes, with sources, or say I don't know."),
    ("@StudyBot …", "Mention me with a question: I answer in a thread, and follow-ups there keep the context."),
    ("/quiz [count] [skill]", "Today's practice, chosen by spaced repetition. Only you see it."),
    ("/streak", "Your streak, best streak, freezes and the last 14 days."),
    ("/leaderboard [week|all]", "This server's top learners by points."),
    ("/progress", "A chart of your mastery per skill and your last 30 days."),
    ("/resources [skill]", "Curated courses, books and docs for each skill."),
    ("/settings", "Timezone, day-start hour, daily reminder and leaderboard visibility."),
    ("/privacy", "What I store about you, with a download of all of it."),
    ("/forget-me", "Delete everything I store about you."),
]


class ForgetButton(
    _ui.Guarded,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"forget:(?P<user>\d{1,20}):(?P<answer>yes|no)",
):
    def __init__(self, user_id: int, answer: str) -> None:
        yes = answer == "yes"
        super().__init__(
            discord.ui.Button(
                label="Yes, delete everything" if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=f"forget:{user_id}:{answer}",
            )
        )
        self.user_id, self.answer = user_id, answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(int(match["user"]), match["answer"])

    async def run(self, interaction: _ui.Interaction) -> None:
        if interaction.user.id != self.user_id:
            raise StudyBotError("This button isn't yours. Use /forget-me to delete your own data.")
        if self.answer == "no":
            await interaction.response.edit_message(content="Cancelled: nothing was deleted.", view=None)
            return
        await interaction.response.defer()
        deleted = await _ui.bot_of(interaction).services.learners.forget(self.user_id)
        await interaction.edit_original_response(
            content=f"Done: I deleted everything about you ({sum(deleted.values())} records). "
            "If you use StudyBot again, it starts from scratch.",
            view=None,
        )


def settings_embed(learner: Any, changed: list[str]) -> discord.Embed:
    reminder = "off" if learner.reminder_hour is None else f"on, at {learner.reminder_hour:02d}:00 your time"
    embed = discord.Embed(
        title="⚙️ Your settings",
        description=(
            "Updated: " + ", ".join(changed) + "." if changed else "Change any of these with the options of /settings."
        ),
        colour=discord.Colour.dark_grey(),
    )
    embed.add_field(name="Timezone", value=learner.timezone)
    embed.add_field(name="Day starts at", value=f"{learner.day_start_hour:02d}:00")
    embed.add_field(name="Daily reminder", value=reminder)
    embed.add_field(name="Leaderboard", value="hidden" if learner.leaderboard_hidden else "shown")
    return embed


class AccountCog(commands.Cog):
    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="settings", description="Your timezone, day start, daily reminder and leaderboard visibility."
    )
    @app_commands.describe(
        timezone="Your IANA timezone, e.g. Europe/Berlin (start typing to search)",
        day_start="Hour your day starts, for night owls (0-23, default 0)",
        reminder="A daily DM if you haven't practised yet",
        reminder_hour="Your local hour for the reminder (0-23)",
        leaderboard="Show or hide yourself on leaderboards",
    )
    async def settings(
        self,
        interaction: _ui.Interaction,
        timezone: str | None = None,
        day_start: app_commands.Range[int, 0, 23] | None = None,
        reminder: Literal["on", "off"] | None = None,
        reminder_hour: app_commands.Range[int, 0, 23] | None = None,
        leaderboard: Literal["show", "hide"] | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        learners = self.bot.services.learners
        learner = await learners.learner(interaction.user.id, interaction.user.display_name)
        changed = []
        if timezone is not None or day_start is not None:
            learner = await learners.set_timezone(interaction.user.id, timezone or learner.timezone, day_start)
            changed.append("timezone and day start")
        if reminder is not None or reminder_hour is not None:
            learner = await learners.switch_reminder(interaction.user.id, on=reminder != "off", hour=reminder_hour)
            changed.append("reminder")
        if leaderboard is not None:
            learner = await learners.set_hidden(interaction.user.id, leaderboard == "hide")
            changed.append("leaderboard visibility")
        await interaction.followup.send(embed=settings_embed(learner, changed), ephemeral=True)

    @settings.autocomplete("timezone")
    async def timezone_autocomplete(self, interaction: _ui.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in search_timezones(current, _limits.AUTOCOMPLETE_CHOICES)]

    @app_commands.command(name="privacy", description="What StudyBot stores about you, and a download of all of it.")
    async def privacy(self, interaction: _ui.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.bot.services.learners.export(interaction.user.id)
        payload = json.dumps(data, indent=2, ensure_ascii=False).encode()
        embed = discord.Embed(
            title="🔒 What I store about you", description=WHAT_WE_STORE, colour=discord.Colour.dark_grey()
        )
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(payload), filename="studybot-my-data.json"), ephemeral=True
        )

    @app_commands.command(name="forget-me", description="Delete everything StudyBot stores about you.")
    async def forget_me(self, interaction: _ui.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(ForgetButton(interaction.user.id, "yes"))
        view.add_item(ForgetButton(interaction.user.id, "no"))
        await interaction.response.send_message(
            "This deletes your streak, quiz history, settings, questions and feedback, in every server. "
            "It cannot be undone. Are you sure?",
            view=view,
            ephemeral=True,
        )

    @app_commands.command(name="help", description="What StudyBot can do.")
    async def help(self, interaction: _ui.Interaction) -> None:
        embed = discord.Embed(
            title="📚 StudyBot",
            description="A study companion for becoming an ML engineer. Answers come only from curated notes.",
            colour=discord.Colour.blurple(),
        )
        for name, text in HELP:
            embed.add_field(name=name, value=text, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="resources", description="Curated learning resources, for one skill or all seven.")
    @app_commands.describe(skill="The skill to list resources for")
    @app_commands.choices(skill=[app_commands.Choice(name=s.label, value=s.value) for s in Skill])
    async def resources(self, interaction: _ui.Interaction, skill: app_commands.Choice[str] | None = None) -> None:
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True  # an error replaces the public "thinking…" with a private reply
        chosen = Skill(skill.value) if skill is not None else None
        links = await self.bot.services.resources.for_server(interaction.guild_id, chosen)

        def line(r: ResourceLink) -> str:
            link = f"• [{discord.utils.escape_markdown(r.title)}]({r.url})"
            return f"{link} · this server's pick" if r.own else f"{link} · {r.detail}"

        if chosen is not None:
            embed = discord.Embed(title=f"📖 Resources: {chosen.label}", colour=discord.Colour.teal())
            embed.description = (
                _ui.whole_lines((line(r) + f"\n  {r.why}" for r in links), _limits.EMBED_DESCRIPTION)
                or "No resources for this skill yet."
            )
        else:
            embed = discord.Embed(
                title="📖 Curated resources",
                description="Pick a skill with /resources skill:… for the full list.",
                colour=discord.Colour.teal(),
            )
            for s in Skill:
                picked = [r for r in links if r.skill == s][:3]
                if picked:
                    embed.add_field(name=s.label, value=_ui.whole_lines(map(line, picked)), inline=False)
        await interaction.followup.send(embed=_ui.fit_embed(embed))
        interaction.extras.pop("public_defer", None)
