"""StudyBot end to end: the real `studybot run` code path and discord.py client against the fake Discord."""

# Waits take a bounded timeout= on purpose, like the fake's own helpers.

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.studybot import ACK_LIMIT, Running, answered, make_settings, right_answer

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="function")]

EPHEMERAL = 64
COMMANDS = {
    *("ask", "quiz", "streak", "leaderboard", "progress", "resources", "settings", "privacy", "forget-me", "help"),
    *("kb", "quizbank", "config"),  # moderators' command groups
}


@pytest_asyncio.fixture(loop_scope="function")
async def world(fake_discord: FakeDiscord) -> World:
    return fake_discord.add_default_world()


@pytest_asyncio.fixture(loop_scope="function")
async def running(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> AsyncIterator[Running]:
    runner = Running(fake_discord, make_settings(fake_discord, world, tmp_path, shipped_service.settings.index_dir))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


# ------------------------------------------------------------------------------------------------ start-up


async def test_commands_sync_to_the_dev_server(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """On start-up every slash command is synced to STUDYBOT_DEV_GUILD_ID, each with a description."""
    synced = fake_discord.commands.get(world.guild.id, [])
    assert {c["name"] for c in synced} == COMMANDS
    assert all(c.get("description") for c in synced)


# ---------------------------------------------------------------------------------------------------- /ask


async def test_ask_answers_in_public_with_sources_and_buttons(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/ask defers at once, then answers publicly with the answer, linked sources, confidence and three buttons."""
    handle = await fake_discord.slash(
        world.user, world.guild, world.channel, "ask", {"question": "What is overfitting?"}
    )
    message = await answered(handle)
    assert handle.ack_type == 5 and not message.ephemeral
    embed = message.embeds[0]
    assert "overfit" in embed["description"].lower()
    assert embed["fields"][0]["name"] == "Sources"
    assert "Confidence" in embed["footer"]["text"]
    ids = message.custom_ids()
    assert [i.split(":")[1] for i in ids] == ["up", "down", "quiz"]


async def test_ask_abstains_kindly_with_closest_topics(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """An off-topic question is declined with where to look, and no 'Quiz me' button."""
    handle = await fake_discord.slash(
        world.user, world.guild, world.channel, "ask", {"question": "What is the best recipe for banana bread?"}
    )
    message = await answered(handle)
    assert "Not in my notes yet" in message.text()
    assert not any(i.startswith("ask:quiz") for i in message.custom_ids())


async def test_feedback_buttons_and_modal_are_stored(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """👍 thanks privately; 👎 opens 'what went wrong?', and the note is stored for moderators."""
    bot = running.bot
    assert bot is not None
    message = await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "ask", {"question": "What is a tensor?"})
    )
    up = next(i for i in message.custom_ids() if i.startswith("ask:up"))
    thanks = await answered(await fake_discord.click(world.other_user, message, up))
    assert thanks.ephemeral and "Thanks" in thanks.text()
    down = next(i for i in message.custom_ids() if i.startswith("ask:down"))
    modal = await (await fake_discord.click(world.user, message, down)).wait_modal()
    assert modal.title == "What went wrong?"
    submitted = await fake_discord.submit_modal(world.user, modal.custom_id, {modal.field_ids()[0]: "Too short <@1>"})
    assert "moderators" in (await answered(submitted)).text()
    exported = await bot.services.learners.export(world.user.id)
    assert [f["comment"] for f in exported["tables"]["feedback"]] == ["Too short <@1>"]


async def test_quiz_me_on_this_starts_a_targeted_private_quiz(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """'Quiz me on this' replies privately with a question on the cited entries and A-D buttons."""
    message = await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "ask", {"question": "What is overfitting?"})
    )
    quiz = next(i for i in message.custom_ids() if i.startswith("ask:quiz"))
    reply = await answered(await fake_discord.click(world.other_user, message, quiz))
    assert reply.ephemeral
    assert [i.split(":")[-1] for i in reply.custom_ids()] == ["0", "1", "2", "3"]


async def test_rate_limit_answers_privately(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """Past the per-user limit, /ask gets an immediate private 'wait N s' and others are unaffected."""
    runner = Running(
        fake_discord, make_settings(fake_discord, world, tmp_path, shipped_service.settings.index_dir, ask_rate_limit=2)
    )
    await runner.start()
    try:
        for _ in range(2):
            await answered(
                await fake_discord.slash(
                    world.user, world.guild, world.channel, "ask", {"question": "What is a tensor?"}
                )
            )
        refused = await fake_discord.slash(
            world.user, world.guild, world.channel, "ask", {"question": "What is a tensor?"}
        )
        message = await answered(refused)
        assert refused.ack_type == 4 and message.ephemeral and "wait" in message.text()
        other = await answered(
            await fake_discord.slash(
                world.other_user, world.guild, world.channel, "ask", {"question": "What is a tensor?"}
            )
        )
        assert not other.ephemeral
    finally:
        await runner.stop()


async def test_fifty_concurrent_asks_are_all_acknowledged_in_time(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """50 simultaneous /ask from 50 learners are each acknowledged within 3 s and all answered."""
    users = [fake_discord.add_user(f"learner{n}") for n in range(50)]
    for user in users:
        fake_discord.add_member(world.guild, user)
    handles = await asyncio.gather(
        *(
            fake_discord.slash(u, world.guild, world.channel, "ask", {"question": f"How do I avoid overfitting? #{n}"})
            for n, u in enumerate(users)
        )
    )
    messages = await asyncio.gather(*(answered(h, timeout=60) for h in handles))
    assert all(h.ack_delay is not None and h.ack_delay < ACK_LIMIT for h in handles)
    assert len(messages) == 50 and all(m.embeds for m in messages)


# ------------------------------------------------------------------------------------------ mentions, threads


async def test_mention_opens_a_thread_and_follow_ups_keep_context(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """A mention opens a thread; a follow-up there is rewritten against the first question, also after a restart."""
    settings = make_settings(fake_discord, world, tmp_path, shipped_service.settings.index_dir)
    first_run = Running(fake_discord, settings)
    await first_run.start()
    try:
        await fake_discord.message(
            world.user, world.channel, f"{fake_discord.bot_user.mention} how should I schedule my learning rate?"
        )
        threads = await fake_discord.wait_for(
            lambda: fake_discord.threads_of(world.channel) or None, timeout=15, what="a thread"
        )
        thread = threads[0]
        first = await fake_discord.wait_message(lambda m: m.channel_id == thread.id and bool(m.embeds), timeout=15)
        assert "learning rate" in first.text().lower()
        await fake_discord.message(world.user, thread, "does adam still need one?")
        follow = await fake_discord.wait_message(
            lambda m: m.channel_id == thread.id and bool(m.embeds) and m.id != first.id, timeout=15, what="follow-up"
        )
        assert "Answering: does adam still need a learning rate schedule?" in follow.text()
    finally:
        await first_run.stop()
    again = Running(fake_discord, settings)
    await again.start()
    try:
        seen = {m.id for m in fake_discord.find_messages(channel=thread)}
        await fake_discord.message(world.user, thread, "why does that help?")
        after = await fake_discord.wait_message(
            lambda m: m.channel_id == thread.id and bool(m.embeds) and m.id not in seen, timeout=15, what="after"
        )
        # "that" is what the last turn's "one" stood for, read back from the database after the restart
        assert "Answering: why does a learning rate schedule help?" in after.text()
    finally:
        await again.stop()


# ----------------------------------------------------------------------------------------------------- /quiz


async def test_quiz_runs_to_a_summary_with_the_streak(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/quiz count:3 is private; each click shows the explanation and the next question; the end shows the streak."""
    bot = running.bot
    assert bot is not None
    message = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 3}))
    assert message.ephemeral and "Question 1 of 3" in message.text()
    for number in (2, 3, 4):
        click = await fake_discord.click(world.user, message, await right_answer(bot, message))
        await click.wait_ack(ACK_LIMIT)
        message = await click.wait_message(
            lambda m, n=number: f"Question {n} of 3" in m.text() or "Practice complete" in m.text(), timeout=15
        )
        assert "Correct" in message.text()
    assert "Practice complete" in message.text() and "Streak: **1 day**" in message.text()
    streak = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "streak"))
    assert streak.ephemeral and "1-day streak" in streak.text()
    board = await answered(
        await fake_discord.slash(world.other_user, world.guild, world.channel, "leaderboard", {"period": "week"})
    )
    assert "Alice" in board.text() and not board.ephemeral


