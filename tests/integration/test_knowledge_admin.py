"""Moderation and per-server knowledge overlays on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import Services
from bot.domain.content import load_knowledge
from bot.domain.gaps import UnknownGap, group_gaps
from bot.domain.knowledge_admin import (
    MODAL_BODY_LIMIT,
    CannotHide,
    EditConflict,
    EntryRemoved,
    InvalidEntry,
    InvalidUpload,
    UnknownEntry,
)
from bot.domain.moderation import QOTD_OFF, ConfigDefaults, InvalidSetting, ModerationService, NotModerator
from bot.domain.ports import Actor, AskedRecord, Learner
from bot.storage.tables import FORGOTTEN_AUTHOR
from tests.helpers import CONCEPT, quiz_upload
from tests.state import FakeClock

GUILD, OTHER = 500, 600
ROLE = 777
MOD = Actor(user_id=11, guild_id=GUILD, command="/kb add", manage_guild=True, name="mod")
OTHER_MOD = Actor(user_id=12, guild_id=OTHER, command="/kb add", manage_guild=True)
LEARNER = Actor(user_id=22, guild_id=GUILD, command="/kb add", role_ids=frozenset({ROLE}))
TWO_SECTIONS = "## What is it?\nA short explanation of the idea in plain words.\n\n## Why care?\nBecause it matters."
SHIPPED_ID = "concept-overfitting"

QUIZ = quiz_upload("""\
      - id: q-attention-1
        skill: machine-learning
        topic: attention
        difficulty: {difficulty}
        prompt: "What does attention compute over the inputs?"
        options: ["Weights by relevance", "A random mask", "The learning rate", "Batch statistics"]
        answer: 0
        explanation: "Attention scores each input against a query and averages them by those weights."
        source: concept-attention
    """)
ATTENTION = CONCEPT.format(slug="attention", title="Attention", body="Attention weighs the inputs by relevance.")


async def ask(state: Services, guild: int, question: str, *, user: int = 31, abstained: bool = True) -> int:
    async with state.store.transaction() as repos:
        if await repos.get_learner(user) is None:
            await repos.save_learner(Learner(user_id=user, name=f"u{user}", created_at=state.kb_admin.clock()))
        return await repos.add_asked(AskedRecord(user, guild, 1, question, abstained, 0.1, (), state.kb_admin.clock()))


async def test_non_moderators_are_refused_everywhere_and_each_refusal_is_audited(state: Services) -> None:
    """Every moderator method refuses a member without Manage Server or the role, writes nothing else, audits it."""
    admin, mod = state.kb_admin, state.moderation
    entry = await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    gap = await ask(state, GUILD, "what is a transformer?")
    version = (await admin.overlay(GUILD)).version
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: mod.set_moderator_role(LEARNER, ROLE),
        lambda: mod.set_help_channels(LEARNER, [1]),
        lambda: mod.set_qotd(LEARNER, 5, 8),
        lambda: mod.show(LEARNER),
        lambda: mod.audit_log(LEARNER),
        lambda: admin.add(LEARNER, "Mine", "python", "text"),
        lambda: admin.edit(LEARNER, entry.doc_id, title="X", skill="python", body="y"),
        lambda: admin.remove(LEARNER, entry.doc_id),
        lambda: admin.hide(LEARNER, SHIPPED_ID),
        lambda: admin.unhide(LEARNER, SHIPPED_ID),
        lambda: admin.history(LEARNER, entry.doc_id),
        lambda: admin.diff(LEARNER, entry.doc_id, 1, 1),
        lambda: admin.rollback(LEARNER, entry.doc_id, 1),
        lambda: admin.import_files(LEARNER, [("a.md", ATTENTION.encode())]),
        lambda: state.review.gaps(LEARNER),
        lambda: state.review.close_gap(LEARNER, gap, SHIPPED_ID),
        lambda: state.review.answer_gap(LEARNER, gap, "Transformers", "machine-learning", "text"),
        lambda: state.review.feedback_reports(LEARNER),
    ]
    for call in calls:
        with pytest.raises(NotModerator):
            await call()
    refused = [r for r in await mod.audit_log(MOD, 100) if r.outcome == "refused"]
    assert len(refused) == len(calls)
    assert {r.author_id for r in refused} == {LEARNER.user_id}
    assert (await admin.overlay(GUILD)).version == version
    assert [d.id for d in (await admin.overlay(GUILD)).documents] == [entry.doc_id]
    assert (await mod.config(GUILD)).moderator_role_id is None


async def test_manage_server_or_the_configured_role_may_moderate_only_their_own_server(state: Services) -> None:
    """The role works once configured; Manage Server always; a moderator cannot reach another server's data."""
    with pytest.raises(NotModerator):
        await state.kb_admin.add(LEARNER, "Attention", "machine-learning", TWO_SECTIONS)
    await state.moderation.set_moderator_role(MOD, ROLE)
    added = await state.kb_admin.add(LEARNER, "Attention", "machine-learning", TWO_SECTIONS)
    assert added.doc_id == "guild-attention"
    trusted = Actor(user_id=0, guild_id=GUILD, command="studybot kb import", trusted=True)
    assert await state.review.gaps(trusted, GUILD) == []
    with pytest.raises(NotModerator):
        await state.review.gaps(MOD, OTHER)
    with pytest.raises(NotModerator):
        await state.review.feedback_reports(MOD, OTHER)
    with pytest.raises(NotModerator):
        await state.moderation.check(Actor(user_id=5, guild_id=GUILD, command="/kb add"), "kb.add")
    assert (await state.moderation.check(LEARNER, "kb.add")).moderator_role_id == ROLE


