"""Secrets are scrubbed on every path to output (issue 11, repro 11): log records, exception text, tracebacks."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot import logs
from bot.logs import RedactSecrets, install_excepthook, register_secret, scrub

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789"
PASSWORD = "s3cret-Passw0rd"
API_KEY = "sk-live-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def known(monkeypatch):
    monkeypatch.setattr(logs, "_known", set())
    register_secret(TOKEN, PASSWORD, API_KEY)


def _clean(text: str) -> bool:
    return TOKEN not in text and PASSWORD not in text and API_KEY not in text and "abcdefghijklmnop" not in text


def test_scrub_masks_known_values_and_shapes():
    """Known values, Authorization headers, key=value pairs and URL passwords are all masked."""
    text = scrub(
        f"Authorization: Bot {TOKEN} url=postgresql://bot:{PASSWORD}@db:5432/x api_key={API_KEY} "
        "password: hunter2hunter2 Bearer abcdefghijklmnopqrstuv"
    )
    assert _clean(text) and "hunter2" not in text
    assert "Bot [redacted]" in text and "postgresql://bot:[redacted]@db" in text


def test_scrub_masks_an_unregistered_discord_token():
    """A token-shaped string is masked even when it was never registered."""
    other = "NzkwMTIzNDU2Nzg5MDEyMzQ1.AbCdEf.zyxwvutsrqponmlkjihgfedcba987654"
    assert other not in scrub(f"token {other}")


def _handler() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger("test.secrets")
    logger.handlers[:] = [handler]
    logger.propagate = False
    return logger, stream


def test_log_message_and_args_are_scrubbed():
    """Path 1, a log record: the message and its %-args never carry a secret."""
    logger, stream = _handler()
    logger.warning("connecting with %s and %s", TOKEN, f"postgresql://u:{PASSWORD}@h/db")
    assert _clean(stream.getvalue()) and "[redacted]" in stream.getvalue()


def test_logged_traceback_is_scrubbed():
    """Path 2, log.exception: a 500 body echoing 'Authorization: Bot <token>' is masked in the traceback text."""
    logger, stream = _handler()
    try:
        raise RuntimeError(f"500 Internal Server Error: {{'headers': {{'Authorization': 'Bot {TOKEN}'}}}}")
    except RuntimeError:
        logger.exception("request failed")
    assert "Traceback" in stream.getvalue() and _clean(stream.getvalue())


def test_uncaught_traceback_is_scrubbed():
    """Path 3, an uncaught exception: the excepthook prints a scrubbed traceback (real interpreter, real stderr)."""
    code = (
        "from bot.logs import install_excepthook, register_secret\n"
        f"register_secret({TOKEN!r})\ninstall_excepthook()\n"
        f"raise RuntimeError('HTTP 500: Authorization: Bot {TOKEN} password={PASSWORD}')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 1
    assert "RuntimeError" in proc.stderr and _clean(proc.stderr)


def test_thread_traceback_is_scrubbed(capsys, monkeypatch):
    """Path 4, a thread's uncaught exception goes through the scrubbing hook too."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    install_excepthook()

    def boom() -> None:
        raise ValueError(f"api_key={API_KEY}")

    thread = threading.Thread(target=boom)
    thread.start()
    thread.join()
    err = capsys.readouterr().err
    assert "ValueError" in err and _clean(err)
