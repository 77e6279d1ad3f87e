"""Moderators change a server's knowledge from Discord: the real bot and discord.py against the fake Discord."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.client import StudyBot
from bot.domain.ports import Actor
from tests.e2e.fake_discord import FakeDiscord, FakeGuild, FakeUser, StoredMessage, Upload, World
from tests.e2e.studybot import ROOT, Running, answered, make_settings
from tests.e2e.test_bot import running, world
from tests.helpers import quiz_upload

__all__ = ["running", "world"]  # fixtures shared with test_bot

pytestmark = [pytest.mark.model, pytest.mark.asyncio(loop_scope="function")]

REFUSED = "Only this server's moderators can do that"
KAN_QUESTION = "What are Kolmogorov-Arnold networks?"
KAN_TITLE = "Kolmogorov-Arnold networks"
KAN_BODY = (
    "Kolmogorov-Arnold networks (KANs) are neural networks that put learnable activation functions on the "
    "edges instead of fixed activations on the nodes. In a Kolmogorov-Arnold network each edge carries a "
    "learnable {kind} function of one variable, and each node only adds up its inputs. KANs are inspired by "
    "the Kolmogorov-Arnold representation theorem, which writes a continuous function of several variables as "
    "sums of functions of one variable."
)


async def slash(fake: FakeDiscord, user: FakeUser, guild: FakeGuild, world: World, command: str, **options: Any) -> Any:
    group, _, sub = command.partition(" ")
    return await fake.slash(user, guild, world.channel, group, options, subcommand=sub or None)


async def submit(fake: FakeDiscord, user: FakeUser, handle: Any, *values: str) -> StoredMessage:
    """Fill the modal the bot opened for ``handle`` in field order, submit it, and return the bot's reply."""
    modal = await handle.wait_modal()
    submitted = await fake.submit_modal(user, modal.custom_id, dict(zip(modal.field_ids(), values, strict=False)))
    return await answered(submitted, timeout=30)


async def indexed(bot: StudyBot, guild_id: int) -> None:
    """Wait (bounded) until the server's latest knowledge version is live."""
    version = (await bot.services.kb_admin.versions())[guild_id]
    status = await bot.kb_sync.wait_for(guild_id, version, timeout=60)
    assert status.version_live == version and status.last_error is None


async def ask(fake: FakeDiscord, user: FakeUser, guild: FakeGuild, channel: Any, question: str) -> StoredMessage:
    return await answered(await fake.slash(user, guild, channel, "ask", {"question": question}), timeout=30)


async def add_kan(fake: FakeDiscord, world: World, kind: str = "spline") -> StoredMessage:
    handle = await slash(fake, world.owner, world.guild, world, "kb add")
    return await submit(
        fake, world.owner, handle, KAN_TITLE, "machine-learning", KAN_BODY.format(kind=kind), "new topic"
    )


# ------------------------------------------------------------------------------------------------- entries


