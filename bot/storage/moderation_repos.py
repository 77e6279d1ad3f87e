"""Server configuration and the audit log, as a mixin of SqlRepos."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.ports import AuditRecord, GuildConfig
from bot.storage.tables import audit_log, guild_config


def _config(row: Row[Any]) -> GuildConfig:
    data = row._asdict()
    channels = data["help_channels"]
    data["help_channels"] = None if channels is None else tuple(int(c) for c in channels)
    return GuildConfig(**data)


class ModerationSql:
    conn: AsyncConnection

    def _upsert(self, table: Table, values: dict[str, Any], keys: list[str]) -> Any: ...  # from SqlRepos

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None:
        row = (await self.conn.execute(select(guild_config).where(guild_config.c.guild_id == guild_id))).first()
        return None if row is None else _config(row)

    async def save_guild_config(self, config: GuildConfig) -> None:
        values = vars(config).copy()
        if config.help_channels is not None:
            # Snowflakes exceed 2**53: JSON keeps them exact only as Python ints, never floats.
            values["help_channels"] = [int(c) for c in config.help_channels]
        await self.conn.execute(self._upsert(guild_config, values, ["guild_id"]))

    async def guild_configs(self) -> list[GuildConfig]:
        rows = await self.conn.execute(select(guild_config).order_by(guild_config.c.guild_id))
        return [_config(r) for r in rows]

    async def add_audit(self, record: AuditRecord) -> int:
        values = {k: v for k, v in vars(record).items() if k != "id"}
        result = await self.conn.execute(insert(audit_log).values(**values).returning(audit_log.c.id))
        return int(result.scalar_one())

    async def audit_entries(self, guild_id: int, limit: int) -> list[AuditRecord]:
        query = (
            select(audit_log)
            .where(audit_log.c.guild_id == guild_id)
            .order_by(audit_log.c.created_at.desc(), audit_log.c.id.desc())
            .limit(limit)
        )
        return [AuditRecord(**r._asdict()) for r in await self.conn.execute(query)]
