"""SQLAlchemy storage behind the domain's ports: SQLite by default, PostgreSQL when configured."""

from bot.storage.engine import open_store
from bot.storage.repos import SqlStore

__all__ = ["SqlStore", "open_store"]
