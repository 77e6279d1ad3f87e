"""Text helpers shared by chunking, keyword search and answer composition."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffd]")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_INLINE = re.compile(r"[*_`]+")
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def clean(text: str) -> str:
    """Normalise Unicode and strip control characters, so pasted or binary text can't break anything."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def strip_markdown(text: str) -> str:
    return _MD_INLINE.sub("", text)


def split_sentences(text: str) -> list[str]:
    """Split Markdown prose into sentences; list items count as sentences of their own."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        buffer: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line):
                if buffer:
                    sentences.extend(_SENTENCE_END.split(" ".join(buffer)))
                    buffer = []
                sentences.append(_LIST_ITEM.sub("- ", line).strip())
            else:
                buffer.append(line.strip())
        if buffer:
            sentences.extend(_SENTENCE_END.split(" ".join(buffer)))
    return [clean(s) for s in sentences if clean(s)]


def slug(text: str) -> str:
    return "-".join(words(text))[:60] or "section"