async def test_turning_the_question_of_the_day_off_overrides_the_default_channel(state: Services) -> None:
    """A server that turns the question of the day off gets no channel, even where the settings name one."""
    moderation = ModerationService(state.store, state.moderation.clock, ConfigDefaults(qotd_channel_id=42))
    assert (await moderation.config(GUILD)).qotd_channel_id == 42
    await moderation.set_qotd(MOD, None, None)
    assert (await moderation.config(GUILD)).qotd_channel_id is None
    assert [(c.guild_id, c.qotd_channel_id) for c in await moderation.guilds_with_qotd()] == [(GUILD, QOTD_OFF)]
    await moderation.set_qotd(MOD, 7, 10)
    assert (await moderation.config(GUILD)).qotd_channel_id == 7


async def test_configuration_falls_back_to_defaults_and_validates(state: Services) -> None:
    """Unset values come from settings; the QOTD hour must be 0-23; each change is audited as ok."""
    config = await state.moderation.config(GUILD)
    assert (config.help_channels, config.qotd_channel_id, config.qotd_hour) == ((), None, 9)
    with pytest.raises(InvalidSetting, match="0 to 23"):
        await state.moderation.set_qotd(MOD, 5, 24)
    with pytest.raises(InvalidSetting, match="@everyone"):  # Discord gives @everyone the server's id
        await state.moderation.set_moderator_role(MOD, GUILD)
    await state.moderation.set_qotd(MOD, 5, 7)
    await state.moderation.set_help_channels(MOD, [3, 4, 3])
    await state.moderation.set_moderator_role(MOD, ROLE)
    shown = await state.moderation.show(MOD)
    assert (shown.help_channels, shown.qotd_channel_id, shown.qotd_hour, shown.moderator_role_id) == (
        (3, 4),
        5,
        7,
        ROLE,
    )
    await state.moderation.set_moderator_role(OTHER_MOD, ROLE)  # configured, but no QOTD channel of its own
    assert [(c.guild_id, c.qotd_channel_id) for c in await state.moderation.guilds_with_qotd()] == [(GUILD, 5)]
    log = await state.moderation.audit_log(MOD)
    assert [(r.action, r.outcome) for r in log] == [
        ("config.moderator-role", "ok"),
        ("config.help-channels", "ok"),
        ("config.qotd", "ok"),
    ]


