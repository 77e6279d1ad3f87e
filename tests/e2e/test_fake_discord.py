"""Self-tests of the fake Discord, driven by tiny discord.py bots defined here (not the project's bot)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from tests.e2e.conftest import DiscordErrorLog
from tests.e2e.fake_discord import FakeDiscord, Upload, World, run_client

# The fake_discord fixture runs on the test's own loop, not the suite's shared session loop.
pytestmark = pytest.mark.asyncio(loop_scope="function")

NO_PINGS: dict[str, list[str]] = {"parse": []}


class TinyBot(commands.Bot):
    """A minimal bot: members and message-content intents, no pings by default, ready 0.1 s after the guilds."""

    def __init__(
        self,
        *,
        sync_guild: int | None = None,
        sync_global: bool = False,
        allowed_mentions: discord.AllowedMentions | None = discord.AllowedMentions.none(),  # noqa: B008
        message_content: bool = True,
        on_setup: Callable[[TinyBot], Awaitable[None]] | None = None,
    ) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = message_content
        super().__init__(
            command_prefix="!",
            intents=intents,
            allowed_mentions=allowed_mentions,
            guild_ready_timeout=0.1,
            help_command=None,
        )
        self._sync_guild = sync_guild
        self._sync_global = sync_global
        self._on_setup = on_setup

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before a re-IDENTIFY (it protects the real IDENTIFY rate limit)."""

    async def setup_hook(self) -> None:
        if self._on_setup is not None:
            await self._on_setup(self)
        if self._sync_guild is not None:
            await self.tree.sync(guild=discord.Object(self._sync_guild))
        if self._sync_global:
            await self.tree.sync()


@pytest.fixture
def world(fake_discord: FakeDiscord) -> World:
    return fake_discord.add_default_world()


def guild_bot(world: World, **kwargs: Any) -> tuple[TinyBot, discord.Object]:
    """A TinyBot that syncs its guild commands to the world's guild."""
    return TinyBot(sync_guild=world.guild.id, **kwargs), discord.Object(world.guild.id)


def add_ping(bot: TinyBot, guild: discord.Object) -> None:
    @bot.tree.command(name="ping", description="Check the bot is alive", guild=guild)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")


async def wait_until(predicate: Callable[[], Any], fake: FakeDiscord, what: str) -> None:
    """Wait for bot-side state (a list filled by a callback) without sleeping blindly."""
    await fake.wait_for(lambda: predicate() or None, timeout=5, what=what)


# ---------------------------------------------------------------------------------------------------- gateway


