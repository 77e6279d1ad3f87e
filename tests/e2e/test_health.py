"""Health on the metrics port of a running bot: /healthz, and /readyz following the database's availability."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.fake_discord import FakeDiscord, World
from tests.e2e.studybot import Running, make_settings
from tests.e2e.test_bot import world
from tests.pg import PostgresCluster, require_postgres

__all__ = ["world"]

pytestmark = [pytest.mark.model, pytest.mark.postgres, pytest.mark.asyncio(loop_scope="function")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe(url: str) -> tuple[int, dict[str, Any] | str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, body = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read().decode()
    return status, json.loads(body) if body.startswith("{") else body


async def wait_ready(url: str, ready: bool, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await asyncio.to_thread(probe, url)
        assert isinstance(body, dict)
        if body["ready"] is ready and (status == 200) is ready:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"/readyz stayed {status}: {body}"
        await asyncio.sleep(0.3)


async def test_readiness_turns_off_while_postgresql_is_down_and_back_on_after(
    fake_discord: FakeDiscord, world: World, tmp_path: Path, shipped_service: Any
) -> None:
    """/readyz is 200 when connected; 503 naming the database when PostgreSQL stops; 200 again once it is back."""
    require_postgres()
    port = free_port()
    with PostgresCluster() as cluster:  # its own server: stopping it must not disturb the session's
        database = cluster.create_database("t_readiness")
        settings = make_settings(
            fake_discord, world, tmp_path, shipped_service.settings.index_dir, database_url=database, metrics_port=port
        )
        runner = Running(fake_discord, settings)
        await runner.start()
        base = f"http://127.0.0.1:{port}"
        try:
            assert await asyncio.to_thread(probe, f"{base}/healthz") == (200, "ok\n")
            body = await wait_ready(f"{base}/readyz", True)
            assert body["checks"] == {"gateway": "ok", "database": "ok", "index": "ok"}
            await asyncio.to_thread(cluster.pause)
            body = await wait_ready(f"{base}/readyz", False)
            assert body["checks"]["database"] != "ok" and body["checks"]["gateway"] == "ok"
            assert (await asyncio.to_thread(probe, f"{base}/healthz"))[0] == 200  # alive, just not ready
            await asyncio.to_thread(cluster.resume)
            await wait_ready(f"{base}/readyz", True)
        finally:
            await runner.stop()
