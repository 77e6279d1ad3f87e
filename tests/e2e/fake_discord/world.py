"""The world the fake serves: users, guilds with their roles, channels, threads and members."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.e2e.fake_discord.protocol import (
    ALL_PERMISSIONS,
    BOT_ROLE_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    DISCORD_EPOCH_MS,
    PERM_ADMINISTRATOR,
    Json,
    now_iso,
)


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
    created_at: str = field(default_factory=now_iso)
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
    joined_at: str = field(default_factory=now_iso)

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
    joined_at: str = field(default_factory=now_iso)

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


class WorldMixin:
    """Building the world a test needs; part of ``FakeDiscord`` (build it before the bot connects)."""

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