async def test_double_click_counts_once(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """Two clicks on the same answer record one answer; the second click is told it was already answered."""
    bot = running.bot
    assert bot is not None
    message = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 2}))
    button = await right_answer(bot, message)
    first, second = await asyncio.gather(
        fake_discord.click(world.user, message, button), fake_discord.click(world.user, message, button)
    )
    await first.wait_ack(ACK_LIMIT)
    await second.wait_ack(ACK_LIMIT)
    already = await fake_discord.wait_for(
        lambda: next((m for h in (first, second) for m in h.followups if "already answered" in m.text()), None),
        timeout=15,
        what="the 'already answered' note",
    )
    assert already.ephemeral
    session_id = button.split(":")[1]
    async with bot.services.store.transaction() as repos:
        assert len(await repos.choices(session_id)) == 1


async def test_someone_elses_quiz_button_is_refused_politely(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """Another learner clicking my quiz gets a private 'this quiz isn't yours', and my quiz is untouched."""
    message = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 2}))
    click = await fake_discord.click(world.other_user, message, message.custom_ids()[0])
    reply = await answered(click)
    assert reply.ephemeral and "isn't yours" in reply.text()


async def test_old_buttons_work_after_a_restart(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """A quiz half-answered before a restart continues from its old message's buttons with a new process."""
    settings = make_settings(fake_discord, world, tmp_path, shipped_service.settings.index_dir)
    first = Running(fake_discord, settings)
    bot = await first.start()
    message = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "quiz", {"count": 2}))
    click = await fake_discord.click(world.user, message, await right_answer(bot, message))
    message = await click.wait_message(lambda m: "Question 2 of 2" in m.text(), timeout=15)
    await first.stop()
    second = Running(fake_discord, settings)
    bot = await second.start()
    try:
        click = await fake_discord.click(world.user, message, await right_answer(bot, message))
        done = await click.wait_message(lambda m: "Practice complete" in m.text(), timeout=15)
        assert "Correct" in done.text()
    finally:
        await second.stop()


