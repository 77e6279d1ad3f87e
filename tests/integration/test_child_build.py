"""The shipped index built in a child process (issue 13: the bot never holds the build's torch)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.retrieval.child_build import ChildBuildFailed, build_in_child
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.embedder import MODEL_ID
from index.store import IndexStore
from tests.models import ROOT, small_knowledge

pytestmark = pytest.mark.model


def settings(tmp_path: Path, knowledge: Path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", knowledge_dir=knowledge)  # type: ignore[call-arg]


def test_ensure_builds_in_a_child_then_opens_the_build_here(tmp_path: Path) -> None:
    """On a fresh data folder, ensure(build_in_child) builds in a child (progress relayed, report returned) and
    opens that build in this process."""
    knowledge = small_knowledge(tmp_path / "knowledge")
    service = IndexService(settings(tmp_path, knowledge), build_in_child=True)
    lines: list[str] = []
    stages: list[tuple[str, int, int]] = []
    loaded = service.ensure(lines.append, lambda stage, done, total: stages.append((stage, done, total)))
    assert loaded.chunks and loaded.build_id == IndexStore(service.settings.index_dir).current_name()
    assert any(line.startswith("Index ready:") for line in lines)
    assert ("chunks", len(loaded.chunks), len(loaded.chunks)) in stages and stages[-1][0] == "done"


def test_the_process_that_opens_a_child_build_never_imports_torch(tmp_path: Path) -> None:
    """open_indexes on a fresh data folder leaves torch and sentence-transformers out of the bot's process."""
    knowledge = small_knowledge(tmp_path / "knowledge")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from bot.app import open_indexes
        from bot.settings import Settings
        s = Settings(_env_file=None, data_dir=Path({str(tmp_path / "data")!r}), knowledge_dir=Path({str(knowledge)!r}))
        indexes = open_indexes(s, print)
        assert indexes.base_service.ask("what is dropout").sources
        print("torch" in sys.modules, "sentence_transformers" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_a_failed_child_build_raises_its_one_line_reason(tmp_path: Path) -> None:
    """A knowledge folder with nothing valid fails in the child; the parent raises ChildBuildFailed with the
    child's own message, and no build goes live."""
    empty = tmp_path / "knowledge"
    (empty / "concepts").mkdir(parents=True)
    (empty / "concepts" / "broken.md").write_text("not an entry\n", encoding="utf-8")
    index = tmp_path / "index"
    with pytest.raises(ChildBuildFailed, match=r"^KnowledgeError: The knowledge base has \d+ problem"):
        build_in_child(empty, index)
    with pytest.raises(Exception, match="no index"):
        IndexStore(index).open(MODEL_ID)
