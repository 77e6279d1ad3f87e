"""Discord answering 429, 500 or 502 to every route the bot uses (issue 11), through the fake Discord.

One bot runs for the whole module. A tour of what learners do (/ask, a vote, a quiz answer, a mention, a
reminder DM) is measured once without faults: the routes it uses, with the start-up ones, are the routes under
test, and a route the bot starts using shows up as a failure of ``test_the_tour_uses_the_listed_routes``.

For each route and status, the first tour step that uses the route is run twice over:

- **once** (one bad answer, then the route heals): discord.py retries, and the step ends exactly as without the
  fault;
- **always** (every request of the step fails; discord.py gives up after its five tries): the bot stays up,
  every failed handler is logged with an error id, the learner sees the "something went wrong … error id" reply
  when the reply route still works, and once the route heals the same step works again. A quiz answer is stored
  exactly once, however the failure fell.

discord.py's retry sleeps (1, 3, 5, 7 and 9 s for a 5xx) are shortened 50-fold here, so a run takes seconds; the
number and order of the retries are discord.py's own.
"""

# Waits take a bounded timeout= on purpose, like the fake's own helpers.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import discord.http
import discord.webhook.async_
import pytest
import pytest_asyncio

from bot.client import StudyBot
from bot.domain.asking import Questions
from bot.exts import _ui
from bot.startup import explain
from tests.e2e.conftest import DiscordErrorLog, watching_discord_errors
from tests.e2e.fake_discord import FakeDiscord, FakeUser, InteractionHandle, StoredMessage, World
from tests.e2e.studybot import Running, answered, idle, make_settings, right_answer
from tests.fault.conftest import record

pytestmark = [
    pytest.mark.model,
    pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),  # discord.py's voice import
]

STATUSES = (429, 500, 502)
ERROR_ID = re.compile(r"error id `([0-9a-f]{8})`")
LOGGED_ID = re.compile(r"^error ([0-9a-f]{8}) in ")
# Requests made while connecting: a fault there is a start-up fault (see test_start_up_route_faults).
STARTUP_ROUTES = {
    ("GET", "/users/@me"),  # log-in
    ("GET", "/oauth2/applications/@me"),  # the application's id and owner
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),  # syncing the commands
}


