"""Prometheus metrics and health probes, served on one port: what an operator and an orchestrator watch.

- ``/metrics``: answers, abstentions, quiz answers, errors, latency, plus gateway latency per shard and index
  memory, read from the running bot at scrape time;
- ``/healthz``: liveness: the process serves HTTP (a wedged event loop is caught by ``/readyz`` instead,
  whose database check runs on the loop);
- ``/readyz``: readiness: 200 when every check passes, else 503; the JSON body names each check's state.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

QUESTIONS = Counter("studybot_questions_total", "Questions answered", ["via", "outcome"])
ANSWER_SECONDS = Histogram(
    "studybot_answer_seconds", "Time to answer a question, off the event loop", buckets=(0.01, 0.05, 0.1, 0.5, 1, 5)
)
QUIZ_ANSWERS = Counter("studybot_quiz_answers_total", "Quiz answers recorded", ["correct"])
ERRORS = Counter("studybot_errors_total", "Unexpected errors shown to users with an error id")
INDEX_EVICTIONS = Counter(
    "studybot_index_evictions_total", "Server indexes dropped from memory under STUDYBOT_INDEX_MEMORY_MB"
)
INDEX_REOPENS = Counter("studybot_index_reopens_total", "Evicted server indexes read back from disk for a question")

Readiness = Callable[[], dict[str, str]]  # check name → "ok" or why it fails


class LiveGauges(Collector):
    """Gauges read from the bot at scrape time, so they are never stale and cost nothing between scrapes."""

    def __init__(self, latencies: Callable[[], Iterable[tuple[int, float]]], index_bytes: Callable[[], int]) -> None:
        self._latencies = latencies
        self._index_bytes = index_bytes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        latency = GaugeMetricFamily(
            "studybot_gateway_latency_seconds", "Heartbeat round trip of each gateway shard", labels=["shard"]
        )
        for shard, seconds in self._latencies():
            if math.isfinite(seconds):  # no heartbeat yet: NaN or inf, left out
                latency.add_metric([str(shard)], seconds)
        yield latency
        yield GaugeMetricFamily(
            "studybot_index_bytes", "Estimated memory held by the loaded indexes", value=self._index_bytes()
        )


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes arrive every few seconds; access logs would drown the bot's own."""


def app(readiness: Readiness | None) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(REGISTRY)

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            checks = readiness() if readiness is not None else {"bot": "not started"}
            ready = all(state == "ok" for state in checks.values())
            body = json.dumps({"ready": ready, "checks": checks}).encode()
            start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        return metrics(environ, start_response)

    return route


def serve(port: int, host: str, readiness: Readiness | None = None) -> WSGIServer:
    """Serve /metrics, /healthz and /readyz on a daemon thread; ``shutdown()`` the returned server to stop."""
    server = make_server(host, port, app(readiness), _Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


def wait_ready(port: int, timeout: float = 300.0, host: str = "127.0.0.1") -> bool:
    """Poll /readyz until it answers 200 (systemd's ExecStartPost: "started" means ready); False on timeout."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=2):
                return True
        except OSError:  # refused while starting, or 503 (HTTPError) while not ready
            time.sleep(1)
    return False


if __name__ == "__main__":
    import sys

    sys.exit(0 if wait_ready(int(sys.argv[1])) else 1)
