"""The grounding benchmark's split files: the held-out fresh2 file is optional and read like the fresh file."""

from __future__ import annotations

import pytest

import bench.grounding as grounding


def test_an_absent_split_file_gives_no_groups(tmp_path, monkeypatch):
    """Without bench/grounding_fresh2.yaml the benchmark runs as before, with no fresh2 split."""
    monkeypatch.setattr(grounding, "ROOT", tmp_path)
    assert grounding._groups("grounding_fresh2.yaml") == []


def test_a_split_file_is_read_in_the_fresh_format(tmp_path, monkeypatch):
    """A fresh2 file of groups (file, paraphrase, swapped, outside) loads as written."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "grounding_fresh2.yaml").write_text(
        "- file: dropout\n  paraphrase: [A kept sentence.]\n  swapped: [A swapped one.]\n", encoding="utf-8"
    )
    monkeypatch.setattr(grounding, "ROOT", tmp_path)
    assert grounding._groups("grounding_fresh2.yaml") == [
        {"file": "dropout", "paraphrase": ["A kept sentence."], "swapped": ["A swapped one."]}
    ]


def test_a_group_without_a_file_is_named_in_the_error(tmp_path, monkeypatch):
    """A malformed group fails loudly with the file and the group's number, not deep inside the run."""
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "grounding_fresh2.yaml").write_text("- paraphrase: [No file here.]\n", encoding="utf-8")
    monkeypatch.setattr(grounding, "ROOT", tmp_path)
    with pytest.raises(ValueError, match=r"grounding_fresh2.yaml: group 1 has no 'file'"):
        grounding._groups("grounding_fresh2.yaml")
