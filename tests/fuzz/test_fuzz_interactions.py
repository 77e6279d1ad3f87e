"""Property-based fuzzing of custom_ids and modal fields (issue 11): one clear reply or error each, never a traceback.

Two layers:

- **In process, ``FUZZ_EXAMPLES`` inputs each (2,000 by default):** every custom_id is decoded the way discord.py
  does (the persistent buttons' templates, then ``from_custom_id``), and every form's fields go through the
  parsing the modal does and into the domain service it calls, on SQLite. Each ends in a result or a typed,
  user-facing error.
- **End to end, ``FUZZ_E2E_EXAMPLES`` inputs each (the same 2,000 by default):** the same generators drive the
  one bot of this module through the fake Discord: a click carrying the custom_id on a real answer message (a
  message from an older version, as far as the bot can tell) and the feedback form with any text. Each
  interaction is acknowledged and answered exactly once (the fake records a second answer, a late or missing
  one and any payload that could ping as violations), no reply shows a traceback or an unexpected-error id, and
  discord.py logs no error.

  A wait for the bot to read an input, answer it and go quiet costs a few polls of the fake (50 ms each) and a
  quiet period per input; paid once per input that was most of an example's time. So the inputs go in batches
  of ``FUZZ_E2E_BATCH``, each sent by a learner of its own without waiting, and each batch is checked after one
  wait: as many learners clicking at once as a busy server sees.
"""

# Waits take a bounded timeout= on purpose, like the fake's own helpers.

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import open_services
from bot.client import StudyBot
from bot.domain.asking import MAX_COMMENT
from bot.domain.content import Skill
from bot.domain.errors import StudyBotError
from bot.domain.ports import Actor
from bot.exts import _ui
from bot.exts.account._cog import ForgetButton
from bot.exts.ask._render import AnswerAction
from bot.exts.moderation._views import AnswerGapButton, RemoveEntryButton, parse_skill, quiz_item_fields
from bot.exts.quiz._daily import QotdButton
from bot.exts.quiz._views import ChoiceButton, ReportItemButton
from bot.storage.tables import feedback
from tests.e2e.conftest import DiscordErrorLog, watching_discord_errors
from tests.e2e.fake_discord import MAX_CUSTOM_ID, FakeDiscord, FakeUser, InteractionHandle, StoredMessage, World
from tests.e2e.studybot import Running, answered, idle, make_settings
from tests.fuzz.conftest import EXAMPLES, record
from tests.state import FakeClock, settings_for

pytestmark = pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning")  # discord.py voice

E2E_EXAMPLES = int(os.environ.get("FUZZ_E2E_EXAMPLES", str(EXAMPLES)))
# Inputs sent together, each by a learner of its own, then one wait for the bot to finish them all: a wait per
# input (for the bot to read it, answer it and go quiet) is what made a click cost a round trip each.
BATCH = int(os.environ.get("FUZZ_E2E_BATCH", "25"))
MODAL = 9  # the interaction callback that opens a form
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
BUTTONS = [AnswerAction, ChoiceButton, ReportItemButton, QotdButton, ForgetButton, RemoveEntryButton, AnswerGapButton]
TEMPLATES = {cls: cls.__discord_ui_compiled_template__ for cls in BUTTONS}
UNEXPECTED = re.compile(r"error id `[0-9a-f]{8}`")

# Discord caps a custom_id at 100 characters and sends only what a component carried: any text up to that,
# the buttons' own shapes with any values, and near misses (a shape with a character more or less).
SHAPED = st.one_of(*(st.from_regex(pattern, fullmatch=True) for pattern in TEMPLATES.values()))
CUSTOM_IDS = st.one_of(
    st.text(max_size=MAX_CUSTOM_ID),
    SHAPED,
    st.tuples(SHAPED, st.text(max_size=3)).map(lambda pair: (pair[0] + pair[1])[:MAX_CUSTOM_ID]),
    SHAPED.map(lambda text: text[:-1]),
).filter(lambda text: 1 <= len(text) <= MAX_CUSTOM_ID)
# What a form can hold: Discord sends text inputs as JSON strings, so no lone surrogates; anything else goes.
FORM_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=400)