# ------------------------------------------------------------------------------------ daily rhythm: QOTD, DMs


async def test_question_of_the_day_and_one_reminder(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """The QOTD is posted once with buttons and a thread and counts for the streak; a reminder DM goes out once."""
    settings = make_settings(
        fake_discord, world, tmp_path, shipped_service.settings.index_dir, qotd_channel_id=world.channel.id, qotd_hour=0
    )
    runner = Running(fake_discord, settings)
    bot = await runner.start()
    try:
        post = await fake_discord.wait_message(lambda m: "Question of the day" in m.text(), timeout=15)
        await fake_discord.wait_for(
            lambda: fake_discord.threads_of(world.channel) or None, timeout=10, what="discussion thread"
        )
        reply = await answered(await fake_discord.click(world.user, post, post.custom_ids()[0]))
        assert reply.ephemeral and ("Correct" in reply.text() or "Not quite" in reply.text())
        assert (await bot.services.learners.streak(world.user.id)).current == 1
        hour = datetime.now(UTC).hour
        settings_reply = await answered(
            await fake_discord.slash(
                world.other_user, world.guild, world.channel, "settings", {"reminder": "on", "reminder_hour": hour}
            )
        )
        assert "reminder" in settings_reply.text().lower()
        dm = fake_discord.dm_channel(world.other_user)
        await fake_discord.wait_message(lambda m: m.channel_id == dm.id, timeout=10, what="the reminder DM")
        await asyncio.sleep(1.0)  # several scheduler ticks (0.2 s) pass: still one reminder
    finally:
        await runner.stop()
    again = Running(fake_discord, settings)
    await again.start()
    try:
        await asyncio.sleep(1.0)  # a restarted bot does not send it again, nor post a second QOTD
    finally:
        await again.stop()
    assert len(fake_discord.find_messages(channel=fake_discord.dm_channel(world.other_user))) == 1
    assert len(fake_discord.find_messages(contains="Question of the day")) == 1


# ------------------------------------------------------------------------- personal commands, all ephemeral


async def test_progress_privacy_settings_help_resources(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/progress sends a PNG, /privacy a JSON export, /settings validates zones; /help and /resources list things."""
    progress = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "progress"))
    assert progress.ephemeral and progress.attachments[0]["filename"] == "progress.png"
    upload = next(r for r in fake_discord.requests if r.files and r.files[0].filename == "progress.png")
    assert upload.files[0].data.startswith(b"\x89PNG")
    privacy = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "privacy"))
    export = next(r for r in fake_discord.requests if r.files and r.files[0].filename == "studybot-my-data.json")
    assert privacy.ephemeral and json.loads(export.files[0].data)["user_id"] == str(world.user.id)
    choices = await (
        await fake_discord.autocomplete(
            world.user, world.guild, world.channel, "settings", {"timezone": "berl"}, focused="timezone"
        )
    ).wait_choices()
    assert choices[0]["value"] == "Europe/Berlin" and len(choices) <= 25
    ok = await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "settings", {"timezone": "Europe/Berlin"})
    )
    assert "Europe/Berlin" in ok.text()
    bad = await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "settings", {"timezone": "Mars/Olympus"})
    )
    assert bad.ephemeral and "not a timezone I know" in bad.text()
    helped = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "help"))
    assert helped.ephemeral and "/quiz" in helped.text()
    listed = await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "resources", {"skill": "math"})
    )
    assert "Resources: Math foundations" in listed.text()


async def test_forget_me_asks_first_and_then_deletes(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """/forget-me needs a confirm click by the same user; then nothing about them remains."""
    bot = running.bot
    assert bot is not None
    await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "settings", {"timezone": "Asia/Tokyo"})
    )
    prompt = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "forget-me"))
    assert prompt.ephemeral and "cannot be undone" in prompt.text()
    yes = next(i for i in prompt.custom_ids() if i.endswith(":yes"))
    stranger = await answered(await fake_discord.click(world.other_user, prompt, yes))
    assert "isn't yours" in stranger.text()
    click = await fake_discord.click(world.user, prompt, yes)
    await click.wait_message(lambda m: "deleted everything" in m.text(), timeout=15)
    exported = await bot.services.learners.export(world.user.id)
    assert all(rows == [] for rows in exported["tables"].values())


async def test_forget_me_cancel_keeps_everything(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """Cancelling /forget-me deletes nothing and removes the buttons."""
    bot = running.bot
    assert bot is not None
    await answered(
        await fake_discord.slash(world.user, world.guild, world.channel, "settings", {"timezone": "Asia/Tokyo"})
    )
    prompt = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "forget-me"))
    no = next(i for i in prompt.custom_ids() if i.endswith(":no"))
    await fake_discord.click(world.user, prompt, no)
    cancelled = await fake_discord.wait_message(lambda m: m.id == prompt.id and "nothing was deleted" in m.text())
    assert cancelled.custom_ids() == []
    learner = await bot.services.learners.learner(world.user.id)
    assert learner is not None and learner.timezone == "Asia/Tokyo"


async def test_resources_without_a_skill_lists_every_skill(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/resources with no skill shows a few picks for each of the seven skills, with links."""
    listed = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "resources"))
    embed = listed.embeds[0]
    assert embed["title"] == "📖 Curated resources"
    assert len(embed["fields"]) == 7 and all("](http" in f["value"] for f in embed["fields"])


