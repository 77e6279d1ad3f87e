"""The shipped index is stale when anything it holds vectors for changes, the off-topic list included."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.retrieval import shipped


def test_editing_the_off_topic_list_changes_the_shipped_index_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A new off-topic category makes the stamp differ, so `index build` rebuilds instead of saying up to date."""
    (tmp_path / "concepts").mkdir()
    (tmp_path / "concepts" / "a.md").write_text("# A\n")
    monkeypatch.setattr(shipped, "offtopic_topics", lambda: ["Cooking and recipes"])
    before = shipped.sources_stamp(tmp_path)
    assert shipped.sources_stamp(tmp_path) == before  # stable while nothing changes
    monkeypatch.setattr(shipped, "offtopic_topics", lambda: ["Cooking and recipes", "Household devices"])
    assert shipped.sources_stamp(tmp_path) != before


def test_new_chunking_rules_change_the_shipped_index_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Notes cut by new chunking rules make the stamp differ, so an index built by the old rules is rebuilt."""
    (tmp_path / "concepts").mkdir()
    (tmp_path / "concepts" / "a.md").write_text("# A\n")
    before = shipped.sources_stamp(tmp_path)
    monkeypatch.setattr(shipped, "CHUNKER_VERSION", shipped.CHUNKER_VERSION + 1)
    assert shipped.sources_stamp(tmp_path) != before
