"""``FakeDiscord``: the fake's state, lifecycle and the waits and inspections tests use."""

# Every wait takes a bounded timeout= on purpose: tests read better than asyncio.timeout blocks around each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable

from aiohttp import web

from tests.e2e.fake_discord.gateway import GatewayConnection, GatewayMixin, GatewaySession
from tests.e2e.fake_discord.inject import InjectMixin
from tests.e2e.fake_discord.messages import MessagesMixin
from tests.e2e.fake_discord.protocol import API_PREFIX, Json, T
from tests.e2e.fake_discord.records import (
    InjectedFault,
    InteractionHandle,
    OpenedModal,
    RecordedRequest,
    StoredMessage,
    Violation,
)
from tests.e2e.fake_discord.routes import RoutesMixin
from tests.e2e.fake_discord.rules import ATTACHMENT_SIZE_LIMIT, VIOLATION_KINDS, RulesMixin
from tests.e2e.fake_discord.world import FakeChannel, FakeGuild, FakeUser, SnowflakeFactory, WorldMixin


class FakeDiscord(WorldMixin, GatewayMixin, InjectMixin, MessagesMixin, RulesMixin, RoutesMixin):
    """The fake Discord: world, REST routes, gateway, event injection, records and rules."""

    def __init__(
        self,
        *,
        ack_timeout: float = 3.0,
        heartbeat_interval_ms: int = 41_250,
        token: str = "fake-bot-token",
        bot_name: str = "StudyBot",
    ) -> None:
        self.ack_timeout = ack_timeout
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.token = token
        self._snowflake = SnowflakeFactory()
        self.bot_user = FakeUser(self._snowflake(), bot_name, bot=True)
        # A bot's application id is its user id.
        self.application_id = self.bot_user.id
        self.app_owner = FakeUser(self._snowflake(), "app-owner")
        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.commands: dict[int | None, list[Json]] = {}
        self.interactions: dict[int, InteractionHandle] = {}
        self._by_token: dict[str, InteractionHandle] = {}
        self.modals: list[OpenedModal] = []
        self.requests: list[RecordedRequest] = []
        self.faults: list[InjectedFault] = []  # see ``fail``
        self.violations: list[Violation] = []
        self.connections: list[GatewayConnection] = []
        self.sessions: list[GatewaySession] = []
        self.identifies: list[Json] = []
        self.resumes: list[str] = []
        self.events: list[tuple[str, str, Json]] = []
        self.attachment_files: dict[int, tuple[str, bytes, str]] = {}
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight = 0
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * ATTACHMENT_SIZE_LIMIT)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close gateways and the server; interactions never acknowledged become ``ack_timeout`` violations."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        now = time.monotonic()
        for handle in self.interactions.values():
            if handle.ack is None and not handle.ack_violation:
                waited = now - handle.dispatched_at
                self._ack_timeout(handle, None, f"never acknowledged (the fake stopped {waited:.2f}s after dispatch)")
        for conn in self.connections:
            if not conn.ws.closed:
                await conn.ws.close(code=1001, message=b"fake Discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rest_base(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ waiting and inspecting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(
        self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = "a condition"
    ) -> T:
        """Re-check ``predicate`` whenever the fake records something; return its first result that is not None/False."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}\n{self.describe()}")
            event = self._changed
            # Woken by every recorded change; the short cap also re-checks predicates on the bot's own state.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.05)):
                    await event.wait()

    async def wait_message(
        self, predicate: Callable[[StoredMessage], bool], *, timeout: float = 5.0, what: str = "a matching message"
    ) -> StoredMessage:
        """The first stored message (oldest first) that matches ``predicate``."""
        return await self.wait_for(
            lambda: next((m for m in self.messages.values() if not m.deleted and predicate(m)), None),
            timeout=timeout,
            what=what,
        )

    def find_messages(
        self,
        *,
        channel: FakeChannel | None = None,
        custom_id: str | None = None,
        contains: str | None = None,
        author: FakeUser | None = None,
        include_deleted: bool = False,
    ) -> list[StoredMessage]:
        """Stored messages, oldest first, that match every given filter."""
        found = []
        for message in self.messages.values():
            if message.deleted and not include_deleted:
                continue
            if channel is not None and message.channel_id != channel.id:
                continue
            if custom_id is not None and message.component(custom_id) is None:
                continue
            if contains is not None and contains not in message.text():
                continue
            if author is not None and message.author_id != author.id:
                continue
            found.append(message)
        return found

    def requests_to(self, method: str, pattern: str) -> list[RecordedRequest]:
        """Recorded requests with ``method`` whose path matches the regex ``pattern``."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def pop_violations(self, kind: str | None = None) -> list[Violation]:
        """Remove and return the violations of ``kind`` (all when None)."""
        taken = [v for v in self.violations if kind is None or v.kind == kind]
        self.violations = [v for v in self.violations if v not in taken]
        return taken

    async def expect_violation(self, kind: str, *, match: str | None = None, timeout: float = 5.0) -> Violation:
        """Wait for a violation of ``kind`` (whose detail contains ``match``), remove it and return it."""
        if kind not in VIOLATION_KINDS:
            raise ValueError(f"unknown violation kind {kind!r}")

        def found() -> Violation | None:
            return next((v for v in self.violations if v.kind == kind and (match is None or match in v.detail)), None)

        violation = await self.wait_for(found, timeout=timeout, what=f"a {kind!r} violation")
        self.violations.remove(violation)
        return violation

    def describe(self) -> str:
        """A short account of the latest activity, for timeout messages."""
        lines = [f"  live gateway sessions: {sum(s.live for s in self.sessions)}"]
        lines += [f"  request: {r.method} {r.path} -> {r.status}" for r in self.requests[-8:]]
        lines += [f"  violation: {v}" for v in self.violations[-8:]]
        return "\n".join(lines)

    def _violate(
        self, kind: str, detail: str, request: RecordedRequest | None = None, handle: InteractionHandle | None = None
    ) -> None:
        self.violations.append(Violation(kind, detail, request, handle.id if handle else None))
        self._notify()

    def _ack_timeout(self, handle: InteractionHandle, request: RecordedRequest | None, detail: str) -> None:
        if handle.ack_violation:
            return
        handle.ack_violation = True
        self._violate("ack_timeout", f"{handle} {detail} (limit {self.ack_timeout:.1f}s)", request, handle)