async def test_ready_fills_discord_py_cache(fake_discord: FakeDiscord, world: World) -> None:
    """READY and GUILD_CREATE give discord.py the guild, its channels, roles and members."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        guild = bot.get_guild(world.guild.id)
        assert guild is not None and guild.name == "Study Hall"
        channel = guild.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel) and channel.name == "general"
        member = guild.get_member(world.user.id)
        assert member is not None and member.display_name == "Alice"
        assert world.role.id in [role.id for role in member.roles]
        assert guild.me.id == fake_discord.bot_user.id
        assert guild.owner_id == world.owner.id
        assert bot.user is not None and bot.user.id == fake_discord.bot_user.id
        assert bot.application_id == fake_discord.application_id
    assert fake_discord.identifies[0]["intents"] == bot.intents.value
    assert fake_discord.connections[0].query["encoding"] == "json"
    assert [event for _, event, _ in fake_discord.events[:2]] == ["READY", "GUILD_CREATE"]


async def test_heartbeats_are_acknowledged(fake_discord: FakeDiscord, world: World) -> None:
    """The gateway answers every heartbeat with op 11, so discord.py measures a finite latency."""
    fake_discord.heartbeat_interval_ms = 100
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        connection = fake_discord.connections[-1]
        await fake_discord.wait_for(lambda: connection.heartbeats >= 3, what="three heartbeats")
        assert bot.latency < 1.0
    heartbeats = [p for p in connection.received if p["op"] == 1]
    assert len(heartbeats) == connection.heartbeats >= 3


async def test_reconnect_resumes_the_session(fake_discord: FakeDiscord, world: World) -> None:
    """After op 7 RECONNECT discord.py RESUMEs the same session and interactions still reach it."""
    bot, guild = guild_bot(world)
    add_ping(bot, guild)
    resumed: list[bool] = []

    async def on_resumed() -> None:
        resumed.append(True)

    bot.add_listener(on_resumed)
    async with run_client(bot, fake_discord):
        session = await fake_discord.request_reconnect()
        await fake_discord.wait_for(lambda: session.id in fake_discord.resumes, what="a RESUME")
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "ping")
        assert (await handle.wait_message()).content == "pong"
        await wait_until(lambda: resumed, fake_discord, "on_resumed")
    assert len(fake_discord.identifies) == 1
    assert len(fake_discord.connections) == 2


async def test_unresumable_session_reidentifies(fake_discord: FakeDiscord, world: World) -> None:
    """A RESUME of an invalidated session gets op 9, and discord.py identifies a fresh session."""
    bot, guild = guild_bot(world)
    add_ping(bot, guild)
    async with run_client(bot, fake_discord):
        await fake_discord.request_reconnect(resumable=False)
        await fake_discord.wait_for(lambda: len(fake_discord.identifies) == 2, what="a second IDENTIFY")
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "ping")
        assert (await handle.wait_message()).content == "pong"
    assert [p["op"] for p in fake_discord.connections[1].received if p["op"] in (2, 6)] == [6]
    assert fake_discord.resumes == []


async def test_autosharded_bot_connects_through_gateway_bot(fake_discord: FakeDiscord, world: World) -> None:
    """An AutoShardedBot asks GET /gateway/bot for its shard count and URL and connects to the fake."""
    intents = discord.Intents.default()
    bot = commands.AutoShardedBot(command_prefix="!", intents=intents, guild_ready_timeout=0.1, help_command=None)
    async with run_client(bot, fake_discord):
        assert bot.get_guild(world.guild.id) is not None
    assert fake_discord.requests_to("GET", "/gateway/bot")
    assert fake_discord.identifies[0]["shard"] == [0, 1]


async def test_restarted_client_handles_old_buttons(fake_discord: FakeDiscord, world: World) -> None:
    """Messages outlive a client: a persistent view on a new client receives clicks on the old message."""
    clicks: list[int] = []

    class Again(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Practise again", custom_id="practice:again")
        async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Again]) -> None:
            clicks.append(interaction.user.id)
            await interaction.response.send_message("Here is another question", ephemeral=True)

    first = TinyBot()
    async with run_client(first, fake_discord):
        channel = first.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("Practise again?", view=Again())
    [old] = fake_discord.find_messages(custom_id="practice:again")

    async def register(bot: TinyBot) -> None:
        bot.add_view(Again())

    second = TinyBot(on_setup=register)
    async with run_client(second, fake_discord):
        handle = await fake_discord.click(world.user, old, "practice:again")
        reply = await handle.wait_message()
    assert reply.ephemeral and reply.content == "Here is another question"
    assert clicks == [world.user.id]
    assert len(fake_discord.identifies) == 2 and len(fake_discord.sessions) == 2


# ---------------------------------------------------------------------------------------------------- commands


async def test_synced_slash_command_is_recorded_and_answered(fake_discord: FakeDiscord, world: World) -> None:
    """tree.sync stores the command with an id; invoking it delivers typed options and records the reply."""
    bot, guild = guild_bot(world)
    seen: dict[str, Any] = {}

    @bot.tree.command(name="ask", description="Ask a study question", guild=guild)
    @app_commands.describe(question="What you want to know", depth="How deep to go", who="Who else should see it")
    async def ask(
        interaction: discord.Interaction,
        question: str,
        depth: app_commands.Range[int, 1, 3] = 1,
        who: discord.Member | None = None,
    ) -> None:
        seen.update(
            question=question,
            depth=depth,
            who=who,
            guild=interaction.guild,
            channel=interaction.channel,
            user=interaction.user,
            command_id=dict(interaction.data or {}).get("id"),
        )
        await interaction.response.send_message(f"You asked {question!r} at depth {depth}")

    async with run_client(bot, fake_discord):
        [command] = fake_discord.commands[world.guild.id]
        options = {"question": "What is overfitting?", "depth": 2, "who": world.other_user}
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "ask", options)
        reply = await handle.wait_message()

    assert [(o["name"], o["type"]) for o in command["options"]] == [("question", 3), ("depth", 4), ("who", 6)]
    assert reply.content == "You asked 'What is overfitting?' at depth 2"
    assert handle.ack_type == 4 and not reply.ephemeral
    assert handle.ack is not None and handle.ack.json["data"]["allowed_mentions"] == NO_PINGS
    assert handle.ack.response["interaction"]["response_message_id"] == str(reply.id)
    assert isinstance(seen["who"], discord.Member) and seen["who"].id == world.other_user.id
    assert seen["guild"].id == world.guild.id and seen["channel"].id == world.channel.id
    assert isinstance(seen["user"], discord.Member) and seen["user"].id == world.user.id
    assert seen["command_id"] == command["id"]
    path = f"/applications/{fake_discord.application_id}/guilds/{world.guild.id}/commands"
    assert len(fake_discord.requests_to("PUT", path)) == 1


async def test_subcommands_are_routed(fake_discord: FakeDiscord, world: World) -> None:
    """Options nest under a type 1 subcommand option, and discord.py routes to the group's subcommand."""
    bot, guild = guild_bot(world)
    quiz = app_commands.Group(name="quiz", description="Quizzes", guild_ids=[world.guild.id])

    @quiz.command(name="start", description="Start a quiz")
    async def start(interaction: discord.Interaction, topic: str) -> None:
        await interaction.response.send_message(f"Quiz on {topic}")

    bot.tree.add_command(quiz, guild=guild)
    async with run_client(bot, fake_discord):
        handle = await fake_discord.slash(
            world.user, world.guild, world.channel, "quiz", {"topic": "probability"}, subcommand="start"
        )
        reply = await handle.wait_message()
    assert reply.content == "Quiz on probability"
    [option] = handle.payload["data"]["options"]
    assert option["type"] == 1 and option["options"][0] == {"name": "topic", "type": 3, "value": "probability"}