def _decode(custom_id: str, loop: asyncio.AbstractEventLoop) -> discord.ui.DynamicItem[Any] | None:
    """What discord.py does with a click: the first template that matches in full, then ``from_custom_id``."""
    matching = [(cls, m) for cls, pattern in TEMPLATES.items() if (m := pattern.fullmatch(custom_id))]
    assert len(matching) <= 1, f"{custom_id!r} matches {len(matching)} button templates"
    if not matching:
        return None
    cls, match = matching[0]
    return loop.run_until_complete(cls.from_custom_id(None, None, match))  # type: ignore[arg-type]


def test_custom_ids_decode_or_are_unrouted():
    """Any custom_id decodes into exactly one button whose own custom_id fits Discord and decodes again, or none."""
    loop = asyncio.new_event_loop()
    try:

        @FUZZ
        @given(CUSTOM_IDS)
        def check(custom_id: str) -> None:
            item = _decode(custom_id, loop)
            if item is None:
                record("custom_ids (decode)", "unrouted: 'this button no longer works'")
                return
            rebuilt = item.item.custom_id
            assert rebuilt is not None and len(rebuilt) <= MAX_CUSTOM_ID
            assert type(_decode(rebuilt, loop)) is type(item)
            record("custom_ids (decode)", f"decoded as {type(item).__name__}")

        check()
    finally:
        loop.close()


# ------------------------------------------------------------------------------------------- forms, in process

MODERATOR = Actor(user_id=4242, guild_id=777, command="/kb add", manage_guild=True, name="Mod")
SKILLS = st.sampled_from([s.value for s in Skill] + [s.label for s in Skill] + ["MATH", " ml "])
SKILL_TEXT = st.one_of(SKILLS, SKILLS, FORM_TEXT.map(lambda t: t[:40]))  # mostly a skill the form accepts
# Each field: any text, or text a moderator would plausibly type (so that saving, not only refusing, is exercised).
PROMPT = st.one_of(FORM_TEXT, st.text(min_size=10, max_size=300))
OPTIONS = st.one_of(FORM_TEXT, st.lists(st.text(min_size=1, max_size=100), min_size=2, max_size=6).map("\n".join))
ANSWER = st.one_of(st.sampled_from(["A", "b", " c ", "D", " ", "E", "AB", "1"]), FORM_TEXT.map(lambda t: t[:1]))
EXPLANATION = st.one_of(FORM_TEXT, st.text(min_size=20, max_size=600))


@pytest.fixture
def form_services(tmp_path: Path, shipped_kb: Any) -> Iterator[tuple[Any, asyncio.AbstractEventLoop]]:
    """The domain services on a fresh SQLite file, on a loop of their own (hypothesis drives them synchronously)."""
    loop = asyncio.new_event_loop()
    url = f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
    services = loop.run_until_complete(open_services(settings_for(url, tmp_path), FakeClock(), kb=shipped_kb))
    try:
        yield services, loop
    finally:
        loop.run_until_complete(services.close())
        loop.close()


def _outcome(boundary: str, work: Any, loop: asyncio.AbstractEventLoop) -> None:
    refusal = None
    try:
        loop.run_until_complete(work)
    except StudyBotError as exc:
        refusal = exc.message
    if refusal is None:
        record(boundary, "saved")
        return
    assert refusal.strip() and "Traceback" not in refusal
    record(boundary, "refused with a message")


def test_quiz_item_form(form_services):
    """Any text in the five fields of /quizbank add's form is saved as an item or refused with a message."""
    services, loop = form_services

    @FUZZ
    @given(PROMPT, OPTIONS, ANSWER, EXPLANATION)
    def check(prompt: str, options: str, answer: str, explanation: str) -> None:
        fields, refusal = None, None
        try:
            fields = quiz_item_fields(
                "math", prompt=prompt, options=options, answer=answer, explanation=explanation, topic=prompt[:60]
            )
        except StudyBotError as exc:
            refusal = exc.message
        if fields is None:
            assert refusal is not None and "A, B, C or D" in refusal
            record("quiz item form", "refused with a message")
            return
        _outcome("quiz item form", services.quiz_admin.add_item(MODERATOR, **fields), loop)

    check()


