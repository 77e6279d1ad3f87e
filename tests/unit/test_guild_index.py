import asyncio
import threading
import time

import pytest

from bot.domain.answering import AnswerService
from bot.domain.asking import NotesLoading, NotesUnavailable
from bot.domain.content import load_knowledge
from bot.domain.ports import KbOverlay
from bot.retrieval.answerer import Answerer
from bot.retrieval.servers import GuildIndexes, KbSync, index_bytes
from index.chunking import Chunk, Document, chunk_document
from index.confidence import Calibration
from index.embedder import HashingEmbedder
from index.retriever import HybridRetriever
from index.store import IndexStore, ModelMismatch
from tests.helpers import small_kb

# Confidence from the top cosine alone, so every matching question is answered (see test_answering.py).
ALWAYS = Calibration((10.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0)
GUILD, OTHER = 111, 222


class CountingEmbedder(HashingEmbedder):
    """Counts the texts it embeds; can be told to fail or to wait for a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0
        self.fail: Exception | None = None
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def encode(self, texts):
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        self.texts += len(texts)
        return super().encode(texts)


def doc(slug: str, title: str, text: str) -> Document:
    body = f"# {title}\n\n## What is {title.lower()}?\n{text}\n"
    return Document(id=f"guild-{slug}", title=title, path=f"overlay/{slug}.md", body=body, skill="machine-learning")


CLOCKS = doc("vector-clocks", "Vector clocks", "A vector clock orders events across replicas by counting per node.")
BLOOM = doc("bloom-filters", "Bloom filters", "A bloom filter answers set membership with hashed bit arrays.")


@pytest.fixture
def emb():
    return CountingEmbedder()


@pytest.fixture
def base(tmp_path, emb):
    kb = load_knowledge(small_kb(tmp_path / "knowledge"))
    store = IndexStore(tmp_path / "base")
    store.build([c for d in kb.documents() for c in chunk_document(d)], lambda n: emb, emb.model_id)
    emb.texts = 0
    emb.entered.clear()
    return store.open(emb.model_id)


def make_indexes(base, root, emb):
    return GuildIndexes(base, root, lambda idx: AnswerService(HybridRetriever(idx, emb), ALWAYS), lambda n: emb)


@pytest.fixture
def indexes(base, tmp_path, emb):
    return make_indexes(base, tmp_path / "guild-indexes", emb)


def top_doc(service: AnswerService, question: str) -> str | None:
    answer = service.ask(question)
    return answer.sources[0].doc_id if answer.sources else None


def doc_ids(service: AnswerService) -> set[str]:
    return {c.doc_id for c in service.retriever.index.chunks}


def test_seeded_build_embeds_only_chunks_the_seed_lacks(base, tmp_path, emb):
    """IndexStore.build(seed=...) reuses another build's chunk and sentence vectors: only new text is embedded."""
    chunks = list(base.chunks) + chunk_document(CLOCKS)
    report = IndexStore(tmp_path / "other").build(chunks, lambda n: emb, emb.model_id, seed=base)
    assert report.embedded == len(chunk_document(CLOCKS)) == 1
    assert report.reused == len(base.chunks)
    assert report.sentences_embedded == len(chunk_document(CLOCKS)[0].sentences)


def test_seed_from_another_model_is_refused(base, tmp_path, emb):
    """Mixing vectors of two models would rank garbage, so a foreign seed raises ModelMismatch."""
    with pytest.raises(ModelMismatch):
        IndexStore(tmp_path / "other").build(list(base.chunks), lambda n: emb, "other/model", seed=base)


def test_loaded_chunks_round_trip_with_the_same_hashes(base):
    """A loaded index holds typed Chunk objects whose content hashes match the manifest's."""
    assert all(isinstance(c, Chunk) for c in base.chunks)
    assert [c.content_hash for c in base.chunks] == [c["hash"] for c in base.manifest["chunks"]]


def test_overlay_document_is_answerable_in_its_server_only(indexes, emb):
    """A published document is searched for its server; other servers keep the shipped index."""
    outcome = indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    assert outcome.action == "built" and outcome.report is not None
    assert outcome.report.embedded == 1
    assert top_doc(indexes.service(GUILD), "what is a vector clock across replicas") == CLOCKS.id
    assert indexes.service(OTHER) is indexes.base_service
    assert indexes.service(None) is indexes.base_service
    assert CLOCKS.id not in doc_ids(indexes.service(OTHER))


def test_hidden_documents_disappear_for_that_server_only(indexes):
    """Hiding a shipped entry removes its chunks from the server's index and leaves the base untouched."""
    indexes.publish(KbOverlay(GUILD, 1, hidden=frozenset({"concept-overfitting"})))
    assert "concept-overfitting" not in doc_ids(indexes.service(GUILD))
    assert "concept-overfitting" in doc_ids(indexes.service(OTHER))
    assert top_doc(indexes.service(GUILD), "what is overfitting") != "concept-overfitting"


def test_overlay_document_replaces_a_shipped_one_with_its_id(indexes):
    """An overlay document with a shipped id is an edit: only the server's text is indexed under that id."""
    edited = Document("concept-overfitting", "Overfitting", "overlay/o.md", "# Overfitting\n\nOur own words.", "ml")
    indexes.publish(KbOverlay(GUILD, 1, (edited,)))
    texts = [c.text for c in indexes.service(GUILD).retriever.index.chunks if c.doc_id == edited.id]
    assert texts == ["Our own words."]


def test_a_second_version_embeds_only_what_changed(indexes):
    """Publishing v2 reuses v1's overlay vectors as well as the shipped ones."""
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    outcome = indexes.publish(KbOverlay(GUILD, 2, (CLOCKS, BLOOM)))
    assert outcome.report is not None and outcome.report.embedded == 1
    assert indexes.status(GUILD).version_live == 2


def stored_vectors(documents, emb) -> dict[str, bytes]:
    """The vectors a publishing process would store for these documents (OverlayVectors, run inline)."""
    from bot.retrieval.overlay_vectors import OverlayVectors, overlay_texts

    encoder = OverlayVectors(emb, executor=None, model_id=emb.model_id)  # type: ignore[arg-type]
    return encoder._encode(overlay_texts(documents))


def test_vectors_stored_by_the_publisher_are_used_instead_of_embedding(indexes, emb):
    """An overlay that carries its vectors (of this model) is built without embedding anything, and answers."""
    vectors = stored_vectors([CLOCKS], emb)
    emb.texts = 0
    outcome = indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,), vectors=vectors, vectors_model=emb.model_id))
    assert outcome.report is not None and outcome.report.embedded == 0 and outcome.report.sentences_embedded == 0
    assert emb.texts == 0
    assert top_doc(indexes.service(GUILD), "what is a vector clock across replicas") == CLOCKS.id


