"""The one gate every moderator action goes through: server configuration, who moderates, the audit log.

Discord's ``default_permissions`` only hides commands from members; it is a convenience, not a control. So
every moderator action, from a slash command, a button, a form or the CLI, opens ``ModerationService.transaction``:
it authorizes the actor server-side, and the action writes its audit row in the same transaction as its change.
A refusal rolls the transaction back and is then audited in a transaction of its own, so it survives the error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from bot.domain.errors import StudyBotError
from bot.domain.ports import Actor, AuditRecord, Clock, GuildConfig, Repos, StateStore, utc_now

log = logging.getLogger(__name__)

# The audit log's column sizes (bot/storage/tables.py builds the columns from these): a longer value would make
# PostgreSQL refuse the row, and with it the moderator's change.
AUDIT_COMMAND_LENGTH = 80
AUDIT_ACTION_LENGTH = 40
AUDIT_TARGET_LENGTH = 200
MAX_AUDIT_ROWS = 100
# Help channels are looked up on every message in a server; another process's change shows within this.
CONFIG_TTL = timedelta(seconds=30)
QOTD_OFF = 0  # stored when moderators turn the question of the day off (no channel has id 0)


class NotModerator(StudyBotError):
    def __init__(self) -> None:
        super().__init__(
            "Only this server's moderators can do that: it needs the Manage Server permission "
            "or the moderator role set with `/config moderator-role`."
        )


class Refused(NotModerator):
    """A refusal, carrying the audit row to write once the refused transaction has rolled back."""

    def __init__(self, record: AuditRecord) -> None:
        super().__init__()
        self.record = record


class InvalidSetting(StudyBotError):
    pass


def is_moderator(actor: Actor, config: GuildConfig | None) -> bool:
    """Manage Server (or the host's CLI), or the moderator role the server configured."""
    if actor.trusted or actor.manage_guild:
        return True
    role = config.moderator_role_id if config else None
    return role is not None and role in actor.role_ids


@dataclass(frozen=True)
class ConfigDefaults:
    """What a server gets before its moderators configure anything (from settings)."""

    help_channels: tuple[int, ...] = ()
    qotd_channel_id: int | None = None
    qotd_hour: int = 9


class ModerationService:
    """The moderation gate, and the server configuration it reads the moderator role from."""

    def __init__(self, store: StateStore, clock: Clock = utc_now, defaults: ConfigDefaults | None = None) -> None:
        self.store = store
        self.clock = clock
        self.defaults = defaults or ConfigDefaults()
        self._cached: dict[int, tuple[datetime, GuildConfig]] = {}

    # -- the gate -------------------------------------------------------------------------------------------

    async def authorize(
        self, repos: Repos, actor: Actor, action: str, target: str = "", guild_id: int | None = None
    ) -> GuildConfig:
        """Raise ``Refused`` unless the actor moderates the server (and ``guild_id``, if given, is theirs).

        Manage Server in one server says nothing about another one, so only the host's CLI may name another
        server. Use it through ``transaction()``, which writes the refusal once the refused transaction is
        gone: SQLite has one connection, so a second transaction cannot be opened while the first is.
        """
        stored = await repos.get_guild_config(actor.guild_id)
        other_server = guild_id is not None and guild_id != actor.guild_id and not actor.trusted
        if is_moderator(actor, stored) and not other_server:
            return self.effective(actor.guild_id, stored)
        detail = f"asked about server {guild_id}" if other_server else ""
        log.info(
            "refused %s on %r in guild %s for user %s (%s)",
            action,
            target,
            actor.guild_id,
            actor.user_id,
            actor.command,
        )
        raise Refused(self.record(actor, action, target, "refused", detail))

    @asynccontextmanager
    async def transaction(
        self, actor: Actor, action: str, target: str = "", guild_id: int | None = None
    ) -> AsyncIterator[Repos]:
        """A transaction for a moderator action: authorized first; a refusal rolls back, then is audited."""
        try:
            async with self.store.transaction() as repos:
                await self.authorize(repos, actor, action, target, guild_id)
                yield repos
        except Refused as refusal:
            async with self.store.transaction() as repos:
                await repos.add_audit(refusal.record)
            raise

    async def check(self, actor: Actor, action: str, target: str = "") -> GuildConfig:
        """Authorize without changing anything (e.g. before opening a modal); a refusal is audited."""
        async with self.transaction(actor, action, target) as repos:
            return self.effective(actor.guild_id, await repos.get_guild_config(actor.guild_id))

    def record(
        self, actor: Actor, action: str, target: str, outcome: Literal["ok", "refused"], detail: str = ""
    ) -> AuditRecord:
        """An audit row, each value cut to its column (a target may be a whole file list or a question)."""
        return AuditRecord(
            guild_id=actor.guild_id,
            author_id=actor.user_id,
            command=actor.command[:AUDIT_COMMAND_LENGTH],
            action=action[:AUDIT_ACTION_LENGTH],
            target=target[:AUDIT_TARGET_LENGTH],
            outcome=outcome,
            detail=detail,
            created_at=self.clock(),
        )

    async def audit(self, repos: Repos, actor: Actor, action: str, target: str, detail: str = "") -> None:
        """Log a successful action, in the transaction that makes the change."""
        await repos.add_audit(self.record(actor, action, target, "ok", detail))

    # -- configuration --------------------------------------------------------------------------------------

    def effective(self, guild_id: int, stored: GuildConfig | None) -> GuildConfig:
        """The stored configuration with every unset value filled in from the defaults."""
        config = stored or GuildConfig(guild_id=guild_id)
        return replace(
            config,
            help_channels=self.defaults.help_channels if config.help_channels is None else config.help_channels,
            qotd_channel_id=(
                None
                if config.qotd_channel_id == QOTD_OFF
                else self.defaults.qotd_channel_id
                if config.qotd_channel_id is None
                else config.qotd_channel_id
            ),
            qotd_hour=self.defaults.qotd_hour if config.qotd_hour is None else config.qotd_hour,
        )

    async def config(self, guild_id: int) -> GuildConfig:
        async with self.store.transaction() as repos:
            return self.effective(guild_id, await repos.get_guild_config(guild_id))

    async def cached_config(self, guild_id: int) -> GuildConfig:
        """The server's configuration, cached for ``CONFIG_TTL`` (a database read per message would be wasteful)."""
        now = self.clock()
        hit = self._cached.get(guild_id)
        if hit is not None and now - hit[0] < CONFIG_TTL:
            return hit[1]
        config = await self.config(guild_id)
        self._cached[guild_id] = (now, config)
        return config

    async def help_channels(self, guild_id: int) -> tuple[int, ...]:
        return (await self.cached_config(guild_id)).help_channels or ()

    async def generation_allowed(self, guild_id: int) -> bool:
        """Whether this server's moderators left generated answers on (they are on until switched off)."""
        return (await self.cached_config(guild_id)).generate is not False

    async def guilds_with_qotd(self) -> list[GuildConfig]:
        """Servers whose moderators chose a question-of-the-day channel, with their effective hour.

        The settings' default channel belongs to one server we cannot name here, so it is left to the settings
        path of the scheduler: filling it into every configured server would post in that channel once per server.
        """
        async with self.store.transaction() as repos:
            configs = await repos.guild_configs()
        # The stored channel is kept as it is, so QOTD_OFF tells the scheduler "not even the default here".
        return [
            replace(self.effective(c.guild_id, c), qotd_channel_id=c.qotd_channel_id)
            for c in configs
            if c.qotd_channel_id is not None
        ]

    async def _update(self, actor: Actor, action: str, detail: str, **changes: object) -> GuildConfig:
        async with self.transaction(actor, action) as repos:
            stored = await repos.get_guild_config(actor.guild_id) or GuildConfig(guild_id=actor.guild_id)
            updated = replace(stored, author_id=actor.user_id, updated_at=self.clock(), **changes)  # type: ignore[arg-type]
            await repos.save_guild_config(updated)
            await self.audit(repos, actor, action, "", detail)
        self._cached.pop(actor.guild_id, None)
        return self.effective(actor.guild_id, updated)

    async def set_moderator_role(self, actor: Actor, role_id: int | None) -> GuildConfig:
        if role_id is not None and role_id == actor.guild_id:  # Discord gives @everyone the server's own id
            raise InvalidSetting("@everyone can't be the moderator role: that would make every member a moderator.")
        detail = f"role {role_id}" if role_id is not None else "no role (Manage Server only)"
        return await self._update(actor, "config.moderator-role", detail, moderator_role_id=role_id)

    async def set_help_channels(self, actor: Actor, channel_ids: Iterable[int] | None) -> GuildConfig:
        """``None`` goes back to the default; an empty list means no help channels."""
        channels = None if channel_ids is None else tuple(dict.fromkeys(channel_ids))
        detail = "default" if channels is None else ", ".join(map(str, channels)) or "none"
        return await self._update(actor, "config.help-channels", detail, help_channels=channels)

    async def set_qotd(self, actor: Actor, channel_id: int | None, hour: int | None) -> GuildConfig:
        if hour is not None and not 0 <= hour <= 23:
            raise InvalidSetting("The hour of the question of the day is a UTC hour from 0 to 23.")
        detail = f"channel {channel_id}, hour {hour}"
        stored = QOTD_OFF if channel_id is None else channel_id  # "off" must override the settings' default
        return await self._update(actor, "config.qotd", detail, qotd_channel_id=stored, qotd_hour=hour)

    async def set_generation(self, actor: Actor, on: bool) -> GuildConfig:
        """Generated answers on or off in this server (they need the host's STUDYBOT_LLM_BASE_URL either way)."""
        return await self._update(actor, "config.generation", "on" if on else "off", generate=on)

    async def show(self, actor: Actor) -> GuildConfig:
        async with self.transaction(actor, "config.show") as repos:
            return self.effective(actor.guild_id, await repos.get_guild_config(actor.guild_id))

    async def audit_log(self, actor: Actor, limit: int = 20) -> list[AuditRecord]:
        async with self.transaction(actor, "audit.view") as repos:
            return await repos.audit_entries(actor.guild_id, max(1, min(limit, MAX_AUDIT_ROWS)))