async def test_defer_followup_and_edit_original(fake_discord: FakeDiscord, world: World) -> None:
    """A deferral "thinks"; the first followup fills it, edits change it, and later followups are new messages."""
    bot, guild = guild_bot(world)

    @bot.tree.command(name="slow", description="Answer slowly", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("first")
        await interaction.edit_original_response(content="first, edited")
        await interaction.edit_original_response(embed=discord.Embed(title="Sources"))
        await interaction.followup.send("second")

    async with run_client(bot, fake_discord):
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "slow")
        second = await handle.wait_followup(1)

    assert handle.ack_type == 5
    first = handle.followups[0]
    assert first is handle.original and not first.loading
    assert first.content == "first, edited" and first.embeds[0]["title"] == "Sources"
    assert [v["content"] for v in first.history] == ["", "first", "first, edited"]
    assert first.history[0]["flags"] & 128  # the deferred "is thinking…" placeholder
    assert second is not first and second.content == "second"
    edits = handle.requests[2:4]
    assert all(r.method == "PATCH" and r.path.endswith("/messages/@original") for r in edits)
    # discord.py adds the client's allowed_mentions to interaction edits even without content.
    assert all(r.json["allowed_mentions"] == NO_PINGS for r in edits)


async def test_ephemeral_responses_are_flagged(fake_discord: FakeDiscord, world: World) -> None:
    """Ephemeral replies and ephemeral deferrals produce flag-64 messages that never reach the channel."""
    bot, guild = guild_bot(world)

    @bot.tree.command(name="secret", description="Reply privately", guild=guild)
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("only you", ephemeral=True)

    @bot.tree.command(name="secret-later", description="Reply privately, later", guild=guild)
    async def secret_later(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("still only you")

    async with run_client(bot, fake_discord):
        now = await fake_discord.slash(world.user, world.guild, world.channel, "secret")
        later = await fake_discord.slash(world.user, world.guild, world.channel, "secret-later")
        immediate, deferred = await now.wait_message(), await later.wait_message()
        history = await bot.http.logs_from(world.channel.id, 50)

    assert immediate.ephemeral and immediate.content == "only you"
    assert now.ack is not None and now.ack.response["interaction"]["response_message_ephemeral"] is True
    assert deferred.ephemeral and deferred.content == "still only you"
    assert later.ack is not None and later.ack.json["data"]["flags"] == 64
    created = {d["id"] for _, event, d in fake_discord.events if event == "MESSAGE_CREATE"}
    assert str(immediate.id) not in created and str(deferred.id) not in created
    assert history == []


async def test_button_round_trip(fake_discord: FakeDiscord, world: World) -> None:
    """The bot posts buttons; clicks update the message by callback type 7, or by type 6 then an @original edit."""
    bot, guild = guild_bot(world)

    class Counter(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=60)
            self.count = 0

        @discord.ui.button(label="Add one", custom_id="counter:add", style=discord.ButtonStyle.primary)
        async def add(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
            self.count += 1
            await interaction.response.edit_message(content=f"Count: {self.count}", view=self)

        @discord.ui.button(label="Reset", custom_id="counter:reset")
        async def reset(self, interaction: discord.Interaction, button: discord.ui.Button[Counter]) -> None:
            self.count = 0
            await interaction.response.defer()  # on a component: type 6, "deferred update"
            await interaction.edit_original_response(content="Count: 0")

    @bot.tree.command(name="count", description="Count clicks", guild=guild)
    async def count(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Count: 0", view=Counter())

    async with run_client(bot, fake_discord):
        message = await (await fake_discord.slash(world.user, world.guild, world.channel, "count")).wait_message()
        assert message.custom_ids() == ["counter:add", "counter:reset"]
        first = await fake_discord.click(world.user, message, "counter:add")
        await first.wait_message(lambda m: m.content == "Count: 1")
        second = await fake_discord.click(world.other_user, message, "counter:add")
        updated = await second.wait_message(lambda m: m.content == "Count: 2")
        reset = await fake_discord.click(world.user, message, "counter:reset")
        await reset.wait_message(lambda m: m.content == "Count: 0")

    assert first.ack_type == second.ack_type == 7
    assert reset.ack_type == 6 and reset.requests[1].path.endswith("/messages/@original")
    assert updated is message and len(message.history) == 3
    assert first.payload["message"]["id"] == str(message.id)


async def test_select_round_trip(fake_discord: FakeDiscord, world: World) -> None:
    """Picking values in a string select delivers them to the select's callback."""
    bot, guild = guild_bot(world)

    class Topics(discord.ui.View):
        @discord.ui.select(
            custom_id="topics",
            max_values=2,
            options=[
                discord.SelectOption(label="Linear algebra", value="la"),
                discord.SelectOption(label="Probability", value="prob"),
                discord.SelectOption(label="Calculus", value="calc"),
            ],
        )
        async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Topics]) -> None:
            await interaction.response.send_message(f"Picked {', '.join(select.values)}", ephemeral=True)

    @bot.tree.command(name="topics", description="Pick topics", guild=guild)
    async def topics(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Which topics?", view=Topics())

    async with run_client(bot, fake_discord):
        message = await (await fake_discord.slash(world.user, world.guild, world.channel, "topics")).wait_message()
        pick = await fake_discord.click(world.user, message, "topics", values=["prob", "la"])
        reply = await pick.wait_message()
    assert reply.content == "Picked prob, la"
    assert pick.payload["data"] == {"custom_id": "topics", "component_type": 3, "values": ["prob", "la"]}


async def test_modal_round_trip(fake_discord: FakeDiscord, world: World) -> None:
    """The bot opens a modal (row-wrapped and Label-wrapped text inputs); the fake submits it; the bot reads it."""
    bot, guild = guild_bot(world)
    received: list[tuple[str, str, str]] = []

    class Feedback(discord.ui.Modal, title="Feedback"):
        topic: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Topic", custom_id="fb:topic")
        details: discord.ui.TextInput[Feedback] = discord.ui.TextInput(
            label="Details", custom_id="fb:details", required=False
        )
        mood: discord.ui.Label[Feedback] = discord.ui.Label(
            text="Mood", component=discord.ui.TextInput(custom_id="fb:mood")
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            assert isinstance(self.mood.component, discord.ui.TextInput)
            received.append((self.topic.value, self.details.value, self.mood.component.value))
            await interaction.response.send_message("Thanks!", ephemeral=True)

    @bot.tree.command(name="feedback", description="Send feedback", guild=guild)
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback(custom_id="feedback"))

    async with run_client(bot, fake_discord):
        opener = await fake_discord.slash(world.user, world.guild, world.channel, "feedback")
        modal = await opener.wait_modal()
        assert modal.title == "Feedback" and modal.field_ids() == ["fb:topic", "fb:details", "fb:mood"]
        submit = await fake_discord.submit_modal(world.user, "feedback", {"fb:topic": "FAISS", "fb:mood": "curious"})
        reply = await submit.wait_message()
    assert opener.ack_type == 9 and submit.type == 5
    assert received == [("FAISS", "", "curious")]
    assert reply.content == "Thanks!" and reply.ephemeral


async def test_autocomplete_choices(fake_discord: FakeDiscord, world: World) -> None:
    """An autocomplete interaction for the focused option is answered with callback type 8 and its choices."""
    bot, guild = guild_bot(world)
    topics = ["neural networks", "naive bayes", "linear regression"]

    @bot.tree.command(name="study", description="Study a topic", guild=guild)
    async def study(interaction: discord.Interaction, topic: str) -> None:
        await interaction.response.send_message(topic)

    @study.autocomplete("topic")
    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=t, value=t) for t in topics if t.startswith(current)]

    async with run_client(bot, fake_discord):
        handle = await fake_discord.autocomplete(
            world.user, world.guild, world.channel, "study", {"topic": "n"}, focused="topic"
        )
        choices = await handle.wait_choices()
    assert handle.ack_type == 8
    assert [c["name"] for c in choices] == ["neural networks", "naive bayes"]


