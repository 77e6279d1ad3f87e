"""Cluster settings (which shards a process runs) and the health endpoints on the metrics port."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from bot import metrics
from bot.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("written", "ids"), [("0-3", (0, 1, 2, 3)), ("4,5,6,7", (4, 5, 6, 7)), ("6, 0-1", (0, 1, 6)), ("2", (2,))]
)
def test_shard_ids_accept_ranges_and_lists(written: str, ids: tuple[int, ...]) -> None:
    """STUDYBOT_SHARD_IDS reads ranges, lists and mixes of both, sorted."""
    assert settings(shard_count=8, shard_ids=written).shard_ids == ids


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"shard_ids": "0-1"}, "needs STUDYBOT_SHARD_COUNT"),
        ({"shard_count": 4, "shard_ids": "3-5"}, "shard 4 does not exist with STUDYBOT_SHARD_COUNT=4"),
        ({"shard_count": 4, "shard_ids": "0,0"}, "lists a shard twice"),
        ({"shard_count": 4, "shard_ids": "a-b"}, "'a-b' is not a shard id or range"),
        ({"shard_count": 4, "shard_ids": "3-1"}, "not an ascending range"),
    ],
)
def test_bad_shard_ids_are_named_and_explained(values: dict[str, Any], fragment: str) -> None:
    """A wrong STUDYBOT_SHARD_IDS fails on that field with a message saying what to fix."""
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    [error] = caught.value.errors()
    assert error["loc"] == ("shard_ids",) and fragment in error["msg"]


def test_shard_ids_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's plain text (not JSON) is what an operator writes."""
    monkeypatch.setenv("STUDYBOT_SHARD_COUNT", "8")
    monkeypatch.setenv("STUDYBOT_SHARD_IDS", "4-7")
    assert Settings(_env_file=None).shard_ids == (4, 5, 6, 7)


def test_a_cluster_serves_exactly_the_servers_of_its_shards() -> None:
    """Two clusters splitting 4 shards serve disjoint sets of servers that together cover all of them."""
    first, second = settings(shard_count=4, shard_ids="0-1"), settings(shard_count=4, shard_ids="2-3")
    guilds = [(n << 22) + 12345 for n in range(16)]
    assert all(first.serves(g) != second.serves(g) for g in guilds)
    assert [g for g in guilds if first.serves(g)] == [g for g in guilds if (g >> 22) % 4 < 2]
    assert all(settings().serves(g) for g in guilds)


def call(app: Callable[..., Any], path: str) -> tuple[str, bytes]:
    seen: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""}, lambda s, h: seen.append(s)))
    return seen[0], body


def test_healthz_is_alive_and_readyz_names_the_failing_check() -> None:
    """/healthz is 200; /readyz is 200 with every check ok, else 503 with a JSON body saying which check fails."""
    checks = {"gateway": "ok", "database": "ok", "index": "ok"}
    app = metrics.app(lambda: dict(checks))
    assert call(app, "/healthz") == ("200 OK", b"ok\n")
    status, body = call(app, "/readyz")
    assert status == "200 OK" and json.loads(body) == {"ready": True, "checks": checks}
    checks["database"] = "unreachable (ConnectionRefusedError)"
    status, body = call(app, "/readyz")
    assert status.startswith("503") and json.loads(body)["checks"]["database"].startswith("unreachable")
    assert b"studybot_questions_total" in call(app, "/metrics")[1]


def test_live_gauges_report_shard_latency_and_index_memory() -> None:
    """Gateway latency per shard (without shards that never heartbeat) and index bytes appear at scrape time."""
    gauges = metrics.LiveGauges(lambda: [(0, 0.05), (1, float("inf"))], lambda: 1234)
    families = {f.name: f for f in gauges.collect()}
    latency = families["studybot_gateway_latency_seconds"].samples
    assert [(s.labels["shard"], s.value) for s in latency] == [("0", 0.05)]
    assert families["studybot_index_bytes"].samples[0].value == 1234
