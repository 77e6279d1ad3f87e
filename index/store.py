"""The on-disk index: versioned builds, a manifest of content hashes, atomic swaps.

Layout under ``root``::

    CURRENT                 name of the live build (replaced atomically with os.replace)
    builds/<build id>/      manifest.json, chunks.json, vectors.npy, sentences.npy, dense.faiss, keyword/
    builds/.tmp-*/          a build in progress; never read, removed by the next build

A build never touches the live one: it writes a new directory, verifies it, then flips CURRENT. A crash at
any point leaves CURRENT naming the previous, complete build.

The manifest holds a SHA-256 of every other file of its build, checked on every load: damaged vectors are
refused, never served. If the build CURRENT names is damaged (or CURRENT itself is garbage), the newest
intact build answers instead, and the next build reuses its vectors. A build is deleted only after a newer one
has been verified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index import dense
from index.chunking import Chunk
from index.embedder import Embedder
from index.footprint import deep_size, faiss_bytes
from index.keyword import KeywordIndex

FORMAT = 3  # bumped whenever the files of a build change; older builds are rebuilt (3: per-file checksums)
Progress = Callable[[str, int, int], None]
_BUILD_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")  # what build() names a build; CURRENT holds nothing else
BATCH = 64  # texts per encode call: the progress bar's step


class StoreError(Exception):
    """Base for index problems the caller can act on."""


class IndexMissing(StoreError):
    pass


class IndexCorrupt(StoreError):
    pass


class IndexOutdated(IndexCorrupt):
    """An intact build written in an older format: not damage, but it is rebuilt all the same."""


class ModelMismatch(StoreError):
    def __init__(self, found: str, expected: str) -> None:
        super().__init__(f"the index was built with {found!r}, but this process embeds with {expected!r}")
        self.found = found
        self.expected = expected


@dataclass(frozen=True)
class BuildReport:
    build_id: str
    chunks: int
    embedded: int  # chunks whose vectors were computed in this build
    reused: int  # chunks whose vectors came from the previous build
    sentences_embedded: int  # sentences of chunks, plus the off-topic probes, computed in this build
    seconds: float


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def offtopic_topics() -> list[str]:
    path = Path(__file__).with_name("offtopic.txt")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """The files of a build that are missing or differ from the checksum its manifest recorded."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return ["manifest.json (no checksums)"]
    damaged = []
    for name, expected in sorted(files.items()):
        target = path / name
        try:
            if _file_sha256(target) != expected:
                damaged.append(name)
        except OSError:
            damaged.append(name)
    return damaged


