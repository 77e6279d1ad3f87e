"""Server configuration and the audit log, as a mixin of SqlRepos."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class ModerationSql:
    conn: AsyncConnection
