"""The index is verified when it loads (issue 11, repros 6 and 7): garbage pointers and damaged vectors are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.domain.content import load_knowledge
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.chunking import chunk_document
from index.embedder import MODEL_ID, HashingEmbedder
from index.store import FORMAT, IndexCorrupt, IndexOutdated, IndexStore
from tests.helpers import small_kb, write_concept


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts):
        self.texts += len(texts)
        return super().encode(texts)


@pytest.fixture
def kb(tmp_path):
    return small_kb(tmp_path / "knowledge")


def _chunks(root):
    return [c for d in load_knowledge(root).documents() for c in chunk_document(d)]


def _damage_vectors(build_dir) -> None:
    """Overwrite the numbers of vectors.npy, keeping its size and header (repro 7)."""
    path = build_dir / "vectors.npy"
    array = np.load(path)
    raw = path.read_bytes()
    header = len(raw) - array.nbytes
    path.write_bytes(raw[:header] + np.full(array.shape, 0.5, dtype=array.dtype).tobytes())
    assert np.load(path).shape == array.shape


def test_manifest_records_a_checksum_per_file(kb, tmp_path):
    """Every file of a build has a SHA-256 in the manifest."""
    store = IndexStore(tmp_path / "index")
    store.build(_chunks(kb), lambda n: HashingEmbedder(), "m")
    files = store.manifest()["files"]
    assert {"vectors.npy", "sentences.npy", "dense.faiss", "chunks.json", "offtopic.npy"} <= set(files)
    assert all(len(digest) == 64 for digest in files.values())


def test_silently_damaged_vectors_are_refused(kb, tmp_path):
    """Repro 7: vectors rewritten with the same size and header fail their checksum; the build is not served."""
    store = IndexStore(tmp_path / "index")
    store.build(_chunks(kb), lambda n: HashingEmbedder(), "m")
    _damage_vectors(store.current_dir())
    with pytest.raises(IndexCorrupt, match=r"vectors\.npy fail"):
        store.open("m")


def test_damaged_build_falls_back_to_the_newest_intact_one(kb, tmp_path):
    """A damaged live build is refused and the previous intact build answers, with a notice saying so."""
    store = IndexStore(tmp_path / "index")
    first = store.build(_chunks(kb), lambda n: HashingEmbedder(), "m")
    write_concept(kb, "dropout", "Dropout", "Dropout switches off random units during training to fight overfitting.")
    second = store.build(_chunks(kb), lambda n: HashingEmbedder(), "m")
    _damage_vectors(store.builds / second.build_id)
    loaded = store.open("m")
    assert loaded.build_id == first.build_id
    assert loaded.notice and second.build_id in loaded.notice


@pytest.mark.parametrize("garbage", [b"../../etc\x00\xff", b"", b"\xff\xfe", b"20990101T000000-deadbeef"])
def test_garbage_in_current_is_not_permanent(kb, tmp_path, garbage):
    """Repro 6: garbage in CURRENT never raises UnicodeDecodeError; the intact build answers."""
    store = IndexStore(tmp_path / "index")
    good = store.build(_chunks(kb), lambda n: HashingEmbedder(), "m")
    (tmp_path / "index" / "CURRENT").write_bytes(garbage)
    loaded = store.open("m")
    assert loaded.build_id == good.build_id
    assert store.manifest() is None or store.manifest()["build_id"] == good.build_id


def _service(kb, data, embedder) -> IndexService:
    settings = Settings(_env_file=None, data_dir=data, knowledge_dir=kb)  # type: ignore[call-arg]
    return IndexService(settings, embedder_factory=lambda n: embedder)


def test_ensure_repairs_a_damaged_pointer_without_reembedding(kb, tmp_path):
    """Repro 6 via ensure(): a garbage CURRENT is repaired to the intact build, and nothing is embedded again."""
    emb = CountingEmbedder()
    service = _service(kb, tmp_path / "data", emb)
    good = service.ensure(lambda m: None)
    before = emb.texts
    (tmp_path / "data" / "index" / "CURRENT").write_bytes(b"../../etc\x00\xff")
    messages: list[str] = []
    loaded = service.ensure(messages.append)
    assert loaded.build_id == good.build_id and emb.texts == before
    assert any("CURRENT" in m for m in messages)
    assert service.store.current_name() == good.build_id


def test_rebuild_after_damage_reuses_intact_vectors_and_keeps_the_good_build(kb, tmp_path):
    """After a damaged pointer and a knowledge change, the rebuild reuses the intact build's vectors and keeps it."""
    emb = CountingEmbedder()
    service = _service(kb, tmp_path / "data", emb)
    good = service.ensure(lambda m: None)
    (tmp_path / "data" / "index" / "CURRENT").write_bytes(b"\xff")
    write_concept(kb, "dropout", "Dropout", "Dropout switches off random units during training to fight overfitting.")
    before = emb.texts
    report = service.build(strict=False)
    assert report.reused >= len(good.chunks) and report.embedded >= 1
    assert emb.texts - before < len(good.chunks) + 20  # only the new chunk and its sentences
    assert (service.store.builds / good.build_id).is_dir()  # the previous good build survives


def test_only_damaged_builds_everywhere_rebuilds(kb, tmp_path):
    """With every build damaged, ensure() says so and rebuilds a verified index."""
    emb = CountingEmbedder()
    service = _service(kb, tmp_path / "data", emb)
    service.ensure(lambda m: None)
    _damage_vectors(service.store.current_dir())
    messages: list[str] = []
    loaded = service.ensure(messages.append)
    assert any("damaged" in m for m in messages)
    assert loaded.manifest["model_id"] == MODEL_ID


def test_an_older_format_is_outdated_not_damaged(kb, tmp_path):
    """An intact build of an older format is reported as a format change and rebuilt, never called damaged."""
    emb = CountingEmbedder()
    service = _service(kb, tmp_path / "data", emb)
    built = service.ensure(lambda m: None)
    manifest_path = tmp_path / "data" / "index" / "builds" / built.build_id / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = FORMAT - 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexOutdated, match=f"format {FORMAT - 1}"):
        IndexStore(tmp_path / "data" / "index").open(MODEL_ID)
    messages: list[str] = []
    service.ensure(messages.append)
    assert any("older version of StudyBot" in m for m in messages), messages
    assert not any("damaged" in m for m in messages), messages
