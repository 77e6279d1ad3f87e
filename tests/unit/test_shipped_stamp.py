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
