"""The input boundary: bytes and smuggled surrogates become valid text before anything else sees them.

Python hands undecodable bytes of argv and of a C-locale stdin over as lone surrogates ("surrogateescape"), and
Discord's JSON may carry ``\\ud800`` escapes. Either would crash the tokenizer or make the output invalid UTF-8,
so every surface (CLI arguments, stdin, the console, Discord text, uploads) passes text through here first.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any, BinaryIO

REPLACEMENT = "\ufffd"


def from_bytes(raw: bytes) -> str:
    """UTF-8 with every invalid sequence replaced by U+FFFD, NFC-normalised."""
    return unicodedata.normalize("NFC", raw.decode("utf-8", "replace"))


def repair(text: str) -> str:
    """``text`` with surrogate-escaped bytes decoded with replacement and lone surrogates replaced, NFC-normalised."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate outside the escape range, e.g. a JSON "\ud800"
        raw = text.encode("utf-8", "surrogatepass")
    return from_bytes(raw)


def json_line(obj: Any) -> bytes:
    """One JSON object as a UTF-8 line that is valid whatever the strings inside hold."""
    return (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8", "replace")


def lines(stream: BinaryIO) -> Any:
    """Each line of a byte stream as repaired text without its line ending: one bad line never ends a batch."""
    for raw in stream:
        yield from_bytes(raw.rstrip(b"\r\n"))
