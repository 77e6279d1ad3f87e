"""Shared fixtures for the whole test suite."""

# The session-scoped throwaway PostgreSQL cluster (skipped locally without PostgreSQL; fails under CI=true).
from tests.pg import pg_cluster  # noqa: F401

# A migrated database on SQLite and on PostgreSQL, a fake clock, and the state services over them.
from tests.state import clock, db_url, shipped_kb, state  # noqa: F401
