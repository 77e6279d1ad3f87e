"""The gateway: websocket connections, sessions (with RESUME replay), shards and dispatches."""

# Every wait takes a bounded timeout= on purpose: tests read better than asyncio.timeout blocks around each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import json
import secrets
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from tests.e2e.fake_discord.protocol import (
    OP_DISPATCH,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE_UPDATE,
    OP_RECONNECT,
    OP_REQUEST_GUILD_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE_UPDATE,
    Json,
)


@dataclass(eq=False)
class GatewayConnection:
    """One websocket connection; it may carry a session (after IDENTIFY or RESUME)."""

    ws: web.WebSocketResponse
    query: dict[str, str]
    session: GatewaySession | None = None
    heartbeats: int = 0
    closed: bool = False
    close_code: int | None = None
    received: list[Json] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, payload: Json) -> bool:
        if self.closed or self.ws.closed:
            return False
        async with self.lock:
            try:
                await self.ws.send_str(json.dumps(payload))
            except (ConnectionResetError, RuntimeError):
                self.closed = True
                return False
        return True


@dataclass(eq=False)
class GatewaySession:
    """A gateway session: its sequence numbers and the dispatches a RESUME may replay."""

    id: str
    intents: int
    shard: list[int]
    seq: int = 0
    buffer: list[Json] = field(default_factory=list)
    connection: GatewayConnection | None = None
    ready: bool = False
    invalidated: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def live(self) -> bool:
        return not self.invalidated and self.connection is not None and not self.connection.closed


def owns_guild(session: GatewaySession, guild_id: int | None) -> bool:
    """Discord's shard formula: a guild's events go to shard (guild_id >> 22) % shard_count; DMs to shard 0."""
    index, count = session.shard
    if count <= 1:
        return True
    return (guild_id >> 22) % count == index if guild_id else index == 0


class GatewayMixin:
    """The websocket side of ``FakeDiscord``: HELLO, IDENTIFY, RESUME, heartbeats and dispatches."""

    # ------------------------------------------------------------------ gateway

    def _live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.live]

    def current_session(self, guild_id: int | None = None) -> GatewaySession | None:
        """The most recently identified live session that has received its guilds (and owns ``guild_id``)."""
        return next(
            (s for s in reversed(self.sessions) if s.live and s.ready and owns_guild(s, guild_id)),
            None,
        )

    async def wait_connected(self, timeout: float = 10.0) -> GatewaySession:
        return await self.wait_for(self.current_session, timeout=timeout, what="a connected gateway session")

    async def _send_dispatch(self, session: GatewaySession, event: str, data: Json) -> None:
        async with session.lock:
            session.seq += 1
            payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.buffer.append(payload)
            del session.buffer[:-1000]
            self.events.append((session.id, event, data))
            if session.connection is not None:
                await session.connection.send(payload)
        self._notify()

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = GatewayConnection(ws, dict(request.query))
        self.connections.append(conn)
        try:
            await conn.send(
                {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_payload(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    self._violate("gateway_protocol", "binary (ETF) frame received; the fake speaks JSON only")
        finally:
            conn.closed = True
            conn.close_code = ws.close_code
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                # A clean close (1000/1001) ends the session; anything else may RESUME.
                if ws.close_code in (1000, 1001):
                    session.invalidated = True
            self._notify()
        return ws

    async def _on_gateway_payload(self, conn: GatewayConnection, payload: Json) -> None:
        op = payload.get("op")
        data = payload.get("d")
        redacted = copy.deepcopy(payload)
        if isinstance(redacted.get("d"), dict) and "token" in redacted["d"]:
            redacted["d"]["token"] = "<redacted>"
        conn.received.append(redacted)
        if op == OP_HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._request_members(conn, data or {})
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
            pass
        else:
            self._violate("gateway_protocol", f"unknown gateway opcode {op!r}")
        self._notify()

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        if conn.session is not None:
            self._violate("gateway_protocol", "IDENTIFY on a connection that already has a session")
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.token:
            self._violate("unauthorized", "IDENTIFY with a token that is not fake.token")
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        shard = list(data.get("shard") or [0, 1])
        session = GatewaySession(secrets.token_hex(16), int(data.get("intents") or 0), shard)
        session.connection, conn.session = conn, session
        self.sessions.append(session)
        guilds = [g for g in self.guilds.values() if (g.id >> 22) % shard[1] == shard[0]]
        ready = {
            "v": 10,
            "user": {**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": shard,
            "application": {"id": str(self.application_id), "flags": self._application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }
        await self._send_dispatch(session, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", guild.payload())
        session.ready = True

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        session = next((s for s in self.sessions if s.id == data.get("session_id")), None)
        seq = int(data.get("seq") or 0)
        resumable = (
            session is not None
            and not session.invalidated
            and data.get("token") == self.token
            and (not session.buffer or session.buffer[0]["s"] <= seq + 1)
        )
        if session is None or not resumable:
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn:
            old.session = None
            await old.ws.close(code=4000, message=b"session resumed elsewhere")
        session.connection, conn.session = conn, session
        async with session.lock:
            for payload in session.buffer:
                if payload["s"] > seq:
                    await conn.send(payload)
        await self._send_dispatch(session, "RESUMED", {})
        self.resumes.append(session.id)

    async def _request_members(self, conn: GatewayConnection, data: Json) -> None:
        if conn.session is None:
            self._violate("gateway_protocol", "REQUEST_GUILD_MEMBERS before IDENTIFY")
            return
        guild = self.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def request_reconnect(self, *, resumable: bool = True) -> GatewaySession:
        """Send op 7 RECONNECT to the current session; with ``resumable=False`` its RESUME gets op 9."""
        session = self.current_session()
        if session is None or session.connection is None:
            raise RuntimeError("no live gateway session to reconnect")
        if not resumable:
            session.invalidated = True
        await session.connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})
        return session

    def _application_flags(self) -> int:
        # GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED, like an unverified bot.
        return (1 << 15) | (1 << 19)
