"""A fake Discord (REST API and gateway) for end-to-end tests of discord.py bots.

It is an aiohttp server on 127.0.0.1 that plays Discord's side closely enough for discord.py 2.7, records
everything the bot does, and enforces the rules Discord enforces (and a few house rules), so a test proves the
bot would behave on the real service.

Start it and build a world (the ``fake_discord`` fixture in ``tests/e2e/conftest.py`` does the first line; it
runs on the test's own loop, so mark e2e modules ``pytest.mark.asyncio(loop_scope="function")``)::

    async with FakeDiscord() as fake:
        world = fake.add_default_world()  # guild "Study Hall", #general and #study, alice (Learner) and bob

Build the world before the bot connects: READY and GUILD_CREATE carry it. Point discord.py at the fake.
``run_client`` sets ``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` (and restores them), logs in with
``fake.token``, connects, waits for ``on_ready`` and closes the client on exit::

    bot = commands.Bot(..., allowed_mentions=discord.AllowedMentions.none(), guild_ready_timeout=0.1)
    async with run_client(bot, fake):
        ...

A bot that starts itself needs only ``with point_discord_py_at(fake):`` around it (or its settings
``STUDYBOT_DISCORD_API_BASE=fake.rest_base``, ``STUDYBOT_DISCORD_GATEWAY=fake.gateway_url`` and the token
``fake.token``).

Inject what a user would do. Interactions return an ``InteractionHandle`` whose waits follow the bot's answers::

    h = await fake.slash(world.user, world.guild, world.channel, "ask", {"question": "What is a tensor?"})
    reply = await h.wait_message()  # the @original once it is answered (not "thinking")
    click = await fake.click(world.user, reply, "quiz:next")  # any stored message, by a component's custom_id
    modal = await (await fake.slash(...)).wait_modal()
    await fake.submit_modal(world.user, modal.custom_id, {"answer": "42"})
    choices = await (await fake.autocomplete(..., {"topic": "ne"}, focused="topic")).wait_choices()
    sent = await fake.message(world.user, world.channel, f"{fake.bot_user.mention} hello")
    answer = await fake.wait_message(lambda m: m.reference_id == sent.id)

Every wait is bounded (``timeout=``, 5 s by default) and its ``TimeoutError`` describes what was recorded.
Before injecting, the fake lets the bot digest the answers to its requests (``settle``), as a person's reaction
time would: otherwise a click could reach discord.py before the HTTP answer that made it store the view.
Injected events go to the newest connected session; world changes after connecting are not broadcast.

Inspect ``fake.requests`` (every REST call: method, path under /api/v10, query, JSON body or ``payload_json``,
uploaded files, monotonic time, status and response), ``fake.messages`` (every message, ephemeral ones included,
with its edit history), ``fake.commands`` (synced commands by guild id, ``None`` for global), ``fake.modals``,
``fake.identifies`` and ``fake.events`` (every gateway dispatch).

``fake.violations`` lists every broken rule: a second initial response, no acknowledgement within ``ack_timeout``
seconds, content, embed, component, modal and choice limits, a message payload without ``allowed_mentions`` or one
that lets it ping, unknown routes, and so on (see ``VIOLATION_KINDS``). Where Discord would refuse the request the
fake answers with Discord's error too. The conftest fixture fails a test that leaves violations behind;
``await fake.expect_violation(kind)`` consumes one the test provoked on purpose.

Modelled Discord behaviour worth knowing: the first followup after a deferral fills the "thinking" message (and
keeps its ephemerality); a callback after ``ack_timeout`` gets 10062; a followup before the callback gets 10015;
without the MESSAGE_CONTENT intent other users' guild messages arrive blank unless they mention the bot; the bot's
own non-ephemeral messages come back as MESSAGE_CREATE.
"""

# Every wait takes a bounded timeout= on purpose: tests read better than asyncio.timeout blocks around each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import mimetypes
import re
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import BodyPartReader, WSMsgType, web

if TYPE_CHECKING:
    import discord

T = TypeVar("T")
Json = dict[str, Any]

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1_420_070_400_000

# Gateway opcodes.
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Gateway intents the fake honours.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Permission bits.
PERM_ADD_REACTIONS = 1 << 6
PERM_ADMINISTRATOR = 1 << 3
PERM_VIEW_CHANNEL = 1 << 10
PERM_SEND_MESSAGES = 1 << 11
PERM_MANAGE_MESSAGES = 1 << 13
PERM_EMBED_LINKS = 1 << 14
PERM_ATTACH_FILES = 1 << 15
PERM_READ_MESSAGE_HISTORY = 1 << 16
PERM_USE_APPLICATION_COMMANDS = 1 << 31
PERM_MANAGE_THREADS = 1 << 34
PERM_CREATE_PUBLIC_THREADS = 1 << 35
PERM_SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1
DEFAULT_EVERYONE_PERMISSIONS = (
    PERM_ADD_REACTIONS
    | PERM_VIEW_CHANNEL
    | PERM_SEND_MESSAGES
    | PERM_EMBED_LINKS
    | PERM_ATTACH_FILES
    | PERM_READ_MESSAGE_HISTORY
    | PERM_USE_APPLICATION_COMMANDS
    | PERM_CREATE_PUBLIC_THREADS
    | PERM_SEND_MESSAGES_IN_THREADS
)
BOT_ROLE_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | PERM_MANAGE_MESSAGES | PERM_MANAGE_THREADS
# What a user may do in a DM with the bot (sent as the member-less interaction's permissions).
DM_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_HAS_THREAD = 1 << 5
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_IS_COMPONENTS_V2 = 1 << 15
# Flags a bot may set itself when sending; Discord ignores the rest.
SETTABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2

# Interaction types and the callback types each accepts.
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_AUTOCOMPLETE = 4
INTERACTION_MODAL_SUBMIT = 5
CALLBACK_CHANNEL_MESSAGE = 4
CALLBACK_DEFERRED_CHANNEL_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9
ALLOWED_CALLBACKS: dict[int, set[int]] = {
    INTERACTION_APPLICATION_COMMAND: {4, 5, 9},
    INTERACTION_COMPONENT: {4, 5, 6, 7, 9},
    INTERACTION_AUTOCOMPLETE: {8},
    INTERACTION_MODAL_SUBMIT: {4, 5, 6, 7},
}
INTERACTION_NAMES = {2: "slash", 3: "component", 4: "autocomplete", 5: "modal_submit"}

# Component types.
COMPONENT_ACTION_ROW = 1
COMPONENT_BUTTON = 2
COMPONENT_STRING_SELECT = 3
COMPONENT_TEXT_INPUT = 4
COMPONENT_LABEL = 18
COMPONENT_FILE_UPLOAD = 19
COMPONENT_RADIO_GROUP = 21
COMPONENT_CHECKBOX_GROUP = 22
COMPONENT_CHECKBOX = 23
SELECT_TYPES = {3, 5, 6, 7, 8}
BUTTON_STYLE_LINK = 5
BUTTON_STYLE_PREMIUM = 6

# Option types.
OPTION_SUB_COMMAND = 1
OPTION_SUB_COMMAND_GROUP = 2
OPTION_STRING = 3
OPTION_INTEGER = 4
OPTION_BOOLEAN = 5
OPTION_USER = 6
OPTION_CHANNEL = 7
OPTION_ROLE = 8
OPTION_MENTIONABLE = 9
OPTION_NUMBER = 10
OPTION_ATTACHMENT = 11

# Discord's limits (https://discord.com/developers/docs/resources/message and .../interactions).
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TITLE = 256
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_FIELDS = 25
MAX_EMBED_FIELD_NAME = 256
MAX_EMBED_FIELD_VALUE = 1024
MAX_EMBED_FOOTER = 2048
MAX_EMBED_AUTHOR = 256
MAX_EMBED_TOTAL = 6000
MAX_ACTION_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_MODAL_TITLE = 45
MAX_MODAL_COMPONENTS = 5
MAX_TEXT_INPUT_LABEL = 45
MAX_TEXT_INPUT_VALUE = 4000
MAX_CHOICES = 25
MAX_CHOICE_NAME = 100
MAX_THREAD_NAME = 100
MAX_COMMAND_NAME = 32
MAX_COMMAND_DESCRIPTION = 100
MAX_COMMAND_OPTIONS = 25
MAX_CHAT_INPUT_COMMANDS = 100
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

VIOLATION_KINDS = (
    "double_ack",  # a second initial response to one interaction (Discord: 40060)
    "ack_timeout",  # no initial response within ack_timeout seconds of the dispatch (Discord: 10062 afterwards)
    "invalid_callback",  # a callback type the interaction does not accept (e.g. a modal answering a modal)
    "not_acknowledged",  # a followup or @original call before the initial response (Discord: 10015)
    "unknown_interaction",  # a callback or webhook call for an interaction the fake never dispatched
    "content_too_long",  # content over 2,000 characters
    "empty_message",  # a new message with nothing in it (Discord: 50006)
    "embed_limits",  # title, description, fields, footer, author, 6,000 total, 10 embeds
    "component_limits",  # 5 rows, 5 buttons a row, select alone in its row, custom_id 100, label 80, ...
    "modal_limits",  # title 45, 1-5 components, text input labels 45, ...
    "choices_limits",  # autocomplete: at most 25 choices, names 1-100
    "command_limits",  # synced commands: names, descriptions, option counts, required-first
    "thread_limits",  # thread names, a second thread on one message
    "allowed_mentions_missing",  # a message-creating or -editing payload without allowed_mentions
    "allowed_mentions_pings",  # allowed_mentions that lets anything but a replied-to user be pinged
    "forbidden",  # e.g. editing another user's message
    "not_found",  # an unknown channel, message, user or guild in a REST path
    "unauthorized",  # a REST call or IDENTIFY without the bot token
    "unhandled_route",  # a route the fake does not implement (so the bot's use of it is untested)
    "gateway_protocol",  # an unknown opcode or an out-of-order gateway payload
    "fake_internal_error",  # the fake itself raised; a bug to fix here
)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in {"1", "true"}


