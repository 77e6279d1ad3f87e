"""Self-test of the throwaway PostgreSQL cluster in tests/pg.py."""

from __future__ import annotations

import gc
import socket

import asyncpg
import pytest

import tests.pg as pg
from tests.pg import PostgresCluster, require_postgres


def _accepts_tcp(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.postgres
async def test_cluster_accepts_connection_on_loopback(pg_cluster: PostgresCluster) -> None:
    """The session cluster accepts a TCP connection on 127.0.0.1 to studybot_test and runs `select 1`."""
    assert pg_cluster.url_async == f"postgresql+asyncpg://postgres@127.0.0.1:{pg_cluster.port}/studybot_test"
    assert pg_cluster.url_sync == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/studybot_test"
    conn = await asyncpg.connect(pg_cluster.url_sync, timeout=10)
    try:
        assert await conn.fetchval("select 1") == 1
        assert await conn.fetchval("select current_database()") == "studybot_test"
        assert str(await conn.fetchval("select inet_server_addr()")) == "127.0.0.1"
        assert (await conn.fetchval("show server_version_num")).startswith("15")
        assert await conn.fetchval("show fsync") == "off"
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_create_database_gives_isolated_database(pg_cluster: PostgresCluster) -> None:
    """create_database returns an asyncpg URL to a fresh, empty database that does not see other databases' tables."""
    url_a = pg_cluster.create_database("iso_a")
    url_b = pg_cluster.create_database("iso_b")
    assert url_a == f"postgresql+asyncpg://postgres@127.0.0.1:{pg_cluster.port}/iso_a"
    conn_a = await asyncpg.connect(url_a.replace("+asyncpg", ""), timeout=10)
    conn_b = await asyncpg.connect(url_b.replace("+asyncpg", ""), timeout=10)
    try:
        await conn_a.execute("create table notes (id int primary key); insert into notes values (1)")
        assert await conn_a.fetchval("select count(*) from notes") == 1
        assert await conn_b.fetchval("select to_regclass('public.notes')") is None
    finally:
        await conn_a.close()
        await conn_b.close()
    with pytest.raises(ValueError, match="invalid database name"):
        pg_cluster.create_database("bad-name; drop")


@pytest.mark.postgres
def test_stop_shuts_down_server_and_removes_data_directory() -> None:
    """stop() shuts the server down, frees its port and removes the data directory; a second stop is a no-op."""
    require_postgres()
    cluster = PostgresCluster()
    cluster.start()
    root, port = cluster.root, cluster.port
    assert port is not None
    assert (cluster.datadir / "PG_VERSION").read_text().strip() == "15"
    assert _accepts_tcp(port)
    cluster.stop()
    assert not root.exists()
    assert not _accepts_tcp(port)
    assert not cluster.running
    cluster.stop()


@pytest.mark.postgres
def test_forgotten_cluster_is_cleaned_up_by_finalizer() -> None:
    """A started cluster that is dropped without stop() is still shut down and its directory removed (safety net)."""
    require_postgres()
    cluster = PostgresCluster()
    cluster.start()
    root, port = cluster.root, cluster.port
    assert port is not None
    del cluster
    gc.collect()
    assert not root.exists()
    assert not _accepts_tcp(port)


def test_missing_postgres_skips_locally_but_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PostgreSQL the fixture skips with the loud reason, except under CI=true where it fails instead."""
    monkeypatch.setattr(pg, "postgres_unavailable_reason", lambda: pg.INSTALL_HINT)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL server binaries not found: install postgresql-15"):
        require_postgres()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so PostgreSQL tests must run"):
        require_postgres()
