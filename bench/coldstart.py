"""Cold start: from `studybot run` to IDENTIFY, to commands registered, and to the first real answer.

The bot runs as a child process (`python -m bot run`, the code path of `studybot run`) against the fake Discord
in this process, on loopback. Two runs on one data folder: fresh (no index, no database: the shipped index is
built in the background while the bot is already online) and warm (the same folder again: the index opens).
From the moment the gateway session exists, an /ask is sent every second until one is answered from the notes;
the replies before that are the "still loading" line. The bot's resident memory is read once it has answered.

Each fresh run gets a new data folder (a full index build: minutes); warm runs reuse the first fresh run's folder.
Medians over the runs; the baseline is the same run's own time to the first answer, which is when a bot that
loads its index before connecting (the start-up before issue 13) would only have reached IDENTIFY.

The child is pointed at this checkout (``PYTHONPATH``): run from its data folder, ``python -m bot`` would
otherwise import whatever ``bot`` the interpreter has installed, which in a second work tree is another checkout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOADING = "I'm still loading my notes"
QUESTION = "What is overfitting?"
STEPS = ("identify", "commands", "answer")


async def _reply(handle: Any, timeout: float) -> Any:  # noqa: ASYNC109
    ack = await handle.wait_ack(timeout)
    if int(ack.json["type"]) in (4, 5):
        return await handle.wait_message(lambda m: not m.loading, timeout=timeout)
    return await handle.wait_followup(0, timeout=timeout)


def _memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a running process in bytes (Linux)."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


async def _start(fake: Any, world: Any, data: Path, log: Path) -> dict[str, float | int]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "STUDYBOT_DISCORD_TOKEN": fake.token,
        "STUDYBOT_DISCORD_API_BASE": fake.rest_base,
        "STUDYBOT_DISCORD_GATEWAY": fake.gateway_url,
        "STUDYBOT_DEV_GUILD_ID": str(world.guild.id),
        "STUDYBOT_DATA_DIR": str(data),
        "STUDYBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
    }
    env.pop("STUDYBOT_INDEX_PATH", None)
    env.pop("STUDYBOT_DATABASE_URL", None)
    sessions = len(fake.sessions)
    fake.commands.pop(world.guild.id, None)
    out = log.open("ab")
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=data, stdout=out, stderr=asyncio.subprocess.STDOUT
    )
    out.close()
    result: dict[str, float | int] = {}
    try:
        await fake.wait_for(lambda: len(fake.sessions) > sessions, timeout=600, what=f"IDENTIFY (log: {log})")
        result["identify"] = time.perf_counter() - started
        await fake.wait_for(lambda: world.guild.id in fake.commands, timeout=600, what="commands registered")
        result["commands"] = time.perf_counter() - started
        await fake.wait_for(lambda: fake.sessions[-1].ready, timeout=600, what="READY")
        loading = 0
        while True:
            handle = await fake.slash(world.user, world.guild, world.channel, "ask", {"question": QUESTION})
            message = await _reply(handle, 120)
            if LOADING not in message.text():
                break
            loading += 1
            await asyncio.sleep(1)
        result["answer"] = time.perf_counter() - started
        result["loading_replies"] = loading
        result["rss"], result["peak"] = _memory(child.pid)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), 60)
        except TimeoutError:
            child.kill()
            await child.wait()
    return result


async def _run(rows: list[tuple[str, str]], fresh_runs: int, warm_runs: int) -> None:
    from tests.e2e.fake_discord import FakeDiscord

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "bot.log"
        results: dict[str, list[dict[str, float | int]]] = {"fresh": [], "warm": []}
        async with FakeDiscord() as fake:
            world = fake.add_default_world()
            plan = [("fresh", Path(tmp) / f"data-{n}") for n in range(fresh_runs)]
            plan += [("warm", Path(tmp) / "data-0")] * warm_runs
            for kind, data in plan:
                data.mkdir(exist_ok=True)
                try:
                    results[kind].append(await _start(fake, world, data, log))
                except Exception:
                    print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                    raise
        for kind, label in (("fresh", "fresh data folder (index built)"), ("warm", "warm data folder (index opened)")):
            runs = results[kind]
            if not runs:
                continue
            identify, commands, answer = (statistics.median(float(r[k]) for r in runs) for k in STEPS)
            n = f"median of {len(runs)}" if len(runs) > 1 else "1 run"
            each = " · ".join(f"{float(r['commands']):.1f}" for r in runs)
            verdict = "PASS" if max(float(r["commands"]) for r in runs) < 10 else "FAIL"
            rows.append((f"cold start, {label}: to IDENTIFY", f"{identify:.1f} s ({n})"))
            rows.append(
                (
                    f"cold start, {label}: commands registered (target < 10 s)",
                    f"{commands:.1f} s ({n}; each: {each} s): {verdict}",
                )
            )
            loading = statistics.median(int(r["loading_replies"]) for r in runs)
            rows.append(
                (
                    f"cold start, {label}: first answer (baseline)",
                    f"{answer:.1f} s ({n}; {loading:g} 'still loading' replies before)",
                )
            )
            rss, peak = (statistics.median(int(r[k]) for r in runs) / 2**20 for k in ("rss", "peak"))
            rows.append(
                (f"cold start, {label}: bot's RSS after its first answer", f"{rss:.0f} MB (peak {peak:.0f} MB)")
            )
            rows.append(
                (
                    f"cold start, {label}: IDENTIFY / first answer",
                    f"{identify / answer:.3f}× (online {answer - identify:.1f} s before the index is ready)",
                )
            )
        if results["fresh"] and results["warm"]:
            fresh = statistics.median(float(r["answer"]) for r in results["fresh"])
            warm = statistics.median(float(r["answer"]) for r in results["warm"])
            rows.append(("cold start: first answer, warm / fresh", f"{warm / fresh:.3f}×"))


def run(rows: list[tuple[str, str]], fresh_runs: int = 1, warm_runs: int = 3) -> None:
    asyncio.run(_run(rows, fresh_runs, warm_runs))
