"""Knowledge overlays: entries, revisions, hidden shipped entries, versions and gap closures; a mixin of SqlRepos."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection


class KbSql:
    conn: AsyncConnection
