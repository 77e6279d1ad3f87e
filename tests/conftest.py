"""Shared fixtures for the whole test suite."""

import os
from collections.abc import Iterator, MutableMapping

import pytest

# As `studybot` does (bot/cli.py main): one BLAS thread for NumPy, set before anything imports NumPy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The session-scoped throwaway PostgreSQL cluster (skipped locally without PostgreSQL; fails under CI=true).
# The real model (loaded once per session) and the shipped knowledge base's index (built once).
from tests.models import numpy_model, shipped_service, shipped_settings, st_model  # noqa: F401
from tests.pg import pg_cluster  # noqa: F401

# A migrated database on SQLite and on PostgreSQL, a fake clock, and the state services over them.
from tests.state import clock, db_url, shipped_kb, state  # noqa: F401


def clear_studybot_env(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Remove every STUDYBOT_* variable from ``environ``; returns what was removed."""
    return {name: environ.pop(name) for name in [n for n in environ if n.startswith("STUDYBOT_")]}


@pytest.fixture(scope="session", autouse=True)
def _no_exported_settings() -> Iterator[None]:
    """Tests never read the real environment: a developer's exported STUDYBOT_DATABASE_URL must not reach them."""
    removed = clear_studybot_env(os.environ)
    yield
    os.environ.update(removed)


_LAYERS = ("tests/unit/", "tests/test_", "tests/integration/", "tests/e2e/")  # cheapest first


def pytest_collection_modifyitems(items: list) -> None:
    """Run the layers cheapest first (unit, integration, then the slow e2e layer), so a broken unit fails fast.

    Alphabetical collection would start with e2e/. The sort is stable: within a layer, the file order stays.
    """

    def layer(item) -> int:
        path = item.nodeid
        return next((rank for rank, prefix in enumerate(_LAYERS) if path.startswith(prefix)), len(_LAYERS))

    items.sort(key=layer)
