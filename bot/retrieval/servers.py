"""Per-server knowledge indexes: the shipped index plus a server's overlay, rebuilt in the background.

Each server with an overlay gets its own ``IndexStore`` under ``root/guilds/<guild id>/``. A build reuses
the shipped index's vectors (``seed``), so publishing one entry embeds only that entry. The new index then
replaces the server's live ``AnswerService`` in one dict assignment: a question never waits for a build and
never sees half of one. ``KbSync`` keeps those indexes in step with the overlays in the database.

Memory is bounded: past ``memory_budget`` bytes of server indexes, the least recently asked server's index is
dropped from memory (its build stays on disk) and reopened the next time someone asks there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from bot import metrics
from bot.domain.answering import AnswerService
from bot.domain.ports import Clock, KbOverlay, utc_now
from bot.retrieval.embedders import EmbedderFactory
from bot.retrieval.overlay_vectors import decode
from index.chunking import Chunk, chunk_document
from index.confidence import Calibration
from index.embedder import Embedder
from index.retriever import HybridRetriever
from index.store import BuildReport, IndexStore, LoadedIndex, StoreError

log = logging.getLogger(__name__)

MakeService = Callable[[LoadedIndex], AnswerService]


def service_factory(query_embedder: Embedder, threshold: float | None = None) -> MakeService:
    """Answer services that share one query encoder and the shipped calibration."""
    calibration = Calibration.load()

    def make(index: LoadedIndex) -> AnswerService:
        return AnswerService(HybridRetriever(index, query_embedder), calibration, threshold)

    return make


@dataclass(frozen=True)
class GuildIndexStatus:
    guild_id: int
    version_live: int | None  # the overlay version answering now; None before the first load
    version_wanted: int | None  # the newest version known to exist
    built_at: str | None  # of the index answering now (the shipped one for a server without overlay)
    build_id: str | None
    chunks: int
    pending: bool  # a newer version than the live one is known, or a rebuild was asked for
    building: bool
    last_error: str | None  # of the most recent attempt; cleared by the next success
    last_error_at: datetime | None
    knowledge_problems: tuple[str, ...] = ()  # shipped files left out of the index (``studybot kb validate``)


@dataclass(frozen=True)
class BuildOutcome:
    guild_id: int
    version: int
    action: Literal["built", "opened", "base", "failed"]  # base: an empty overlay, answered by the shipped index
    report: BuildReport | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.action != "failed"


@dataclass
class _Guild:
    lock: threading.Lock = field(default_factory=threading.Lock)  # one build at a time per server
    version_live: int | None = None
    version_wanted: int | None = None
    last_attempt: int | None = None  # the version the latest build tried, whatever the result
    index: LoadedIndex | None = None  # None: the shipped index answers, or the server's index was evicted
    overlay: KbOverlay | None = None  # the live overlay, kept to reopen (or rebuild) an evicted index
    evicted: bool = False  # the server's index is on disk only; the next question reopens it
    live_build: tuple[str | None, str, int] | None = None  # built_at, build id, chunks: kept for status when evicted
    footprint: tuple[str, int] | None = None  # build id, bytes in memory: measured once, not again on each reopen
    queued: bool = False
    building: bool = False
    last_error: str | None = None
    last_error_at: datetime | None = None


class GuildIndexes:
    """One live AnswerService per server with an overlay; everything else is answered from the shipped index."""

    def __init__(
        self,
        base: LoadedIndex,
        root: Path,
        make_service: MakeService,
        embedder_factory: EmbedderFactory,
        *,
        clock: Clock = utc_now,
        memory_budget: int | None = None,
        query_embedder: Embedder | None = None,
    ) -> None:
        self.base = base
        self.query_embedder = (
            query_embedder  # the answering thread's encoder, which also embeds what this process publishes
        )
        self.root = root
        self.model_id = str(base.manifest["model_id"])
        self.base_service = make_service(base)
        self._make_service = make_service
        self._embedder_factory = embedder_factory
        self._clock = clock
        self._base_chunks = base.chunks
        # Read without a lock on every question: a dict lookup and a whole-value swap are atomic in CPython.
        self._services: dict[int, AnswerService] = {}
        self._guilds: dict[int, _Guild] = {}
        self._guilds_lock = threading.Lock()
        # Bytes of server indexes (the shipped one not counted) kept in memory; None: no bound.
        self.memory_budget = memory_budget
        self._resident: OrderedDict[int, int] = OrderedDict()  # guild id → index bytes, least recently used first
        self._lru_lock = threading.Lock()

    # -- answering -------------------------------------------------------------------------------
    def service(self, guild_id: int | None) -> AnswerService:
        """The service for questions asked in ``guild_id`` (None: a direct message).

        An evicted server's index is read back from disk here, so call this off the event loop (``Answerer``).
        """
        if guild_id is None:
            return self.base_service
        service = self._services.get(guild_id)
        if service is not None:
            self._touch(guild_id)
            return service
        state = self._guilds.get(guild_id)
        if state is None or not state.evicted:
            return self.base_service
        return self._reopen(state, guild_id)

    # -- memory ----------------------------------------------------------------------------------
    def resident(self) -> list[int]:
        """Servers whose index is in memory, least recently used first."""
        with self._lru_lock:
            return list(self._resident)

    def _touch(self, guild_id: int) -> None:
        with self._lru_lock:
            if guild_id in self._resident:
                self._resident.move_to_end(guild_id)

    def _count(self, guild_id: int, state: _Guild) -> None:
        """Count the server's live index as resident, then evict least-recently-used others until the budget holds.

        Called after the server's lock is released (evicting takes other servers' locks; holding two could
        deadlock the build thread against the answer thread). The index just counted is never the one evicted:
        a budget smaller than one index still answers.
        """
        measuring = state.index
        if measuring is not None:  # outside the lock: every question takes it to mark its server as used
            self._footprint(state, measuring)
        with self._lru_lock:
            loaded = state.index
            if loaded is None or state.evicted:
                self._resident.pop(guild_id, None)
                return
            self._resident[guild_id] = self._footprint(state, loaded)
            self._resident.move_to_end(guild_id)
            victims = []
            while self.memory_budget is not None and sum(self._resident.values()) > self.memory_budget:
                victim = next(iter(self._resident))
                if victim == guild_id:
                    break
                del self._resident[victim]
                victims.append(victim)
        for victim in victims:
            self._evict(victim)

    @staticmethod
    def _footprint(state: _Guild, loaded: LoadedIndex) -> int:
        """The index's measured size, remembered per build: measuring takes tens of ms, and a reopened build (the
        first question after an eviction) should not pay them again."""
        if state.footprint is not None and state.footprint[0] == loaded.build_id:
            loaded._bytes = state.footprint[1]
        else:
            state.footprint = (loaded.build_id, index_bytes(loaded))
        return state.footprint[1]

    def _evict(self, guild_id: int) -> None:
        state = self._guilds.get(guild_id)
        if state is None:
            return
        # Under the server's lock: a build finishing at the same moment must not be evicted half-way.
        with state.lock:
            with self._lru_lock:
                if guild_id in self._resident:  # reopened or rebuilt since it was chosen
                    return
            if state.index is None or state.overlay is None:
                return
            self._services.pop(guild_id, None)  # a question in flight keeps its own reference
            state.index = None
            state.evicted = True
        metrics.INDEX_EVICTIONS.inc()
        log.debug("server %s: index evicted from memory (LRU, budget %s bytes)", guild_id, self.memory_budget)

    def _reopen(self, state: _Guild, guild_id: int) -> AnswerService:
        """Read an evicted server's build back from disk; rebuild it if the stored build is gone or damaged."""
        with state.lock:
            service = self._services.get(guild_id)
            if service is not None:  # another question reopened it while this one waited
                return service
            overlay = state.overlay
            if not state.evicted or overlay is None:
                return self.base_service
            started = time.perf_counter()
            outcome = self._open_stored(state, overlay)
            if outcome is None:
                outcome = self._publish(state, overlay)
            metrics.INDEX_REOPENS.inc()
            log.debug(
                "server %s: evicted index back (%s) in %.3fs", guild_id, outcome.action, time.perf_counter() - started
            )
            service = self._services.get(guild_id, self.base_service)
        self._count(guild_id, state)
        return service

    # -- building --------------------------------------------------------------------------------
    def store(self, guild_id: int) -> IndexStore:
        return IndexStore(self.root / "guilds" / str(guild_id))

    def fingerprint(self, overlay: KbOverlay) -> str:
        """A server build is valid for one shipped build and one overlay version."""
        return f"{self.base.build_id}:{overlay.version}"

    def chunks_for(self, overlay: KbOverlay) -> list[Chunk]:
        """Shipped chunks minus hidden documents, plus the overlay's; an overlay document replaces a shipped one of the same id."""
        replaced = overlay.hidden | {doc.id for doc in overlay.documents}
        chunks = [c for c in self._base_chunks if c.doc_id not in replaced]
        for doc in overlay.documents:
            chunks.extend(chunk_document(doc))
        return chunks

    def want(self, guild_id: int, version: int | None = None) -> None:
        """Record that a rebuild is coming (and, if known, for which version), for ``status``."""
        state = self._state(guild_id)
        state.queued = True
        if version is not None:
            state.version_wanted = version

    def settle(self, guild_id: int) -> None:
        """Withdraw a ``want`` that turned out to need no build."""
        self._state(guild_id).queued = False

    def publish(self, overlay: KbOverlay) -> BuildOutcome:
        """Build the server's index for ``overlay`` and swap it in; on failure the previous one keeps answering."""
        state = self._state(overlay.guild_id)
        with state.lock:
            outcome = self._publish(state, overlay)
        self._count(overlay.guild_id, state)
        return outcome

    def load(self, overlay: KbOverlay) -> BuildOutcome:
        """Open the server's build on disk if it is for this shipped build and overlay version, else rebuild."""
        state = self._state(overlay.guild_id)
        with state.lock:
            state.queued = False
            if _is_empty(overlay):
                outcome = self._publish(state, overlay)
            else:
                outcome = self._open_stored(state, overlay) or self._publish(state, overlay)
        self._count(overlay.guild_id, state)
        return outcome

    def _open_stored(self, state: _Guild, overlay: KbOverlay) -> BuildOutcome | None:
        """Open the stored build if it is for this shipped build and overlay version; None if it must be rebuilt."""
        started = time.perf_counter()
        store = self.store(overlay.guild_id)
        manifest = store.manifest()
        if manifest is None or manifest.get("sources_fingerprint") != self.fingerprint(overlay):
            return None
        try:
            loaded = store.open(self.model_id)
            service = self._make_service(loaded)
        except StoreError as exc:
            log.warning("server %s: the stored index is unusable (%s); rebuilding it", overlay.guild_id, exc)
            return None
        self._go_live(state, overlay, loaded, service)
        return BuildOutcome(overlay.guild_id, overlay.version, "opened", seconds=time.perf_counter() - started)

    def _publish(self, state: _Guild, overlay: KbOverlay) -> BuildOutcome:
        started = time.perf_counter()
        guild_id = overlay.guild_id
        state.queued = False
        if state.version_wanted is None or overlay.version > state.version_wanted:
            state.version_wanted = overlay.version
        if _is_empty(overlay):
            self._services.pop(guild_id, None)
            state.version_wanted = overlay.version  # a deleted overlay may come back as version 0
            self._go_live(state, overlay, None, None)
            return BuildOutcome(guild_id, overlay.version, "base", seconds=time.perf_counter() - started)
        state.building = True
        try:
            report, loaded = self.store(guild_id).build_and_open(
                self.chunks_for(overlay),
                self._embedder_factory,
                self.model_id,
                sources_fingerprint=self.fingerprint(overlay),
                seed=self.base,
                live=state.index,  # its vectors are in memory: no need to read the previous build back
                known=self._stored_vectors(overlay),
                durable=False,  # made again from the database if a power cut tears it (its checksums tell)
            )
            service = self._make_service(loaded)
        except Exception as exc:  # any failure must leave the live service answering
            log.exception("server %s: building knowledge version %s failed", guild_id, overlay.version)
            self._record_error(state, overlay.version, f"{type(exc).__name__}: {exc}")
            return BuildOutcome(
                guild_id, overlay.version, "failed", error=state.last_error, seconds=time.perf_counter() - started
            )
        finally:
            state.building = False
        self._go_live(state, overlay, loaded, service)
        log.info(
            "server %s: knowledge version %s live (%d chunks, %d embedded) in %.2fs",
            guild_id,
            overlay.version,
            report.chunks,
            report.embedded,
            report.seconds,
        )
        return BuildOutcome(guild_id, overlay.version, "built", report, seconds=time.perf_counter() - started)

    def _stored_vectors(self, overlay: KbOverlay) -> dict[str, np.ndarray]:
        """The vectors the publishing process stored with this overlay, if they are of this process's model."""
        if not overlay.vectors or overlay.vectors_model != self.model_id:
            return {}
        return decode(overlay.vectors, int(self.base.vectors.shape[1]))

    def _go_live(
        self, state: _Guild, overlay: KbOverlay, loaded: LoadedIndex | None, service: AnswerService | None
    ) -> None:
        if service is not None:
            self._services[overlay.guild_id] = service  # the swap: one assignment
        state.index = loaded
        state.overlay = overlay if loaded is not None else None
        state.evicted = False
        state.live_build = (
            None if loaded is None else (loaded.manifest.get("built_at"), loaded.build_id, len(loaded.chunks))
        )
        state.version_live = state.last_attempt = overlay.version
        if state.version_wanted is None or overlay.version > state.version_wanted:
            state.version_wanted = overlay.version
        state.last_error = state.last_error_at = None

    def record_error(self, guild_id: int, message: str) -> None:
        """Note a failure outside the build itself (e.g. the overlay could not be read) in the status."""
        self._record_error(self._state(guild_id), None, message)

    def is_live(self, overlay: KbOverlay) -> bool:
        """True when exactly this overlay version already answers (nothing to build)."""
        state = self._guilds.get(overlay.guild_id)
        return state is not None and state.version_live == overlay.version and not state.building

    def attempted(self, guild_id: int) -> int | None:
        """The overlay version the latest build of ``guild_id`` tried, whether it succeeded or failed."""
        state = self._guilds.get(guild_id)
        return None if state is None else state.last_attempt

    def _record_error(self, state: _Guild, version: int | None, message: str) -> None:
        if version is not None:
            state.last_attempt = version
        state.last_error = message
        state.last_error_at = self._clock()

    def _state(self, guild_id: int) -> _Guild:
        with self._guilds_lock:
            return self._guilds.setdefault(guild_id, _Guild())

    # -- reporting -------------------------------------------------------------------------------
    def status(self, guild_id: int) -> GuildIndexStatus:
        state = self._guilds.get(guild_id) or _Guild()
        built_at, build_id, chunks = state.live_build or (
            self.base.manifest.get("built_at"),
            self.base.build_id,
            len(self.base.chunks),
        )
        return GuildIndexStatus(
            guild_id=guild_id,
            version_live=state.version_live,
            version_wanted=state.version_wanted,
            built_at=built_at,
            build_id=build_id,
            chunks=chunks,
            pending=state.queued or state.version_wanted != state.version_live,
            building=state.building,
            last_error=state.last_error,
            last_error_at=state.last_error_at,
            knowledge_problems=tuple(self.base.manifest.get("problems") or ()),
        )

    def guilds(self) -> list[int]:
        """Servers this process knows an overlay for (live, building or failed)."""
        return sorted(self._guilds)

    def memory_bytes(self) -> int:
        """An estimate of the memory the loaded indexes hold (the shipped one and each server's), for metrics."""
        loaded = [self.base, *(s.index for s in list(self._guilds.values()) if s.index is not None)]
        return sum(index_bytes(index) for index in loaded)