def test_entry_form(form_services):
    """Any title, skill, body and reason in /kb add's form is saved, refused with a message, or asks for the skill."""
    services, loop = form_services

    @FUZZ
    @given(FORM_TEXT.map(lambda t: t[:120]), SKILL_TEXT, FORM_TEXT, FORM_TEXT.map(lambda t: t[:200]))
    def check(title: str, skill_text: str, body: str, reason: str) -> None:
        skill = parse_skill(skill_text)
        if skill is None:
            record("entry form", "asked which skill")  # the modal answers with a skill select instead
            return
        _outcome("entry form", services.kb_admin.add(MODERATOR, title, skill.value, body, reason=reason), loop)

    check()


# ------------------------------------------------------------------------------------- end to end, one bot


@dataclass
class Env:
    fake: FakeDiscord
    world: World
    bot: StudyBot
    answer: StoredMessage


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(shipped_service: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    """One bot for the module, and one public /ask answer whose buttons the fuzzed clicks stand in for."""
    fake = FakeDiscord()
    await fake.start()
    world = fake.add_default_world()
    data = tmp_path_factory.mktemp("fuzz-e2e")
    runner = Running(fake, make_settings(fake, world, data, shipped_service.settings.index_dir, ask_rate_limit=10**6))
    try:
        bot = await runner.start()
        handle = await fake.slash(world.user, world.guild, world.channel, "ask", {"question": "What is overfitting?"})
        yield Env(fake, world, bot, await answered(handle))
    finally:
        await runner.stop()
        await fake.stop()


@pytest.fixture
def discord_errors() -> Iterator[DiscordErrorLog]:
    """discord.py logging an ERROR means a failure escaped the bot's one error path: the test fails."""
    with watching_discord_errors() as handler:
        yield handler


def _generated(strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
    """``count`` inputs from a strategy, generated up front: the bot is driven from the test's event loop."""
    found: list[Any] = []

    @settings(max_examples=count, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: Any) -> None:
        found.append(value)

    collect()
    return found


async def _idle(env: Env) -> None:
    await idle(env.fake, env.bot)


def _check_replies(env: Env, since: int) -> None:
    for message in list(env.fake.messages.values())[since:]:
        text = message.text()
        assert "Traceback" not in text and not UNEXPECTED.search(text), text
    assert not env.fake.violations, "\n".join(map(str, env.fake.violations))


def _kind(handle: Any) -> str:
    if handle.ack_type == 9:
        return "opened a form"
    texts = " ".join(m.text() for m in env_messages(handle))
    if _ui.UNROUTED_BUTTON in texts:
        return "unrouted: 'this button no longer works'"
    if "isn't yours" in texts:
        return "refused: not yours"
    return "answered or refused with a message"


def env_messages(handle: Any) -> list[StoredMessage]:
    """What answered an interaction: the filled original response and the followups (a filling one counts once)."""
    original = handle.original if handle.answered else None  # a deferred update's "original" is the clicked message
    found = [m for m in [original, *handle.followups] if m is not None and not m.loading and not m.deleted]
    return list({id(m): m for m in found}.values())


def _learners(env: Env, name: str) -> list[FakeUser]:
    """One learner per input of a batch: the bot sees separate people clicking at once, as in a busy server."""
    learners = []
    for n in range(BATCH):
        learner = env.fake.add_user(f"{name}{n}")
        env.fake.add_member(env.world.guild, learner)
        learners.append(learner)
    return learners


async def _all_answered(env: Env, handles: list[InteractionHandle], since: int) -> None:
    """Every interaction of the batch acknowledged and answered once (a form, or a message), nothing unexpected."""
    await _idle(env)
    for handle in handles:
        assert handle.ack is not None, f"{handle} was never acknowledged"
        if handle.ack_type != MODAL:
            assert env_messages(handle), f"{handle} was acknowledged but never answered"
    _check_replies(env, since)


async def test_clicks_through_discord(env: Env, discord_errors: Any) -> None:
    """Generated custom_ids clicked on a real answer message: each gets one clear answer, no traceback, no ping."""
    learners = _learners(env, "clicker")
    custom_ids = _generated(CUSTOM_IDS, E2E_EXAMPLES)
    for start in range(0, len(custom_ids), BATCH):
        since = len(env.fake.messages)
        batch = zip(learners, custom_ids[start : start + BATCH], strict=False)
        handles = [await env.fake.click_stale(who, env.answer, custom_id, settle=False) for who, custom_id in batch]
        await _all_answered(env, handles, since)
        for handle in handles:
            record("custom_ids (through the fake Discord)", _kind(handle))


async def test_feedback_form_through_discord(env: Env, discord_errors: Any) -> None:
    """Generated text in the 'what went wrong?' form: each submit is thanked once and stored as typed, while
    other learners have the same form open."""
    learners = _learners(env, "reporter")
    down = next(i for i in env.answer.custom_ids() if i.startswith("ask:down"))
    asked_id = int(down.split(":")[2])
    texts = _generated(FORM_TEXT, E2E_EXAMPLES)
    for start in range(0, len(texts), BATCH):
        since = len(env.fake.messages)
        batch = list(zip(learners, texts[start : start + BATCH], strict=False))
        clicks = [await env.fake.click(who, env.answer, down, settle=False) for who, _ in batch]
        await _all_answered(env, clicks, since)  # every form open, and filed by the bot
        modals = [await click.wait_modal() for click in clicks]
        submits = [
            await env.fake.submit_modal(who, modal.custom_id, {modal.field_ids()[0]: text}, settle=False)
            for (who, text), modal in zip(batch, modals, strict=True)
        ]
        await _all_answered(env, submits, since)
        stored = await _notes(env, asked_id)
        for submitted, (who, text) in zip(submits, batch, strict=True):
            replies = env_messages(submitted)
            assert len(replies) == 1 and "moderators" in replies[0].text(), replies
            assert stored[who.id] == (text.strip()[:MAX_COMMENT] or None), "the note was not stored as typed"
            record("feedback form (through the fake Discord)", "thanked" if text.strip() else "thanked (empty note)")


async def _notes(env: Env, asked_id: int) -> dict[int, str | None]:
    """Each learner's stored note on the answer (a learner's newer note replaces the older one)."""
    async with env.bot.services.store.transaction() as repos:
        query = select(feedback.c.user_id, feedback.c.comment).where(feedback.c.asked_id == asked_id)
        return {row.user_id: row.comment for row in await repos.conn.execute(query)}


async def test_an_expired_form_is_answered(env: Env, discord_errors: Any) -> None:
    """A form submitted after the bot forgot it (its 10 minutes ran out, or a restart) is told to open it again."""
    down = next(i for i in env.answer.custom_ids() if i.startswith("ask:down"))
    modal = await (await env.fake.click(env.world.user, env.answer, down)).wait_modal()
    # discord.py files the form under its custom_id only once Discord has answered the request that opened it,
    # which is after the fake recorded that request: wait for the bot's side, then expire exactly that form.
    modals = env.bot._connection._view_store._modals
    form = await env.fake.wait_for(lambda: modals.get(modal.custom_id), timeout=10, what="the bot to file the form")
    form.stop()  # what the timeout does
    assert modal.custom_id not in modals
    reply = await answered(await env.fake.submit_modal(env.world.user, modal.custom_id, {modal.field_ids()[0]: "x"}))
    assert reply.ephemeral and reply.text() == _ui.UNROUTED_FORM


async def test_an_old_button_is_answered(env: Env, discord_errors: Any) -> None:
    """A button no handler knows (an older version's) gets a private 'no longer works' instead of silence."""
    reply = await answered(await env.fake.click_stale(env.world.user, env.answer, "poll:7:yes"))
    assert reply.ephemeral and reply.text() == _ui.UNROUTED_BUTTON