async def test_attachment_option_and_file_upload(fake_discord: FakeDiscord, world: World) -> None:
    """An attachment option is readable from the fake's CDN, and a file in the reply is parsed from multipart."""
    bot, guild = guild_bot(world)

    @bot.tree.command(name="shout", description="Shout a file back", guild=guild)
    async def shout(interaction: discord.Interaction, notes: discord.Attachment) -> None:
        data = await notes.read()
        upper = discord.File(io.BytesIO(data.upper()), filename="NOTES.txt")
        await interaction.response.send_message(f"{notes.filename}: {len(data)} bytes", file=upper)

    async with run_client(bot, fake_discord):
        upload = Upload("notes.md", b"gradient descent")
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "shout", {"notes": upload})
        reply = await handle.wait_message()
    assert reply.content == "notes.md: 16 bytes"
    [attachment] = reply.attachments
    assert attachment["filename"] == "NOTES.txt" and attachment["size"] == 16
    assert handle.ack is not None
    [sent] = handle.ack.files
    assert (sent.field, sent.filename, sent.data) == ("files[0]", "NOTES.txt", b"GRADIENT DESCENT")
    assert handle.ack.json["data"]["attachments"] == [{"id": 0, "filename": "NOTES.txt"}]


# ---------------------------------------------------------------------------------------------------- messages