def _short(text: Any, limit: int = 60) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SnowflakeFactory:
    """Discord-shaped ids: milliseconds since 2015 in the top bits, strictly increasing within a run."""

    def __init__(self) -> None:
        self._last = 0
        self._increment = 0

    def __call__(self) -> int:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        self._increment = (self._increment + 1) & 0xFFF
        candidate = (millis << 22) | (1 << 17) | (1 << 12) | self._increment
        self._last = max(candidate, self._last + 1)
        return self._last


# --------------------------------------------------------------------------------------------------- the world


@dataclass(eq=False)
class FakeUser:
    """A Discord user (or the bot user)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> Json:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }


@dataclass(eq=False)
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> Json:
        data: Json = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeChannel:
    """A guild text channel (type 0), a thread (type 11 or 12) or a DM channel (type 1)."""

    id: int
    name: str
    type: int = 0
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    recipient: FakeUser | None = None
    auto_archive_duration: int = 1440
    created_at: str = field(default_factory=_now_iso)
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        return self.type in (10, 11, 12)

    @property
    def is_dm(self) -> bool:
        return self.type == 1

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, *, permissions: int | None = None) -> Json:
        last = str(self.last_message_id) if self.last_message_id else None
        data: Json = {"id": str(self.id), "type": self.type, "flags": 0, "last_message_id": last}
        if self.is_dm:
            data["recipients"] = [self.recipient.payload()] if self.recipient else []
        else:
            data.update(
                guild_id=str(self.guild_id),
                name=self.name,
                position=self.position,
                nsfw=False,
                rate_limit_per_user=0,
                parent_id=str(self.parent_id) if self.parent_id else None,
            )
            if self.is_thread:
                data.update(
                    owner_id=str(self.owner_id),
                    message_count=self.message_count,
                    total_message_sent=self.message_count,
                    member_count=1,
                    thread_metadata={
                        "archived": False,
                        "auto_archive_duration": self.auto_archive_duration,
                        "archive_timestamp": self.created_at,
                        "locked": False,
                        "create_timestamp": self.created_at,
                    },
                )
            else:
                data.update(topic=self.topic, permission_overwrites=[], default_auto_archive_duration=1440)
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeMember:
    """A user's membership in a guild."""

    user: FakeUser
    guild_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, *, include_user: bool = True, permissions: int | None = None) -> Json:
        data: Json = {
            "roles": [str(r) for r in self.role_ids],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if include_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeGuild:
    """A guild with its roles, text channels, threads and members."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    threads: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    joined_at: str = field(default_factory=_now_iso)

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    def channel(self, name: str) -> FakeChannel:
        """The text channel or thread called ``name``."""
        for channel in [*self.channels.values(), *self.threads.values()]:
            if channel.name == name:
                return channel
        raise KeyError(f"guild {self.name!r} has no channel {name!r}")

    def role(self, name: str) -> FakeRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"guild {self.name!r} has no role {name!r}")

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions (channel overwrites are not modelled)."""
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        member = self.members.get(user_id)
        if member is None:
            return 0
        value = self.everyone.permissions
        for role_id in member.role_ids:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & PERM_ADMINISTRATOR else value

    def payload(self) -> Json:
        """The GUILD_CREATE payload: everything discord.py needs to fill its cache."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "application_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": str(next(iter(self.channels))) if self.channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500_000,
            "features": [],
            "roles": [role.payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "channels": [channel.payload() for channel in self.channels.values()],
            "threads": [thread.payload() for thread in self.threads.values()],
            "members": [member.payload() for member in self.members.values()],
            "member_count": len(self.members),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": self.joined_at,
            "large": False,
            "lazy": True,
            "unavailable": False,
            "incidents_data": None,
        }


@dataclass(frozen=True)
class World:
    """The small world ``add_default_world`` builds."""

    guild: FakeGuild
    channel: FakeChannel
    other_channel: FakeChannel
    user: FakeUser
    other_user: FakeUser
    owner: FakeUser
    role: FakeRole


@dataclass(frozen=True)
class Upload:
    """A file a user attaches to a slash command's attachment option."""

    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None


# --------------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RecordedFile:
    """One uploaded file of a multipart request (``field`` is e.g. ``files[0]``)."""

    field: str
    filename: str | None
    data: bytes
    content_type: str | None


@dataclass(eq=False)
class RecordedRequest:
    """One REST call the bot made."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[RecordedFile]
    at: float
    status: int = 0
    response: Any = None

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass(frozen=True)
class Violation:
    """A rule the bot broke; ``request`` is the offending request when there is one."""

    kind: str
    detail: str
    request: RecordedRequest | None = None
    interaction_id: int | None = None

    def __str__(self) -> str:
        where = f" [{self.request.method} {self.request.path}]" if self.request else ""
        return f"{self.kind}: {self.detail}{where}"


@dataclass(eq=False)
class StoredMessage:
    """A message as Discord stores it; ``data`` is the current payload, ``history`` the earlier versions."""

    data: Json
    guild_id: int | None = None
    interaction: InteractionHandle | None = None
    deleted: bool = False
    history: list[Json] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def channel_id(self) -> int:
        return int(self.data["channel_id"])

    @property
    def author_id(self) -> int:
        return int(self.data["author"]["id"])

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def embeds(self) -> list[Json]:
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[Json]:
        return list(self.data.get("components") or [])

    @property
    def attachments(self) -> list[Json]:
        return list(self.data.get("attachments") or [])

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred ("is thinking…") placeholder."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def reference_id(self) -> int | None:
        ref = self.data.get("message_reference")
        return int(ref["message_id"]) if ref and ref.get("message_id") else None

    def walk_components(self) -> Iterator[Json]:
        """Every component, nested ones included."""
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            yield component
            children = list(component.get("components") or [])
            for key in ("component", "accessory"):
                if component.get(key):
                    children.append(component[key])
            stack.extend(reversed(children))

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in self.walk_components() if c.get("custom_id")]

    def component(self, custom_id: str) -> Json | None:
        return next((c for c in self.walk_components() if c.get("custom_id") == custom_id), None)

    def text(self) -> str:
        """Content and embed text together, for assertions that do not care where the words are."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields") or []]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        state = " deleted" if self.deleted else ""
        return f"<message {self.id} in {self.channel_id} flags={self.flags}{state} {_short(self.content, 40)!r}>"


@dataclass(eq=False)
class OpenedModal:
    """A modal the bot opened (callback type 9), with the interaction that opened it."""

    custom_id: str
    title: str
    components: list[Json]
    opened_by: InteractionHandle
    submitted: bool = False

    def field_ids(self) -> list[str]:
        ids = []
        for top in self.components:
            children = top.get("components") or ([top["component"]] if top.get("component") else [])
            ids += [c["custom_id"] for c in children if c.get("custom_id")]
        return ids


class InteractionHandle:
    """One injected interaction and everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        payload: Json,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel,
        source_message: StoredMessage | None = None,
    ) -> None:
        self._fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.payload = payload
        self.user = user
        self.guild = guild
        self.channel = channel
        self.source_message = source_message
        self.dispatched_at = 0.0
        self.ack: RecordedRequest | None = None
        self.requests: list[RecordedRequest] = []
        self.original: StoredMessage | None = None
        self.followups: list[StoredMessage] = []
        self.modal: OpenedModal | None = None
        self.choices: list[Json] | None = None
        self.answered = False
        self.ack_violation = False

    @property
    def ack_type(self) -> int | None:
        """The initial response's callback type (4 message, 5 defer, 6 deferred update, 7 update, 8, 9)."""
        return int(self.ack.json["type"]) if self.ack is not None else None

    @property
    def ack_delay(self) -> float | None:
        """Seconds from dispatch to the initial response."""
        return self.ack.at - self.dispatched_at if self.ack is not None else None

    @property
    def name(self) -> str:
        data = self.payload.get("data") or {}
        return str(data.get("name") or data.get("custom_id") or "?")

    def __repr__(self) -> str:
        return f"<{INTERACTION_NAMES.get(self.type, self.type)} {self.name!r} id={self.id}>"

    async def wait_ack(self, timeout: float = 5.0) -> RecordedRequest:
        """The initial response (the callback request)."""
        return await self._fake.wait_for(lambda: self.ack, timeout=timeout, what=f"the initial response to {self}")

    async def wait_message(
        self, predicate: Callable[[StoredMessage], bool] | None = None, timeout: float = 5.0
    ) -> StoredMessage:
        """The @original message once the bot has answered (sent it, filled a deferral, or updated the message)."""

        def ready() -> StoredMessage | None:
            message = self.original
            if not self.answered or message is None or message.deleted:
                return None
            return message if predicate is None or predicate(message) else None

        return await self._fake.wait_for(ready, timeout=timeout, what=f"the answer to {self}")

    async def wait_followup(self, index: int = 0, timeout: float = 5.0) -> StoredMessage:
        """The ``index``-th followup (a followup that filled a deferral counts)."""
        return await self._fake.wait_for(
            lambda: self.followups[index] if len(self.followups) > index else None,
            timeout=timeout,
            what=f"followup #{index} to {self}",
        )

    async def wait_modal(self, timeout: float = 5.0) -> OpenedModal:
        return await self._fake.wait_for(lambda: self.modal, timeout=timeout, what=f"a modal opened by {self}")

    async def wait_choices(self, timeout: float = 5.0) -> list[Json]:
        return await self._fake.wait_for(lambda: self.choices, timeout=timeout, what=f"autocomplete choices for {self}")

    async def wait_request(self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0) -> RecordedRequest:
        """A request made with this interaction's id or token that matches ``predicate``."""
        return await self._fake.wait_for(
            lambda: next((r for r in self.requests if predicate(r)), None),
            timeout=timeout,
            what=f"a matching request for {self}",
        )


# --------------------------------------------------------------------------------------------------- gateway


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


class _FormErrors:
    """Discord's 50035 "Invalid Form Body" errors, grouped by violation kind."""

    def __init__(self) -> None:
        self.errors: Json = {}
        self.by_kind: dict[str, list[str]] = {}
        self.status_code = 50035
        self.status_message = "Invalid Form Body"

    def add(self, kind: str, path: str, code: str, message: str) -> None:
        node = self.errors
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.by_kind.setdefault(kind, []).append(f"{path}: {message}")

    def __bool__(self) -> bool:
        return bool(self.by_kind)


