"""Pointing discord.py at the fake, and running a client against it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, TypeVar

from tests.e2e.fake_discord.fake import FakeDiscord

if TYPE_CHECKING:
    import discord


@contextlib.contextmanager
def point_discord_py_at(
    fake: FakeDiscord | None = None, *, rest_base: str | None = None, gateway_url: str | None = None
) -> Iterator[None]:
    """Point discord.py's REST base and gateway URL at the fake (or the given URLs); restore them on exit.

    discord.py reads both from class attributes: ``discord.http.Route.BASE`` (interaction webhooks use it too)
    and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``).
    """
    import discord.gateway
    import discord.http
    import yarl

    rest = rest_base or (fake.rest_base if fake else None)
    gateway = gateway_url or (fake.gateway_url if fake else None)
    if rest is None or gateway is None:
        raise ValueError("give a FakeDiscord or both rest_base and gateway_url")
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = rest
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


ClientT = TypeVar("ClientT", bound="discord.Client")


@contextlib.asynccontextmanager
async def run_client(client: ClientT, fake: FakeDiscord, *, ready_timeout: float = 10.0) -> AsyncIterator[ClientT]:
    """Log ``client`` in to the fake, connect it, wait for ``on_ready``; close it (and await its task) on exit.

    Ready comes ``guild_ready_timeout`` seconds (discord.py's default: 2) after the last GUILD_CREATE, so tests
    build clients with ``guild_ready_timeout=0.1``.
    """
    with point_discord_py_at(fake):
        try:
            await client.login(fake.token)
        except BaseException:
            await client.close()
            raise
        connect = asyncio.create_task(client.connect(reconnect=False), name="fake-discord-client-connect")
        ready = asyncio.create_task(client.wait_until_ready(), name="fake-discord-client-ready")
        try:
            done, _ = await asyncio.wait({connect, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                if connect.done():
                    connect.result()
                raise TimeoutError(f"the client was not ready within {ready_timeout}s\n{fake.describe()}")
            yield client
        finally:
            ready.cancel()
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await ready
            # connect() returns after a clean close; anything it raised surfaces here.
            async with asyncio.timeout(10):
                await connect
