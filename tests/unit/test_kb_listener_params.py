"""The LISTEN connection's parameters: what asyncpg.connect accepts, whatever else the database URL carries."""

from __future__ import annotations

import inspect

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bot.storage.notify import KbListener


def test_dialect_options_in_the_url_are_not_passed_to_asyncpg():
    """A URL tuned for PgBouncer (?prepared_statement_cache_size=0) still gives asyncpg only arguments it takes."""
    engine = create_async_engine(
        "postgresql+asyncpg://bot:secret@127.0.0.1:5432/studybot?prepared_statement_cache_size=0&ssl=disable"
    )
    params = KbListener(engine)._params
    accepted = set(inspect.signature(asyncpg.connect).parameters)
    assert set(params) <= accepted, set(params) - accepted
    assert params["host"] == "127.0.0.1" and params["database"] == "studybot"