async def test_add_edit_remove_rollback_keep_every_revision(state: Services, clock: FakeClock) -> None:
    """Each change is a numbered revision; history is newest first; diff shows the change; rollback restores."""
    admin = state.kb_admin
    added = await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS, tags=["NLP"], reason="new")
    assert (added.doc_id, added.revision, added.tags) == ("guild-attention", 1, ("nlp",))
    clock.advance(minutes=1)
    edited = await admin.edit(
        MOD, added.doc_id, title="Attention", skill="machine-learning", body=TWO_SECTIONS + " A lot.", reason="fix"
    )
    assert edited.revision == 2 and edited.tags == ("nlp",)
    removed = await admin.remove(MOD, added.doc_id, "outdated")
    assert removed.deleted and removed.revision == 3
    assert (await admin.overlay(GUILD)).documents == ()
    with pytest.raises(EntryRemoved):
        await admin.edit(MOD, added.doc_id, title="A", skill="python", body="b")
    restored = await admin.rollback(MOD, added.doc_id, 2, "was fine")
    assert not restored.deleted and restored.revision == 4 and restored.body.endswith("A lot.")
    history = await admin.history(MOD, added.doc_id)
    assert [(r.number, r.action, r.deleted) for r in history] == [
        (4, "rollback", False),
        (3, "remove", True),
        (2, "edit", False),
        (1, "add", False),
    ]
    diff = await admin.diff(MOD, added.doc_id, 1, 2)
    assert "-Because it matters.\n+Because it matters. A lot.\n" in diff
    assert await admin.diff(MOD, added.doc_id, 2, 4) == ""
    again = await admin.rollback(MOD, added.doc_id, 3)
    assert again.deleted and again.revision == 5
    assert (await admin.overlay(GUILD)).documents == ()
    assert (await admin.overlay(GUILD)).version == 5


async def test_entries_are_validated_like_the_knowledge_base(state: Services) -> None:
    """A bad skill, an over-long title or a body over Discord's modal limit is refused and nothing is stored."""
    with pytest.raises(InvalidEntry) as caught:
        await state.kb_admin.add(MOD, "T" * 121, "cooking", "x" * (MODAL_BODY_LIMIT + 1))
    problems = caught.value.problems
    assert problems[0] == f"body: at most {MODAL_BODY_LIMIT} characters (found {MODAL_BODY_LIMIT + 1})"
    assert any(p.startswith("skill: Input should be") for p in problems)
    assert any(p.startswith("title: String should have at most 120") for p in problems)
    with pytest.raises(InvalidEntry, match="url"):
        await state.kb_admin.add(MOD, "A course", "math", "A long enough reason to read it.", kind="resource")
    overlay = await state.kb_admin.overlay(GUILD)
    assert (overlay.version, overlay.documents) == (0, ())


async def test_titles_that_collide_get_numbered_ids_and_plain_text_is_searchable(state: Services) -> None:
    """Two entries with one title get guild-x and guild-x-2; a plain-text body becomes an indexable document."""
    first = await state.kb_admin.add(MOD, "Beam search", "machine-learning", "Keeps the best k sequences.")
    second = await state.kb_admin.add(MOD, "Beam search!", "machine-learning", "Another note.")
    assert (first.doc_id, second.doc_id) == ("guild-beam-search", "guild-beam-search-2")
    overlay = await state.kb_admin.overlay(GUILD)
    doc = next(d for d in overlay.documents if d.id == first.doc_id)
    assert (doc.path, doc.kind) == ("guild/guild-beam-search.md", "entry")
    assert doc.body == "# Beam search\n\n## Beam search\nKeeps the best k sequences.\n"


async def test_hide_and_unhide_apply_to_shipped_entries_only(state: Services) -> None:
    """Shipped ids can be hidden and shown again; server ids and unknown ids get a clear error; versions bump."""
    admin = state.kb_admin
    own = await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    assert (await admin.overlay(GUILD)).version == 1
    assert await admin.hide(MOD, SHIPPED_ID) is True
    assert await admin.hide(MOD, SHIPPED_ID) is False
    overlay = await admin.overlay(GUILD)
    assert overlay.hidden == {SHIPPED_ID} and overlay.version == 2
    view = await admin.entry(GUILD, SHIPPED_ID)
    assert view.hidden and view.origin == "shipped"
    assert [r[0] for r in await admin.search_entries(GUILD, "overfitting", origin="hidden")] == [SHIPPED_ID]
    assert SHIPPED_ID not in [r[0] for r in await admin.search_entries(GUILD, "overfitting", origin="base")]
    assert [r[0] for r in await admin.search_entries(GUILD, "", origin="overlay")] == [own.doc_id]
    with pytest.raises(CannotHide, match="/kb remove"):
        await admin.hide(MOD, own.doc_id)
    with pytest.raises(UnknownEntry):
        await admin.hide(MOD, "concept-nope")
    assert await admin.unhide(MOD, SHIPPED_ID) is True
    overlay = await admin.overlay(GUILD)
    assert overlay.hidden == frozenset() and overlay.version == 3
    assert (await admin.overlay(OTHER)).hidden == frozenset()
    assert await admin.versions() == {GUILD: 3}