class _QuickSleep:
    """discord.py's ``asyncio`` module, with sleeps 50 times shorter (its retry waits), everything else as is."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, result: Any = None) -> Any:
        return await asyncio.sleep(delay / 50, result)


@pytest.fixture(scope="module", autouse=True)
def quick_retries() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(discord.http, "asyncio", _QuickSleep())
        patch.setattr(discord.webhook.async_, "asyncio", _QuickSleep())
        yield


@dataclass
class Env:
    fake: FakeDiscord
    world: World
    bot: StudyBot
    startup_requests: int = 0  # how many requests connecting took
    users: int = 0
    logs: list[logging.LogRecord] = field(default_factory=list)

    def new_user(self) -> FakeUser:
        """A learner of their own for each step: no rate limit, no quiz or reminder left from another step."""
        self.users += 1
        user = self.fake.add_user(f"learner{self.users}")
        self.fake.add_member(self.world.guild, user)
        return user

    async def idle(self, timeout: float = 20.0) -> None:
        """Wait until the bot has read every event and every handler it started has finished, retries included."""
        await idle(self.fake, self.bot, timeout)


class Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(shipped_service: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    fake = FakeDiscord()
    await fake.start()
    world = fake.add_default_world()
    settings = make_settings(
        fake,
        world,
        tmp_path_factory.mktemp("discord-faults"),
        shipped_service.settings.index_dir,
        ask_rate_limit=10_000,
    )
    runner = Running(fake, settings)
    logs: list[logging.LogRecord] = []
    handler = Collect(logs)
    logging.getLogger().addHandler(handler)
    bot_logger = logging.getLogger("bot")
    level = bot_logger.level
    bot_logger.setLevel(logging.INFO)  # what the bot logs at INFO (a reminder it could not send) is checked too
    try:
        bot = await runner.start()
        await fake.settle()
        yield Env(fake, world, bot, startup_requests=len(fake.requests), logs=logs)
    finally:
        bot_logger.setLevel(level)
        logging.getLogger().removeHandler(handler)
        await runner.stop()
        await fake.stop()


# ------------------------------------------------------------------------------------------------ the tour
# A step in three parts: ``prepare`` sets the scene (never under a fault), ``act`` is what the learner does (the
# fault applies to it), and ``done`` waits for the normal outcome and checks it.


@dataclass
class Step:
    name: str
    prepare: Callable[[Env], Awaitable[Any]]
    act: Callable[[Env, Any], Awaitable[Any]]
    done: Callable[[Env, Any], Awaitable[None]]
    # Under a failing route, whether the learner still got what they came for another way (no error then).
    served_anyway: Callable[[Env, Any], bool] = lambda env, scene: False


async def _new_user(env: Env) -> FakeUser:
    return env.new_user()


async def _ask(env: Env, user: FakeUser) -> InteractionHandle:
    return await env.fake.slash(user, env.world.guild, env.world.channel, "ask", {"question": "What is overfitting?"})


async def _ask_done(env: Env, handle: InteractionHandle) -> None:
    message = await answered(handle)
    assert message.embeds and "overfit" in message.text().lower()


async def _an_answer(env: Env) -> tuple[FakeUser, StoredMessage]:
    return env.new_user(), await answered(await _ask(env, env.new_user()))


async def _vote(env: Env, scene: tuple[FakeUser, StoredMessage]) -> InteractionHandle:
    user, message = scene
    return await env.fake.click(user, message, next(i for i in message.custom_ids() if i.startswith("ask:up")))


async def _vote_done(env: Env, handle: InteractionHandle) -> None:
    thanks = await answered(handle)
    assert thanks.ephemeral and "Thanks" in thanks.text()


@dataclass
class QuizClick:
    user: FakeUser
    message: StoredMessage
    button: str
    handle: InteractionHandle | None = None

    @property
    def session_id(self) -> str:
        return self.button.split(":")[1]


async def _a_quiz(env: Env) -> QuizClick:
    user = env.new_user()
    question = await answered(await env.fake.slash(user, env.world.guild, env.world.channel, "quiz", {"count": 2}))
    return QuizClick(user, question, await right_answer(env.bot, question))


async def _click_answer(env: Env, click: QuizClick) -> QuizClick:
    click.handle = await env.fake.click(click.user, click.message, click.button)
    return click


async def _quiz_answer_done(env: Env, click: QuizClick) -> None:
    assert click.handle is not None
    await click.handle.wait_ack(4)
    await click.handle.wait_message(lambda m: "Question 2 of 2" in m.text(), timeout=15)
    assert await _stored_answers(env, click.session_id) == 1


async def _stored_answers(env: Env, session_id: str) -> int:
    async with env.bot.services.store.transaction() as repos:
        return len(await repos.choices(session_id))


async def _mention(env: Env, user: FakeUser) -> StoredMessage:
    return await env.fake.message(
        user, env.world.channel, f"{env.fake.bot_user.mention} how do I pick a learning rate?"
    )


async def _mention_done(env: Env, sent: StoredMessage) -> None:
    # A thread started from a message has the message's id.
    await env.fake.wait_message(
        lambda m: m.channel_id == sent.id and bool(m.embeds), timeout=15, what="the answer in its thread"
    )


def _mention_answered(env: Env, sent: StoredMessage) -> bool:
    """The answer arrived, in its thread or, with no thread, as a reply in place."""
    return any(m.embeds and (m.channel_id == sent.id or m.reference_id == sent.id) for m in env.fake.messages.values())


async def _remind(env: Env, user: FakeUser) -> FakeUser:
    """A reminder due this hour (set as /settings does), then the scheduler's one try at it: sent, or logged."""
    while True:
        hour = datetime.now(UTC).hour
        await env.bot.services.learners.set_reminder(user.id, hour)
        try:
            await env.fake.wait_for(
                lambda: _reminder_tried(env, user), timeout=15, what="the reminder to be sent or given up"
            )
            return user
        except TimeoutError:
            if datetime.now(UTC).hour == hour:
                raise
            # The hour turned before the scheduler's next tick: the reminder was never due. Set it for this hour.


