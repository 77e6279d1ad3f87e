"""Cold start: from `studybot run` to IDENTIFY, to commands registered, and to the first real answer.

The bot runs as a child process (`python -m bot run`, the code path of `studybot run`) against the fake Discord
in this process, on loopback. Two runs on one data folder: fresh (no index, no database: the shipped index is
built in the background while the bot is already online) and warm (the same folder again: the index opens).
From the moment the gateway session exists, an /ask is sent every second until one is answered from the notes;
the replies before that are the "still loading" line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOADING = "I'm still loading my notes"
QUESTION = "What is overfitting?"


async def _reply(handle: Any, timeout: float) -> Any:  # noqa: ASYNC109
    ack = await handle.wait_ack(timeout)
    if int(ack.json["type"]) in (4, 5):
        return await handle.wait_message(lambda m: not m.loading, timeout=timeout)
    return await handle.wait_followup(0, timeout=timeout)


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
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), 60)
        except TimeoutError:
            child.kill()
            await child.wait()
    return result


async def _run(rows: list[tuple[str, str]]) -> None:
    from tests.e2e.fake_discord import FakeDiscord

    with tempfile.TemporaryDirectory() as tmp:
        data, log = Path(tmp) / "data", Path(tmp) / "bot.log"
        data.mkdir()
        async with FakeDiscord() as fake:
            world = fake.add_default_world()
            for label in ("fresh data folder (index built)", "warm data folder (index opened)"):
                try:
                    result = await _start(fake, world, data, log)
                except Exception:
                    print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
                    raise
                rows.append((f"cold start, {label}: to IDENTIFY", f"{result['identify']:.1f} s"))
                verdict = "PASS" if result["commands"] < 10 else "FAIL"
                rows.append(
                    (
                        f"cold start, {label}: commands registered (target < 10 s)",
                        f"{result['commands']:.1f} s: {verdict}",
                    )
                )
                rows.append(
                    (
                        f"cold start, {label}: first answer",
                        f"{result['answer']:.1f} s ({result['loading_replies']} 'still loading' replies before)",
                    )
                )


def run(rows: list[tuple[str, str]]) -> None:
    asyncio.run(_run(rows))
