"""Build the shipped index in a child process, so the bot never loads the build machinery itself.

A full build embeds about a thousand texts with sentence-transformers, which imports torch: ~700 MB that a
process keeps until it exits (issue 13: a bot that built its own index stayed at 955 MB resident). The bot
runs ``python -m bot.retrieval.child_build`` instead, and opens the finished build from disk with the NumPy
encoder only. The child writes one JSON object per line on stdout (progress, then its report or its error); its
own log lines go to a file whose tail is logged by the parent if the build fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.store import BuildReport, Progress

log = logging.getLogger(__name__)

MODULE = "bot.retrieval.child_build"
STDERR_TAIL = 20  # lines of the child's own output kept in the parent's log when it fails


class ChildBuildFailed(Exception):
    """The build child exited without a build: ``str()`` is its one-line reason (no traceback, no secret)."""


def build_in_child(
    knowledge_dir: Path, index_dir: Path, *, force: bool = False, progress: Progress | None = None
) -> BuildReport:
    """Run the shipped index's build in a fresh interpreter and wait for it; raises ``ChildBuildFailed``.

    Blocking: call it off the event loop. The child exits by itself if this process dies (it watches its parent).
    """
    command = [sys.executable, "-m", MODULE, "--knowledge", str(knowledge_dir), "--index", str(index_dir)]
    if force:
        command.append("--force")
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errors:
        child = subprocess.Popen(  # noqa: S603  (this interpreter, this module, our own paths)
            command,
            stdout=subprocess.PIPE,
            stderr=errors,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": _pythonpath()},
        )
        assert child.stdout is not None
        report: BuildReport | None = None
        reason: str | None = None
        try:
            for line in child.stdout:
                message = _parse(line)
                if "progress" in message and progress is not None:
                    stage, done, total = message["progress"]
                    progress(str(stage), int(done), int(total))
                elif "report" in message:
                    report = BuildReport(**message["report"])
                elif "error" in message:
                    reason = str(message["error"])
            code = child.wait()
        except BaseException:
            child.kill()  # the parent gave up (Ctrl-C, shutdown): no orphan build
            child.wait()
            raise
        if report is not None and code == 0:
            return report
        errors.seek(0)
        tail = errors.read().splitlines()[-STDERR_TAIL:]
        log.warning("the index build child exited with %s; its last lines:\n%s", code, "\n".join(tail))
        raise ChildBuildFailed(reason or f"the index build stopped unexpectedly (exit status {code})")


def _pythonpath() -> str:
    """The child imports this checkout's ``bot`` and ``index``, whatever folder the bot runs from."""
    here = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))


def _parse(line: str) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        return {}  # a library printing to stdout: not ours
    return message if isinstance(message, dict) else {}


def _emit(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _watch_parent(parent: int, interval: float = 1.0) -> None:
    """End this child when the bot that started it is gone (killed or stopped): nobody would open the build."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(3)  # a half-written build is a .tmp- folder the next build removes

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None, report_progress: Callable[..., None] = _emit) -> int:
    """The child: build the shipped index under ``--index`` from ``--knowledge``; 0 on success, 1 on failure."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("--knowledge", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    _watch_parent(os.getppid())
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    try:
        from bot.retrieval.shipped import build_shipped
        from index.store import IndexStore

        last: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            now = time.monotonic()
            if done >= total or now - last.get(stage, 0.0) >= 0.5:  # at most two lines a second per stage
                last[stage] = now
                report_progress(progress=[stage, done, total])

        report = build_shipped(
            args.knowledge, IndexStore(args.index), force=args.force, progress=progress, strict=False
        )
    except Exception as exc:
        logging.getLogger(MODULE).exception("index build failed")
        report_progress(error=_reason(exc))
        return 1
    report_progress(report=dataclasses.asdict(report))
    return 0


def _reason(exc: BaseException) -> str:
    """One line for the parent's log and error: the exception's own message (ours are written to be shown)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