class _JsonResponse(web.Response):
    """A JSON response that remembers its payload for the request record."""

    def __init__(self, data: Any, status: int) -> None:
        # discord.py parses JSON only when the content-type is exactly "application/json" (no charset).
        super().__init__(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})
        self.payload = data


def _json_response(data: Any, status: int = 200) -> web.Response:
    return _JsonResponse(data, status)


def _error(status: int, code: int, message: str, errors: Json | None = None) -> web.Response:
    data: Json = {"code": code, "message": message}
    if errors:
        data["errors"] = errors
    return _json_response(data, status)


# The request being handled: the middleware records it, handlers (run in the same task) read it.
_current_record: contextvars.ContextVar[RecordedRequest | None] = contextvars.ContextVar("record", default=None)


def _no_content() -> web.Response:
    return web.Response(status=204)


def _as_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


# --------------------------------------------------------------------------------------------------- the fake


class FakeDiscord:
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

    # ------------------------------------------------------------------ building the world

    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> FakeUser:
        user = FakeUser(self._snowflake(), username, bot=bot, global_name=global_name)
        self.users[user.id] = user
        return user

    def add_guild(
        self, name: str, *, owner: FakeUser | None = None, everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS
    ) -> FakeGuild:
        """A guild with @everyone, the bot (and its managed role) and the owner as members."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = FakeGuild(self._snowflake(), name, owner.id)
        guild.roles[guild.id] = FakeRole(guild.id, guild.id, "@everyone", everyone_permissions)
        self.guilds[guild.id] = guild
        bot_role = self.add_role(guild, self.bot_user.username, permissions=BOT_ROLE_PERMISSIONS)
        bot_role.managed, bot_role.bot_id = True, self.bot_user.id
        self.add_member(guild, self.bot_user, roles=[bot_role])
        self.add_member(guild, owner)
        return guild

    def add_role(self, guild: FakeGuild, name: str, *, permissions: int = 0) -> FakeRole:
        role = FakeRole(self._snowflake(), guild.id, name, permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    async def create_role(self, guild: FakeGuild, name: str, *, permissions: int = 0) -> FakeRole:
        """A role made while the bot is connected: added, then announced with GUILD_ROLE_CREATE like Discord does."""
        role = self.add_role(guild, name, permissions=permissions)
        await self._broadcast_guild_event("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()})
        return role

    def add_channel(self, guild: FakeGuild, name: str, *, topic: str | None = None) -> FakeChannel:
        channel = FakeChannel(self._snowflake(), name, 0, guild.id, position=len(guild.channels), topic=topic)
        guild.channels[channel.id] = channel
        self.channels[channel.id] = channel
        return channel

    def add_member(self, guild: FakeGuild, user: FakeUser, *, roles: Sequence[FakeRole] = ()) -> FakeMember:
        member = FakeMember(user, guild.id, [r.id for r in roles])
        guild.members[user.id] = member
        self.users[user.id] = user
        return member

    def add_default_world(self) -> World:
        """Guild "Study Hall" with #general and #study; alice (role Learner) and bob are members."""
        owner = self.add_user("teacher")
        guild = self.add_guild("Study Hall", owner=owner)
        general = self.add_channel(guild, "general", topic="Ask anything")
        study = self.add_channel(guild, "study")
        learner = self.add_role(guild, "Learner")
        alice = self.add_user("alice", global_name="Alice")
        bob = self.add_user("bob")
        self.add_member(guild, alice, roles=[learner])
        self.add_member(guild, bob)
        return World(guild, general, study, alice, bob, owner, learner)

    def dm_channel(self, user: FakeUser) -> FakeChannel:
        """The DM channel between the bot and ``user`` (created on first use, as Discord does)."""
        for channel in self.channels.values():
            if channel.is_dm and channel.recipient is user:
                return channel
        channel = FakeChannel(self._snowflake(), f"dm-{user.username}", 1, recipient=user)
        self.channels[channel.id] = channel
        return channel

    def threads_of(self, channel: FakeChannel) -> list[FakeChannel]:
        return [c for c in self.channels.values() if c.is_thread and c.parent_id == channel.id]

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

    # ------------------------------------------------------------------ gateway

    def _live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.live]

    def current_session(self, guild_id: int | None = None) -> GatewaySession | None:
        """The most recently identified live session that has received its guilds (and owns ``guild_id``)."""
        return next(
            (s for s in reversed(self.sessions) if s.live and s.ready and _owns(s, guild_id)),
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

    # ------------------------------------------------------------------ injecting interactions

    async def slash(
        self,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> InteractionHandle:
        """A user runs ``/name [group] [subcommand] options…`` (``guild=None, channel=None``: in a DM with the bot).

        Option values are Python values (str, int, float, bool, FakeUser/FakeMember, FakeChannel, FakeRole,
        Upload); their types come from the synced command when there is one.
        """
        return await self._command_interaction(
            INTERACTION_APPLICATION_COMMAND, user, guild, channel, name, options or {}, subcommand, group, None
        )

    async def autocomplete(
        self,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        subcommand: str | None = None,
        group: str | None = None,
    ) -> InteractionHandle:
        """A user is typing option ``focused`` of ``/name``; the bot answers with callback type 8."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} is not among the options {sorted(options)}")
        return await self._command_interaction(
            INTERACTION_AUTOCOMPLETE, user, guild, channel, name, options, subcommand, group, focused
        )

    async def click(
        self, user: FakeUser, message: StoredMessage, custom_id: str, *, values: Sequence[Any] | None = None
    ) -> InteractionHandle:
        """A user clicks the button (or picks ``values`` in the select) with ``custom_id`` on ``message``."""
        if message.deleted:
            raise ValueError(f"{message!r} was deleted")
        component = message.component(custom_id)
        if component is None:
            raise ValueError(f"{message!r} has no component {custom_id!r}; it has {message.custom_ids()}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} on {message!r} is disabled")
        ctype = int(component["type"])
        data: Json = {"custom_id": custom_id, "component_type": ctype}
        if ctype == COMPONENT_BUTTON and values is not None:
            raise ValueError("buttons take no values")
        channel = self.channels[message.channel_id]
        guild = self.guilds.get(channel.guild_id) if channel.guild_id else None
        if ctype in SELECT_TYPES:
            data["values"], resolved = self._select_values(component, list(values or []), guild)
            if resolved:
                data["resolved"] = resolved
        handle = self._new_interaction(INTERACTION_COMPONENT, user, guild, channel, data, source_message=message)
        return await self._dispatch_interaction(handle)

    async def submit_modal(
        self, user: FakeUser, custom_id: str, values: Mapping[str, str | Sequence[str]]
    ) -> InteractionHandle:
        """A user submits the modal the bot opened with ``custom_id``; ``values`` maps field custom_ids to input.

        Text inputs take a str, selects and checkbox groups a list of values, file uploads Uploads, a radio group a
        str and a checkbox a bool.
        """
        modal = next((m for m in reversed(self.modals) if m.custom_id == custom_id and not m.submitted), None)
        if modal is None:
            opened = [m.custom_id for m in self.modals if not m.submitted]
            raise ValueError(f"the bot has no open modal {custom_id!r}; open modals: {opened}")
        unused = set(values)
        resolved: Json = {}
        components: list[Json] = []
        for top in modal.components:
            ttype = top.get("type")
            if ttype == COMPONENT_ACTION_ROW:
                children = [self._submitted_field(c, values, unused, resolved) for c in top.get("components") or []]
                components.append({"type": COMPONENT_ACTION_ROW, "components": children})
            elif ttype == COMPONENT_LABEL:
                entry = {
                    "type": COMPONENT_LABEL,
                    "component": self._submitted_field(top["component"], values, unused, resolved),
                }
                if top.get("id") is not None:
                    entry["id"] = top["id"]
                components.append(entry)
            else:
                components.append({k: v for k, v in (("type", ttype), ("id", top.get("id"))) if v is not None})
        if unused:
            raise ValueError(f"modal {custom_id!r} has no fields {sorted(unused)}; it has {modal.field_ids()}")
        modal.submitted = True
        origin = modal.opened_by
        handle = self._new_interaction(
            INTERACTION_MODAL_SUBMIT,
            user,
            origin.guild,
            origin.channel,
            {"custom_id": custom_id, "components": components, **({"resolved": resolved} if resolved else {})},
            source_message=origin.source_message,
        )
        return await self._dispatch_interaction(handle)

    def _submitted_field(self, component: Json, values: Mapping[str, Any], unused: set[str], resolved: Json) -> Json:
        custom_id = component.get("custom_id")
        ctype = component.get("type")
        out: Json = {"type": ctype, "custom_id": custom_id}
        if component.get("id") is not None:
            out["id"] = component["id"]
        unused.discard(str(custom_id))
        if ctype == COMPONENT_TEXT_INPUT:
            value = str(values.get(str(custom_id), component.get("value") or ""))
            label = component.get("label") or custom_id
            if component.get("required", True) and not value:
                raise ValueError(f"text input {label!r} is required; Discord will not submit the modal without it")
            limit = min(int(component.get("max_length") or MAX_TEXT_INPUT_VALUE), MAX_TEXT_INPUT_VALUE)
            if len(value) > limit:
                raise ValueError(f"text input {label!r} takes at most {limit} characters")
            if value and len(value) < int(component.get("min_length") or 0):
                raise ValueError(f"text input {label!r} needs at least {component['min_length']} characters")
            out["value"] = value
        elif ctype in SELECT_TYPES or ctype == COMPONENT_CHECKBOX_GROUP:
            raw = values.get(str(custom_id), [])
            out["values"] = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        elif ctype == COMPONENT_FILE_UPLOAD:
            uploads = values.get(str(custom_id), [])
            ids = []
            for upload in [uploads] if isinstance(uploads, Upload) else list(uploads):
                attachment = self._store_attachment(upload.filename, upload.data, upload.content_type)
                resolved.setdefault("attachments", {})[attachment["id"]] = attachment
                ids.append(attachment["id"])
            out["values"] = ids
        elif ctype == COMPONENT_RADIO_GROUP:
            out["value"] = values.get(str(custom_id))
        elif ctype == COMPONENT_CHECKBOX:
            out["value"] = bool(values.get(str(custom_id), False))
        return out

    def _select_values(self, component: Json, values: list[Any], guild: FakeGuild | None) -> tuple[list[str], Json]:
        low = int(component.get("min_values", 1))
        high = int(component.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ValueError(f"select {component.get('custom_id')!r} takes {low}..{high} values, got {len(values)}")
        resolved: Json = {}
        if component["type"] == COMPONENT_STRING_SELECT:
            allowed = [o["value"] for o in component.get("options") or []]
            for value in values:
                if value not in allowed:
                    raise ValueError(f"{value!r} is not an option of select {component.get('custom_id')!r}: {allowed}")
            return [str(v) for v in values], resolved
        ids = []
        for value in values:
            option_type = OPTION_ROLE if isinstance(value, FakeRole) else OPTION_CHANNEL
            if isinstance(value, FakeUser | FakeMember):
                option_type = OPTION_USER
            ids.append(self._resolve_option(option_type, value, resolved, guild))
        return ids, resolved

    async def _command_interaction(
        self,
        itype: int,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel | None,
        name: str,
        options: Mapping[str, Any],
        subcommand: str | None,
        group: str | None,
        focused: str | None,
    ) -> InteractionHandle:
        if channel is None:
            if guild is not None:
                raise ValueError("a guild interaction needs a channel")
            channel = self.dm_channel(user)
        command, command_guild = self._find_command(name, guild)
        schema: list[Json] | None = command.get("options", []) if command else None
        path = f"/{name}"
        for part, part_type in ((group, OPTION_SUB_COMMAND_GROUP), (subcommand, OPTION_SUB_COMMAND)):
            if part is None:
                continue
            path += f" {part}"
            if schema is not None:
                declared = next((o for o in schema if o["name"] == part and o["type"] == part_type), None)
                if declared is None:
                    raise ValueError(f"command {path!r} is not registered")
                schema = declared.get("options", [])
        resolved: Json = {}
        encoded = self._encode_options(path, schema, options, resolved, guild, focused, itype)
        if subcommand is not None:
            encoded = [{"type": OPTION_SUB_COMMAND, "name": subcommand, "options": encoded}]
        if group is not None:
            encoded = [{"type": OPTION_SUB_COMMAND_GROUP, "name": group, "options": encoded}]
        data: Json = {
            "id": command["id"] if command else str(self._snowflake()),
            "name": name,
            "type": 1,
            "options": encoded,
        }
        if resolved:
            data["resolved"] = resolved
        if command_guild is not None:
            data["guild_id"] = str(command_guild)
        handle = self._new_interaction(itype, user, guild, channel, data)
        return await self._dispatch_interaction(handle)

    def _find_command(self, name: str, guild: FakeGuild | None) -> tuple[Json | None, int | None]:
        if guild is not None:
            for command in self.commands.get(guild.id, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, guild.id
        for command in self.commands.get(None, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command, None
        return None, None

    def _encode_options(
        self,
        path: str,
        schema: list[Json] | None,
        options: Mapping[str, Any],
        resolved: Json,
        guild: FakeGuild | None,
        focused: str | None,
        itype: int,
    ) -> list[Json]:
        declared = {o["name"]: o for o in schema or []}
        if schema is not None:
            unknown = sorted(set(options) - set(declared))
            if unknown:
                raise ValueError(f"{path} has no options {unknown}; it declares {sorted(declared)}")
            missing = [n for n, o in declared.items() if o.get("required") and n not in options]
            if missing and itype == INTERACTION_APPLICATION_COMMAND:
                raise ValueError(f"{path} requires options {missing}; Discord will not send it without them")
        encoded = []
        for name, value in options.items():
            option_type = int(declared[name]["type"]) if name in declared else _infer_option_type(value)
            entry: Json = {"name": name, "type": option_type}
            if name == focused:
                entry["value"], entry["focused"] = str(value), True
            else:
                entry["value"] = self._resolve_option(option_type, value, resolved, guild)
                choices = declared.get(name, {}).get("choices")
                if choices and entry["value"] not in [c["value"] for c in choices]:
                    raise ValueError(f"{value!r} is not a choice of {path} {name}: {[c['value'] for c in choices]}")
            encoded.append(entry)
        return encoded

    def _resolve_option(self, option_type: int, value: Any, resolved: Json, guild: FakeGuild | None) -> Any:
        """The option's wire value, adding users, members, channels, roles and attachments to ``resolved``."""
        if option_type == OPTION_STRING:
            return str(value)
        if option_type == OPTION_INTEGER:
            return int(value)
        if option_type == OPTION_NUMBER:
            return float(value)
        if option_type == OPTION_BOOLEAN:
            return bool(value)
        if option_type == OPTION_ATTACHMENT:
            if not isinstance(value, Upload):
                raise TypeError(f"an attachment option takes an Upload, not {value!r}")
            attachment = self._store_attachment(value.filename, value.data, value.content_type, value.description)
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        if option_type == OPTION_MENTIONABLE:
            option_type = OPTION_ROLE if isinstance(value, FakeRole) else OPTION_USER
        if option_type == OPTION_USER:
            user = value.user if isinstance(value, FakeMember) else value
            if not isinstance(user, FakeUser):
                user = self.users[int(value)]
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            if guild is not None and user.id in guild.members:
                member = guild.members[user.id].payload(include_user=False, permissions=guild.permissions_of(user.id))
                resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if option_type == OPTION_CHANNEL:
            channel = value if isinstance(value, FakeChannel) else self.channels[int(value)]
            perms = guild.permissions_of(self.bot_user.id) if guild else DM_PERMISSIONS
            resolved.setdefault("channels", {})[str(channel.id)] = channel.payload(permissions=perms)
            return str(channel.id)
        if option_type == OPTION_ROLE:
            role = value if isinstance(value, FakeRole) else (guild.roles[int(value)] if guild else None)
            if role is None:
                raise ValueError("role options need a guild")
            resolved.setdefault("roles", {})[str(role.id)] = role.payload()
            return str(role.id)
        raise ValueError(f"unsupported option type {option_type}")

    def _new_interaction(
        self,
        itype: int,
        user: FakeUser,
        guild: FakeGuild | None,
        channel: FakeChannel,
        data: Json,
        *,
        source_message: StoredMessage | None = None,
    ) -> InteractionHandle:
        interaction_id = self._snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel.id),
        }
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise ValueError(f"{user.username} is not a member of {guild.name!r}")
            user_permissions = guild.permissions_of(user.id)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member.payload(permissions=user_permissions),
                channel=channel.payload(permissions=user_permissions),
                app_permissions=str(guild.permissions_of(self.bot_user.id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.payload(),
                channel=channel.payload(permissions=DM_PERMISSIONS),
                app_permissions=str(DM_PERMISSIONS),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if source_message is not None:
            payload["message"] = copy.deepcopy(source_message.data)
        return InteractionHandle(
            self,
            id=interaction_id,
            token=token,
            type=itype,
            payload=payload,
            user=user,
            guild=guild,
            channel=channel,
            source_message=source_message,
        )

    async def settle(self, timeout: float = 5.0) -> None:
        """Let the bot digest the answers to its requests before the next user action.

        A test acts at once where a person would take seconds: without this, a click could reach discord.py
        before the HTTP answer that made it store the message's view. Waits until no request is in flight for
        one short quiet period (the bot's own continuation runs within it).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            await self.wait_for(lambda: self._inflight == 0, timeout=max(deadline - loop.time(), 0.01), what="quiet")
            await asyncio.sleep(0.01)
            if self._inflight == 0:
                return

    async def _dispatch_interaction(self, handle: InteractionHandle, timeout: float = 10.0) -> InteractionHandle:
        # Discord sends an interaction to one session: the newest of the shard that owns the guild.
        guild_id = int(handle.payload["guild_id"]) if handle.payload.get("guild_id") else None
        session = await self.wait_for(
            lambda: self.current_session(guild_id), timeout=timeout, what="the guild's gateway session"
        )
        await self.settle()
        self.interactions[handle.id] = handle
        self._by_token[handle.token] = handle
        handle.dispatched_at = time.monotonic()
        await self._send_dispatch(session, "INTERACTION_CREATE", handle.payload)
        task = asyncio.create_task(self._ack_watchdog(handle), name=f"fake-discord-ack-{handle.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def _ack_watchdog(self, handle: InteractionHandle) -> None:
        await asyncio.sleep(self.ack_timeout)
        if handle.ack is None:
            self._ack_timeout(handle, None, "was not acknowledged in time")

    # ------------------------------------------------------------------ injecting messages

    async def message(
        self,
        user: FakeUser,
        channel: FakeChannel,
        content: str,
        *,
        mentions: Sequence[FakeUser] = (),
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """``user`` posts ``content`` in ``channel`` (a text channel, a thread or ``fake.dm_channel(user)``).

        Users named in ``<@id>`` mentions in the content are mentioned too.
        """
        await self.wait_connected()
        await self.settle()
        mentioned = list(mentions)
        for match in re.finditer(r"<@!?(\d+)>", content):
            found = self.users.get(int(match.group(1)))
            if found is not None and found not in mentioned:
                mentioned.append(found)
        return await self._create_message(
            channel, {"content": content}, [], author=user, mentions=mentioned, reference=reply_to
        )

    # ------------------------------------------------------------------ messages

    def _store_attachment(
        self, filename: str, data: bytes, content_type: str | None, description: str | None = None
    ) -> Json:
        attachment_id = self._snowflake()
        content_type = mimetypes.guess_type(filename)[0] or content_type or "application/octet-stream"
        self.attachment_files[attachment_id] = (filename, data, content_type)
        url = f"{self.base_url}/attachments/{attachment_id}/{filename}"
        attachment: Json = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": False,
        }
        if description:
            attachment["description"] = description
        return attachment

    def _message_attachments(self, data: Json, files: list[RecordedFile], existing: list[Json]) -> list[Json]:
        uploads: dict[int, RecordedFile] = {}
        for upload in files:
            match = re.fullmatch(r"files\[(\d+)\]", upload.field)
            if match:
                uploads[int(match.group(1))] = upload
        declared = data.get("attachments")
        if declared is None:
            return existing + [
                self._store_attachment(f.filename or "file", f.data, f.content_type) for _, f in sorted(uploads.items())
            ]
        kept = {a["id"]: a for a in existing}
        out, used = [], set()
        for entry in declared:
            key = str(entry.get("id"))
            if key in kept:
                out.append(kept[key])
            elif key.isdigit() and int(key) in uploads:
                upload = uploads[int(key)]
                filename = entry.get("filename") or upload.filename or "file"
                out.append(self._store_attachment(filename, upload.data, upload.content_type, entry.get("description")))
                used.add(int(key))
        out += [
            self._store_attachment(f.filename or "file", f.data, f.content_type)
            for index, f in sorted(uploads.items())
            if index not in used
        ]
        return out

    async def _create_message(
        self,
        channel: FakeChannel,
        data: Json,
        files: list[RecordedFile],
        *,
        author: FakeUser,
        interaction: InteractionHandle | None = None,
        flags: int = 0,
        mentions: Sequence[FakeUser] = (),
        reference: StoredMessage | None = None,
    ) -> StoredMessage:
        message_id = self._snowflake()
        message_type = 0
        if interaction is not None and interaction.type == INTERACTION_APPLICATION_COMMAND:
            message_type = 20  # CHAT_INPUT_COMMAND
        if reference is not None:
            message_type = 19  # REPLY
        payload: Json = {
            "id": str(message_id),
            "channel_id": str(channel.id),
            "author": author.payload(),
            "content": data.get("content") or "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(data.get("tts")),
            "mention_everyone": False,
            "mentions": [u.payload() for u in mentions],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": self._message_attachments(data, files, []),
            "embeds": list(data.get("embeds") or []),
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
            "components": list(data.get("components") or []),
        }
        if data.get("nonce") is not None:
            payload["nonce"] = data["nonce"]
        if interaction is not None:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
            metadata: Json = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
            }
            if interaction.source_message is not None:
                metadata["interacted_message_id"] = str(interaction.source_message.id)
            payload["interaction_metadata"] = metadata
        if reference is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(reference.id),
                "channel_id": str(reference.channel_id),
            }
            if reference.guild_id:
                payload["message_reference"]["guild_id"] = str(reference.guild_id)
            payload["referenced_message"] = {k: v for k, v in reference.data.items() if k != "referenced_message"}
        stored = StoredMessage(payload, guild_id=channel.guild_id, interaction=interaction)
        self.messages[message_id] = stored
        channel.last_message_id = message_id
        if channel.is_thread:
            channel.message_count += 1
        if not stored.ephemeral:
            await self._broadcast_message("MESSAGE_CREATE", stored)
        self._notify()
        return stored

    async def _edit_message(self, message: StoredMessage, data: Json, files: list[RecordedFile]) -> None:
        message.history.append(copy.deepcopy(message.data))
        new = dict(message.data)
        if "content" in data:
            new["content"] = data["content"] or ""
        for key in ("embeds", "components"):
            if key in data:
                new[key] = list(data[key] or [])
        if "attachments" in data or files:
            new["attachments"] = self._message_attachments(data, files, list(message.data.get("attachments") or []))
        flags = message.flags
        if data.get("flags") is not None:
            flags = (flags & ~SETTABLE_FLAGS) | (int(data["flags"]) & SETTABLE_FLAGS)
        new["flags"] = flags & ~FLAG_LOADING
        new["edited_timestamp"] = _now_iso()
        message.data = new
        if not message.ephemeral:
            await self._broadcast_message("MESSAGE_UPDATE", message)
        self._notify()

    async def _delete_message(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data: Json = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id:
                data["guild_id"] = str(message.guild_id)
            for session in self._live_sessions():
                if self._session_wants_message(session, message):
                    await self._send_dispatch(session, "MESSAGE_DELETE", data)
        self._notify()

    def _session_wants_message(self, session: GatewaySession, message: StoredMessage) -> bool:
        needed = INTENT_GUILD_MESSAGES if message.guild_id else INTENT_DIRECT_MESSAGES
        return bool(session.intents & needed) and _owns(session, message.guild_id)

    def _message_event(self, message: StoredMessage, session: GatewaySession) -> Json:
        data = copy.deepcopy(message.data)
        guild = self.guilds.get(message.guild_id) if message.guild_id else None
        if guild is not None:
            data["guild_id"] = str(guild.id)
            author = guild.members.get(message.author_id)
            if author is not None:
                data["member"] = author.payload(include_user=False)
            for mention in data["mentions"]:
                member = guild.members.get(int(mention["id"]))
                if member is not None:
                    mention["member"] = member.payload(include_user=False)
        # Without the MESSAGE_CONTENT intent Discord blanks other users' guild messages unless they mention the bot.
        mentions_bot = any(int(m["id"]) == self.bot_user.id for m in data["mentions"])
        if (
            guild is not None
            and not session.intents & INTENT_MESSAGE_CONTENT
            and message.author_id != self.bot_user.id
            and not mentions_bot
        ):
            data.update(content="", embeds=[], attachments=[], components=[])
        return data

    async def _broadcast_message(self, event: str, message: StoredMessage) -> None:
        for session in self._live_sessions():
            if self._session_wants_message(session, message):
                await self._send_dispatch(session, event, self._message_event(message, session))

    async def _broadcast_guild_event(self, event: str, data: Json) -> None:
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        for session in self._live_sessions():
            if session.intents & INTENT_GUILDS and _owns(session, guild_id):
                await self._send_dispatch(session, event, data)

    # ------------------------------------------------------------------ rules

    def _check_message(
        self,
        data: Json,
        request: RecordedRequest,
        where: str,
        *,
        creating: bool,
        handle: InteractionHandle | None = None,
        existing: StoredMessage | None = None,
    ) -> _FormErrors:
        """Discord's message limits (refused with 50035) and the allowed_mentions house rule (recorded only)."""
        errors = _FormErrors()
        content = data.get("content")
        if content is not None and len(str(content)) > MAX_CONTENT:
            errors.add(
                "content_too_long",
                "content",
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_CONTENT} or fewer in length (got {len(str(content))}).",
            )
        _check_embeds(list(data.get("embeds") or []), errors)
        flags = int(data.get("flags") or (existing.flags if existing else 0) or 0)
        _check_components(list(data.get("components") or []), flags, errors)
        if creating and not (
            content
            or data.get("embeds")
            or data.get("components")
            or data.get("attachments")
            or request.files
            or data.get("poll")
            or data.get("sticker_ids")
        ):
            errors.add("empty_message", "content", "BASE_TYPE_REQUIRED", "Cannot send an empty message")
            errors.status_code, errors.status_message = 50006, "Cannot send an empty message"
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"{where}: " + "; ".join(problems), request, handle)
        self._check_allowed_mentions(data, request, where, handle)
        return errors

    def _check_allowed_mentions(
        self, data: Json, request: RecordedRequest, where: str, handle: InteractionHandle | None
    ) -> None:
        allowed = data.get("allowed_mentions")
        preview = _short(data.get("content") or "", 40)
        if allowed is None:
            self._violate(
                "allowed_mentions_missing", f"{where} has no allowed_mentions (content {preview!r})", request, handle
            )
            return
        parse = set(allowed.get("parse") or [])
        if parse & {"everyone", "users", "roles"} or allowed.get("users") or allowed.get("roles"):
            self._violate(
                "allowed_mentions_pings",
                f"{where} allows pings {allowed!r}; only replied_user may be enabled (content {preview!r})",
                request,
                handle,
            )

    def _form_error_response(self, errors: _FormErrors, prefix: str = "") -> web.Response:
        body = {prefix: errors.errors} if prefix else errors.errors
        return _error(400, errors.status_code, errors.status_message, body)

    def _check_modal(self, data: Json, request: RecordedRequest, handle: InteractionHandle) -> _FormErrors:
        errors = _FormErrors()
        title = str(data.get("title") or "")
        if not 1 <= len(title) <= MAX_MODAL_TITLE:
            errors.add("modal_limits", "title", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_MODAL_TITLE}.")
        custom_id = str(data.get("custom_id") or "")
        if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
            errors.add("modal_limits", "custom_id", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_CUSTOM_ID}.")
        components = list(data.get("components") or [])
        if not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
            errors.add("modal_limits", "components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        for i, top in enumerate(components):
            path = f"components.{i}"
            if top.get("type") == COMPONENT_ACTION_ROW:
                children = list(top.get("components") or [])
                if len(children) != 1:
                    errors.add("modal_limits", path, "COMPONENT_LAYOUT", "A modal row holds exactly one component.")
                for child in children:
                    if child.get("type") == COMPONENT_TEXT_INPUT:
                        label = str(child.get("label") or "")
                        if not 1 <= len(label) <= MAX_TEXT_INPUT_LABEL:
                            errors.add("modal_limits", f"{path}.components.0.label", "BASE_TYPE_BAD_LENGTH", "1-45")
            elif top.get("type") == COMPONENT_LABEL:
                label = str(top.get("label") or "")
                if not 1 <= len(label) <= MAX_TEXT_INPUT_LABEL:
                    errors.add("modal_limits", f"{path}.label", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
                if not top.get("component"):
                    errors.add("modal_limits", f"{path}.component", "BASE_TYPE_REQUIRED", "A label needs a component.")
        for i, top in enumerate(components):
            children = list(top.get("components") or []) + ([top["component"]] if top.get("component") else [])
            for child in children:
                cid = str(child.get("custom_id") or "")
                if child.get("type") in {COMPONENT_TEXT_INPUT, *SELECT_TYPES} and not 1 <= len(cid) <= MAX_CUSTOM_ID:
                    errors.add("modal_limits", f"components.{i}", "BASE_TYPE_BAD_LENGTH", "custom_id must be 1-100")
                if child.get("type") == COMPONENT_TEXT_INPUT:
                    if len(str(child.get("value") or "")) > MAX_TEXT_INPUT_VALUE:
                        errors.add("modal_limits", f"components.{i}", "BASE_TYPE_MAX_LENGTH", "value over 4000")
                    if int(child.get("max_length") or 0) > MAX_TEXT_INPUT_VALUE:
                        errors.add("modal_limits", f"components.{i}", "NUMBER_TYPE_MAX", "max_length over 4000")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"modal {custom_id!r}: " + "; ".join(problems), request, handle)
        return errors

    def _check_choices(self, data: Json, request: RecordedRequest, handle: InteractionHandle) -> _FormErrors:
        errors = _FormErrors()
        choices = list(data.get("choices") or [])
        if len(choices) > MAX_CHOICES:
            errors.add("choices_limits", "choices", "BASE_TYPE_MAX_LENGTH", f"{len(choices)} choices (limit 25)")
        for i, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name") or "")) <= MAX_CHOICE_NAME:
                errors.add("choices_limits", f"choices.{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
            value = choice.get("value")
            if isinstance(value, str) and len(value) > MAX_CHOICE_NAME:
                errors.add("choices_limits", f"choices.{i}.value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer.")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, f"autocomplete for {handle}: " + "; ".join(problems), request, handle)
        return errors

    def _check_commands(self, commands: list[Json], request: RecordedRequest) -> _FormErrors:
        errors = _FormErrors()
        chat_input = [c for c in commands if c.get("type", 1) == 1]
        if len(chat_input) > MAX_CHAT_INPUT_COMMANDS:
            errors.add("command_limits", "_", "MAX_COMMANDS", f"{len(chat_input)} slash commands (limit 100)")
        seen: set[tuple[str, int]] = set()
        for i, command in enumerate(commands):
            ctype = int(command.get("type", 1))
            key = (str(command.get("name")), ctype)
            if key in seen:
                errors.add("command_limits", f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"duplicate {key[0]}")
            seen.add(key)
            if ctype == 1:
                _check_command_node(command, str(i), errors, top_level=True)
            elif not 1 <= len(key[0]) <= MAX_COMMAND_NAME:
                errors.add("command_limits", f"{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32.")
        for kind, problems in errors.by_kind.items():
            self._violate(kind, "command sync: " + "; ".join(problems), request)
        return errors

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        api = API_PREFIX
        add = app.router.add_route
        add("GET", "/gateway", self._gateway)
        add("GET", "/attachments/{attachment_id}/{filename}", self._cdn)
        add("POST", api + "/interactions/{interaction_id}/{token}/callback", self._h_callback)
        add("POST", api + "/webhooks/{application_id}/{token}", self._h_followup)
        add("GET", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_get)
        add("PATCH", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_edit)
        add("DELETE", api + "/webhooks/{application_id}/{token}/messages/{message_id}", self._h_webhook_delete)
        add("GET", api + "/channels/{channel_id}", self._h_get_channel)
        add("POST", api + "/channels/{channel_id}/messages", self._h_create_message)
        add("GET", api + "/channels/{channel_id}/messages", self._h_list_messages)
        add("GET", api + "/channels/{channel_id}/messages/{message_id}", self._h_get_message)
        add("PATCH", api + "/channels/{channel_id}/messages/{message_id}", self._h_edit_message)
        add("DELETE", api + "/channels/{channel_id}/messages/{message_id}", self._h_delete_message)
        add("POST", api + "/channels/{channel_id}/messages/{message_id}/threads", self._h_thread_from_message)
        add("POST", api + "/channels/{channel_id}/threads", self._h_thread)
        add("POST", api + "/channels/{channel_id}/typing", self._h_typing)
        add("POST", api + "/users/@me/channels", self._h_create_dm)
        add("GET", api + "/users/@me", self._h_me)
        add("GET", api + "/users/{user_id}", self._h_get_user)
        add("GET", api + "/guilds/{guild_id}/members/{user_id}", self._h_get_member)
        add("GET", api + "/applications/@me", self._h_application)
        add("GET", api + "/oauth2/applications/@me", self._h_application)
        add("GET", api + "/applications/{application_id}/commands", self._h_get_commands)
        add("PUT", api + "/applications/{application_id}/commands", self._h_put_commands)
        add("GET", api + "/applications/{application_id}/guilds/{guild_id}/commands", self._h_get_commands)
        add("PUT", api + "/applications/{application_id}/guilds/{guild_id}/commands", self._h_put_commands)
        add("GET", api + "/gateway", self._h_gateway_info)
        add("GET", api + "/gateway/bot", self._h_gateway_info)
        add("*", "/{tail:.*}", self._h_unhandled)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self._inflight += 1
        try:
            return await self._handle_api(request, handler)
        finally:
            self._inflight -= 1
            self._notify()

    async def _handle_api(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        body, files = await _read_body(request)
        path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX + "/") else request.path
        record = RecordedRequest(request.method, path, dict(request.query), body, files, time.monotonic())
        self.requests.append(record)
        _current_record.set(record)
        try:
            exempt = path.startswith(("/interactions/", "/webhooks/", "/gateway")) or not request.path.startswith(
                API_PREFIX + "/"
            )
            if not exempt and request.headers.get("Authorization") != f"Bot {self.token}":
                self._violate("unauthorized", "REST call without 'Authorization: Bot <fake.token>'", record)
                response: web.StreamResponse = _error(401, 0, "401: Unauthorized")
            else:
                response = await handler(request)
        except Exception as exc:
            self._violate("fake_internal_error", "".join(traceback.format_exception(exc)), record)
            # 400, not 500: discord.py retries 5xx answers with growing sleeps.
            response = _error(400, 0, f"fake Discord failed: {exc!r}")
        record.status = response.status
        record.response = response.payload if isinstance(response, _JsonResponse) else None
        # Send the answer now, so "no request in flight" (see settle) means the bot has its answers.
        await response.prepare(request)
        await response.write_eof()
        return response

    def _record(self, request: web.Request) -> RecordedRequest:
        record = _current_record.get()
        if record is None:
            raise RuntimeError(f"no record for {request.method} {request.path}")
        return record

    def _body(self, request: web.Request) -> Json:
        body = self._record(request).json
        return body if isinstance(body, dict) else {}

    async def _h_unhandled(self, request: web.Request) -> web.StreamResponse:
        record = _current_record.get() if request.path.startswith("/api/") else None
        self._violate("unhandled_route", f"the fake does not implement {request.method} {request.path}", record)
        return _error(404, 0, "404: Not Found")

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        stored = self.attachment_files.get(_as_int(request.match_info["attachment_id"]) or 0)
        if stored is None:
            return web.Response(status=404)
        _filename, data, content_type = stored
        return web.Response(body=data, headers={"Content-Type": content_type})

    def _not_found(self, request: web.Request, what: str, code: int) -> web.Response:
        record = self._record(request)
        self._violate("not_found", f"{record.method} {record.path}: unknown {what}", record)
        return _error(404, code, f"Unknown {what.title()}")

    # ------------------------------------------------------------------ interaction routes

    async def _h_callback(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        handle = self.interactions.get(_as_int(request.match_info["interaction_id"]) or 0)
        if handle is None or handle.token != request.match_info["token"]:
            self._violate("unknown_interaction", "callback for an interaction the fake never sent", record)
            return _error(404, 10062, "Unknown interaction")
        handle.requests.append(record)
        body = self._body(request)
        ctype = int(body.get("type") or 0)
        data: Json = body.get("data") or {}
        if handle.ack is not None:
            self._violate(
                "double_ack", f"{handle}: second initial response (type {ctype}; first was {handle.ack_type})", record
            )
            return _error(400, 40060, "Interaction has already been acknowledged.")
        delay = record.at - handle.dispatched_at
        if delay > self.ack_timeout:
            self._ack_timeout(handle, record, f"was answered after {delay:.2f}s")
            return _error(404, 10062, "Unknown interaction")
        if ctype not in ALLOWED_CALLBACKS[handle.type] or (
            ctype in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE) and handle.source_message is None
        ):
            self._violate("invalid_callback", f"{handle} cannot be answered with callback type {ctype}", record, handle)
            invalid = {"type": {"_errors": [{"code": "INTERACTION_RESPONSE_TYPE_INVALID", "message": "Invalid."}]}}
            return _error(400, 50035, "Invalid Form Body", invalid)
        where = f"callback type {ctype} to {handle}"
        if ctype in (CALLBACK_CHANNEL_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            existing = handle.source_message if ctype == CALLBACK_UPDATE_MESSAGE else None
            creating = ctype == CALLBACK_CHANNEL_MESSAGE
            errors = self._check_message(data, record, where, creating=creating, handle=handle, existing=existing)
        elif ctype == CALLBACK_MODAL:
            errors = self._check_modal(data, record, handle)
        elif ctype == CALLBACK_AUTOCOMPLETE:
            errors = self._check_choices(data, record, handle)
        else:
            errors = _FormErrors()
        if errors:
            return self._form_error_response(errors, "data")
        handle.ack = record
        message: StoredMessage | None = None
        requested_flags = int(data.get("flags") or 0)
        if ctype == CALLBACK_CHANNEL_MESSAGE:
            flags = requested_flags & (SETTABLE_FLAGS | FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, data, record.files, author=self.bot_user, interaction=handle, flags=flags
            )
            handle.original, handle.answered = message, True
        elif ctype == CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            flags = FLAG_LOADING | (requested_flags & FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, {}, [], author=self.bot_user, interaction=handle, flags=flags
            )
            handle.original = message
        elif ctype == CALLBACK_DEFERRED_UPDATE:
            handle.original = handle.source_message
        elif ctype == CALLBACK_UPDATE_MESSAGE and handle.source_message is not None:
            message = handle.source_message
            await self._edit_message(message, data, record.files)
            handle.original, handle.answered = message, True
        elif ctype == CALLBACK_AUTOCOMPLETE:
            handle.choices = list(data.get("choices") or [])
        elif ctype == CALLBACK_MODAL:
            handle.modal = OpenedModal(
                str(data["custom_id"]), str(data.get("title") or ""), list(data.get("components") or []), handle
            )
            self.modals.append(handle.modal)
        self._notify()
        if not _truthy(record.query.get("with_response")):
            return _no_content()
        resource: Json = {"type": ctype}
        if message is not None:
            resource["message"] = copy.deepcopy(message.data)
        response_message = message or (handle.original if ctype == CALLBACK_DEFERRED_UPDATE else None)
        return _json_response(
            {
                "interaction": {
                    "id": str(handle.id),
                    "type": handle.type,
                    "activity_instance_id": None,
                    "response_message_id": str(response_message.id) if response_message else None,
                    "response_message_loading": ctype == CALLBACK_DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": bool(message and message.ephemeral),
                },
                "resource": resource,
            }
        )

    def _webhook_handle(self, request: web.Request) -> InteractionHandle | web.Response:
        record = self._record(request)
        handle = self._by_token.get(request.match_info["token"])
        if handle is None or request.match_info["application_id"] != str(self.application_id):
            self._violate("unknown_interaction", "webhook call with an unknown application id or token", record)
            return _error(404, 10015, "Unknown Webhook")
        handle.requests.append(record)
        if handle.ack is None:
            self._violate("not_acknowledged", f"{record.method} {record.path} before {handle} was acknowledged", record)
            return _error(404, 10015, "Unknown Webhook")
        return handle

    def _webhook_message(self, handle: InteractionHandle, message_id: str) -> StoredMessage | None:
        if message_id == "@original":
            message = handle.original
        else:
            wanted = _as_int(message_id)
            candidates = [handle.original, *handle.followups]
            message = next((m for m in candidates if m is not None and m.id == wanted), None)
        return None if message is None or message.deleted else message

    async def _h_followup(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        record = self._record(request)
        data = self._body(request)
        errors = self._check_message(data, record, f"followup to {handle}", creating=True, handle=handle)
        if errors:
            return self._form_error_response(errors)
        original = handle.original
        if original is not None and original.loading and handle.ack_type == CALLBACK_DEFERRED_CHANNEL_MESSAGE:
            # The first followup after a deferral fills the "thinking" message and keeps its ephemerality.
            await self._edit_message(original, data, record.files)
            message = original
            handle.answered = True
        else:
            flags = int(data.get("flags") or 0) & (SETTABLE_FLAGS | FLAG_EPHEMERAL)
            message = await self._create_message(
                handle.channel, data, record.files, author=self.bot_user, interaction=handle, flags=flags
            )
        handle.followups.append(message)
        self._notify()
        return _json_response(message.data) if _truthy(record.query.get("wait")) else _no_content()

    async def _h_webhook_get(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        return _json_response(message.data)

    async def _h_webhook_edit(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        record = self._record(request)
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        data = self._body(request)
        where = f"edit of {request.match_info['message_id']} for {handle}"
        errors = self._check_message(data, record, where, creating=False, handle=handle, existing=message)
        if errors:
            return self._form_error_response(errors)
        await self._edit_message(message, data, record.files)
        if message is handle.original:
            handle.answered = True
        self._notify()
        return _json_response(message.data)

    async def _h_webhook_delete(self, request: web.Request) -> web.StreamResponse:
        handle = self._webhook_handle(request)
        if isinstance(handle, web.Response):
            return handle
        message = self._webhook_message(handle, request.match_info["message_id"])
        if message is None:
            return self._not_found(request, "message", 10008)
        await self._delete_message(message)
        return _no_content()

    # ------------------------------------------------------------------ channel routes

    def _channel(self, request: web.Request) -> FakeChannel | web.Response:
        channel = self.channels.get(_as_int(request.match_info["channel_id"]) or 0)
        return channel if channel is not None else self._not_found(request, "channel", 10003)

    def _channel_message(self, request: web.Request, channel: FakeChannel) -> StoredMessage | web.Response:
        message = self.messages.get(_as_int(request.match_info["message_id"]) or 0)
        if message is None or message.deleted or message.channel_id != channel.id or message.ephemeral:
            return self._not_found(request, "message", 10008)
        return message

    async def _h_get_channel(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        return _json_response(channel.payload())

    async def _h_create_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        record = self._record(request)
        data = self._body(request)
        errors = self._check_message(data, record, f"message in {channel.name}", creating=True)
        if errors:
            return self._form_error_response(errors)
        reference = None
        ref = data.get("message_reference")
        if ref and ref.get("message_id"):
            reference = self.messages.get(int(ref["message_id"]))
            if reference is None and ref.get("fail_if_not_exists", True):
                errors = _FormErrors()
                errors.add("not_found", "message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
                self._violate("not_found", "reply to an unknown message", record)
                return self._form_error_response(errors)
        flags = int(data.get("flags") or 0) & SETTABLE_FLAGS
        message = await self._create_message(
            channel, data, record.files, author=self.bot_user, flags=flags, reference=reference
        )
        return _json_response(message.data)

    async def _h_list_messages(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        query = request.query
        limit = min(int(query.get("limit", "50")), 100)
        before = _as_int(query.get("before", ""))
        after = _as_int(query.get("after", ""))
        found = [
            m
            for m in self.messages.values()
            if m.channel_id == channel.id
            and not m.deleted
            and not m.ephemeral
            and (before is None or m.id < before)
            and (after is None or m.id > after)
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        return _json_response([m.data for m in found[:limit]])

    async def _h_get_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        return message if isinstance(message, web.Response) else _json_response(message.data)

    async def _h_edit_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        record = self._record(request)
        if message.author_id != self.bot_user.id:
            self._violate("forbidden", f"editing {message!r}, which another user wrote", record)
            return _error(403, 50005, "Cannot edit a message authored by another user")
        data = self._body(request)
        errors = self._check_message(data, record, f"edit of {message!r}", creating=False, existing=message)
        if errors:
            return self._form_error_response(errors)
        await self._edit_message(message, data, record.files)
        return _json_response(message.data)

    async def _h_delete_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        await self._delete_message(message)
        return _no_content()

    def _check_thread_name(self, request: web.Request, name: str) -> web.Response | None:
        if 1 <= len(name) <= MAX_THREAD_NAME:
            return None
        errors = _FormErrors()
        errors.add("thread_limits", "name", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and 100 (got {len(name)}).")
        self._violate("thread_limits", f"thread name of {len(name)} characters", self._record(request))
        return self._form_error_response(errors)

    async def _add_thread(self, parent: FakeChannel, thread_id: int, body: Json, thread_type: int) -> FakeChannel:
        guild = self.guilds[parent.guild_id or 0]
        thread = FakeChannel(
            thread_id,
            str(body.get("name")),
            thread_type,
            guild.id,
            parent_id=parent.id,
            owner_id=self.bot_user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        guild.threads[thread.id] = thread
        self.channels[thread.id] = thread
        # Sent before the REST answer, so the bot's cache knows the thread when create_thread returns.
        await self._broadcast_guild_event("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return thread

    async def _h_thread_from_message(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        message = self._channel_message(request, channel)
        if isinstance(message, web.Response):
            return message
        record = self._record(request)
        if channel.type not in (0, 5):
            return _error(400, 50024, "Cannot execute action on this channel type")
        if message.id in self.channels:
            self._violate("thread_limits", f"a second thread on {message!r}", record)
            return _error(400, 160004, "A thread has already been created for this message")
        body = self._body(request)
        refused = self._check_thread_name(request, str(body.get("name") or ""))
        if refused is not None:
            return refused
        thread = await self._add_thread(channel, message.id, body, 11)
        message.data["thread"] = thread.payload()
        message.data["flags"] = message.flags | FLAG_HAS_THREAD
        return _json_response(thread.payload())

    async def _h_thread(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        if isinstance(channel, web.Response):
            return channel
        if channel.type not in (0, 5):
            return _error(400, 50024, "Cannot execute action on this channel type")
        body = self._body(request)
        refused = self._check_thread_name(request, str(body.get("name") or ""))
        if refused is not None:
            return refused
        thread = await self._add_thread(channel, self._snowflake(), body, int(body.get("type") or 12))
        return _json_response(thread.payload())

    async def _h_typing(self, request: web.Request) -> web.StreamResponse:
        channel = self._channel(request)
        return channel if isinstance(channel, web.Response) else _no_content()

    # ------------------------------------------------------------------ users, guilds, application, gateway

    async def _h_create_dm(self, request: web.Request) -> web.StreamResponse:
        user = self.users.get(int(self._body(request).get("recipient_id") or 0))
        if user is None or user.bot:
            return self._not_found(request, "user", 10013)
        return _json_response(self.dm_channel(user).payload())

    async def _h_me(self, request: web.Request) -> web.StreamResponse:
        return _json_response({**self.bot_user.payload(), "verified": True, "mfa_enabled": False, "email": None})

    async def _h_get_user(self, request: web.Request) -> web.StreamResponse:
        user = self.users.get(_as_int(request.match_info["user_id"]) or 0)
        return _json_response(user.payload()) if user else self._not_found(request, "user", 10013)

    async def _h_get_member(self, request: web.Request) -> web.StreamResponse:
        guild = self.guilds.get(_as_int(request.match_info["guild_id"]) or 0)
        member = guild.members.get(_as_int(request.match_info["user_id"]) or 0) if guild else None
        return _json_response(member.payload()) if member else self._not_found(request, "member", 10007)

    async def _h_application(self, request: web.Request) -> web.StreamResponse:
        return _json_response(
            {
                "id": str(self.application_id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "",
                "summary": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user.payload(),
                "owner": self.app_owner.payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": self._application_flags(),
                "tags": [],
                "redirect_uris": [],
                # Must stay null: with an endpoint URL Discord stops sending interactions over the gateway.
                "interactions_endpoint_url": None,
                "approximate_guild_count": len(self.guilds),
                "integration_types_config": {"0": {}},
            }
        )

    def _command_scope(self, request: web.Request) -> int | web.Response | None:
        if request.match_info["application_id"] != str(self.application_id):
            return self._not_found(request, "application", 10002)
        if "guild_id" not in request.match_info:
            return None
        guild_id = _as_int(request.match_info["guild_id"]) or 0
        if guild_id not in self.guilds:
            self._violate("forbidden", f"commands for guild {guild_id}, which the bot is not in", self._record(request))
            return _error(403, 50001, "Missing Access")
        return guild_id

    async def _h_get_commands(self, request: web.Request) -> web.StreamResponse:
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        return _json_response(self.commands.get(scope, []))

    async def _h_put_commands(self, request: web.Request) -> web.StreamResponse:
        scope = self._command_scope(request)
        if isinstance(scope, web.Response):
            return scope
        record = self._record(request)
        body = record.json if isinstance(record.json, list) else []
        errors = self._check_commands(body, record)
        if errors:
            return self._form_error_response(errors)
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(scope, [])}
        stored = []
        for command in body:
            ctype = int(command.get("type", 1))
            earlier = previous.get((command["name"], ctype))
            entry: Json = {
                "description": "",
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **command,
                "id": earlier["id"] if earlier else str(self._snowflake()),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                "type": ctype,
            }
            if ctype == 1:
                entry.setdefault("options", [])
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored.append(entry)
        self.commands[scope] = stored
        return _json_response(stored)

    async def _h_gateway_info(self, request: web.Request) -> web.StreamResponse:
        data: Json = {"url": self.gateway_url}
        if request.path.endswith("/bot"):
            data["shards"] = 1
            data["session_start_limit"] = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json_response(data)


# --------------------------------------------------------------------------------------------------- helpers


def _owns(session: GatewaySession, guild_id: int | None) -> bool:
    """Discord's shard formula: a guild's events go to shard (guild_id >> 22) % shard_count; DMs to shard 0."""
    index, count = session.shard
    if count <= 1:
        return True
    return (guild_id >> 22) % count == index if guild_id else index == 0


async def _read_body(request: web.Request) -> tuple[Any, list[RecordedFile]]:
    """JSON bodies as parsed JSON; multipart bodies as their ``payload_json`` plus the uploaded files."""
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[RecordedFile] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue  # discord.py never nests multiparts
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                data = await part.read(decode=False)
                content_type = part.headers.get("Content-Type")
                files.append(RecordedFile(str(part.name), part.filename, bytes(data), content_type))
        return payload, files
    text = await request.text()
    if not text:
        return None, []
    try:
        return json.loads(text), []
    except json.JSONDecodeError:
        return text, []


def _infer_option_type(value: Any) -> int:
    if isinstance(value, bool):
        return OPTION_BOOLEAN
    if isinstance(value, int):
        return OPTION_INTEGER
    if isinstance(value, float):
        return OPTION_NUMBER
    if isinstance(value, Upload):
        return OPTION_ATTACHMENT
    if isinstance(value, FakeUser | FakeMember):
        return OPTION_USER
    if isinstance(value, FakeChannel):
        return OPTION_CHANNEL
    if isinstance(value, FakeRole):
        return OPTION_ROLE
    return OPTION_STRING


def _check_embeds(embeds: list[Json], errors: _FormErrors) -> None:
    kind = "embed_limits"
    if len(embeds) > MAX_EMBEDS:
        errors.add(kind, "embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        texts: list[tuple[str, Any, int]] = [
            (f"embeds.{i}.title", embed.get("title"), MAX_EMBED_TITLE),
            (f"embeds.{i}.description", embed.get("description"), MAX_EMBED_DESCRIPTION),
            (f"embeds.{i}.footer.text", (embed.get("footer") or {}).get("text"), MAX_EMBED_FOOTER),
            (f"embeds.{i}.author.name", (embed.get("author") or {}).get("name"), MAX_EMBED_AUTHOR),
        ]
        fields = list(embed.get("fields") or [])
        if len(fields) > MAX_EMBED_FIELDS:
            errors.add(kind, f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", f"{len(fields)} fields (limit 25)")
        for j, embed_field in enumerate(fields):
            for key, limit in (("name", MAX_EMBED_FIELD_NAME), ("value", MAX_EMBED_FIELD_VALUE)):
                text = str(embed_field.get(key) or "")
                if not text.strip():
                    errors.add(kind, f"embeds.{i}.fields.{j}.{key}", "BASE_TYPE_REQUIRED", "This field is required")
                texts.append((f"embeds.{i}.fields.{j}.{key}", text, limit))
        for path, text, limit in texts:
            length = len(str(text or ""))
            total += length
            if length > limit:
                errors.add(kind, path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length (got {length}).")
    if total > MAX_EMBED_TOTAL:
        errors.add(kind, "embeds", "MAX_EMBED_SIZE_EXCEEDED", f"Embed size {total} exceeds maximum size of 6000")


def _check_components(components: list[Json], flags: int, errors: _FormErrors) -> None:
    kind = "component_limits"
    if not flags & FLAG_IS_COMPONENTS_V2:
        if len(components) > MAX_ACTION_ROWS:
            errors.add(kind, "components", "BASE_TYPE_MAX_LENGTH", f"{len(components)} action rows (limit 5)")
        for i, row in enumerate(components):
            if row.get("type") != COMPONENT_ACTION_ROW:
                errors.add(kind, f"components.{i}", "COMPONENT_LAYOUT", "Top-level components must be action rows")
                continue
            children = list(row.get("components") or [])
            if not children:
                errors.add(kind, f"components.{i}.components", "BASE_TYPE_MIN_LENGTH", "An action row cannot be empty")
            if any(c.get("type") in SELECT_TYPES for c in children) and len(children) > 1:
                errors.add(kind, f"components.{i}", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A select fills its whole row")
            elif len(children) > MAX_ROW_BUTTONS:
                errors.add(
                    kind, f"components.{i}", "BASE_TYPE_MAX_LENGTH", f"{len(children)} buttons in a row (limit 5)"
                )
    seen: set[str] = set()
    stack = [(f"components.{i}", c) for i, c in enumerate(components)]
    while stack:
        path, component = stack.pop()
        custom_id = component.get("custom_id")
        ctype = component.get("type")
        if custom_id is not None:
            if not 1 <= len(str(custom_id)) <= MAX_CUSTOM_ID:
                errors.add(kind, f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH", f"custom_id of {len(custom_id)} (1-100)")
            if custom_id in seen:
                errors.add(kind, f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", f"duplicate {custom_id!r}")
            seen.add(custom_id)
        if ctype == COMPONENT_BUTTON:
            label = str(component.get("label") or "")
            if len(label) > MAX_BUTTON_LABEL:
                errors.add(kind, f"{path}.label", "BASE_TYPE_MAX_LENGTH", f"Button label of {len(label)} (limit 80)")
            style = component.get("style")
            if style == BUTTON_STYLE_LINK and not component.get("url"):
                errors.add(kind, f"{path}.url", "BASE_TYPE_REQUIRED", "A link button needs a url")
            if style not in (BUTTON_STYLE_LINK, BUTTON_STYLE_PREMIUM) and custom_id is None:
                errors.add(kind, f"{path}.custom_id", "BASE_TYPE_REQUIRED", "A button needs a custom_id")
        if ctype in SELECT_TYPES:
            options = list(component.get("options") or [])
            if len(options) > MAX_SELECT_OPTIONS:
                errors.add(kind, f"{path}.options", "BASE_TYPE_MAX_LENGTH", f"{len(options)} options (limit 25)")
            for k, option in enumerate(options):
                for key in ("label", "value", "description"):
                    if len(str(option.get(key) or "")) > 100:
                        errors.add(kind, f"{path}.options.{k}.{key}", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer")
            if len(str(component.get("placeholder") or "")) > 150:
                errors.add(kind, f"{path}.placeholder", "BASE_TYPE_MAX_LENGTH", "Must be 150 or fewer in length.")
        children = [(f"{path}.components.{k}", c) for k, c in enumerate(component.get("components") or [])]
        for key in ("component", "accessory"):
            if component.get(key):
                children.append((f"{path}.{key}", component[key]))
        stack.extend(children)


_COMMAND_NAME = re.compile(r"[-_'\w]{1,32}")


def _check_command_node(node: Json, path: str, errors: _FormErrors, *, top_level: bool = False) -> None:
    kind = "command_limits"
    name = str(node.get("name") or "")
    if not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.add(kind, f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", f"{name!r}: 1-32 lowercase, no spaces")
    description = str(node.get("description") or "")
    if not 1 <= len(description) <= MAX_COMMAND_DESCRIPTION:
        errors.add(kind, f"{path}.description", "BASE_TYPE_BAD_LENGTH", f"{name}: description must be 1-100")
    options = list(node.get("options") or [])
    if len(options) > MAX_COMMAND_OPTIONS:
        errors.add(kind, f"{path}.options", "BASE_TYPE_MAX_LENGTH", f"{name}: {len(options)} options (limit 25)")
    names = [str(o.get("name")) for o in options]
    if len(set(names)) != len(names):
        errors.add(kind, f"{path}.options", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", f"{name}: duplicates")
    seen_optional = False
    for k, option in enumerate(options):
        option_path = f"{path}.options.{k}"
        if option.get("type") in (OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP):
            _check_command_node(option, option_path, errors)
            continue
        _check_command_node({**option, "options": []}, option_path, errors)
        if option.get("required"):
            if seen_optional:
                errors.add(kind, option_path, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "required after optional")
        else:
            seen_optional = True
        choices = list(option.get("choices") or [])
        if len(choices) > MAX_CHOICES:
            errors.add(kind, f"{option_path}.choices", "BASE_TYPE_MAX_LENGTH", f"{len(choices)} choices (limit 25)")
        for c, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name") or "")) <= MAX_CHOICE_NAME:
                errors.add(kind, f"{option_path}.choices.{c}.name", "BASE_TYPE_BAD_LENGTH", "Must be 1-100.")
    if top_level:
        total = _command_text_length(node)
        if total > 4000:
            errors.add(kind, path, "APPLICATION_COMMAND_TOO_LARGE", f"{name}: {total} characters (limit 4000)")


def _command_text_length(node: Json) -> int:
    total = len(str(node.get("name") or "")) + len(str(node.get("description") or ""))
    for option in node.get("options") or []:
        total += _command_text_length(option)
        for choice in option.get("choices") or []:
            total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total


# --------------------------------------------------------------------------------------------------- discord.py


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