def test_stored_vectors_of_another_model_or_shape_are_embedded_again(indexes, emb):
    """Vectors labelled with another model, or of the wrong dimension, are ignored: the text is embedded here."""
    vectors = stored_vectors([CLOCKS], emb)
    foreign = indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,), vectors=vectors, vectors_model="other/model"))
    assert foreign.report is not None and foreign.report.embedded == 1
    short = {key: raw[:-4] for key, raw in stored_vectors([BLOOM], emb).items()}
    misshapen = indexes.publish(KbOverlay(GUILD, 2, (CLOCKS, BLOOM), vectors=short, vectors_model=emb.model_id))
    assert misshapen.report is not None and misshapen.report.embedded == 1


def test_stored_vectors_are_the_ones_a_build_would_compute(base, tmp_path, emb):
    """A build from stored vectors writes the same vectors as a build that embeds (keys match chunk and sentence)."""
    chunks = list(base.chunks) + chunk_document(CLOCKS)
    embedded = IndexStore(tmp_path / "a").build_and_open(chunks, lambda n: emb, emb.model_id, seed=base)[1]
    from bot.retrieval.overlay_vectors import decode

    known = decode(stored_vectors([CLOCKS], emb), int(base.vectors.shape[1]))
    reused = IndexStore(tmp_path / "b").build_and_open(chunks, lambda n: emb, emb.model_id, seed=base, known=known)[1]
    assert (reused.vectors == embedded.vectors).all() and (reused.sentence_vectors == embedded.sentence_vectors).all()


