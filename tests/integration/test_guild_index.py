"""Per-server knowledge overlays on the shipped knowledge base, with the real model."""

import asyncio

import pytest

from bot.domain.ports import KbOverlay
from bot.retrieval.servers import GuildIndexes, KbSync, service_factory
from index.chunking import Document, chunk_document
from index.embedder import MODEL_ID

GUILD, OTHER = 1001, 2002

MOE = Document(
    id="guild-mixture-of-experts",
    title="Mixture of experts",
    path="overlay/mixture-of-experts.md",
    skill="machine-learning",
    body=(
        "# Mixture of experts\n\n"
        "## What is a mixture of experts model?\n"
        "A mixture of experts (MoE) model replaces one large feed-forward block with many smaller expert "
        "networks and a learned router (gating network). For each token the router picks the top one or two "
        "experts, so only a fraction of the parameters run per token: the model has a huge parameter count "
        "but a modest compute cost.\n\n"
        "## Why do mixture of experts models need a load-balancing loss?\n"
        "Without help the router sends most tokens to a few favourite experts, which then overflow while the "
        "rest sit idle. An auxiliary load-balancing loss rewards spreading tokens evenly across the experts.\n"
    ),
)
DROPOUT_QUESTION = "What is dropout in a neural network?"


class CountingFactory:
    """Wraps the session's model to count embedded texts, or to fail on demand."""

    def __init__(self, model) -> None:
        self.model = model
        self.texts = 0
        self.fail: Exception | None = None

    def __call__(self, count: int):
        if self.fail is not None:
            raise self.fail
        self.texts += count
        return self.model


@pytest.fixture(scope="module")
def base(shipped_service):
    return shipped_service.store.open(MODEL_ID)


@pytest.fixture(scope="module")
def make_service(numpy_model):
    return service_factory(numpy_model)


@pytest.fixture
def factory(numpy_model):
    return CountingFactory(numpy_model)


@pytest.fixture
def indexes(base, make_service, factory, tmp_path):
    return GuildIndexes(base, tmp_path / "guild-indexes", make_service, factory)


def top_doc(service, question: str) -> str | None:
    answer = service.ask(question)
    return None if answer.abstained or not answer.sources else answer.sources[0].doc_id


def test_new_document_is_answered_in_its_server_only(indexes):
    """A new overlay entry becomes the top source for its server, never for another; only its chunks are embedded."""
    question = "What is a mixture of experts model?"
    assert top_doc(indexes.service(GUILD), question) != MOE.id
    outcome = indexes.publish(KbOverlay(GUILD, 1, (MOE,)))
    assert outcome.report is not None
    assert outcome.report.embedded == len(chunk_document(MOE)) == 2
    assert outcome.report.reused == len(indexes.base.chunks)
    assert top_doc(indexes.service(GUILD), question) == MOE.id
    other = indexes.service(OTHER).ask(question)
    assert MOE.id not in {s.doc_id for s in other.sources}


def test_hidden_shipped_entry_disappears_for_that_server_only(indexes, factory):
    """Hiding a shipped entry removes it from one server's answers; others still get it, and nothing is embedded."""
    assert top_doc(indexes.service(GUILD), DROPOUT_QUESTION) == "concept-dropout"
    outcome = indexes.publish(KbOverlay(GUILD, 1, hidden=frozenset({"concept-dropout"})))
    assert outcome.report is not None and outcome.report.embedded == 0
    hidden = indexes.service(GUILD).ask(DROPOUT_QUESTION)
    assert "concept-dropout" not in {s.doc_id for s in hidden.sources}
    assert top_doc(indexes.service(OTHER), DROPOUT_QUESTION) == "concept-dropout"


def test_failing_build_keeps_the_old_service(indexes, factory):
    """An embedder that cannot be created leaves the previous index answering and records the error."""
    indexes.publish(KbOverlay(GUILD, 1, (MOE,)))
    live = indexes.service(GUILD)
    factory.fail = MemoryError("cannot load the model")
    changed = Document(MOE.id, MOE.title, MOE.path, MOE.body + "\nA new paragraph about expert capacity.\n", MOE.skill)
    assert not indexes.publish(KbOverlay(GUILD, 2, (changed,))).ok
    assert indexes.service(GUILD) is live
    status = indexes.status(GUILD)
    assert status.version_live == 1 and status.pending
    assert status.last_error == "MemoryError: cannot load the model" and status.last_error_at is not None
    assert top_doc(indexes.service(GUILD), "What is a mixture of experts model?") == MOE.id


def test_killed_build_is_recovered_on_start(base, make_service, factory, tmp_path):
    """A leftover .tmp-* build and a CURRENT naming a lost build: load() rebuilds and answers the overlay again."""
    root = tmp_path / "guild-indexes"
    GuildIndexes(base, root, make_service, factory).publish(KbOverlay(GUILD, 1, (MOE,)))
    store_root = root / "guilds" / str(GUILD)
    (store_root / "builds" / ".tmp-20990101T000000-killed").mkdir()
    restarted = GuildIndexes(base, root, make_service, factory)
    factory.texts = 0
    assert restarted.load(KbOverlay(GUILD, 1, (MOE,))).action == "opened"
    assert factory.texts == 0
    (store_root / "CURRENT").write_text("20990101T000000-killed")
    restarted = GuildIndexes(base, root, make_service, factory)
    assert restarted.load(KbOverlay(GUILD, 1, (MOE,))).action == "built"
    assert not list((store_root / "builds").glob(".tmp-*"))
    assert top_doc(restarted.service(GUILD), "Why do mixture of experts models need a load-balancing loss?") == MOE.id