def _reminder_tried(env: Env, user: FakeUser) -> bool:
    """The reminder DM is there, or the bot logged that it could not send it (a reminder is never retried)."""
    dms = {c.id for c in env.fake.channels.values() if c.is_dm and c.recipient is user}
    return any(m.channel_id in dms for m in env.fake.messages.values()) or any(
        r.getMessage() == f"could not DM reminder to {user.id}" for r in env.logs
    )


async def _reminder_done(env: Env, user: FakeUser) -> None:
    dm = env.fake.dm_channel(user)
    await env.fake.wait_message(lambda m: m.channel_id == dm.id, timeout=10, what="the reminder DM")


def _ask_answered(env: Env, handle: InteractionHandle) -> bool:
    """The answer filled the "thinking…" message, by whichever interaction route still worked."""
    original = handle.original
    return original is not None and not original.loading and bool(original.embeds)


TOUR = [
    Step("/ask", _new_user, _ask, _ask_done, _ask_answered),
    Step("vote on an answer", _an_answer, _vote, _vote_done),
    Step("quiz answer", _a_quiz, _click_answer, _quiz_answer_done),
    Step("mention", _new_user, _mention, _mention_done, _mention_answered),
    Step("reminder DM", _new_user, _remind, _reminder_done),
]
TOUR_ROUTES = [
    ("POST", "/interactions/{interaction_id}/{token}/callback"),
    ("POST", "/webhooks/{application_id}/{token}"),
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}"),
    ("POST", "/channels/{channel_id}/messages"),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads"),
    ("POST", "/channels/{channel_id}/typing"),
    ("POST", "/users/@me/channels"),
    ("GET", "/users/{user_id}"),
]


async def _run(env: Env, step: Step) -> set[tuple[str, str]]:
    """The whole step without a fault; the routes its act and done used."""
    scene = await step.prepare(env)
    await env.idle()
    before = len(env.fake.requests)
    await step.done(env, await step.act(env, scene))
    await env.idle()
    return {(r.method, r.route) for r in env.fake.requests[before:]}