async def test_moderator_entry_answers_here_and_nowhere_else(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """An entry added through the /kb add modal answers /ask in its server; another server never sees it."""
    bot = running.bot
    assert bot is not None
    other = fake_discord.add_guild("Other School")
    other_channel = fake_discord.add_channel(other, "general")
    fake_discord.add_member(other, world.user)
    before = await ask(fake_discord, world.user, world.guild, world.channel, KAN_QUESTION)
    assert "not in my notes" in before.text()

    # The skill left empty in the form: a select asks for it, and picking one saves the entry.
    handle = await slash(fake_discord, world.owner, world.guild, world, "kb add")
    pick = await submit(fake_discord, world.owner, handle, KAN_TITLE, "", KAN_BODY.format(kind="spline"))
    assert pick.ephemeral and "Which skill" in pick.text()
    select = pick.custom_ids()[0]
    chosen = await fake_discord.click(world.owner, pick, select, values=["machine-learning"])
    reply = await chosen.wait_followup(0, timeout=30)
    assert reply.ephemeral and "Added **Kolmogorov-Arnold networks**" in reply.text()
    await indexed(bot, world.guild.id)

    here = await ask(fake_discord, world.user, world.guild, world.channel, KAN_QUESTION)
    assert "not in my notes" not in here.text() and KAN_TITLE in here.text() and "spline" in here.text()
    elsewhere = await ask(fake_discord, world.user, other, other_channel, KAN_QUESTION)
    assert KAN_TITLE not in elsewhere.text() and "spline" not in elsewhere.text()
    choices = await (
        await fake_discord.autocomplete(
            world.user, other, other_channel, "kb", {"entry": "kolmo"}, focused="entry", subcommand="edit"
        )
    ).wait_choices()
    assert choices == []


async def test_edit_then_rollback_restores_the_old_answer(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/kb edit changes the answer; /kb history lists both revisions; /kb rollback brings back the first answer."""
    bot = running.bot
    assert bot is not None
    await add_kan(fake_discord, world, "spline")
    doc_id = (await bot.services.kb_admin.search_entries(world.guild.id, "kolmogorov", origin="overlay"))[0][0]
    edit = await slash(fake_discord, world.owner, world.guild, world, "kb edit", entry=doc_id)
    modal = await edit.wait_modal()
    prefilled = [c["components"][0].get("value") for c in modal.components]
    assert KAN_TITLE in prefilled
    done = await submit(
        fake_discord, world.owner, edit, KAN_TITLE, "machine-learning", KAN_BODY.format(kind="Chebyshev polynomial")
    )
    assert "revision 2" in done.text()
    await indexed(bot, world.guild.id)
    edited = await ask(fake_discord, world.user, world.guild, world.channel, KAN_QUESTION)
    assert "Chebyshev" in edited.text() and "spline" not in edited.text()

    history = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb history", entry=doc_id))
    assert "**2** · edit" in history.text() and "**1** · add" in history.text()
    diff = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "kb diff", entry=doc_id, **{"from": 1, "to": 2})
    )
    assert "-" in diff.text() and "+" in diff.text() and "Chebyshev" in diff.text()
    rolled = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "kb rollback", entry=doc_id, revision=1)
    )
    assert "now revision 3" in rolled.text()
    await indexed(bot, world.guild.id)
    restored = await ask(fake_discord, world.user, world.guild, world.channel, KAN_QUESTION)
    assert "spline" in restored.text() and "Chebyshev" not in restored.text()

    # Someone else saves while a form is open: the late save is refused and its text comes back as a file.
    late = await slash(fake_discord, world.owner, world.guild, world, "kb edit", entry=doc_id)
    await late.wait_modal()
    other_mod = Actor(user_id=world.owner.id, guild_id=world.guild.id, command="test", manage_guild=True)
    await bot.services.kb_admin.edit(
        other_mod, doc_id, title=KAN_TITLE, skill="machine-learning", body=KAN_BODY.format(kind="B-spline")
    )
    refused = await submit(fake_discord, world.owner, late, KAN_TITLE, "machine-learning", "My late text " * 20)
    assert "changed while you were editing" in refused.text()
    draft = next(r for r in fake_discord.requests if r.files and r.files[0].filename.endswith("-draft.md"))
    assert b"My late text" in draft.files[0].data
    assert (await bot.services.kb_admin.entry(world.guild.id, doc_id)).revision == 4


async def test_hide_unhide_remove_and_status(running: Running, fake_discord: FakeDiscord, world: World) -> None:
    """Hiding a shipped entry drops it from this server's answers until unhidden; a removed entry stops answering."""
    bot = running.bot
    assert bot is not None

    async def cited(question: str) -> set[str]:
        answer = await bot.answerer.ask(question, guild_id=world.guild.id)
        return {s.doc_id for s in answer.sources}

    assert "concept-overfitting" in await cited("What is overfitting?")
    hidden = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "kb hide", entry="concept-overfitting")
    )
    assert "Hidden" in hidden.text()
    await indexed(bot, world.guild.id)
    assert "concept-overfitting" not in await cited("What is overfitting?")
    status = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb status"))
    assert "Live version" in status.text() and "Last error" in status.text()
    await answered(await slash(fake_discord, world.owner, world.guild, world, "kb unhide", entry="concept-overfitting"))
    await indexed(bot, world.guild.id)
    assert "concept-overfitting" in await cited("What is overfitting?")

    await add_kan(fake_discord, world)
    doc_id = (await bot.services.kb_admin.search_entries(world.guild.id, "kolmogorov", origin="overlay"))[0][0]
    prompt = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb remove", entry=doc_id))
    yes = next(c for c in prompt.custom_ids() if ":yes:" in c)
    stranger = await answered(await fake_discord.click(world.user, prompt, yes))
    assert "isn't yours" in stranger.text()
    click = await fake_discord.click(world.owner, prompt, yes)
    removed = await click.wait_message(lambda m: "Removed" in m.text(), timeout=30)
    assert removed.custom_ids() == []
    await indexed(bot, world.guild.id)
    assert doc_id not in await cited(KAN_QUESTION)