def test_failed_build_keeps_the_previous_service_and_records_the_error(indexes, emb):
    """An embedder that raises leaves v1 answering and puts the error, with its time, in the status."""
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    live = indexes.service(GUILD)
    emb.fail = RuntimeError("out of memory")
    outcome = indexes.publish(KbOverlay(GUILD, 2, (CLOCKS, BLOOM)))
    assert outcome.action == "failed" and "out of memory" in (outcome.error or "")
    assert indexes.service(GUILD) is live
    status = indexes.status(GUILD)
    assert (status.version_live, status.version_wanted, status.pending) == (1, 2, True)
    assert status.last_error == "RuntimeError: out of memory" and status.last_error_at is not None
    emb.fail = None
    assert indexes.publish(KbOverlay(GUILD, 2, (CLOCKS, BLOOM))).ok
    assert indexes.status(GUILD).last_error is None


def test_first_build_failing_leaves_the_server_on_the_base(indexes, emb):
    """A server whose very first build fails is answered from the shipped index."""
    emb.fail = RuntimeError("boom")
    assert not indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,))).ok
    assert indexes.service(GUILD) is indexes.base_service
    assert indexes.status(GUILD).version_live is None


def test_empty_overlay_goes_back_to_the_base(indexes):
    """An overlay with no documents and nothing hidden is answered by the shipped service itself."""
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    outcome = indexes.publish(KbOverlay(GUILD, 2))
    assert outcome.action == "base"
    assert indexes.service(GUILD) is indexes.base_service
    status = indexes.status(GUILD)
    assert (status.version_live, status.build_id, status.pending) == (2, indexes.base.build_id, False)


def test_status_describes_the_live_build(indexes):
    """status() names the live version, build and size, and is idle once built."""
    before = indexes.status(GUILD)
    assert (before.version_live, before.build_id, before.pending) == (None, indexes.base.build_id, False)
    indexes.publish(KbOverlay(GUILD, 3, (CLOCKS,)))
    status = indexes.status(GUILD)
    assert status.version_live == status.version_wanted == 3
    assert status.chunks == len(indexes.base.chunks) + 1
    assert status.build_id == indexes.service(GUILD).retriever.index.build_id
    assert status.built_at and not status.building and not status.pending


def test_restart_opens_the_matching_build_without_embedding(base, tmp_path, emb):
    """After a restart, load() opens the stored build for the same base and version; a killed build's tmp dir is ignored."""
    root = tmp_path / "guild-indexes"
    make_indexes(base, root, emb).publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    (root / "guilds" / str(GUILD) / "builds" / ".tmp-killed").mkdir()  # a build killed half-way
    emb.fail = AssertionError("nothing should be embedded")
    restarted = make_indexes(base, root, emb)
    assert restarted.load(KbOverlay(GUILD, 1, (CLOCKS,))).action == "opened"
    assert CLOCKS.id in doc_ids(restarted.service(GUILD))


def test_restart_rebuilds_when_the_version_or_base_changed(base, tmp_path, emb):
    """load() rebuilds when the stored build is for another overlay version."""
    root = tmp_path / "guild-indexes"
    make_indexes(base, root, emb).publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    restarted = make_indexes(base, root, emb)
    outcome = restarted.load(KbOverlay(GUILD, 2, (CLOCKS, BLOOM)))
    assert outcome.action == "built" and outcome.report is not None and outcome.report.embedded == 1
    assert not list((root / "guilds" / str(GUILD) / "builds").glob(".tmp-*"))


def test_restart_recovers_from_a_stale_current_pointer(base, tmp_path, emb):
    """A CURRENT naming a build that never finished is treated as no build: load() builds again."""
    root = tmp_path / "guild-indexes"
    make_indexes(base, root, emb).publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    (root / "guilds" / str(GUILD) / "CURRENT").write_text("20990101T000000-deadbeef")
    restarted = make_indexes(base, root, emb)
    assert restarted.load(KbOverlay(GUILD, 1, (CLOCKS,))).action == "built"
    assert top_doc(restarted.service(GUILD), "vector clock replicas") == CLOCKS.id


def test_damaged_matching_build_is_rebuilt(base, tmp_path, emb):
    """A stored build with the right fingerprint but damaged files is rebuilt, not trusted."""
    root = tmp_path / "guild-indexes"
    make_indexes(base, root, emb).publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    current = IndexStore(root / "guilds" / str(GUILD)).current_dir()
    assert current is not None
    (current / "vectors.npy").write_bytes(b"garbage")
    assert make_indexes(base, root, emb).load(KbOverlay(GUILD, 1, (CLOCKS,))).action == "built"


# -- KbSync ---------------------------------------------------------------------------------------