def index_bytes(index: LoadedIndex) -> int:
    """What the index holds in memory: vectors, FAISS's copy, BM25, chunks, sentences and manifest (measured)."""
    return index.memory_bytes()


def _is_empty(overlay: KbOverlay) -> bool:
    return not overlay.documents and not overlay.hidden


class OverlaySource(Protocol):
    """Where overlays live (the knowledge-admin service over the database shared by all processes)."""

    async def versions(self) -> dict[int, int]:
        """The current overlay version of every server that has (or had) one."""
        ...

    async def overlay(self, guild_id: int) -> KbOverlay:
        """The server's current overlay; an empty one (no documents, nothing hidden) if it has none."""
        ...


class ChangeFeed(Protocol):
    """Pushes knowledge changes made by any process (PostgreSQL LISTEN/NOTIFY: bot/storage/notify.py)."""

    async def run(self, changed: Callable[[int, int], None], connected: Callable[[bool], None]) -> None:
        """Until cancelled: ``changed(guild, version)`` per change; ``connected(up)`` when the feed comes or goes."""
        ...


class KbSync:
    """Keeps every server's index in step with its overlay, off the event loop.

    Local changes call ``kick``. Changes made by other processes sharing the database arrive through ``feed``
    when there is one (PostgreSQL); ``versions()`` is polled every ``poll_seconds`` when there is none (SQLite)
    or while it is down, and once after each time it comes up, for what it missed meanwhile. Builds run one at
    a time on a dedicated thread; changes that arrive during a build are coalesced into one more build.
    """

    def __init__(
        self,
        indexes: GuildIndexes,
        source: OverlaySource,
        *,
        poll_seconds: float = 2.0,
        serves: Callable[[int], bool] = lambda _guild_id: True,
        feed: ChangeFeed | None = None,
    ) -> None:
        self.indexes = indexes
        self.source = source
        self.poll_seconds = poll_seconds
        self.serves = serves  # a cluster builds indexes only for the servers on its shards
        self.feed = feed
        self.feed_up = False
        self._poll_now = asyncio.Event()  # the feed (re)connected: catch up on what it may have missed
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-build")
        self._dirty: dict[int, None] = {}  # an ordered set: servers waiting for a build, oldest first
        self._seen: dict[int, int] = {}  # the versions the last poll reported
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()  # replaced by a fresh one each time a server's sync finishes
        self._tasks: list[asyncio.Task[None]] = []
        self._poll_failing = False

    async def start(self) -> None:
        """Queue every server with an overlay (opening or rebuilding its index) and start polling.

        Returns once the first poll is done, not when the builds are: until then the shipped index answers.
        """
        if self._tasks:
            return
        await self._poll_once()
        self._tasks = [
            asyncio.create_task(self._work(), name="kb-sync-build"),
            asyncio.create_task(self._poll(), name="kb-sync-poll"),
        ]
        if self.feed is not None:
            self._tasks.append(asyncio.create_task(self.feed.run(self.notified, self._feed_state), name="kb-sync-feed"))
        for task in self._tasks:
            task.add_done_callback(_log_failure)

    def kick(self, guild_id: int) -> None:
        """Rebuild ``guild_id`` soon: called on the event loop after a local change to its overlay."""
        self.indexes.want(guild_id)
        self._dirty[guild_id] = None
        self._wake.set()

    async def wait_for(self, guild_id: int, version: int, timeout: float = 30.0) -> GuildIndexStatus:  # noqa: ASYNC109
        """Wait until a build for ``version`` (or newer) of ``guild_id`` has finished, successfully or not."""

        def settled() -> bool:
            attempted = self.indexes.attempted(guild_id)
            return attempted is not None and attempted >= version

        async with asyncio.timeout(timeout):
            while not settled():
                await self._settled.wait()
        return self.indexes.status(guild_id)

    async def stop(self) -> None:
        """Stop polling and building; returns once the build thread is idle, so nothing writes afterwards."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    # -- internals -------------------------------------------------------------------------------
    def notified(self, guild_id: int, version: int) -> None:
        """A change pushed by the feed: rebuild ``guild_id`` unless this version (or a newer one) is already known."""
        if not self.serves(guild_id) or self._seen.get(guild_id, -1) >= version:
            return
        self._seen[guild_id] = version
        self.indexes.want(guild_id, version)
        self._mark(guild_id)

    def _feed_state(self, up: bool) -> None:
        self.feed_up = up
        if up:
            self._poll_now.set()

    async def _poll(self) -> None:
        while True:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that lands as the event is set (the
            # feed coming up), and stop() would then wait forever for this loop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._poll_now.wait()
            if self._poll_now.is_set():
                self._poll_now.clear()
            elif self.feed_up:
                continue  # pushed changes arrive through the feed: no need to ask
            await self._poll_once()

    async def _poll_once(self) -> None:
        try:
            versions = await self.source.versions()
        except Exception:
            if not self._poll_failing:  # log once per outage, not every few seconds
                log.exception("could not read knowledge overlay versions; will keep trying")
            self._poll_failing = True
            return
        self._poll_failing = False
        versions = {g: v for g, v in versions.items() if self.serves(g)}
        for guild_id, version in versions.items():
            if self._seen.get(guild_id) != version:
                self._seen[guild_id] = version
                self.indexes.want(guild_id, version)
                self._mark(guild_id)
        for guild_id in set(self._seen) - set(versions):  # the overlay was deleted: back to the shipped index
            del self._seen[guild_id]
            self._mark(guild_id)

    def _mark(self, guild_id: int) -> None:
        self._dirty[guild_id] = None
        self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                guild_id = next(iter(self._dirty))
                del self._dirty[guild_id]
                await self._sync(guild_id)

    async def _sync(self, guild_id: int) -> None:
        try:
            overlay = await self.source.overlay(guild_id)
            if self.indexes.is_live(overlay):  # e.g. a kick, then the poll that saw the same version
                self.indexes.settle(guild_id)
                return
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.indexes.load, overlay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("server %s: knowledge sync failed", guild_id)
            self.indexes.record_error(guild_id, f"{type(exc).__name__}: {exc}")
        finally:
            settled, self._settled = self._settled, asyncio.Event()
            settled.set()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:  # a dead loop would freeze every server's knowledge
        log.error("background task %s failed", task.get_name(), exc_info=task.exception())
