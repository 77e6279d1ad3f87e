"""Split knowledge documents into heading-scoped chunks of at most ~300 words."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property

from index.text import slug, split_sentences

MAX_WORDS = 300
# Bumped whenever the same notes would be cut differently, so a built index made by the old rules is stale.
# 2: a fenced code block is never split, and "# comment" inside it is not a heading.
CHUNKER_VERSION = 2
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HAS_CODE = re.compile(r"^\s*(```|~~~)", re.M)


def paragraphs(lines: list[str]) -> list[str]:
    """A section's paragraphs; a fenced code block is one paragraph, blank lines and all, so no cut splits it."""
    out: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in lines:
        opens = _FENCE.match(line)
        if fence is None and opens:
            fence = opens.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None and not line.strip():
            if current:
                out.append("\n".join(current).strip())
            current = []
            continue
        current.append(line)
    if current:
        out.append("\n".join(current).strip())
    return [p for p in out if p]


@dataclass(frozen=True)
class Document:
    """Anything that can be searched: a Markdown entry or a curated resource."""

    id: str
    title: str
    path: str
    body: str
    skill: str
    kind: str = "entry"  # "entry" or "resource"
    url: str | None = None
    tags: tuple[str, ...] = ()
    body_line: int = 1  # line of the body's first line in its file, for error messages


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    title: str
    heading_path: tuple[str, ...]
    text: str
    path: str
    skill: str
    kind: str = "entry"
    url: str | None = None
    line: int = 1
    sentences: tuple[str, ...] = field(default=(), compare=False)

    @property
    def embed_text(self) -> str:
        """The title path goes into the embedded text so a section knows what it is about."""
        return " > ".join(self.heading_path) + "\n" + self.text

    @cached_property
    def content_hash(self) -> str:
        """Computed once per chunk: every server build looks up all the shipped chunks' vectors by it.
        The same as ``index.store.vector_key(self.embed_text)``."""
        return hashlib.sha256(self.embed_text.encode()).hexdigest()[:32]


def _split_long(paragraphs: list[str], limit: int) -> list[str]:
    """Pack paragraphs (and, for a huge paragraph, sentences) into parts of at most ``limit`` words."""
    pieces: list[str] = []
    for para in paragraphs:
        if len(para.split()) <= limit or _HAS_CODE.search(para):  # code is never cut: a half block cannot run
            pieces.append(para)
        else:
            pieces.extend(split_sentences(para))
    parts: list[str] = []
    current: list[str] = []
    count = 0
    for piece in pieces:
        n = len(piece.split())
        if current and count + n > limit:
            parts.append("\n\n".join(current))
            current, count = [], 0
        if n > limit and not _HAS_CODE.search(piece):  # a run-on sentence: cut by words rather than exceed the budget
            tokens = piece.split()
            for i in range(0, len(tokens), limit):
                parts.append(" ".join(tokens[i : i + limit]))
            continue
        current.append(piece)
        count += n
    if current:
        parts.append("\n\n".join(current))
    return parts


def chunk_document(doc: Document, max_words: int = MAX_WORDS) -> list[Chunk]:
    """One chunk per section (``#``/``##``/``###``), split further when a section is too long."""
    if doc.kind == "resource":
        return [
            Chunk(
                id=doc.id,
                doc_id=doc.id,
                title=doc.title,
                heading_path=(f"Learning resources: {doc.skill}", doc.title),
                text=doc.body.strip(),
                path=doc.path,
                skill=doc.skill,
                kind=doc.kind,
                url=doc.url,
                line=doc.body_line,
                sentences=tuple(split_sentences(doc.body)),
            )
        ]
    sections: list[tuple[tuple[str, ...], int, list[str]]] = []
    path: list[str] = [doc.title]
    lines: list[str] = []
    start = doc.body_line

    def flush() -> None:
        if any(line.strip() for line in lines):
            sections.append((tuple(path), start, list(lines)))

    fence: str | None = None
    for offset, line in enumerate(doc.body.splitlines()):
        opens = _FENCE.match(line)
        if opens and fence is None:
            fence = opens.group(1)
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        # "# a comment" inside a code block is Python, not a heading
        match = _HEADING.match(line) if fence is None and not opens else None
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            if level == 1:
                path = [doc.title]
            elif level == 2:
                path = [doc.title, heading]
            else:  # a ### keeps its ## parent in the title path
                path = path[:2] + [heading]
            lines = []
            start = doc.body_line + offset
        else:
            lines.append(line)
    flush()

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for heading_path, line_no, body_lines in sections:
        base = slug(heading_path[-1]) if len(heading_path) > 1 else "intro"
        for part_no, text in enumerate(_split_long(paragraphs(body_lines), max_words)):
            key = base if part_no == 0 else f"{base}-{part_no + 1}"
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:  # two sections with the same heading still get distinct, stable ids
                key = f"{key}-{seen[key]}"
            chunks.append(
                Chunk(
                    id=f"{doc.id}#{key}",
                    doc_id=doc.id,
                    title=doc.title,
                    heading_path=heading_path,
                    text=text,
                    path=doc.path,
                    skill=doc.skill,
                    kind=doc.kind,
                    url=doc.url,
                    line=line_no,
                    sentences=tuple(split_sentences(text)),
                )
            )
    return chunks
