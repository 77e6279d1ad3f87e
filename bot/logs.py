"""Logging set-up: one format, noisy libraries quieted, secrets never printed."""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(
    r"([MN][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,40})|((?:token|password)=)[^\s&]+", re.I
)


class RedactSecrets(logging.Filter):
    """Masks Discord tokens and credentials in URLs, wherever they sneak into a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET.sub(lambda m: (m.group(2) or "") + "[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup_logging(level: str = "INFO", *, quiet: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel("WARNING" if quiet else level)
    # The handler filters too: bm25s sets its own logger to DEBUG when it is imported, which may happen after this.
    handler.setLevel(root.level)
    for noisy in ("discord.http", "discord.gateway", "sentence_transformers", "httpx", "urllib3", "bm25s", "faiss"):
        logging.getLogger(noisy).setLevel("WARNING")