class FakeSource:
    """The knowledge-admin service in memory: each change bumps the server's version."""

    def __init__(self) -> None:
        self.overlays: dict[int, KbOverlay] = {}
        self.fail: Exception | None = None

    def put(self, guild_id: int, documents=(), hidden=()) -> int:
        version = self.overlays[guild_id].version + 1 if guild_id in self.overlays else 1
        self.overlays[guild_id] = KbOverlay(guild_id, version, tuple(documents), frozenset(hidden))
        return version

    async def versions(self) -> dict[int, int]:
        if self.fail:
            raise self.fail
        return {g: o.version for g, o in self.overlays.items()}

    async def overlay(self, guild_id: int) -> KbOverlay:
        if self.fail:
            raise self.fail
        return self.overlays.get(guild_id, KbOverlay(guild_id, 0))


@pytest.fixture
async def sync(indexes):
    source = FakeSource()
    sync = KbSync(indexes, source, poll_seconds=0.05)
    yield sync
    await sync.stop()


async def test_start_builds_every_server_with_an_overlay(sync):
    """start() queues each server that has an overlay; both become answerable."""
    sync.source.put(GUILD, [CLOCKS])
    sync.source.put(OTHER, [BLOOM])
    await sync.start()
    await sync.wait_for(GUILD, 1, timeout=5)
    await sync.wait_for(OTHER, 1, timeout=5)
    assert CLOCKS.id in doc_ids(sync.indexes.service(GUILD))
    assert BLOOM.id in doc_ids(sync.indexes.service(OTHER))
    assert CLOCKS.id not in doc_ids(sync.indexes.service(OTHER))


async def test_start_after_a_restart_opens_stored_builds(base, tmp_path, emb):
    """A new process's KbSync opens the builds left by the last one: nothing embedded, nothing pending."""
    root = tmp_path / "guild-indexes"
    make_indexes(base, root, emb).publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    emb.fail = AssertionError("nothing should be embedded")
    indexes = make_indexes(base, root, emb)
    source = FakeSource()
    source.put(GUILD, [CLOCKS])
    sync = KbSync(indexes, source, poll_seconds=3600)
    await sync.start()
    try:
        status = await sync.wait_for(GUILD, 1, timeout=5)
    finally:
        await sync.stop()
    assert (status.version_live, status.pending, status.last_error) == (1, False, None)
    assert CLOCKS.id in doc_ids(indexes.service(GUILD))


async def test_kick_rebuilds_right_away(indexes):
    """A local change followed by kick() is live without waiting for a poll."""
    source = FakeSource()
    sync = KbSync(indexes, source, poll_seconds=3600)
    await sync.start()
    try:
        version = source.put(GUILD, [CLOCKS])
        sync.kick(GUILD)
        assert indexes.status(GUILD).pending
        status = await sync.wait_for(GUILD, version, timeout=5)
        assert status.version_live == version and not status.pending
    finally:
        await sync.stop()


async def test_poll_picks_up_changes_made_by_another_process(sync):
    """A version bump seen only through versions() (no kick) is built, and a deleted overlay goes back to base."""
    await sync.start()
    version = sync.source.put(GUILD, [CLOCKS])
    status = await sync.wait_for(GUILD, version, timeout=5)
    assert status.version_live == version
    del sync.source.overlays[GUILD]
    for _ in range(100):
        if sync.indexes.service(GUILD) is sync.indexes.base_service:
            break
        await asyncio.sleep(0.02)
    assert sync.indexes.service(GUILD) is sync.indexes.base_service
    assert not sync.indexes.status(GUILD).pending


async def test_changes_during_a_build_are_coalesced_into_one_more_build(sync, emb):
    """While v1 builds, three more changes arrive: exactly one more build follows, with the latest overlay."""
    built: list[int] = []
    load = sync.indexes.load
    sync.indexes.load = lambda overlay: (built.append(overlay.version), load(overlay))[1]
    emb.gate = threading.Event()
    await sync.start()
    sync.source.put(GUILD, [CLOCKS])
    sync.kick(GUILD)
    assert await asyncio.to_thread(emb.entered.wait, 5)
    for _ in range(3):
        version = sync.source.put(GUILD, [CLOCKS, BLOOM])
        sync.kick(GUILD)
    assert sync.indexes.status(GUILD).building
    emb.gate.set()
    status = await sync.wait_for(GUILD, version, timeout=5)
    assert built == [1, version]
    assert status.version_live == version and BLOOM.id in doc_ids(sync.indexes.service(GUILD))


