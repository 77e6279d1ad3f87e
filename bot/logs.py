"""Logging set-up: one format, noisy libraries quieted, secrets never printed.

Secrets reach output three ways: a log message, an exception's text, and a traceback (an API that echoes the
request's ``Authorization: Bot <token>`` header in a 500 body). ``scrub`` masks all three: the
``RedactSecrets`` filter runs it over every record (message and formatted traceback), and ``install_excepthook``
over tracebacks that no logger catches. Known values (the token, the database password, API keys from the
environment) are masked by value; anything shaped like a token or a credential by pattern.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

REDACTED = "[redacted]"
_SECRET = re.compile(
    r"(?P<discord>[MN][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40})"
    r"|(?P<auth>\b(?:Bot|Bearer|Basic)\s+)[A-Za-z\d._~+/=-]{16,}"
    r"|(?P<pair>\b(?:token|password|passwd|pwd|secret|api[_-]?key|access[_-]?key)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;}]+"
    r"|(?P<url>\b[a-z][a-z\d+.-]*://[^\s:/@]+:)[^\s@/]+(?=@)",
    re.I,
)
_ENV_SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY", re.I)
_known: set[str] = set()


def register_secret(*values: str | None) -> None:
    """Mask these exact values wherever they appear (short ones would mask ordinary words, so they are skipped)."""
    _known.update(v for v in values if v and len(v) >= 6)


def register_settings(settings: Settings) -> None:
    """The token, the database password, and every secret-looking environment variable."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if settings.discord_token is not None:
        register_secret(settings.discord_token.get_secret_value())
    if settings.database_url is not None:
        with contextlib.suppress(ArgumentError, ValueError):  # unparsable: the pattern still masks user:password@
            register_secret(make_url(settings.database_url.get_secret_value()).password)
    register_secret(*(value for name, value in os.environ.items() if _ENV_SECRET.search(name)))


def scrub(text: str, known: Iterable[str] | None = None) -> str:
    """``text`` with every known secret and every token- or credential-shaped string replaced."""
    for value in sorted(_known if known is None else known, key=len, reverse=True):
        text = text.replace(value, REDACTED)

    def mask(match: re.Match[str]) -> str:
        keep = match.group("auth") or match.group("pair") or match.group("url") or ""
        return keep + REDACTED

    return _SECRET.sub(mask, text)


class RedactSecrets(logging.Filter):
    """Masks secrets in a record's message and in its traceback, wherever they sneak in."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = scrub(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class _NoTraceback(logging.Formatter):
    """One line per record on the terminal; the traceback goes to the log file only."""

    def __init__(self, fmt: str, log_file: Path) -> None:
        super().__init__(fmt)
        self.log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            line = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        if saved[0] or saved[1]:
            line += f" (traceback in {self.log_file})"
        return line


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", *, quiet: bool = False, log_file: Path | None = None) -> None:
    """Log to stderr (and, with ``log_file``, keep tracebacks out of the terminal and in that file)."""
    handler = logging.StreamHandler()
    handler.setFormatter(_NoTraceback(FORMAT, log_file) if log_file else logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets())
    handler.addFilter(lambda record: not getattr(record, "to_file_only", False))  # already said in one line
    handlers: list[logging.Handler] = [handler]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter(FORMAT))
        to_file.addFilter(RedactSecrets())
        handlers.append(to_file)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel("WARNING" if quiet else level)
    # The handler filters too: bm25s sets its own logger to DEBUG when it is imported, which may happen after this.
    handler.setLevel(root.level)
    noisy_libraries = ("discord.http", "discord.gateway", "sentence_transformers", "httpx", "urllib3", "bm25s", "faiss")
    for noisy in (*noisy_libraries, "alembic.runtime.plugins"):  # alembic lists each plugin it sets up
        logging.getLogger(noisy).setLevel("WARNING")
    install_excepthook()


def _print_scrubbed(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(scrub(text))


def install_excepthook() -> None:
    """Tracebacks no logger catches (the main thread's and other threads') are scrubbed before they print."""
    sys.excepthook = _print_scrubbed

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        _print_scrubbed(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)

    threading.excepthook = thread_hook
