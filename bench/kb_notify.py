"""Publish in one process → answerable in another, on PostgreSQL: LISTEN/NOTIFY against polling, in the same run.

A publisher subprocess (``python -m bench.kb_notify publisher``, its own engine) adds one entry per request through
the knowledge-admin service, as ``/kb add`` does, and reports the wall-clock time at which the publish began. This
process runs two ``KbSync``s over one ``GuildIndexes`` with the shipped index: one with a ``KbListener`` (polling
only while the listener is down), one polling every ``kb_poll_seconds``, each serving its own server. Publishes
alternate between the two servers, one at a time, so the builds never overlap. The time runs from the start of the
publish (its transaction included) to the moment this process knows of the new version ("known"), and to the
moment ``AnswerService.ask`` here returns the new entry among its sources ("answerable"; a little over the truth:
it includes reading the publisher's reply). Answerable minus known is mostly the server's index build.

Both processes are set up as the bot is once its index is loaded (``kb_admin.encoder``): the publisher embeds the
new entry and stores its vectors in the same transaction (its publish time includes that), and this process
builds the server's index from them without embedding.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.kb_publish import TOPICS
from bot.settings import Settings

NOTIFY_GUILD, POLL_GUILD = 4243, 4244
RUNS = 8  # per path
ROOT = Path(__file__).resolve().parent.parent


def _settings(url: str, data: Path) -> Settings:
    return Settings(_env_file=None, data_dir=data, knowledge_dir=ROOT / "knowledge", database_url=url)


async def _publisher(url: str, data: str) -> None:
    """Per ``<guild> <topic number>`` line on stdin: add that entry, then print its id, version and commit time."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.app import open_services
    from bot.domain.ports import Actor
    from bot.retrieval.overlay_vectors import OverlayVectors
    from index.embedder import NumpyMiniLM

    services = await open_services(_settings(url, Path(data)))
    # As in the bot once its index is loaded: each publish stores its overlay's vectors, embedded here.
    services.kb_admin.encoder = OverlayVectors(NumpyMiniLM(), ThreadPoolExecutor(max_workers=1))
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    try:
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            guild, number = (int(x) for x in line.split())
            _slug, title, question, text = TOPICS[number]
            actor = Actor(user_id=11, guild_id=guild, command="/kb add", manage_guild=True, name="bench")
            started = time.time()
            entry = await services.kb_admin.add(actor, title, "machine-learning", f"## {question}\n{text}")
            version = (await services.kb_admin.versions())[guild]
            print(json.dumps({"doc_id": entry.doc_id, "version": version, "started": started}), flush=True)
    finally:
        await services.close()