async def test_event_loop_stays_responsive_during_a_build(sync, emb):
    """A slow build runs on the build thread: the loop keeps ticking and the old service keeps answering."""
    emb.gate = threading.Event()
    await sync.start()
    sync.source.put(GUILD, [CLOCKS])
    sync.kick(GUILD)
    assert await asyncio.to_thread(emb.entered.wait, 5)
    started = time.perf_counter()
    await asyncio.sleep(0.01)
    assert time.perf_counter() - started < 0.5
    assert sync.indexes.service(GUILD) is sync.indexes.base_service
    emb.gate.set()
    assert (await sync.wait_for(GUILD, 1, timeout=5)).version_live == 1


async def test_source_failure_is_recorded_and_retried(sync):
    """An unreadable overlay is recorded as the server's last error; the next kick succeeds."""
    await sync.start()
    sync.source.put(GUILD, [CLOCKS])
    sync.source.fail = ConnectionError("database down")
    sync.kick(GUILD)
    for _ in range(100):
        if sync.indexes.status(GUILD).last_error:
            break
        await asyncio.sleep(0.02)
    assert sync.indexes.status(GUILD).last_error == "ConnectionError: database down"
    sync.source.fail = None
    sync.kick(GUILD)
    assert (await sync.wait_for(GUILD, 1, timeout=5)).last_error is None


async def test_wait_for_times_out(sync):
    """wait_for is bounded: no build for the version means TimeoutError."""
    await sync.start()
    with pytest.raises(TimeoutError):
        await sync.wait_for(GUILD, 1, timeout=0.1)


async def test_stop_cancels_cleanly(indexes):
    """stop() ends both loops and returns; calling it twice is harmless."""
    sync = KbSync(indexes, FakeSource(), poll_seconds=0.01)
    await sync.start()
    tasks = list(sync._tasks)
    await sync.stop()
    assert all(t.done() for t in tasks)
    await sync.stop()


class FakeFeed:
    """A change feed the test drives: up or down, and pushes as another process's NOTIFY would."""

    def __init__(self) -> None:
        self.changed = None
        self.connected = None
        self.running = asyncio.Event()

    async def run(self, changed, connected) -> None:
        self.changed, self.connected = changed, connected
        connected(True)
        self.running.set()
        await asyncio.Event().wait()


class CountingSource(FakeSource):
    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    async def versions(self) -> dict[int, int]:
        self.polls += 1
        return await super().versions()


async def wait_polls(source: CountingSource, more_than: int) -> None:
    for _ in range(200):
        if source.polls > more_than:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no poll")


async def test_while_the_feed_is_up_a_pushed_change_is_built_and_nothing_is_polled(indexes):
    """With the feed connected, versions() is asked once to catch up, then never; a notification alone builds."""
    source = CountingSource()
    feed = FakeFeed()
    sync = KbSync(indexes, source, poll_seconds=0.02, feed=feed)
    await sync.start()
    try:
        await wait_polls(source, 1)  # the start poll, then the catch-up after the feed came up
        polls = source.polls
        version = source.put(GUILD, [CLOCKS])
        feed.changed(GUILD, version)
        status = await sync.wait_for(GUILD, version, timeout=5)
        await asyncio.sleep(0.2)  # ten poll intervals
        assert status.version_live == version and source.polls == polls
        feed.changed(GUILD, version)  # the same version again (e.g. our own change echoed back): nothing to do
        assert not sync.indexes.status(GUILD).pending
    finally:
        await sync.stop()


async def test_when_the_feed_goes_down_polling_resumes(indexes):
    """The feed reports itself down: versions() is polled again and finds a change nobody pushed."""
    source = CountingSource()
    feed = FakeFeed()
    sync = KbSync(indexes, source, poll_seconds=0.02, feed=feed)
    await sync.start()
    try:
        await wait_polls(source, 1)
        feed.connected(False)
        version = source.put(GUILD, [BLOOM])
        status = await sync.wait_for(GUILD, version, timeout=5)
        assert status.version_live == version and BLOOM.id in doc_ids(indexes.service(GUILD))
    finally:
        await sync.stop()


