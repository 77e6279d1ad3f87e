"""Shared fixtures for the whole test suite."""

# The session-scoped throwaway PostgreSQL cluster (skipped locally without PostgreSQL; fails under CI=true).
# The real model (loaded once per session) and the shipped knowledge base's index (built once).
from tests.models import numpy_model, shipped_service, shipped_settings, st_model  # noqa: F401
from tests.pg import pg_cluster  # noqa: F401

# A migrated database on SQLite and on PostgreSQL, a fake clock, and the state services over them.
from tests.state import clock, db_url, shipped_kb, state  # noqa: F401