Used = dict[str, set[tuple[str, str]]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tour(env: Env) -> Used:
    """The tour run once without faults, whichever test asks first: the routes each step's act and done use."""
    return {step.name: await _run(env, step) for step in TOUR}


async def test_the_tour_uses_the_listed_routes(env: Env, tour: Used) -> None:
    """Without faults every step works; together they use exactly TOUR_ROUTES, and the fake serves all of them."""
    served = set(env.fake.api_routes())
    used = set().union(*tour.values())
    assert used == set(TOUR_ROUTES), f"the tour's routes changed: {sorted(used)}"
    assert set(TOUR_ROUTES) | STARTUP_ROUTES <= served
    startup = {(r.method, r.route) for r in env.fake.requests[: env.startup_requests]}
    assert startup == STARTUP_ROUTES, f"the routes used while connecting changed: {sorted(startup)}"


def _step_for(tour: Used, route: tuple[str, str]) -> Step:
    step = next((s for s in TOUR if route in tour[s.name]), None)
    assert step is not None, f"no step of the tour uses {route} any more: see test_the_tour_uses_the_listed_routes"
    return step


def _logged_ids(env: Env, since: int) -> list[str]:
    return [m.group(1) for r in env.logs[since:] if (m := LOGGED_ID.match(r.getMessage()))]


@pytest.fixture
def discord_errors() -> Iterator[DiscordErrorLog]:
    """discord.py logging an ERROR means a failure escaped the bot's one error path: the test fails."""
    with watching_discord_errors() as handler:
        yield handler


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("route", TOUR_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
async def test_one_bad_answer_is_retried(
    env: Env, tour: Used, route: tuple[str, str], status: int, discord_errors: Any
) -> None:
    """One 429, 500 or 502 on the route: discord.py retries it and the step ends as if nothing had happened."""
    step = _step_for(tour, route)
    scene = await step.prepare(env)
    await env.idle()
    fault = env.fake.fail(*route, status, times=1)
    await step.done(env, await step.act(env, scene))
    await env.idle()
    assert fault.hits == 1, f"{step.name} never hit {route}"
    record(f"Discord {status} once", f"{route[0]} {route[1]}: retried, step completed")


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("route", TOUR_ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
async def test_a_failing_route_is_survived(
    env: Env, tour: Used, route: tuple[str, str], status: int, discord_errors: Any
) -> None:
    """The route failing for a whole step: bot up, failures logged with an error id, nothing lost, then it heals."""
    step = _step_for(tour, route)
    scene = await step.prepare(env)
    await env.idle()
    logs_before, violations_before = len(env.logs), len(env.fake.violations)
    messages_before = set(env.fake.messages)
    fault = env.fake.fail(*route, status, times=10_000)
    try:
        context = await step.act(env, scene)
        await env.idle()
        # An interaction whose callback never went through is noted by the fake after its 3 s: wait for that.
        await env.fake.wait_for(
            lambda: all(h.ack is not None or h.ack_violation for h in env.fake.interactions.values()),
            timeout=env.fake.ack_timeout + 2,
            what="every interaction acknowledged or noted as not",
        )
    finally:
        fault.times = fault.hits  # healed
    assert fault.hits >= 1, f"{step.name} never hit {route}"
    assert not env.bot.is_closed() and env.bot.is_ready()
    ids = _logged_ids(env, logs_before)
    new = [msg for key, msg in env.fake.messages.items() if key not in messages_before]
    shown = [m.group(1) for msg in new if (m := ERROR_ID.search(msg.text()))]
    assert set(shown) <= set(ids), "an error id shown to a learner is not in the log"
    outcome = _outcome(step, ids, shown, step.served_anyway(env, context))
    if isinstance(context, QuizClick):
        stored = await _stored_answers(env, context.session_id)
        assert stored <= 1
        again = await env.fake.click(context.user, context.message, context.button)
        await answered(again)  # the next question, or "you already answered" if the first try got that far
        await env.idle()
        assert await _stored_answers(env, context.session_id) == 1
        outcome += f"; answer stored once ({'before' if stored else 'after'} the fault)"
    # A callback that never succeeded leaves Discord's "interaction failed": the fake notes it as not acknowledged.
    for violation in env.fake.violations[violations_before:]:
        assert violation.kind == "ack_timeout" and route[1].startswith("/interactions/"), violation
    del env.fake.violations[violations_before:]
    await _run(env, step)  # healed: the same step works again
    record(f"Discord {status} always", f"{route[0]} {route[1]}: {outcome}; healed")


def _outcome(step: Step, ids: list[str], shown: list[str], served_anyway: bool) -> str:
    if step.name == "reminder DM":
        return "reminder skipped, logged"  # sent at most once a day: a failed DM is not retried
    if served_anyway and not ids:
        return "answered anyway (without that route)"
    assert ids, f"{step.name}: no error id was logged for the failure"
    return "error id shown to the learner" if shown else "error id logged (no route left to tell the learner)"


# ----------------------------------------------------------------------------------- /ask's reply routes
# After /ask defers, its answer has two routes: the followup webhook and an edit of the original response.

FOLLOWUP = ("POST", "/webhooks/{application_id}/{token}")
EDIT_ORIGINAL = ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}")
TRIES = 5  # discord.py's attempts per request before it raises


@pytest.fixture
def quick_redelivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot's pauses between rounds of reply tries, 50 times shorter like discord.py's own here."""
    monkeypatch.setattr(_ui, "REDELIVERY_PAUSES", tuple(p / 50 for p in _ui.REDELIVERY_PAUSES))


async def _asked(env: Env, user: FakeUser) -> InteractionHandle:
    handle = await _ask(env, user)
    await env.idle()
    return handle


@pytest.mark.parametrize("status", STATUSES)
async def test_ask_answer_survives_a_failing_followup_route(
    env: Env, tour: Used, status: int, discord_errors: Any, quick_redelivery: None
) -> None:
    """The followup webhook failing for good: the answer still reaches the learner, by editing "thinking…"."""
    fault = env.fake.fail(*FOLLOWUP, status, times=10_000)
    try:
        handle = await _asked(env, env.new_user())
    finally:
        fault.times = fault.hits
    assert fault.hits >= TRIES
    message = await answered(handle)
    assert message is handle.original and not message.ephemeral
    assert message.embeds and "overfit" in message.text().lower() and not ERROR_ID.search(message.text())
    assert handle.followups == [message] or not handle.followups  # the one reply, never a second copy
    record(f"Discord {status} always on /ask's followup", "answer delivered by editing the original response")


@pytest.mark.parametrize("status", STATUSES)
async def test_ask_answer_waits_out_both_routes_failing(
    env: Env, tour: Used, status: int, discord_errors: Any, quick_redelivery: None
) -> None:
    """Both reply routes failing for a while: the bot tries again after a pause and the answer arrives once."""
    followup = env.fake.fail(*FOLLOWUP, status, times=2 * TRIES)
    edit = env.fake.fail(*EDIT_ORIGINAL, status, times=TRIES)
    try:
        handle = await _asked(env, env.new_user())
    finally:
        followup.times, edit.times = followup.hits, edit.hits
    # Round one: the followup (five tries) then the edit (five tries); round two: the followup (five more), then
    # the edit, which works now.
    assert (followup.hits, edit.hits) == (2 * TRIES, TRIES)
    message = await answered(handle)
    assert message is handle.original and "overfit" in message.text().lower()
    record(f"Discord {status} on both of /ask's routes", "answer delivered after a pause")


async def test_ask_error_reaches_the_learner_past_a_failing_followup(
    env: Env, tour: Used, discord_errors: Any, quick_redelivery: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No answer to send and the followup route failing a round: the friendly error with its id arrives anyway."""
    logs_before = len(env.logs)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("answering broke")

    monkeypatch.setattr(Questions, "ask", broken)  # services.questions is built per call
    fault = env.fake.fail(*FOLLOWUP, 500, times=TRIES)
    try:
        handle = await _asked(env, env.new_user())
    finally:
        fault.times = fault.hits
    assert fault.hits == TRIES
    await handle.wait_followup(0, timeout=10)
    replies = [m for m in (handle.original, *handle.followups) if m is not None and not m.deleted]
    assert len(replies) == 1 and replies[0].ephemeral, replies
    shown = ERROR_ID.search(replies[0].text())
    assert shown and shown.group(1) in _logged_ids(env, logs_before)
    record("Discord 500 on /ask's followup, answer failed", "error id delivered privately after a pause")


# ---------------------------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("route", sorted(STARTUP_ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
async def test_start_up_route_faults(shipped_service: Any, tmp_path: Path, route: tuple[str, str], status: int) -> None:
    """A start-up route answering once with the fault connects anyway; failing always ends in one friendly line."""
    async with FakeDiscord() as fake:
        world = fake.add_default_world()
        settings = make_settings(fake, world, tmp_path, shipped_service.settings.index_dir)
        fake.fail(*route, status, times=1)
        runner = Running(fake, settings)
        await runner.start()
        await runner.stop()
        fault = fake.fail(*route, status, times=10_000)
        runner = Running(fake, settings)
        with pytest.raises(discord.HTTPException) as failed:
            await asyncio.wait_for(runner.start(), 60)
        assert fault.hits >= 1
        line = explain(failed.value)
        assert "\n" not in line and "Discord" in line, line
        assert f"HTTP {status}" in line and "network" not in line, line  # Discord was reached: it answered
    record(f"Discord {status} at start-up", f"{route[0]} {route[1]}: retried once; always: {line[:40]}…")