async def test_a_notification_for_a_server_on_another_shard_is_ignored(indexes):
    """A cluster builds only the servers on its shards, pushed or polled."""
    source = FakeSource()
    feed = FakeFeed()
    sync = KbSync(indexes, source, poll_seconds=3600, feed=feed, serves=lambda g: g != OTHER)
    await sync.start()
    try:
        await feed.running.wait()
        version = source.put(OTHER, [BLOOM])
        feed.changed(OTHER, version)
        assert not sync.indexes.status(OTHER).pending
        assert sync.indexes.guilds() == []
    finally:
        await sync.stop()


# -- bounded memory: LRU eviction -----------------------------------------------------------------

THIRD = 333


def bounded(base, tmp_path, emb, indexes_held: float) -> GuildIndexes:
    """GuildIndexes whose budget holds ``indexes_held`` server indexes the size of one with CLOCKS."""
    probe = make_indexes(base, tmp_path / "probe", emb)
    probe.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    size = index_bytes(probe.service(GUILD).retriever.index)
    emb.texts = 0
    indexes = make_indexes(base, tmp_path / "guild-indexes", emb)
    indexes.memory_budget = int(size * indexes_held)
    return indexes


def test_past_the_budget_the_least_recently_used_index_is_evicted(base, tmp_path, emb):
    """With room for two server indexes, publishing a third evicts the oldest; memory stays within the budget."""
    indexes = bounded(base, tmp_path, emb, 2.5)
    for guild in (GUILD, OTHER, THIRD):
        indexes.publish(KbOverlay(guild, 1, (CLOCKS,)))
    assert indexes.resident() == [OTHER, THIRD]
    assert indexes.memory_bytes() - index_bytes(base) <= indexes.memory_budget


