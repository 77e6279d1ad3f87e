"""Start-up failures (issue 11, repro 12): one friendly line, non-zero exit, traceback in the log only.

Mostly `studybot run`; a data folder or SQLite file that cannot be created is checked for ask, chat and run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.startup import explain
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789"


def _run(data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "STUDYBOT_DATA_DIR": str(data),
        "STUDYBOT_KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "STUDYBOT_DISCORD_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def _one_friendly_line(proc: subprocess.CompletedProcess[str], data: Path, words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert words in proc.stderr
    assert TOKEN not in proc.stderr + proc.stdout
    log = (data / "studybot.log").read_text()
    assert "Traceback" in log and TOKEN not in log


def test_bad_database_port(tmp_path):
    """A database URL with a bad port says to check the port; the ValueError traceback is in the log file only."""
    proc = _run(tmp_path, STUDYBOT_DATABASE_URL="postgresql://bot:pw-secret-1@127.0.0.1:99999/studybot")
    _one_friendly_line(proc, tmp_path, "invalid port")
    assert "pw-secret-1" not in proc.stderr


def test_database_down(tmp_path):
    """Nothing listening on the database port: one line saying to check that it runs."""
    proc = _run(tmp_path, STUDYBOT_DATABASE_URL="postgresql://bot:pw-secret-1@127.0.0.1:1/studybot")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "database" in proc.stderr.lower() and "pw-secret-1" not in proc.stderr


@pytest.mark.model
def test_discord_unreachable(shipped_service, tmp_path):
    """Discord unreachable: one line naming the network and the endpoint settings, not 114 lines of traceback."""
    data = tmp_path / "data"
    shutil.copytree(shipped_service.settings.data_dir, data)
    proc = _run(
        data,
        STUDYBOT_DISCORD_API_BASE="http://127.0.0.1:1/api/v10",
        STUDYBOT_DISCORD_GATEWAY="ws://127.0.0.1:1/gateway",
    )
    _one_friendly_line(proc, data, "Can't reach Discord")
    # The server's ordinary INFO log comes first (migrations, login); the failure itself is the one last line.
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("Can't reach Discord") and "details in" in last


def test_wrong_password_is_explained():
    """A refused password (asyncpg's InvalidPasswordError, wrapped by SQLAlchemy) names the credentials to check."""
    from asyncpg.exceptions import InvalidPasswordError
    from sqlalchemy.exc import DBAPIError

    cause = InvalidPasswordError('password authentication failed for user "bot"')
    wrapped = DBAPIError("connect", None, cause)
    wrapped.__cause__ = cause
    assert "user name or password" in explain(wrapped)


# ---------------------------------------------------------------------- a data folder or SQLite file that can't be made

COMMANDS = {"ask": (["ask", "what is overfitting?"], None), "chat": (["chat"], "/quit\n"), "run": (["run"], None)}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_data_folder_under_a_file(tmp_path, command):
    """STUDYBOT_DATA_DIR below a plain file: ask, chat and run each print one line naming the path, exit non-zero."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    args, stdin = COMMANDS[command]
    proc = run_cli(
        args,
        {"STUDYBOT_DATA_DIR": str(blocker / "data"), "STUDYBOT_DISCORD_TOKEN": TOKEN, "COLUMNS": "500"},
        stdin=stdin,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output and TOKEN not in output
    assert "a file is in the way" in output and "check STUDYBOT_DATA_DIR" in output
    assert str(blocker) in output
    lines = [line for line in output.splitlines() if "check STUDYBOT_DATA_DIR" in line]
    assert len(lines) == 1, output


@pytest.mark.parametrize("command", ["chat", "run"])
def test_sqlite_file_that_cannot_be_created(tmp_path, command):
    """A SQLite URL whose folder can't be made: chat and run say what to check; the traceback is in the log only."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    data = tmp_path / "data"
    args, stdin = COMMANDS[command]
    proc = run_cli(
        args,
        {
            "STUDYBOT_DATA_DIR": str(data),
            "STUDYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{blocker / 'studybot.db'}",
            "STUDYBOT_DISCORD_TOKEN": TOKEN,
            "COLUMNS": "500",
        },
        stdin=stdin,
        timeout=120,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output and "check STUDYBOT_DATA_DIR" in output and str(blocker) in output
    log = data / ("studybot.log" if command == "run" else "logs/chat.log")
    assert "Traceback" in log.read_text()