async def test_a_gap_is_answered_from_the_queue_and_closes(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """A question the bot abstained on shows in /kb gaps; its button opens a modal whose entry answers and closes it."""
    bot = running.bot
    assert bot is not None
    for asker in (world.user, world.other_user):
        assert "not in my notes" in (await ask(fake_discord, asker, world.guild, world.channel, KAN_QUESTION)).text()
    gaps = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb gaps"))
    assert "Kolmogorov-Arnold networks?" in gaps.text() and "asked 2×" in gaps.text()
    button = next(c for c in gaps.custom_ids() if c.startswith("kbgap:"))
    refused = await answered(await fake_discord.click(world.user, gaps, button))
    assert REFUSED in refused.text()
    click = await fake_discord.click(world.owner, gaps, button)
    reply = await submit(
        fake_discord, world.owner, click, KAN_TITLE, "machine-learning", KAN_BODY.format(kind="spline")
    )
    assert "Answered the gap" in reply.text()
    await indexed(bot, world.guild.id)
    assert KAN_TITLE in (await ask(fake_discord, world.user, world.guild, world.channel, KAN_QUESTION)).text()
    after = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb gaps"))
    assert "No open gaps" in after.text()


async def test_an_import_with_one_bad_item_applies_nothing(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """/kb import lists every problem as file:line: reason and applies none of the file; a good file then imports."""
    bot = running.bot
    assert bot is not None
    quiz = quiz_upload("""\
          - id: q-kan-1
            skill: machine-learning
            topic: overfitting
            difficulty: 1
            prompt: "What does overfitting mean for performance on new data?"
            options: ["It gets worse", "It gets better", "It stays identical", "It cannot be measured"]
            answer: 0
            explanation: "An overfit model memorises noise in the training data, so it does worse on unseen data."
            source: concept-overfitting
          - id: q-kan-2
            skill: machine-learning
            topic: overfitting
            difficulty: 1
            prompt: "Which split reveals overfitting most directly?"
            options: ["The validation set", "The training set", "The label set", "The feature set"]
            answer: 7
            explanation: "A gap between training and validation scores is the classic sign of overfitting."
            source: concept-overfitting
        """)
    bad = await answered(
        await slash(
            fake_discord, world.owner, world.guild, world, "kb import", file=Upload("quiz.yaml", quiz.encode())
        ),
        timeout=30,
    )
    assert "quiz.yaml:23: answer" in bad.text()
    found = await bot.services.quiz_admin.search_items(world.guild.id, "reveals overfitting")
    assert not any(item_id.startswith("guild-") for item_id, _ in found)
    assert world.guild.id not in await bot.services.kb_admin.versions()
    good = await answered(
        await slash(
            fake_discord,
            world.owner,
            world.guild,
            world,
            "kb import",
            file=Upload("quiz.yaml", quiz.replace("answer: 7", "answer: 0").encode()),
        ),
        timeout=30,
    )
    assert "Imported `quiz.yaml`" in good.text()
    found = await bot.services.quiz_admin.search_items(world.guild.id, "reveals overfitting")
    assert any(item_id.startswith("guild-") for item_id, _ in found)
    resources = textwrap.dedent("""\
        id: resources-server
        title: Server resources
        skill: math
        tags: [resources]
        level: beginner
        related: []
        resources:
          - id: res-server-matrices
            title: Our study group's matrix notes
            url: https://example.org/matrix-notes
            kind: course
            skill: math
            level: beginner
            cost: free
            why: Worked examples of matrix products written by this server's mentors.
        """)
    await answered(
        await slash(
            fake_discord, world.owner, world.guild, world, "kb import", file=Upload("res.yaml", resources.encode())
        ),
        timeout=30,
    )
    listed = await answered(await slash(fake_discord, world.user, world.guild, world, "resources", skill="math"))
    assert "Our study group's matrix notes" in listed.text() and "this server's pick" in listed.text()
    huge = await answered(
        await slash(
            fake_discord, world.owner, world.guild, world, "kb import", file=Upload("big.md", b"x" * (1024 * 1024 + 1))
        )
    )
    assert "larger than 1 MB" in huge.text()


# --------------------------------------------------------------------------------------------- permissions


async def test_non_moderators_are_refused_on_every_moderator_command(
    running: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """Every /kb, /quizbank and /config command refuses a member without Manage Server or the moderator role."""
    bot = running.bot
    assert bot is not None
    commands: dict[str, dict[str, Any]] = {
        "kb add": {},
        "kb edit": {"entry": "guild-anything"},
        "kb remove": {"entry": "guild-anything"},
        "kb hide": {"entry": "concept-overfitting"},
        "kb unhide": {"entry": "concept-overfitting"},
        "kb import": {"file": Upload("entry.md", b"# hello\n")},
        "kb history": {"entry": "guild-anything"},
        "kb diff": {"entry": "guild-anything", "from": 1, "to": 2},
        "kb rollback": {"entry": "guild-anything", "revision": 1},
        "kb gaps": {},
        "kb reports": {},
        "kb status": {},
        "quizbank add": {"skill": "math"},
        "quizbank edit": {"item": "q-math-001"},
        "quizbank suspend": {"item": "q-math-001"},
        "quizbank restore": {"item": "q-math-001"},
        "config moderator-role": {"role": world.role},
        "config help-channels": {"first": world.channel},
        "config qotd": {"channel": world.channel, "hour": 9},
        "config show": {},
    }
    for command, options in commands.items():
        reply = await answered(await slash(fake_discord, world.user, world.guild, world, command, **options))
        assert reply.ephemeral and REFUSED in reply.text(), command
    async with bot.services.store.transaction() as repos:
        refusals = [a for a in await repos.audit_entries(world.guild.id, 100) if a.outcome == "refused"]
    assert len(refusals) == len(commands) and {a.author_id for a in refusals} == {world.user.id}

    mods = await fake_discord.create_role(world.guild, "Mods")
    set_role = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "config moderator-role", role=mods)
    )
    assert "Moderator role" in set_role.text()
    fake_discord.add_member(world.guild, world.other_user, roles=[mods])
    shown = await answered(await slash(fake_discord, world.other_user, world.guild, world, "config show"))
    assert shown.ephemeral and str(mods.id) in shown.text()


# ------------------------------------------------------------------------------------------ quiz item reports


@pytest_asyncio.fixture(loop_scope="function")
async def one_math_item(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> AsyncIterator[Running]:
    """The bot with the shipped knowledge but a quiz bank holding a single math question."""
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    for part in ("skills", "concepts", "resources"):
        (knowledge / part).symlink_to(ROOT / "knowledge" / part)
    (knowledge / "quiz").mkdir()
    shipped = (ROOT / "knowledge" / "quiz" / "math.yaml").read_text()
    head, _, items = shipped.partition("items:\n")
    first = items.split("\n  - id: ")[0]
    (knowledge / "quiz" / "math.yaml").write_text(head + "items:\n" + first + "\n")
    settings = make_settings(
        fake_discord, world, tmp_path / "data", shipped_service.settings.index_dir, knowledge_dir=knowledge
    )
    runner = Running(fake_discord, settings)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def test_three_reports_suspend_a_quiz_item(
    one_math_item: Running, fake_discord: FakeDiscord, world: World
) -> None:
    """Three learners report a question from the button under its explanation; /quiz then stops serving it."""
    bot = one_math_item.bot
    assert bot is not None
    learners = [world.user, world.other_user, fake_discord.add_user("carol")]
    fake_discord.add_member(world.guild, learners[2])
    for n, learner in enumerate(learners, 1):
        quiz = await answered(await slash(fake_discord, learner, world.guild, world, "quiz", count=1, skill="math"))
        choice = next(c for c in quiz.custom_ids() if c.startswith("quiz:"))
        await fake_discord.click(learner, quiz, choice)
        explained = await fake_discord.wait_message(
            lambda m, q=quiz: m.id == q.id and any(c.startswith("qrep:") for c in m.custom_ids()), timeout=15
        )
        report = next(c for c in explained.custom_ids() if c.startswith("qrep:"))
        thanks = await answered(await fake_discord.click(learner, explained, report))
        assert "Thanks" in thanks.text() and (("paused it" in thanks.text()) == (n == 3))
    reports = await answered(await slash(fake_discord, world.owner, world.guild, world, "kb reports"))
    assert "3 report(s)" in reports.text() and "suspended" in reports.text()
    fourth = fake_discord.add_user("dave")
    fake_discord.add_member(world.guild, fourth)
    none_left = await answered(await slash(fake_discord, fourth, world.guild, world, "quiz", count=1, skill="math"))
    assert none_left.ephemeral and not any(c.startswith("quiz:") for c in none_left.custom_ids())
    item_id = report.removeprefix("qrep:")
    restored = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "quizbank restore", item=item_id)
    )
    assert "Restored" in restored.text()
    back = await answered(await slash(fake_discord, fourth, world.guild, world, "quiz", count=1, skill="math"))
    assert any(c.startswith("quiz:") for c in back.custom_ids())

    # A moderator writes a second math question, edits it through the pre-filled form, then suspends it.
    add = await slash(fake_discord, world.owner, world.guild, world, "quizbank add", skill="math")
    options = "A square matrix\nA row vector\nA scalar\nA tensor of rank three"
    explanation = "A 1x3 times 3x1 product sums three pairwise products, which gives a single number: a scalar."
    added = await submit(
        fake_discord,
        world.owner,
        add,
        "What do you get when you multiply a 1x3 row vector by a 3x1 column vector?",
        options,
        "C",
        explanation,
        "matrix products",
    )
    new_id = added.text().split("`")[1]
    assert new_id.startswith("guild-")
    fifth = fake_discord.add_user("erin")
    fake_discord.add_member(world.guild, fifth)
    both = await answered(await slash(fake_discord, fifth, world.guild, world, "quiz", count=2, skill="math"))
    assert "Question 1 of 2" in both.text()
    edit = await slash(fake_discord, world.owner, world.guild, world, "quizbank edit", item=new_id)
    modal = await edit.wait_modal()
    assert "scalar" in str(modal.components)
    prompt = "What is the product of a 1x3 row vector and a 3x1 column vector?"
    edited = await submit(fake_discord, world.owner, edit, prompt, options, "C", explanation, "matrix products")
    assert "Updated" in edited.text()
    paused = await answered(
        await slash(fake_discord, world.owner, world.guild, world, "quizbank suspend", item=new_id, reason="duplicate")
    )
    assert "Suspended" in paused.text()
    suspended = await bot.services.quiz_admin.item(world.guild.id, new_id)
    assert suspended.suspended and suspended.prompt == prompt