async def test_mention_reply_and_thread(fake_discord: FakeDiscord, world: World) -> None:
    """A message mentioning the bot gets a reply and a thread; messages in that thread reach the bot."""
    bot = TinyBot()
    in_thread: list[str] = []

    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        if isinstance(message.channel, discord.Thread):
            in_thread.append(message.content)
            await message.channel.send(f"echo: {message.content}")
        elif bot.user in message.mentions:
            await message.reply("Let's talk in a thread", mention_author=False)
            thread = await message.create_thread(name="Study thread")
            await thread.send("Ask away")

    bot.add_listener(on_message)
    async with run_client(bot, fake_discord):
        question = await fake_discord.message(world.user, world.channel, f"{fake_discord.bot_user.mention} help me")
        reply = await fake_discord.wait_message(lambda m: m.reference_id == question.id)
        await fake_discord.wait_message(lambda m: m.content == "Ask away")
        [thread] = fake_discord.threads_of(world.channel)
        assert isinstance(bot.get_channel(thread.id), discord.Thread)
        await fake_discord.message(world.user, thread, "what is a gradient?")
        echo = await fake_discord.wait_message(lambda m: m.content == "echo: what is a gradient?")

    assert reply.data["type"] == 19 and reply.content == "Let's talk in a thread"
    assert thread.id == question.id and thread.type == 11 and thread.name == "Study thread"
    assert echo.channel_id == thread.id
    assert in_thread == ["what is a gradient?"]
    assert [event for _, event, _ in fake_discord.events].count("THREAD_CREATE") == 1


async def test_message_content_needs_the_intent_or_a_mention(fake_discord: FakeDiscord, world: World) -> None:
    """Without the message-content intent, other users' messages arrive blank unless they mention the bot."""
    bot = TinyBot(message_content=False)
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    bot.add_listener(on_message)
    mention = f"{fake_discord.bot_user.mention} with a mention"
    async with run_client(bot, fake_discord):
        await fake_discord.message(world.user, world.channel, "plain words")
        await fake_discord.message(world.user, world.channel, mention)
        await wait_until(lambda: len(seen) == 2, fake_discord, "two messages")
    assert seen == ["", mention]


