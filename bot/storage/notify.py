"""Knowledge changes pushed by PostgreSQL LISTEN/NOTIFY, so every process rebuilds within a second of a publish.

``bump_kb_version`` sends ``NOTIFY studybot_kb, '<guild id>:<version>'`` inside the publishing transaction, so the
message arrives at COMMIT, never for a version that is not readable yet, and never for a rolled-back one. A LISTEN
belongs to one session, so the listener holds its own asyncpg connection outside the pool and uses asyncpg's own
listener support. Notifications sent while it is disconnected are lost: ``KbSync`` polls the versions once
after every (re)connection to catch up, and keeps polling while the connection is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.kb_repos import KB_CHANNEL

log = logging.getLogger(__name__)

APPLICATION_NAME = "studybot-kb-listener"  # how the listening session shows in pg_stat_activity


_DIALECT_ONLY = {"prepared_statement_cache_size", "prepared_statement_name_func", "async_fallback"}


class KbListener:
    """One LISTEN connection per process, reconnected with backoff; a ``ChangeFeed`` for ``KbSync``."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        keepalive_seconds: float = 10.0,
        retry_seconds: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        _, params = engine.dialect.create_connect_args(engine.url)
        # Options of SQLAlchemy's asyncpg dialect ride in the URL's query too; asyncpg.connect rejects them.
        self._params: dict[str, Any] = {k: v for k, v in params.items() if k not in _DIALECT_ONLY}
        # A silently dead TCP connection delivers nothing and reports nothing: a round trip now and then finds it.
        self.keepalive_seconds = keepalive_seconds
        self.retry_min, self.retry_max = retry_seconds
        self.connected = False
        self.connections = 0  # successful connections so far, for tests and logs

    async def run(self, changed: Callable[[int, int], None], connected: Callable[[bool], None]) -> None:
        """Listen until cancelled: ``changed(guild, version)`` per notification, ``connected(up)`` on each change of state."""
        delay = self.retry_min
        failing = False
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    **self._params, timeout=10, server_settings={"application_name": APPLICATION_NAME}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(KB_CHANNEL, lambda _c, _pid, _ch, payload: _deliver(payload, changed))
                self.connections += 1
                self.connected = True
                connected(True)  # after LISTEN: a poll now misses nothing committed before, NOTIFY covers after
                if failing:
                    log.info("knowledge notifications: listening again")
                failing, delay = False, self.retry_min
                await self._watch(conn, lost)
                log.warning("knowledge notifications: the listening connection was lost; polling until it is back")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:  # once per outage, not at every retry
                    log.warning(
                        "knowledge notifications unavailable (%s: %s); polling instead", type(exc).__name__, exc
                    )
                failing = True
            finally:
                if self.connected:
                    self.connected = False
                    connected(False)
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Return when the connection is gone: closed by the server, or failing a keepalive round trip."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation (stopping the bot).
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.keepalive_seconds):
                    await lost.wait()
                return
            async with asyncio.timeout(self.keepalive_seconds):
                await conn.fetchval("SELECT 1")


def _deliver(payload: str, changed: Callable[[int, int], None]) -> None:
    guild, _, version = payload.partition(":")
    try:
        guild_id, number = int(guild), int(version)
    except ValueError:
        log.warning("ignored a malformed knowledge notification %r", payload)
        return
    changed(guild_id, number)
