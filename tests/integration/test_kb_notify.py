"""Knowledge changes pushed by PostgreSQL LISTEN/NOTIFY between two processes, and the poll that covers an outage.

Each "process" is its own ``open_services`` (its own engine and pool) on one database in the throwaway cluster: one
publishes through the knowledge-admin service, the other runs ``KbSync`` with a ``KbListener``. The indexes use the
hashing embedder over a small knowledge base: what is tested is the delivery, not the retrieval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Services, open_services
from bot.domain.answering import AnswerService
from bot.domain.content import KnowledgeBase, load_knowledge
from bot.domain.ports import Actor
from bot.retrieval.servers import GuildIndexes, KbSync
from bot.storage.notify import APPLICATION_NAME, KbListener
from index.chunking import chunk_document
from index.confidence import Calibration
from index.embedder import HashingEmbedder
from index.retriever import HybridRetriever
from index.store import IndexStore
from tests.helpers import small_kb
from tests.state import FakeClock, settings_for

pytestmark = pytest.mark.postgres

GUILD = 500
MOD = Actor(user_id=11, guild_id=GUILD, command="/kb add", manage_guild=True, name="mod")
ALWAYS = Calibration((10.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0)
NEVER = 3600.0  # a poll interval no test waits for


@pytest.fixture
async def pair(pg_cluster, tmp_path: Path, shipped_kb: KnowledgeBase) -> AsyncIterator[tuple[Services, Services]]:
    """A publishing process and a listening one, on one fresh PostgreSQL database."""
    url = pg_cluster.create_database(f"t_kb_notify_{abs(hash(str(tmp_path))) % 10**8}")
    clock = FakeClock()
    publisher = await open_services(settings_for(url, tmp_path / "publisher"), clock, kb=shipped_kb)
    listener = await open_services(settings_for(url, tmp_path / "listener"), clock, kb=shipped_kb)
    try:
        yield publisher, listener
    finally:
        await publisher.close()
        await listener.close()


@pytest.fixture
def indexes(tmp_path: Path) -> GuildIndexes:
    emb = HashingEmbedder()
    kb = load_knowledge(small_kb(tmp_path / "knowledge"))
    store = IndexStore(tmp_path / "base")
    store.build([c for d in kb.documents() for c in chunk_document(d)], lambda _n: emb, emb.model_id)
    base = store.open(emb.model_id)
    return GuildIndexes(
        base, tmp_path / "guilds", lambda idx: AnswerService(HybridRetriever(idx, emb), ALWAYS), lambda _n: emb
    )


async def publish(services: Services, title: str) -> int:
    """Add an entry as a moderator would; returns the server's new knowledge version."""
    await services.kb_admin.add(MOD, title, "machine-learning", f"{title} is a topic this test adds to the server.")
    return (await services.kb_admin.versions())[GUILD]


def doc_ids(indexes: GuildIndexes) -> set[str]:
    return {c.doc_id for c in indexes.service(GUILD).retriever.index.chunks}


async def wait_until(predicate, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def drop_listener(services: Services) -> None:
    """Kill the listening session from the server side, as a failover or a network cut would."""
    async with services.store.engine.connect() as conn:
        await conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION_NAME},
        )


async def test_a_publish_in_one_process_reaches_the_other_by_notify(pair, indexes) -> None:
    """With polling effectively off, an entry committed by another process is built from the NOTIFY alone."""
    publisher, listener_services = pair
    feed = KbListener(listener_services.store.engine)
    sync = KbSync(indexes, listener_services.kb_admin, poll_seconds=NEVER, feed=feed)
    await sync.start()
    try:
        await wait_until(lambda: feed.connected)
        version = await publish(publisher, "Vector clocks")
        status = await sync.wait_for(GUILD, version, timeout=10)
        assert status.version_live == version
        assert any(d.startswith("guild-vector-clocks") for d in doc_ids(indexes))
        assert feed.connections == 1
    finally:
        await sync.stop()


async def test_a_change_missed_while_the_listener_was_down_is_caught_up_on_reconnect(pair, indexes) -> None:
    """The listening connection is killed, a change is published while it is down: the poll after reconnecting finds it."""
    publisher, listener_services = pair
    feed = KbListener(listener_services.store.engine, retry_seconds=(1.0, 1.0))
    sync = KbSync(indexes, listener_services.kb_admin, poll_seconds=NEVER, feed=feed)
    await sync.start()
    try:
        await wait_until(lambda: feed.connected)
        await drop_listener(publisher)
        await wait_until(lambda: not feed.connected)
        version = await publish(publisher, "Bloom filters")  # its NOTIFY has no listener: it is lost
        status = await sync.wait_for(GUILD, version, timeout=10)
        assert status.version_live == version
        assert feed.connections == 2  # caught up by the catch-up poll of the second connection
    finally:
        await sync.stop()


async def test_while_the_listener_stays_down_the_version_poll_keeps_knowledge_in_step(pair, indexes) -> None:
    """The listener cannot come back (retry in an hour): polling every 0.1 s takes over and builds the change."""
    publisher, listener_services = pair
    feed = KbListener(listener_services.store.engine, retry_seconds=(NEVER, NEVER))
    sync = KbSync(indexes, listener_services.kb_admin, poll_seconds=0.1, feed=feed)
    await sync.start()
    try:
        await wait_until(lambda: feed.connected)
        await drop_listener(publisher)
        await wait_until(lambda: not sync.feed_up)
        version = await publish(publisher, "Gossip protocols")
        status = await sync.wait_for(GUILD, version, timeout=10)
        assert status.version_live == version
        assert feed.connections == 1
    finally:
        await sync.stop()


async def bump_then_fail(services: Services) -> None:
    async with services.store.transaction() as repos:
        await repos.bump_kb_version(GUILD, FakeClock().now)
        raise RuntimeError("rolled back")


async def test_a_rolled_back_change_sends_no_notification(pair) -> None:
    """NOTIFY is transactional: a publish that rolls back is never heard of, a committed one is."""
    publisher, listener_services = pair
    heard: list[tuple[int, int]] = []
    feed = KbListener(listener_services.store.engine)
    task = asyncio.create_task(feed.run(lambda g, v: heard.append((g, v)), lambda _up: None))
    try:
        await wait_until(lambda: feed.connected)
        with pytest.raises(RuntimeError):
            await bump_then_fail(publisher)
        async with publisher.store.transaction() as repos:
            version = await repos.bump_kb_version(GUILD, FakeClock().now)
        await wait_until(lambda: bool(heard))
        assert heard == [(GUILD, version)] and version == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