def vector_key(text: str) -> str:
    """The key of a text's vector wherever vectors are stored by content: a chunk's is its ``content_hash``."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class IndexStore:
    """Builds and opens indexes under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds = root / "builds"

    # -- reading ---------------------------------------------------------------------------------
    def current_name(self) -> str | None:
        """The build CURRENT names, or None if it is missing or holds anything but a build id (garbage, a path)."""
        try:
            raw = (self.root / "CURRENT").read_bytes()[:100]
        except OSError:
            return None
        name = raw.decode("ascii", "replace").strip()
        return name if _BUILD_ID.match(name) else None

    def current_dir(self) -> Path | None:
        name = self.current_name()
        path = self.builds / name if name else None
        return path if path is not None and path.is_dir() else None

    def manifest(self) -> dict[str, Any] | None:
        path = self.current_dir()
        if path is None:
            return None
        try:
            data: dict[str, Any] = json.loads((path / "manifest.json").read_text())
            return data
        except (OSError, ValueError):
            return None

    def _candidates(self) -> list[Path]:
        """Finished builds, the one CURRENT names first, then the others newest first."""
        if not self.builds.is_dir():
            return []
        found = sorted((p for p in self.builds.iterdir() if _BUILD_ID.match(p.name) and p.is_dir()), reverse=True)
        current = self.current_dir()
        return ([current] if current is not None else []) + [p for p in found if p != current]

    def open(self, model_id: str) -> LoadedIndex:
        """The live build, verified; if it is damaged, the newest intact build, with a ``notice`` saying so."""
        current = self.current_dir()
        candidates = self._candidates()
        if not candidates:
            raise IndexMissing(f"no index has been built under {self.root}")
        problems: list[str] = []
        outdated_only = True  # every refusal so far was an older format, which is no damage
        if current is None and (self.root / "CURRENT").exists():
            problems.append("the CURRENT pointer is damaged")
            outdated_only = False
        for path in candidates:
            try:
                loaded = self._open_build(path, model_id)
            except ModelMismatch:
                if path == current:
                    raise
                continue  # an older build of another model is no fallback
            except IndexCorrupt as exc:
                problems.append(str(exc))
                outdated_only = outdated_only and isinstance(exc, IndexOutdated)
                continue
            if problems:
                loaded.notice = f"{'; '.join(problems)}: using the intact build {loaded.build_id} instead"
            return loaded
        if problems and outdated_only:
            raise IndexOutdated("; ".join(problems))
        raise IndexCorrupt("; ".join(problems) or f"no intact build under {self.root}")

    def _open_build(self, path: Path, model_id: str) -> LoadedIndex:
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"the manifest of build {path.name} is unreadable: {exc}") from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise IndexOutdated(f"build {path.name} was written in format {found}, this version reads {FORMAT}")
        if manifest.get("model_id") != model_id:
            raise ModelMismatch(str(manifest.get("model_id")), model_id)
        damaged = verify_files(path, manifest)
        if damaged:
            raise IndexCorrupt(f"build {path.name} is damaged ({', '.join(damaged)} fail their checksum)")
        try:
            return LoadedIndex.read(path, manifest)
        except Exception as exc:  # any unreadable part means the build cannot be trusted
            raise IndexCorrupt(f"the index files under {path} are damaged: {exc}") from exc

    def repoint(self, build_id: str) -> None:
        """Make an intact build the live one (after a damaged one was refused)."""
        with self._lock():
            _write_atomic(self.root / "CURRENT", build_id)

    # -- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # two builders at once would race on CURRENT
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _previous(self, model_id: str) -> LoadedIndex | None:
        with contextlib.suppress(StoreError):
            return self.open(model_id)
        return None

    def build(
        self,
        chunks: list[Chunk],
        embedder: Callable[[int], Embedder],
        model_id: str,
        *,
        sources_fingerprint: str = "",
        progress: Progress | None = None,
        force: bool = False,
        approximate_above: int = dense.APPROXIMATE_ABOVE,
        seed: LoadedIndex | None = None,
        problems: list[str] | None = None,
    ) -> BuildReport:
        """Embed what changed since the live build, write a new build, and swap it in (``build_and_open``)."""
        report, _loaded = self.build_and_open(
            chunks,
            embedder,
            model_id,
            sources_fingerprint=sources_fingerprint,
            progress=progress,
            force=force,
            approximate_above=approximate_above,
            seed=seed,
            problems=problems,
        )
        return report

    def build_and_open(
        self,
        chunks: list[Chunk],
        embedder: Callable[[int], Embedder],
        model_id: str,
        *,
        sources_fingerprint: str = "",
        progress: Progress | None = None,
        force: bool = False,
        approximate_above: int = dense.APPROXIMATE_ABOVE,
        seed: LoadedIndex | None = None,
        problems: list[str] | None = None,
        live: LoadedIndex | None = None,
        known: Mapping[str, np.ndarray] | None = None,
        durable: bool = True,
    ) -> tuple[BuildReport, LoadedIndex]:
        """Embed what changed since the live build, write a new build, swap it in, and return it opened.

        The build returned is the one verified before it went live (read back and checksummed), so the caller
        need not read it a third time.

        ``seed`` is another build (under any root) whose vectors may be reused as well: a server's
        overlay index is the shipped index plus a few documents, so only those few get embedded.
        ``force`` ignores both the live build and the seed. ``problems`` (files left out because they are
        invalid) are recorded in the manifest, so whoever opens the build can warn about them. ``live`` is this
        store's live build already open in memory (a server's index): used instead of reading it from disk again
        if it is still the one CURRENT names. ``known`` holds vectors by ``vector_key`` (another process embedded
        them, e.g. a server's overlay as it published it): a text found there is not embedded again. They must be
        of ``model_id``; the caller checks that. ``durable=False`` skips flushing the build's files to disk (CURRENT
        is still replaced atomically and flushed): for a build that can be made again from elsewhere, since after a
        power cut a torn file fails its checksum and the build is refused, never served.
        """
        started = time.perf_counter()
        if seed is not None and not force and seed.manifest.get("model_id") != model_id:
            # Vectors of two models live in different spaces: mixing them would silently rank garbage.
            raise ModelMismatch(str(seed.manifest.get("model_id")), model_id)
        with self._lock():
            self.builds.mkdir(parents=True, exist_ok=True)
            for stale in self.builds.glob(".tmp-*"):  # left behind by a crashed build
                shutil.rmtree(stale, ignore_errors=True)
            if force:
                previous = None
            elif (
                live is not None and live.build_id == self.current_name() and live.manifest.get("model_id") == model_id
            ):
                previous = live
            else:
                previous = self._previous(model_id)
            chunk_cache: dict[str, np.ndarray] = {}
            sentence_cache: dict[str, np.ndarray] = {}
            reusable = [] if force else [s for s in (seed, previous) if s is not None]
            for source in reusable:
                for row, chunk in enumerate(source.chunks):
                    chunk_cache[chunk.content_hash] = source.vectors[row]
                # Keyed by the text itself: a str caches its hash, and every shipped sentence is looked up per build.
                sentence_cache.update(zip(source.sentence_texts, source.sentence_vectors, strict=True))
                sentence_cache.update(zip(source.offtopic_texts, source.offtopic_vectors, strict=True))

            if known and not force:
                chunk_cache.update((c.content_hash, known[c.content_hash]) for c in chunks if c.content_hash in known)
                for c in chunks:
                    for text in c.sentences:
                        if text not in sentence_cache and (key := vector_key(text)) in known:
                            sentence_cache[text] = known[key]

            todo = [c for c in chunks if c.content_hash not in chunk_cache]
            offtopic = offtopic_topics()
            todo_off = [t for t in offtopic if t not in sentence_cache]
            sentences = [s for c in chunks for s in c.sentences]
            todo_sent = list(dict.fromkeys(s for s in sentences if s not in sentence_cache))
            # The embedder is created only when something changed, and told how much work there is,
            # so a small edit can use a quick-loading runtime.
            pending = len(todo) + len(todo_sent) + len(todo_off)
            model = embedder(pending) if pending else None

            def encode(texts: list[str], stage: str) -> np.ndarray:
                # Batches of similar length: a batch is padded to its longest text, so mixing a 5-word sentence
                # with a 250-token chunk makes the short one cost as much as the long one.
                order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
                out = np.zeros((len(texts), model.dim if model else 0), dtype=np.float32)
                for i in range(0, len(order), BATCH):
                    assert model is not None
                    rows = order[i : i + BATCH]
                    out[rows] = model.encode([texts[r] for r in rows])
                    if progress:
                        progress(stage, min(i + BATCH, len(texts)), len(texts))
                return out

            for c, vec in zip(todo, encode([c.embed_text for c in todo], "chunks"), strict=True):
                chunk_cache[c.content_hash] = vec
            for s, vec in zip(todo_sent + todo_off, encode(todo_sent + todo_off, "sentences"), strict=True):
                sentence_cache[s] = vec
            off_vectors = np.vstack([sentence_cache[t] for t in offtopic])

            shaped = previous if previous is not None else seed
            dim = model.dim if model else (shaped.vectors.shape[1] if shaped is not None else 0)
            vectors = np.vstack([chunk_cache[c.content_hash] for c in chunks]) if chunks else np.zeros((0, dim))
            sent_vectors = np.vstack([sentence_cache[s] for s in sentences]) if sentences else np.zeros((0, dim))
            build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
            tmp = self.builds / f".tmp-{build_id}"
            tmp.mkdir()
            try:
                np.save(tmp / "offtopic.npy", off_vectors.astype(np.float32))
                (tmp / "offtopic.json").write_text(json.dumps(offtopic))
                self._write(
                    tmp,
                    chunks,
                    vectors.astype(np.float32),
                    sent_vectors.astype(np.float32),
                    model_id,
                    build_id,
                    sources_fingerprint,
                    approximate_above,
                    problems or [],
                    durable,
                )
                final = self.builds / build_id
                os.replace(tmp, final)
                if durable:
                    _fsync_dir(self.builds)
                built = self._open_build(
                    final, model_id
                )  # verified before it goes live: a bad write never replaces a good build
                _write_atomic(self.root / "CURRENT", build_id)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if self.current_name() != build_id:
                    shutil.rmtree(self.builds / build_id, ignore_errors=True)
                raise
            self._prune(keep={build_id, previous.build_id if previous else ""})
            if progress:
                progress("done", 1, 1)
            report = BuildReport(
                build_id=build_id,
                chunks=len(chunks),
                embedded=len(todo),
                reused=len(chunks) - len(todo),
                sentences_embedded=len(todo_sent) + len(todo_off),  # what the "sentences" progress counted
                seconds=time.perf_counter() - started,
            )
            return report, built

    def _write(
        self,
        path: Path,
        chunks: list[Chunk],
        vectors: np.ndarray,
        sent_vectors: np.ndarray,
        model_id: str,
        build_id: str,
        sources_fingerprint: str,
        approximate_above: int,
        problems: list[str],
        durable: bool = True,
    ) -> None:
        np.save(path / "vectors.npy", vectors)
        np.save(path / "sentences.npy", sent_vectors)
        faiss_index = dense.build_index(vectors, approximate_above)
        dense.save_index(faiss_index, path / "dense.faiss")
        keyword_dir = path / "keyword"
        keyword_dir.mkdir()
        KeywordIndex.build([c.embed_text for c in chunks]).save(keyword_dir)
        records = [  # not dataclasses.asdict: its deep copy was a tenth of a server rebuild
            {
                **{name: getattr(c, name) for name in _CHUNK_ORDER},
                "heading_path": list(c.heading_path),
                "sentences": list(c.sentences),
                "hash": c.content_hash,
            }
            for c in chunks
        ]
        (path / "chunks.json").write_text(json.dumps(records))
        manifest = {
            "format": FORMAT,
            "build_id": build_id,
            "model_id": model_id,
            "dim": int(vectors.shape[1]) if vectors.ndim == 2 else 0,
            "built_at": datetime.now(UTC).isoformat(),
            "dense_index": dense.kind_of(faiss_index),
            "sources_fingerprint": sources_fingerprint,
            "chunks": [{"id": c.id, "hash": c.content_hash} for c in chunks],
            "problems": problems[:50],
        }
        if durable:
            for item in path.rglob("*"):
                if item.is_file():
                    with open(item, "rb") as fh:
                        os.fsync(fh.fileno())
        manifest["files"] = {
            item.relative_to(path).as_posix(): _file_sha256(item) for item in sorted(path.rglob("*")) if item.is_file()
        }
        (path / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if durable:
            with open(path / "manifest.json", "rb") as fh:
                os.fsync(fh.fileno())

    def _prune(self, keep: set[str]) -> None:
        for old in self.builds.iterdir():
            if old.name not in keep and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)