class FakeSource:
    """The knowledge-admin service as another process would change it: only versions() tells."""

    def __init__(self) -> None:
        self.overlays: dict[int, KbOverlay] = {}

    async def versions(self) -> dict[int, int]:
        return {g: o.version for g, o in self.overlays.items()}

    async def overlay(self, guild_id: int) -> KbOverlay:
        return self.overlays.get(guild_id, KbOverlay(guild_id, 0))


async def test_sync_picks_up_a_change_by_polling(indexes):
    """KbSync builds an overlay changed elsewhere, found only by polling versions(), within a bounded wait."""
    source = FakeSource()
    sync = KbSync(indexes, source, poll_seconds=0.1)
    await sync.start()
    try:
        source.overlays[GUILD] = KbOverlay(GUILD, 7, (MOE,))
        status = await sync.wait_for(GUILD, 7, timeout=20)
        assert status.version_live == 7 and status.last_error is None
        assert top_doc(indexes.service(GUILD), "What is a mixture of experts model?") == MOE.id
        assert indexes.service(OTHER) is indexes.base_service
    finally:
        await sync.stop()


# -- bounded memory: 30 servers under a small budget ----------------------------------------------

# One invented reading club per server: each server's overlay is one short note, so 30 builds stay cheap,
# and a question answered from any other server's index would name that server's club instead.
CLUBS = [
    "amber",
    "heron",
    "kestrel",
    "lotus",
    "marble",
    "nectar",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "velvet",
    "willow",
    "yarrow",
    "zephyr",
    "acorn",
    "birch",
    "cobalt",
    "dune",
    "ember",
    "fennel",
    "garnet",
    "hazel",
    "indigo",
    "juniper",
    "kelp",
    "lichen",
    "meadow",
]
SMALL = ("cross-validation", "dropout", "overfitting")


def club(n: int) -> Document:
    name = CLUBS[n].capitalize()
    body = (
        f"# The {name} reading club\n\n"
        f"## When does the {name} reading club meet?\n"
        f"The {name} reading club meets every week in the {name} room to read one machine learning paper "
        f"together; members of the {name} club take turns presenting it.\n"
    )
    return Document(f"guild-club-{CLUBS[n]}", f"The {name} reading club", f"overlay/{CLUBS[n]}.md", body, "soft-skills")


@pytest.fixture(scope="module")
def small_base(tmp_path_factory, numpy_model):
    """The real model over three shipped entries: a base that 30 server builds can copy in seconds."""
    from bot.domain.content import load_knowledge
    from index.store import IndexStore
    from tests.models import small_knowledge

    kb = load_knowledge(small_knowledge(tmp_path_factory.mktemp("small") / "knowledge", SMALL))
    store = IndexStore(tmp_path_factory.mktemp("small-index"))
    store.build([c for d in kb.documents() for c in chunk_document(d)], lambda n: numpy_model, MODEL_ID)
    return store.open(MODEL_ID)


async def test_eviction_keeps_answers_correct_for_30_servers(small_base, numpy_model, tmp_path):
    """Under a budget of ~5 server indexes, 30 servers asked in every order each get their own club's answer;
    resident memory never passes the budget and evicted servers are read back from disk."""
    import random

    from bot import metrics
    from bot.retrieval.answerer import Answerer
    from bot.retrieval.servers import index_bytes

    guilds = [5000 + n for n in range(30)]
    indexes = GuildIndexes(
        small_base, tmp_path / "guild-indexes", service_factory(numpy_model, 0.0), lambda n: numpy_model
    )
    for n, guild in enumerate(guilds):
        assert indexes.publish(KbOverlay(guild, 1, (club(n),))).ok
    one = max(index_bytes(indexes.service(g).retriever.index) for g in indexes.resident())
    budget = int(one * 5.5)
    indexes.memory_budget = budget
    indexes.publish(KbOverlay(guilds[0], 2, (club(0),)))  # the next admission applies the budget
    assert len(indexes.resident()) <= 5
    reopened = metrics.INDEX_REOPENS._value.get()

    order = guilds + guilds[::-1] + random.Random(13).sample(guilds, len(guilds))
    for guild in order:
        n = guilds.index(guild)
        answer = indexes.service(guild).ask(f"When does the {CLUBS[n].capitalize()} reading club meet?")
        assert answer.sources and answer.sources[0].doc_id == club(n).id, (guild, answer.sources[:1])
        assert len(indexes.resident()) <= 5
        assert indexes.memory_bytes() - index_bytes(small_base) <= budget
    assert metrics.INDEX_REOPENS._value.get() - reopened >= 30  # most questions found their server evicted

    answerer = Answerer(indexes)  # the bot's path: all 30 at once, reopened on the answer thread
    try:
        answers = await asyncio.gather(
            *(
                answerer.ask(f"When does the {CLUBS[n].capitalize()} reading club meet?", guild_id=guild)
                for n, guild in enumerate(guilds)
            )
        )
    finally:
        answerer.close()
    assert [a.sources[0].doc_id for a in answers] == [club(n).id for n in range(30)]
    assert all(indexes.status(g).version_live == (2 if g == guilds[0] else 1) for g in guilds)
