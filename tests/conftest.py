"""Shared fixtures for the whole test suite."""

# The session-scoped throwaway PostgreSQL cluster (skipped locally without PostgreSQL; fails under CI=true).
from tests.pg import pg_cluster  # noqa: F401