def test_asking_marks_a_server_as_recently_used(base, tmp_path, emb):
    """A question in the oldest server makes the next eviction pick the other one."""
    indexes = bounded(base, tmp_path, emb, 2.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
    indexes.service(GUILD)
    indexes.publish(KbOverlay(THIRD, 1, (CLOCKS,)))
    assert indexes.resident() == [GUILD, THIRD]


def test_an_evicted_index_is_reopened_from_disk_without_embedding(base, tmp_path, emb):
    """The next question in an evicted server reads its build back and answers from its own overlay."""
    indexes = bounded(base, tmp_path, emb, 1.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
    assert indexes.resident() == [OTHER]
    built: list[int] = []
    publish = indexes._publish
    indexes._publish = lambda state, overlay: (built.append(overlay.guild_id), publish(state, overlay))[1]
    assert top_doc(indexes.service(GUILD), "vector clock replicas") == CLOCKS.id
    assert indexes.resident() == [GUILD]  # and the other one made room
    assert top_doc(indexes.service(OTHER), "bloom filter set membership") == BLOOM.id
    assert indexes.resident() == [OTHER] and built == []


def test_a_budget_smaller_than_one_index_still_answers(base, tmp_path, emb):
    """The index just opened is never evicted for being over the budget: one server index stays live."""
    indexes = bounded(base, tmp_path, emb, 0.1)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    assert indexes.resident() == [GUILD]
    assert top_doc(indexes.service(GUILD), "vector clock replicas") == CLOCKS.id


def test_an_evicted_server_whose_build_is_gone_is_rebuilt_on_demand(base, tmp_path, emb):
    """If the stored build disappeared after eviction, the next question rebuilds it rather than answering from the base."""
    import shutil

    indexes = bounded(base, tmp_path, emb, 1.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
    shutil.rmtree(tmp_path / "guild-indexes" / "guilds" / str(GUILD))
    assert top_doc(indexes.service(GUILD), "vector clock replicas") == CLOCKS.id


def test_status_of_an_evicted_server_names_its_own_build(base, tmp_path, emb):
    """/kb status of an evicted server reports its overlay build (chunks, id), not the shipped one, and nothing pending."""
    indexes = bounded(base, tmp_path, emb, 1.5)
    indexes.publish(KbOverlay(GUILD, 4, (CLOCKS,)))
    build_id = indexes.status(GUILD).build_id
    indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
    status = indexes.status(GUILD)
    assert (status.version_live, status.build_id, status.pending) == (4, build_id, False)
    assert status.build_id != indexes.base.build_id and status.chunks == len(indexes.base.chunks) + 1


def test_an_empty_overlay_frees_its_memory(base, tmp_path, emb):
    """A server going back to the shipped index no longer counts against the budget."""
    indexes = bounded(base, tmp_path, emb, 2.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    indexes.publish(KbOverlay(GUILD, 2))
    assert indexes.resident() == []
    assert indexes.memory_bytes() == index_bytes(base)


def test_reopen_and_eviction_race_without_deadlock(base, tmp_path, emb):
    """Two threads asking in servers that evict each other (budget of one) all get their own server's answer."""
    indexes = bounded(base, tmp_path, emb, 0.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
    wrong: list[str | None] = []

    def ask(guild: int, question: str, expected: str) -> None:
        for _ in range(15):
            found = top_doc(indexes.service(guild), question)
            if found != expected:
                wrong.append(found)

    threads = [
        threading.Thread(target=ask, args=(GUILD, "vector clock replicas", CLOCKS.id)),
        threading.Thread(target=ask, args=(OTHER, "bloom filter set membership", BLOOM.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads) and wrong == []


async def test_the_answerer_says_still_loading_until_an_index_is_attached(indexes):
    """Answerer() before attach: ask and status raise NotesLoading (the bot is connected, the index loads); after, it answers."""
    answerer = Answerer()
    try:
        assert not answerer.ready and answerer.memory_bytes() == 0
        with pytest.raises(NotesLoading):
            await answerer.ask("what is overfitting", guild_id=GUILD)
        with pytest.raises(NotesLoading):
            answerer.status(GUILD)
        answerer.attach(indexes)
        answer = await answerer.ask("what is overfitting", guild_id=GUILD)
        assert answerer.ready and answer.sources and answerer.memory_bytes() == indexes.memory_bytes()
    finally:
        answerer.close()


async def test_an_answerer_whose_index_failed_refuses_with_the_error_id():
    """Answerer.fail(id): ask and status raise NotesUnavailable carrying that id, and it is not ready."""
    answerer = Answerer()
    try:
        answerer.fail("0badc0de")
        assert not answerer.ready and answerer.failure == "0badc0de"
        with pytest.raises(NotesUnavailable, match="0badc0de"):
            await answerer.ask("what is overfitting", guild_id=GUILD)
        with pytest.raises(NotesUnavailable, match="0badc0de"):
            answerer.status(GUILD)
    finally:
        answerer.close()


def test_an_evicted_index_is_freed_at_once_not_at_the_next_full_collection(base, tmp_path, emb):
    """Eviction returns the memory when it happens: nothing in a server's answering keeps its index in a reference
    cycle, so the index dies by reference counting. (A cycle kept every evicted index until a full garbage
    collection, which is rare in the bot after ``gc.freeze()``: ``bench memory`` grew past the budget.)"""
    import gc
    import weakref

    indexes = bounded(base, tmp_path, emb, 1.5)
    indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    top_doc(indexes.service(GUILD), "vector clock replicas")
    evicted = weakref.ref(indexes.service(GUILD).retriever.index)
    gc.disable()
    try:
        indexes.publish(KbOverlay(OTHER, 1, (BLOOM,)))
        assert indexes.resident() == [OTHER]
        assert evicted() is None
    finally:
        gc.enable()


async def test_stop_as_the_feed_comes_up_returns(indexes):
    """stop() right when the feed connects (which wakes the poll loop) ends the loops instead of hanging."""
    for _ in range(20):
        feed = FakeFeed()
        sync = KbSync(indexes, FakeSource(), poll_seconds=3600, feed=feed)
        await sync.start()
        await feed.running.wait()
        stopping = asyncio.create_task(sync.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert stopping in done, "stop() hung: the poll loop swallowed its cancellation"


def test_a_server_build_flushes_only_its_current_pointer(indexes, monkeypatch):
    """A server's build (remade from the database if lost) skips flushing its files; CURRENT is still flushed, and
    the build opens verified."""
    import index.store as store_module

    flushed: list[int] = []
    real = store_module.os.fsync
    monkeypatch.setattr(store_module.os, "fsync", lambda fd: (flushed.append(fd), real(fd))[1])
    outcome = indexes.publish(KbOverlay(GUILD, 1, (CLOCKS,)))
    assert outcome.action == "built" and top_doc(indexes.service(GUILD), "what is a vector clock") == CLOCKS.id
    assert 1 <= len(flushed) <= 2  # CURRENT's temporary file and its folder