async def test_one_servers_entries_never_reach_another(state: Services) -> None:
    """Guild A's entries are absent from guild B's overlay, search, export, entry lookup and gap queue."""
    admin = state.kb_admin
    mine = await admin.add(MOD, "Secret sauce", "python", TWO_SECTIONS)
    await admin.add(OTHER_MOD, "Public notes", "python", TWO_SECTIONS)
    await ask(state, GUILD, "what is the secret sauce?")
    await ask(state, OTHER, "what is a monad?")
    assert [d.id for d in (await admin.overlay(OTHER)).documents] == ["guild-public-notes"]
    assert await admin.search_entries(OTHER, "secret") == []
    assert [r[0] for r in await admin.search_entries(GUILD, "secret")] == [mine.doc_id]
    assert {r[2] for r in await admin.search_entries(OTHER, "overfitting")} == {"shipped"}
    assert await admin.search_entries(OTHER, "overfitting", include_base=False) == []
    with pytest.raises(UnknownEntry):
        await admin.entry(OTHER, mine.doc_id)
    assert list(await admin.export(OTHER)) == ["concepts/public-notes.md"]
    assert [g.question for g in await state.review.gaps(OTHER_MOD)] == ["what is a monad?"]
    with pytest.raises(UnknownEntry):
        await admin.edit(OTHER_MOD, mine.doc_id, title="x", skill="python", body="y")


async def test_import_is_all_or_nothing_and_lists_every_problem(state: Services) -> None:
    """One bad quiz item and one binary file: nothing is imported and each problem names file and line."""
    files = [
        ("attention.md", ATTENTION.encode()),
        ("quiz.yaml", QUIZ.format(difficulty=7).encode()),
        ("photo.md", b"\x89PNG\r\n\x00"),
        ("huge.md", b"#" * 1_000_001),
    ]
    with pytest.raises(InvalidUpload) as caught:
        await state.kb_admin.import_files(MOD, files)
    assert caught.value.problems == [
        "quiz.yaml:11: difficulty: Input should be less than or equal to 3",
        "photo.md:1: this is a binary file, not text",
        "huge.md:1: the file is 1.0 MB; the limit is 1 MB per file",
    ]
    assert "Nothing was imported: 3 problem(s)." in caught.value.message
    overlay = await state.kb_admin.overlay(GUILD)
    assert (overlay.version, overlay.documents) == (0, ())
    assert [r.action for r in await state.moderation.audit_log(MOD)] == []


async def test_import_adds_then_updates_then_skips_unchanged(state: Services) -> None:
    """Importing twice changes nothing the second time; an edited file becomes a new 'import' revision."""
    admin = state.kb_admin
    first = await admin.import_files(MOD, [("attention.md", ATTENTION.encode())], reason="seed")
    assert (first.added, first.updated, first.unchanged) == (1, 0, 0)
    again = await admin.import_files(MOD, [("attention.md", ATTENTION.encode())])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    changed = await admin.import_files(MOD, [("attention.md", ATTENTION.replace("relevance", "similarity").encode())])
    assert (changed.added, changed.updated) == (0, 1)
    history = await admin.history(MOD, "guild-attention")
    assert [(r.number, r.action) for r in history] == [(2, "import"), (1, "import")]
    assert (await admin.overlay(GUILD)).version == 2
    assert [r.action for r in await state.moderation.audit_log(MOD)] == ["kb.import"] * 3


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def same_but_for_server(files: dict[str, str], server: int) -> dict[str, str]:
    return {p.replace(str(server), str(GUILD)): t.replace(str(server), str(GUILD)) for p, t in files.items()}


async def test_export_is_valid_upstream_and_imports_back_identically(state: Services, tmp_path: Path) -> None:
    """Exported entries and resources pass the kb loader's validation and, imported elsewhere, export the same."""
    admin = state.kb_admin
    await admin.import_files(MOD, [("attention.md", ATTENTION.encode())])
    await admin.add(MOD, "Dropout notes", "machine-learning", TWO_SECTIONS, tags=["regularization"])
    await admin.add(
        MOD,
        "Linear algebra course",
        "math",
        "A classic course on vectors and matrices.",
        kind="resource",
        url="https://example.org/la",
    )
    exported = await admin.export(GUILD)
    assert sorted(exported) == ["concepts/attention.md", "concepts/dropout-notes.md", f"resources/server-{GUILD}.yaml"]
    loaded = load_knowledge(write_tree(tmp_path / "knowledge", exported))
    assert loaded.problems == []
    assert set(loaded.entries) == {"concept-attention", "concept-dropout-notes"}
    assert set(loaded.resources) == {"res-linear-algebra-course"}
    summary = await admin.import_files(OTHER_MOD, [(p, t.encode()) for p, t in exported.items()])
    assert (summary.added, summary.updated) == (3, 0)
    assert same_but_for_server(await admin.export(OTHER), OTHER) == exported


