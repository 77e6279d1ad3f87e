"""Question of the day (posted to a channel, answered by buttons) and opt-in reminder DMs."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.quiz import LETTERS, Question
from bot.exts import _limits, _ui
from bot.exts.quiz._views import feedback_embed, question_embed, summary_embed

if TYPE_CHECKING:
    from bot.client import StudyBot

log = logging.getLogger(__name__)


class QotdButton(
    _ui.Guarded, discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"qotd:(?P<post>\d{1,12}):(?P<choice>[0-3])"
):
    def __init__(self, post_id: int, choice: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=LETTERS[choice], style=discord.ButtonStyle.secondary, custom_id=f"qotd:{post_id}:{choice}"
            )
        )
        self.post_id, self.choice = post_id, choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> QotdButton:
        return cls(int(match["post"]), int(match["choice"]))

    async def run(self, interaction: _ui.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = _ui.bot_of(interaction)
        feedback = await bot.services.daily.submit(
            self.post_id, interaction.guild_id or 0, interaction.user.id, self.choice, interaction.user.display_name
        )
        embeds = [feedback_embed(feedback)]
        if feedback.repeated:
            await interaction.followup.send(
                f"You already answered today's question (you chose {LETTERS[feedback.choice]}).",
                embeds=embeds,
                ephemeral=True,
            )
            return
        if feedback.summary is not None and feedback.summary.streak is not None:
            embeds.append(summary_embed(feedback.summary).set_author(name="Question of the day"))
        await interaction.followup.send(embeds=embeds, ephemeral=True)


async def qotd_targets(bot: StudyBot) -> dict[int, tuple[int, int]]:
    """Server → (channel, UTC hour): what moderators set with /config qotd, else the settings' channel."""
    configured = await bot.services.moderation.guilds_with_qotd()
    targets = {c.guild_id: (c.qotd_channel_id, c.qotd_hour or 0) for c in configured if c.qotd_channel_id}
    decided = {c.guild_id for c in configured}  # including servers that turned it off
    default = bot.settings.qotd_channel_id
    channel = bot.get_channel(default) if default is not None else None
    if isinstance(channel, discord.TextChannel) and default is not None and channel.guild.id not in decided:
        targets[channel.guild.id] = (default, bot.settings.qotd_hour)
    return targets


async def post_questions_of_the_day(bot: StudyBot) -> None:
    for guild_id, (channel_id, hour) in (await qotd_targets(bot)).items():
        channel = bot.get_channel(channel_id)
        if channel is None:
            continue  # a server this process (or shard) does not serve, or a channel that is gone
        if not isinstance(channel, discord.TextChannel) or channel.guild.id != guild_id:
            log.warning("question-of-the-day channel %s is not a text channel of server %s", channel_id, guild_id)
            continue
        try:
            await post_question_of_the_day(bot, channel, hour)
        except discord.HTTPException:
            log.warning("could not post the question of the day in channel %s", channel_id, exc_info=True)


async def post_question_of_the_day(bot: StudyBot, channel: discord.TextChannel, hour: int) -> None:
    post = await bot.services.daily.claim_qotd(channel.guild.id, channel.id, hour)
    if post is None or post.id is None:
        return
    _, item = await bot.services.daily.question(post.id, channel.guild.id)  # may be one of the server's own items
    embed = question_embed(Question("qotd", 0, 1, item), heading="🌞 Question of the day")
    embed.description = f"{embed.description}\n\nAnswer with the buttons: only you will see the result."
    view = discord.ui.View(timeout=None)
    for choice in range(len(LETTERS)):
        view.add_item(QotdButton(post.id, choice))
    message = await channel.send(embed=embed, view=view)
    await bot.services.daily.posted(post.id, message.id)
    try:
        await message.create_thread(name=_ui.clip(f"Discuss: {item.prompt}", _limits.THREAD_NAME))
    except discord.HTTPException:
        log.warning("could not open the discussion thread for the question of the day", exc_info=True)


async def send_reminders(bot: StudyBot) -> None:
    for reminder in await bot.services.daily.due_reminders():
        streak = reminder.streak
        keep = f" to keep your {streak}-day streak" if streak else ""
        try:
            user = bot.get_user(reminder.learner.user_id) or await bot.fetch_user(reminder.learner.user_id)
            await user.send(
                f"⏰ Time for today's practice{keep}! Use /quiz in your study server. "
                "(Turn these off with /settings reminder:off.)"
            )
        except discord.HTTPException:
            # Claimed already, so it is not retried: a reminder is sent at most once a day, never twice.
            log.info("could not DM reminder to %s", reminder.learner.user_id)
