"""What the fake records: requests, violations, stored messages, opened modals and injected interactions."""

# Every wait takes a bounded timeout= on purpose: tests read better than asyncio.timeout blocks around each call.
# ruff: noqa: ASYNC109

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.e2e.fake_discord.protocol import FLAG_EPHEMERAL, FLAG_LOADING, INTERACTION_NAMES, Json, shorten
from tests.e2e.fake_discord.world import FakeChannel, FakeGuild, FakeUser

if TYPE_CHECKING:
    from tests.e2e.fake_discord.fake import FakeDiscord


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
    route: str = ""  # the route's template under /api/v10, e.g. "/channels/{channel_id}/messages"
    injected: bool = False  # answered by an injected fault (``fake.fail``), not by the route

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}>"


@dataclass
class InjectedFault:
    """Requests to one route answered with an error instead (``fake.fail``): ``times`` of them, then it heals."""

    method: str
    route: str
    status: int
    times: int
    retry_after: float = 0.05
    hits: int = 0

    @property
    def active(self) -> bool:
        return self.hits < self.times


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
        return f"<message {self.id} in {self.channel_id} flags={self.flags}{state} {shorten(self.content, 40)!r}>"


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
