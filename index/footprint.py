"""What a loaded index really holds in memory: arrays, FAISS, BM25, and every Python object of its text.

The memory budget (``STUDYBOT_INDEX_MEMORY_MB``) evicts by this count. Counting only vectors and characters
undercounted a server index by about 1.34x (bench memory): a Python string costs ~50 bytes beyond its characters,
each chunk is an object with a dozen fields, BM25 keeps its own vocabulary and sparse matrix, and the manifest
lists every chunk again.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

_LEAVES = (str, bytes, int, float, bool, type(None))


def deep_size(root: object) -> int:
    """Bytes of ``root`` and everything it holds that belongs to data (not classes, modules or functions), each
    object counted once. NumPy arrays count their buffer (a view counts its base's once); FAISS is not walked
    here (``faiss_bytes``)."""
    seen: set[int] = set()
    total = 0
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            total += sys.getsizeof(obj) if base is obj else 0
            if id(base) not in seen or base is obj:
                seen.add(id(base))
                total += base.nbytes
            continue
        if isinstance(obj, _LEAVES):
            total += sys.getsizeof(obj)
            continue
        if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "__dict__")):
            continue
        module = type(obj).__module__ or ""
        if isinstance(obj, dict):
            total += sys.getsizeof(obj)
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            total += sys.getsizeof(obj)
            stack.extend(obj)
        elif dataclasses.is_dataclass(obj) or module.startswith(("index", "bm25s", "Stemmer")):
            total += sys.getsizeof(obj)
            if hasattr(obj, "__dict__"):
                stack.append(obj.__dict__)
        # anything else (a FAISS index, a lock, an embedder) is not data of this index
    return total


def faiss_bytes(index: Any) -> int:
    """A FAISS index's own copy of its vectors (a flat index), plus the HNSW graph's links when it has one."""
    size = int(index.ntotal) * int(index.d) * 4
    hnsw = getattr(index, "hnsw", None)
    if hnsw is not None:
        size += int(hnsw.neighbors.size()) * 4 + int(hnsw.offsets.size()) * 8 + int(hnsw.levels.size()) * 4
    return size