async def test_direct_messages(fake_discord: FakeDiscord, world: World) -> None:
    """The bot opens a DM with POST /users/@me/channels and posts in it; a DM-context slash command works too."""
    bot = TinyBot(sync_global=True)

    @bot.tree.command(name="remind", description="Remind me by DM")
    @app_commands.allowed_contexts(guilds=True, dms=True)
    async def remind(interaction: discord.Interaction) -> None:
        where = "DM" if interaction.guild is None else "guild"
        await interaction.response.send_message(f"Reminder set from {where}", ephemeral=interaction.guild is not None)
        await interaction.user.send("Time to study!")

    async with run_client(bot, fake_discord):
        in_guild = await fake_discord.slash(world.user, world.guild, world.channel, "remind")
        await in_guild.wait_message()
        dm = fake_discord.dm_channel(world.user)
        await fake_discord.wait_message(lambda m: m.channel_id == dm.id and m.content == "Time to study!")
        in_dm = await fake_discord.slash(world.user, None, None, "remind")
        reply = await in_dm.wait_message()
        await fake_discord.wait_for(
            lambda: len(fake_discord.find_messages(channel=dm, contains="Time to study!")) == 2, what="second DM"
        )

    assert reply.content == "Reminder set from DM" and reply.channel_id == dm.id
    assert "user" in in_dm.payload and "member" not in in_dm.payload
    [opened, *_] = fake_discord.requests_to("POST", "/users/@me/channels")
    assert opened.json == {"recipient_id": world.user.id}


async def test_a_held_request_waits_then_is_refused_never_carried_out(fake_discord: FakeDiscord, world: World) -> None:
    """``hold`` keeps a matching request unanswered; ``release_holds`` refuses it with a 400 and stores nothing."""
    post = rf"/channels/{world.channel.id}/messages"
    fake_discord.hold("POST", post)
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        channel = bot.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        sending = asyncio.create_task(channel.send("held"))
        [held] = await fake_discord.wait_for(lambda: fake_discord.requests_to("POST", post) or None, what="the post")
        await asyncio.sleep(0.2)
        assert not sending.done() and held.status == 0  # no answer yet
        fake_discord.release_holds()
        with pytest.raises(discord.HTTPException) as refused:
            await sending
        assert refused.value.status == 400 and held.status == 400
        assert fake_discord.find_messages(channel=world.channel) == []
        await channel.send("after")  # released holds are gone: the next request is carried out
    assert [m.content for m in fake_discord.find_messages(channel=world.channel)] == ["after"]


# ---------------------------------------------------------------------------------------------------- rules


async def test_second_initial_response_is_refused(fake_discord: FakeDiscord, world: World) -> None:
    """Answering one interaction twice gets Discord's 40060, and discord.py refuses it even before sending."""
    bot, guild = guild_bot(world)
    errors: list[Exception] = []

    @bot.tree.command(name="twice", description="Answer twice", guild=guild)
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("once")
        try:
            await interaction.response.send_message("again")
        except discord.InteractionResponded as exc:
            errors.append(exc)
        interaction.response._response_type = None  # defeat discord.py's own guard to reach Discord
        try:
            await interaction.response.send_message("and again")
        except discord.HTTPException as exc:
            errors.append(exc)

    async with run_client(bot, fake_discord):
        await fake_discord.slash(world.user, world.guild, world.channel, "twice")
        await wait_until(lambda: len(errors) == 2, fake_discord, "both refusals")
    assert isinstance(errors[0], discord.InteractionResponded)
    assert isinstance(errors[1], discord.HTTPException) and errors[1].code == 40060
    violation = await fake_discord.expect_violation("double_ack")
    assert "second initial response" in violation.detail


async def test_late_acknowledgement_is_a_violation(fake_discord: FakeDiscord, world: World) -> None:
    """An answer after the acknowledgement window is recorded and refused with 10062 Unknown interaction."""
    fake_discord.ack_timeout = 0.3
    bot, guild = guild_bot(world)
    errors: list[discord.HTTPException] = []

    @bot.tree.command(name="dawdle", description="Answer too late", guild=guild)
    async def dawdle(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.6)
        try:
            await interaction.response.send_message("sorry")
        except discord.NotFound as exc:
            errors.append(exc)

    async with run_client(bot, fake_discord):
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "dawdle")
        await wait_until(lambda: errors, fake_discord, "the refused late answer")
    assert errors[0].code == 10062
    violation = await fake_discord.expect_violation("ack_timeout")
    assert violation.interaction_id == handle.id
    assert handle.ack is None


async def test_unanswered_interaction_is_a_violation(fake_discord: FakeDiscord, world: World) -> None:
    """The watchdog records an interaction the bot never acknowledges."""
    fake_discord.ack_timeout = 0.3
    bot, guild = guild_bot(world)

    @bot.tree.command(name="ignore", description="Never answer", guild=guild)
    async def ignore(interaction: discord.Interaction) -> None:
        return None

    async with run_client(bot, fake_discord):
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "ignore")
        violation = await fake_discord.expect_violation("ack_timeout")
    assert violation.interaction_id == handle.id and "not acknowledged in time" in violation.detail