async def test_unexpected_errors_show_an_id_not_a_traceback(
    running: Running, fake_discord: FakeDiscord, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """An unexpected failure reaches the user as a private message with an error id that is also in the log."""
    bot = running.bot
    assert bot is not None

    async def broken(user_id: int) -> None:
        raise RuntimeError("database exploded: secret detail")

    bot.services.learners.streak = broken  # type: ignore[method-assign]
    reply = await answered(await fake_discord.slash(world.user, world.guild, world.channel, "streak"))
    assert reply.ephemeral and "error id" in reply.text() and "secret detail" not in reply.text()
    error_id = reply.text().split("`")[1]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


# ------------------------------------------------------------------------------------------------- shutdown


async def test_sigterm_lets_in_flight_answers_finish(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """SIGTERM during an /ask: the answer is still delivered, then the bot disconnects and run_bot returns."""
    runner = Running(fake_discord, make_settings(fake_discord, world, tmp_path, shipped_service.settings.index_dir))
    await runner.start()
    handle = await fake_discord.slash(
        world.user, world.guild, world.channel, "ask", {"question": "What is gradient descent?"}
    )
    await handle.wait_ack(ACK_LIMIT)
    os.kill(os.getpid(), signal.SIGTERM)
    assert runner.task is not None
    await asyncio.wait_for(runner.task, 30)
    message = await handle.wait_message(lambda m: not m.loading, timeout=1)
    assert message.embeds


# ---------------------------------------------------------------------------------------------------- sharding


async def test_sharded_bot_honours_shard_count_and_serves_every_shard(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """With STUDYBOT_SHARD_COUNT=2 the bot opens two shards, and a guild on each shard gets its /ask answered."""
    home = (world.guild.id >> 22) % 2
    other = next(g for g in (fake_discord.add_guild(f"Guild {n}") for n in range(64)) if (g.id >> 22) % 2 != home)
    channel = fake_discord.add_channel(other, "general")
    fake_discord.add_member(other, world.user)
    settings = make_settings(
        fake_discord, world, tmp_path, shipped_service.settings.index_dir, shard_count=2, dev_guild_id=None
    )
    runner = Running(fake_discord, settings)
    bot = await runner.start()
    try:
        assert bot.shard_count == 2
        assert sorted(s.shard for s in fake_discord.sessions if s.live) == [[0, 2], [1, 2]]
        for guild, where in ((world.guild, world.channel), (other, channel)):
            reply = await answered(
                await fake_discord.slash(world.user, guild, where, "ask", {"question": "What is overfitting?"})
            )
            assert reply.embeds and "overfitting" in reply.text().lower()
    finally:
        await runner.stop()
