"""Fixtures for the state core: a controllable clock, and a migrated database on each backend.

`db_url` is parametrised, so every test that uses it runs twice: on a fresh SQLite file and on a fresh
database in the session's throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Services, open_services
from bot.domain.content import KnowledgeBase, load_knowledge
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_KNOWLEDGE = ROOT / "knowledge"
_names = itertools.count()


@dataclass
class FakeClock:
    """The domain takes a clock; tests move it by hand to cross days, weeks and due dates."""

    now: datetime = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="session")
def shipped_kb() -> KnowledgeBase:
    kb = load_knowledge(SHIPPED_KNOWLEDGE)
    assert not kb.problems
    return kb


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    return str(cluster.create_database(f"t_{next(_names)}_{abs(hash(request.node.nodeid)) % 10**8}"))


def settings_for(db_url: str, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, knowledge_dir=SHIPPED_KNOWLEDGE, database_url=db_url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def state(db_url: str, tmp_path: Path, clock: FakeClock, shipped_kb: KnowledgeBase) -> AsyncIterator[Services]:
    opened = await open_services(settings_for(db_url, tmp_path), clock, kb=shipped_kb)
    try:
        yield opened
    finally:
        await opened.close()