async def test_followup_before_acknowledgement_is_refused(fake_discord: FakeDiscord, world: World) -> None:
    """A followup before the initial response gets 10015 Unknown Webhook and a violation."""
    bot, guild = guild_bot(world)
    errors: list[discord.HTTPException] = []

    @bot.tree.command(name="eager", description="Follow up too early", guild=guild)
    async def eager(interaction: discord.Interaction) -> None:
        try:
            await interaction.followup.send("too early")
        except discord.NotFound as exc:
            errors.append(exc)
        await interaction.response.send_message("now")

    async with run_client(bot, fake_discord):
        handle = await fake_discord.slash(world.user, world.guild, world.channel, "eager")
        await handle.wait_message()
    assert errors[0].code == 10015
    await fake_discord.expect_violation("not_acknowledged")


def _row(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(items)}


def _button(custom_id: str, label: str = "Go") -> dict[str, Any]:
    return {"type": 2, "style": 1, "custom_id": custom_id, "label": label}


_SELECT = {"type": 3, "custom_id": "pick", "options": [{"label": "A", "value": "a"}]}


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        pytest.param({"content": "x" * 2001}, "content_too_long", id="content-2001"),
        pytest.param({"components": [_row(*(_button(f"b{i}") for i in range(6)))]}, "component_limits", id="6-buttons"),
        pytest.param({"components": [_row(_button(f"r{i}")) for i in range(6)]}, "component_limits", id="6-rows"),
        pytest.param({"components": [_row(_SELECT, _button("b"))]}, "component_limits", id="select-shares-row"),
        pytest.param({"components": [_row(_button("x" * 101))]}, "component_limits", id="custom-id-101"),
        pytest.param({"components": [_row(_button("b", "x" * 81))]}, "component_limits", id="label-81"),
        pytest.param({"components": [_row(_button("b"), _button("b"))]}, "component_limits", id="duplicate-id"),
        pytest.param({"embeds": [{"title": "x" * 257}]}, "embed_limits", id="title-257"),
        pytest.param({"embeds": [{"description": "x" * 4097}]}, "embed_limits", id="description-4097"),
        pytest.param({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "embed_limits", id="26-fields"),
        pytest.param({"embeds": [{"fields": [{"name": "x" * 257, "value": "v"}]}]}, "embed_limits", id="name-257"),
        pytest.param({"embeds": [{"fields": [{"name": "n", "value": "x" * 1025}]}]}, "embed_limits", id="value-1025"),
        pytest.param({"embeds": [{"footer": {"text": "x" * 2049}}]}, "embed_limits", id="footer-2049"),
        pytest.param({"embeds": [{"author": {"name": "x" * 257}}]}, "embed_limits", id="author-257"),
        pytest.param(
            {"embeds": [{"description": "x" * 4000}, {"description": "x" * 2001}]}, "embed_limits", id="total-6001"
        ),
        pytest.param({"embeds": [{"title": "t"}] * 11}, "embed_limits", id="11-embeds"),
        pytest.param({}, "empty_message", id="empty"),
    ],
)
async def test_payloads_over_discord_limits_are_refused(
    fake_discord: FakeDiscord, world: World, payload: dict[str, Any], kind: str
) -> None:
    """A message over one of Discord's limits gets Discord's 400 (sent raw, past discord.py's own checks)."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=world.channel.id)
        with pytest.raises(discord.HTTPException) as refused:
            await bot.http.request(route, json={"allowed_mentions": NO_PINGS, **payload})
    assert refused.value.status == 400 and refused.value.code in (50035, 50006)
    await fake_discord.expect_violation(kind)


async def test_discord_py_sends_long_content_unchecked(fake_discord: FakeDiscord, world: World) -> None:
    """discord.py does not check the 2,000-character limit itself, so channel.send reaches the fake and fails."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        channel = bot.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send("x" * 2001)
    assert refused.value.code == 50035 and "2000 or fewer" in str(refused.value)
    await fake_discord.expect_violation("content_too_long")