async def test_quiz_items_import_and_export_round_trip(state: Services, tmp_path: Path) -> None:
    """Quiz items get guild- ids and sources pointing at the server's entries; the export validates and reimports."""
    admin = state.kb_admin
    files = [("attention.md", ATTENTION.encode()), ("q.yaml", QUIZ.format(difficulty=2).encode())]
    summary = await admin.import_files(MOD, files)
    assert (summary.added, summary.quiz_added, summary.quiz_updated) == (1, 1, 0)
    exported = await admin.export(GUILD)
    assert sorted(exported) == ["concepts/attention.md", f"quiz/server-{GUILD}.yaml"]
    loaded = load_knowledge(write_tree(tmp_path / "knowledge", exported))
    assert loaded.problems == []
    assert loaded.quiz["guild-q-attention-1"].source == "concept-attention"
    again = await admin.import_files(MOD, files)
    assert (again.unchanged, again.quiz_updated) == (1, 1)
    await admin.import_files(OTHER_MOD, [(p, t.encode()) for p, t in exported.items()])
    assert same_but_for_server(await admin.export(OTHER), OTHER) == exported


async def test_gaps_group_similar_questions_and_close_as_a_group(state: Services, clock: FakeClock) -> None:
    """Similar unanswered questions form one gap (most asked first); closing it closes every question in it."""
    a = await ask(state, GUILD, "What is a transformer?")
    clock.advance(minutes=1)
    await ask(state, GUILD, "what's a transformer model")
    await ask(state, GUILD, "How do I read a CSV file?")
    await ask(state, GUILD, "what is a transformer", abstained=False)  # answered: not a gap
    clock.advance(minutes=1)
    b = await ask(state, GUILD, "Explain transformers?")
    gaps = await state.review.gaps(MOD)
    assert [(g.count, g.question) for g in gaps] == [
        (2, "What is a transformer?"),
        (1, "Explain transformers?"),
        (1, "How do I read a CSV file?"),
    ]
    assert gaps[0].id == a and gaps[0].last_asked == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    with pytest.raises(UnknownEntry):
        await state.review.close_gap(MOD, a, "guild-nope")
    closed = await state.review.close_gap(MOD, a + 1, SHIPPED_ID)
    assert closed.asked_ids == gaps[0].asked_ids
    entry = await state.review.answer_gap(MOD, b, "Transformers", "machine-learning", TWO_SECTIONS)
    assert [g.question for g in await state.review.gaps(MOD)] == ["How do I read a CSV file?"]
    assert entry.doc_id == "guild-transformers"
    with pytest.raises(UnknownGap):
        await state.review.close_gap(MOD, a, SHIPPED_ID)


def test_gap_grouping_is_deterministic_and_uses_word_overlap() -> None:
    """Grouping by normalized words: stopwords and punctuation do not matter; unrelated questions stay apart."""
    t = datetime(2026, 1, 1, tzinfo=UTC)
    asked = [
        AskedRecord(1, GUILD, 1, q, True, 0.1, (), t, id=i)
        for i, q in enumerate(["What is dropout?", "dropout??", "what is DROPOUT in keras", "what is batch norm"], 1)
    ]
    gaps = group_gaps(reversed(asked))
    assert [(g.id, g.asked_ids) for g in gaps] == [(1, (1, 2, 3)), (4, (4,))]


async def test_answer_reports_list_thumbs_down_with_question_and_comment(state: Services) -> None:
    """Only 👎 votes of this server are listed, newest first, with the question and the comment."""
    asked = await ask(state, GUILD, "what is dropout?", abstained=False)
    other = await ask(state, OTHER, "what is a monad?", abstained=False)
    await state.asks.feedback(asked, user_id=31, guild_id=GUILD, helpful=False, comment="too vague")
    await state.asks.feedback(other, user_id=31, guild_id=OTHER, helpful=False, comment="elsewhere")
    await state.asks.feedback(asked, user_id=32, guild_id=GUILD, helpful=True)
    reports = await state.review.feedback_reports(MOD)
    assert [(r.asked_id, r.question, r.comment) for r in reports] == [(asked, "what is dropout?", "too vague")]