@dataclass
class LoadedIndex:
    build_id: str
    manifest: dict[str, Any]
    chunks: list[Chunk]  # row i of ``vectors`` embeds chunks[i]
    vectors: np.ndarray
    sentence_texts: list[str]
    sentence_vectors: np.ndarray
    sentence_spans: list[tuple[int, int]]  # [start, end) rows of each chunk's sentences
    faiss: Any
    keyword: KeywordIndex
    offtopic_texts: list[str]
    offtopic_vectors: np.ndarray
    notice: str | None = None  # set when this build answers because the live one was damaged
    _bytes: int | None = dataclasses.field(default=None, repr=False, compare=False)

    def memory_bytes(self) -> int:
        """What this index holds in memory (``index.footprint``): measured once, on first use (~10 ms)."""
        if self._bytes is None:
            held = {k: v for k, v in vars(self).items() if k not in ("faiss", "_bytes")}
            self._bytes = deep_size(held) + faiss_bytes(self.faiss)
        return self._bytes

    @classmethod
    def read(cls, path: Path, manifest: dict[str, Any]) -> LoadedIndex:
        records = json.loads((path / "chunks.json").read_text())
        vectors = np.load(path / "vectors.npy")
        sentence_vectors = np.load(path / "sentences.npy")
        chunks = [_chunk(record) for record in records]
        texts = [s for c in chunks for s in c.sentences]
        spans, start = [], 0
        for c in chunks:
            spans.append((start, start + len(c.sentences)))
            start += len(c.sentences)
        faiss_index = dense.load_index(path / "dense.faiss")

        if len(chunks) != len(vectors) or len(texts) != len(sentence_vectors) or faiss_index.ntotal != len(chunks):
            raise IndexCorrupt("the index files disagree on how many chunks there are")
        if [r["hash"] for r in records] != [c["hash"] for c in manifest["chunks"]]:
            raise IndexCorrupt("the chunk list does not match the manifest")
        return cls(
            build_id=manifest["build_id"],
            manifest=manifest,
            chunks=chunks,
            vectors=vectors,
            sentence_texts=texts,
            sentence_vectors=sentence_vectors,
            sentence_spans=spans,
            faiss=faiss_index,
            keyword=KeywordIndex.load(path / "keyword"),
            offtopic_texts=json.loads((path / "offtopic.json").read_text()),
            offtopic_vectors=np.load(path / "offtopic.npy"),
        )


_CHUNK_ORDER = tuple(f.name for f in dataclasses.fields(Chunk))
_CHUNK_FIELDS = frozenset(_CHUNK_ORDER)


def _chunk(record: dict[str, Any]) -> Chunk:
    """A ``Chunk`` again from its chunks.json record (lists back to tuples; the stored hash is not a field)."""
    values = {k: v for k, v in record.items() if k in _CHUNK_FIELDS}
    values["heading_path"] = tuple(values["heading_path"])
    values["sentences"] = tuple(values.get("sentences", ()))
    return Chunk(**values)