async def _measure(url: str, tmp: Path) -> tuple[dict[str, list[float]], list[str]]:
    from bot.app import open_services
    from bot.retrieval.embedders import reusing_embedder
    from bot.retrieval.servers import GuildIndexes, KbSync, service_factory
    from bot.retrieval.shipped import IndexService
    from bot.storage.notify import KbListener
    from index.embedder import NumpyMiniLM

    settings = _settings(url, tmp / "receiver")
    base = IndexService(Settings()).ensure(lambda msg: print(msg, file=sys.stderr))
    from concurrent.futures import ThreadPoolExecutor

    from bot.retrieval.overlay_vectors import OverlayVectors

    query_embedder = NumpyMiniLM()
    make_service = service_factory(query_embedder, settings.abstain_threshold)
    heard: dict[tuple[int, int], float] = {}  # (server, version) → when this process first learnt of it

    class Timed(GuildIndexes):
        def want(self, guild_id: int, version: int | None = None) -> None:
            if version is not None:
                heard.setdefault((guild_id, version), time.time())
            super().want(guild_id, version)

    indexes = Timed(base, tmp / "guilds", make_service, reusing_embedder())
    services = await open_services(settings)
    services.kb_admin.encoder = OverlayVectors(query_embedder, ThreadPoolExecutor(max_workers=1))  # as in the bot
    feed = KbListener(services.store.engine)
    syncs = {
        "notify": KbSync(
            indexes,
            services.kb_admin,
            poll_seconds=settings.kb_poll_seconds,
            serves=lambda g: g == NOTIFY_GUILD,
            feed=feed,
        ),
        "poll": KbSync(
            indexes, services.kb_admin, poll_seconds=settings.kb_poll_seconds, serves=lambda g: g == POLL_GUILD
        ),
    }
    guilds = {"notify": NOTIFY_GUILD, "poll": POLL_GUILD}
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.kb_notify", "publisher", url, str(tmp / "publisher"),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert publisher.stdin is not None and publisher.stdout is not None
    stdin, stdout = publisher.stdin, publisher.stdout
    times: dict[str, list[float]] = {"notify": [], "poll": [], "notify heard": [], "poll heard": []}
    failures: list[str] = []

    async def one(path: str, number: int) -> tuple[float, float]:
        """Publish one entry to the path's server: (commit → this process knows, commit → answerable)."""
        guild = guilds[path]
        stdin.write(f"{guild} {number}\n".encode())
        reply = json.loads(await asyncio.wait_for(stdout.readline(), 60))
        status = await syncs[path].wait_for(guild, reply["version"], timeout=60)
        answer = await asyncio.to_thread(indexes.service(guild).ask, TOPICS[number][2])
        elapsed = time.time() - reply["started"]
        found = [s.doc_id for s in answer.sources]
        if reply["doc_id"] not in found:  # delivery is measured here, not ranking: among the sources is enough
            failures.append(
                f"kb notify ({path}): {TOPICS[number][2]!r} answered from {found}, not {reply['doc_id']!r}"
                f" (version live {status.version_live} of {reply['version']}, error {status.last_error})"
            )
        return heard[(guild, reply["version"])] - reply["started"], elapsed

    try:
        for sync in syncs.values():
            await sync.start()
        if (await asyncio.wait_for(stdout.readline(), 120)).decode().strip() != "ready":
            raise RuntimeError("the publisher did not start")
        for _ in range(100):  # the listener connects in the background
            if feed.connected:
                break
            await asyncio.sleep(0.05)
        for path in (
            "notify",
            "poll",
        ):  # warm-up, not timed: the first build of a process loads the build thread's encoder
            await one(path, 0)
        for run in range(RUNS):
            for path in ("notify", "poll"):
                known, answerable = await one(path, 1 + 2 * run + (path == "poll"))
                times[f"{path} heard"].append(known)
                times[path].append(answerable)
        stdin.close()
        await asyncio.wait_for(publisher.wait(), 60)
    finally:
        if publisher.returncode is None:
            publisher.kill()
            await publisher.wait()
        for sync in syncs.values():
            await sync.stop()
        await services.close()
    if feed.connections != 1:
        failures.append(f"kb notify: the listener connected {feed.connections} times, not once")
    return times, failures


def run(rows: list[tuple[str, str]]) -> list[str]:
    from tests.pg import PostgresCluster, postgres_unavailable_reason

    reason = postgres_unavailable_reason()
    if reason is not None:
        rows.append(("kb publish → answerable in another process", f"skipped: {reason}"))
        return []
    cluster = PostgresCluster()
    cluster.start()
    try:
        with tempfile.TemporaryDirectory(prefix="studybot-bench-notify-") as tmp:
            times, failures = asyncio.run(_measure(cluster.create_database("bench_kb_notify"), Path(tmp)))
    finally:
        cluster.stop()
    poll_seconds = Settings().kb_poll_seconds
    for path, label in (("notify", "LISTEN/NOTIFY"), ("poll", f"polling every {poll_seconds:g} s")):
        for key, what in ((f"{path} heard", "known to"), (path, "answerable in")):
            values = times[key]
            rows.append(
                (
                    f"kb publish → {what} another process, {label}",
                    f"median {statistics.median(values):.3f} s · min {min(values):.3f} s · max {max(values):.3f} s"
                    f" (n={len(values)})",
                )
            )
    median = statistics.median(times["notify"])
    rows.append(
        ("kb publish, LISTEN/NOTIFY median, target < 1 s", f"{median:.2f} s: {'PASS' if median < 1 else 'FAIL'}")
    )
    return failures


if __name__ == "__main__":
    if sys.argv[1:2] == ["publisher"]:
        asyncio.run(_publisher(sys.argv[2], sys.argv[3]))
    else:
        from bench import run_alone

        run_alone(run)