async def test_forget_me_anonymizes_a_moderators_authorship(state: Services) -> None:
    """/forget-me exports what a moderator authored, then sets author ids to 0 and keeps the history."""
    admin = state.kb_admin
    await ask(state, GUILD, "what is attention?", user=MOD.user_id)
    gap = await ask(state, GUILD, "what is a transformer?")
    entry = await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    await admin.hide(MOD, SHIPPED_ID)
    await state.moderation.set_qotd(MOD, 5, 8)
    await state.review.close_gap(MOD, gap, entry.doc_id)
    exported = await state.learners.export(MOD.user_id)
    assert {"audit_log", "kb_revisions", "kb_hidden", "guild_config", "gap_closures"} <= set(exported["tables"])
    deleted = await state.learners.forget(MOD.user_id)
    assert deleted["asked_questions"] == 1 and deleted["kb_revisions"] == 1
    after = await state.learners.export(MOD.user_id)
    assert all(rows == [] for rows in after["tables"].values())
    history = await admin.history(MOD, entry.doc_id)
    assert [r.author_id for r in history] == [FORGOTTEN_AUTHOR]
    assert {r.author_id for r in await state.moderation.audit_log(MOD)} == {FORGOTTEN_AUTHOR}
    assert (await state.moderation.config(GUILD)).author_id == FORGOTTEN_AUTHOR


async def test_an_edit_started_from_an_old_revision_is_refused(state: Services) -> None:
    """Saving a form opened at revision 1 after someone saved revision 2 raises EditConflict and changes nothing."""
    entry = await state.kb_admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    await state.kb_admin.edit(
        MOD, entry.doc_id, title="Attention", skill="math", body=TWO_SECTIONS, expected_revision=1
    )
    with pytest.raises(EditConflict, match="revision 2"):
        await state.kb_admin.edit(
            MOD, entry.doc_id, title="Attention", skill="python", body=TWO_SECTIONS, expected_revision=1
        )
    now = await state.kb_admin.entry(GUILD, entry.doc_id)
    assert (now.revision, now.skill) == (2, "math")


class FakeEncoder:
    """OverlayEncoder over the real keys with a tiny fake vector per text; counts the texts it encodes."""

    model_id = "fake/model"

    def __init__(self, fail: bool = False) -> None:
        self.encoded = 0
        self.fail = fail

    def keys(self, documents):
        from bot.retrieval.overlay_vectors import overlay_texts

        return set(overlay_texts(documents))

    async def encode(self, documents, skip):
        if self.fail:
            raise RuntimeError("encoder down")
        todo = [key for key in self.keys(documents) if key not in skip]
        self.encoded += len(todo)
        return {key: key.encode()[:8] for key in todo}


async def test_a_change_stores_its_overlay_vectors_for_other_processes(state: Services) -> None:
    """With an encoder, each change stores the vectors of the server's live overlay in its own transaction:
    only new texts are encoded, a removed entry's vectors go, and overlay() hands them out with their model."""
    admin = state.kb_admin
    admin.encoder = encoder = FakeEncoder()
    first = await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    overlay = await admin.overlay(GUILD)
    assert overlay.vectors_model == "fake/model" and set(overlay.vectors) == encoder.keys(overlay.documents)
    assert encoder.encoded == len(overlay.vectors) > 0
    before = encoder.encoded
    await admin.add(MOD, "Dropout notes", "machine-learning", "Dropout turns off random units while training.")
    both = await admin.overlay(GUILD)
    assert set(both.vectors) == encoder.keys(both.documents) and encoder.encoded - before == len(both.vectors) - len(
        overlay.vectors
    )
    await admin.remove(MOD, first.doc_id)
    left = await admin.overlay(GUILD)
    assert set(left.vectors) == encoder.keys(left.documents) and not set(overlay.vectors) <= set(left.vectors)
    assert (await admin.overlay(OTHER)).vectors == {}


async def test_a_failing_encoder_never_costs_the_change(state: Services) -> None:
    """An encoder that raises leaves the change published (version bumped) with no vectors stored."""
    admin = state.kb_admin
    admin.encoder = FakeEncoder(fail=True)
    await admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    overlay = await admin.overlay(GUILD)
    assert overlay.version == 1 and len(overlay.documents) == 1 and overlay.vectors == {}