async def test_oversized_embed_in_a_command_is_caught(
    fake_discord: FakeDiscord, world: World, discord_errors: DiscordErrorLog
) -> None:
    """An embed over 4,096 characters fails the response; the error log and the missing ack are both recorded."""
    fake_discord.ack_timeout = 0.3
    bot, guild = guild_bot(world)

    @bot.tree.command(name="essay", description="Too long an answer", guild=guild)
    async def essay(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(embed=discord.Embed(description="x" * 4097))

    async with run_client(bot, fake_discord):
        await fake_discord.slash(world.user, world.guild, world.channel, "essay")
        await fake_discord.expect_violation("embed_limits")
        await fake_discord.expect_violation("ack_timeout")
        await wait_until(lambda: discord_errors.records, fake_discord, "discord.py's error log")
    record = discord_errors.expect("Ignoring exception in command")
    assert record.exc_info is not None and "4096 or fewer" in str(record.exc_info[1])


async def test_missing_or_pinging_allowed_mentions(fake_discord: FakeDiscord, world: World) -> None:
    """Without a client default, payloads lack allowed_mentions; a pinging one is flagged; replied_user is fine."""
    bot = TinyBot(allowed_mentions=None)
    async with run_client(bot, fake_discord):
        channel = bot.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        plain = await channel.send("hello")
        missing = await fake_discord.expect_violation("allowed_mentions_missing")
        await channel.send("@everyone study!", allowed_mentions=discord.AllowedMentions(everyone=True))
        pinging = await fake_discord.expect_violation("allowed_mentions_pings")
        only_reply = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)
        await plain.reply("replying", allowed_mentions=only_reply)
    assert "hello" in missing.detail and "everyone" in pinging.detail
    assert fake_discord.violations == []


async def test_message_edit_without_content_omits_allowed_mentions(fake_discord: FakeDiscord, world: World) -> None:
    """discord.py adds the client's allowed_mentions to Message.edit only when content is given; the fake notices."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        channel = bot.get_channel(world.channel.id)
        assert isinstance(channel, discord.TextChannel)
        message = await channel.send("Question 1")
        await message.edit(embed=discord.Embed(title="Hint"))
        violation = await fake_discord.expect_violation("allowed_mentions_missing")
        await message.edit(content="Question 1 (hinted)")
        await message.edit(view=None, allowed_mentions=discord.AllowedMentions.none())
    edits = fake_discord.requests_to("PATCH", r"/channels/\d+/messages/\d+")
    assert "allowed_mentions" not in edits[0].json and "edit of" in violation.detail
    assert edits[1].json["allowed_mentions"] == edits[2].json["allowed_mentions"] == NO_PINGS


async def test_invalid_command_sync_is_refused(fake_discord: FakeDiscord, world: World) -> None:
    """Commands with invalid names or descriptions get Discord's 400 on sync."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        bad = [{"name": "Bad Name", "description": "", "type": 1}]
        with pytest.raises(discord.HTTPException) as refused:
            await bot.http.bulk_upsert_guild_commands(fake_discord.application_id, world.guild.id, bad)
    assert refused.value.code == 50035
    violation = await fake_discord.expect_violation("command_limits")
    assert "lowercase" in violation.detail and "description" in violation.detail


async def test_unhandled_route_and_auth(fake_discord: FakeDiscord, world: World) -> None:
    """Unknown routes get a JSON 404 and a violation; JSON answers say exactly application/json; auth is checked."""
    bot = TinyBot()
    async with run_client(bot, fake_discord):
        with pytest.raises(discord.NotFound):
            await bot.http.request(Route("GET", "/guilds/{guild_id}/audit-logs", guild_id=world.guild.id))
    unhandled = await fake_discord.expect_violation("unhandled_route")
    assert "audit-logs" in unhandled.detail

    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bot {fake_discord.token}"}
        async with session.get(f"{fake_discord.rest_base}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["id"] == str(fake_discord.bot_user.id)
        async with session.get(f"{fake_discord.rest_base}/users/@me") as response:
            assert response.status == 401
    await fake_discord.expect_violation("unauthorized")


async def test_discord_error_logs_fail_the_test(
    fake_discord: FakeDiscord, world: World, discord_errors: DiscordErrorLog
) -> None:
    """An exception in a command is logged by discord.py at ERROR, which the autouse guard turns into a failure."""
    bot, guild = guild_bot(world)

    @bot.tree.command(name="boom", description="Fail after answering", guild=guild)
    async def boom(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("about to fail")
        raise RuntimeError("boom")

    async with run_client(bot, fake_discord):
        await (await fake_discord.slash(world.user, world.guild, world.channel, "boom")).wait_message()
        await wait_until(lambda: discord_errors.records, fake_discord, "discord.py's error log")
    with pytest.raises(pytest.fail.Exception, match="boom"):
        discord_errors.verify()  # what the guard runs at teardown
    record = discord_errors.expect("Ignoring exception in command")
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])
