"""The studybot CLI, run as a real subprocess on the shipped knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"question", "abstained", "confidence", "answer", "sources", "latency_ms", "standalone_question", "kind"}


def run(args: list[str], settings, stdin: str | None = None, env: dict[str, str] | None = None, timeout: int = 300):
    dirs = {"STUDYBOT_DATA_DIR": str(settings.data_dir), "STUDYBOT_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    return run_cli(args, {**dirs, **(env or {})}, stdin=stdin, timeout=timeout)


@pytest.fixture(scope="module")
def ready(shipped_service):
    """Settings whose data dir already holds a fresh index (built once per session)."""
    return shipped_service.settings


def test_ask_json_prints_exactly_one_object(ready):
    """`ask --json QUESTION` prints one JSON object with the documented keys and best-first sources."""
    proc = run(["ask", "--json", "What is overfitting?"], ready)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == KEYS
    assert not data["abstained"]
    assert 1 <= len(data["sources"]) <= 5
    scores = [s["score"] for s in data["sources"]]
    assert scores == sorted(scores, reverse=True)
    assert "overfitting" in data["sources"][0]["path"]
    assert all(len(s["text"].split()) <= 300 for s in data["sources"])


def test_ask_json_stdin_answers_each_line_in_order(ready):
    """With no question, --json answers one line at a time, coping with empty lines, '??' and a 3,000-char paste."""
    paste = ("I keep reading about overfitting and regularization and I want to understand it properly. " * 40)[:3000]
    questions = ["What is a tuple in Python?", "", "??", paste, "how do I care for my ball python?"]
    proc = run(["ask", "--json"], ready, stdin="\n".join(questions) + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(questions)
    assert all(set(r) == KEYS for r in rows)
    assert not rows[0]["abstained"] and "python" in rows[0]["sources"][0]["path"]
    assert rows[1]["abstained"] and rows[2]["abstained"]
    assert not rows[3]["abstained"]
    assert rows[4]["abstained"] and rows[4]["sources"] == []
    assert all(r["latency_ms"] >= 0 for r in rows)


def test_ask_pretty_prints_sources(ready):
    """Plain `ask` prints the answer and a sources table."""
    proc = run(["ask", "How do I choose a learning rate?"], ready)
    assert proc.returncode == 0, proc.stderr
    assert "Sources" in proc.stdout
    assert "learning" in proc.stdout.lower()


def test_empty_question_is_a_clear_error(ready):
    """An empty question exits 2 with a message saying what to type."""
    proc = run(["ask", "   "], ready)
    assert proc.returncode == 2
    assert "type a question" in proc.stderr.lower()


def test_missing_knowledge_folder_is_a_clear_error(tmp_path):
    """Without a knowledge folder or an index, ask explains what is missing instead of a traceback."""

    class S:
        data_dir = tmp_path / "data"
        knowledge_dir = tmp_path / "nowhere"

    proc = run(["ask", "What is overfitting?"], S)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_first_use_builds_the_index_and_says_so(tmp_path, shipped_service):
    """ask with no index builds one first and reports that on stderr, not stdout."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(shipped_service.settings.data_dir, data)
    kb = tmp_path / "knowledge"
    shutil.copytree(shipped_service.settings.knowledge_dir, kb)
    entry = kb / "concepts" / "overfitting.md"
    entry.write_text(entry.read_text() + "\nOverfitting also shows up as a widening gap between curves.\n")

    class S:
        data_dir = data
        knowledge_dir = kb

    proc = run(["ask", "--json", "What is overfitting?"], S)
    assert proc.returncode == 0, proc.stderr
    assert "changed since the last build" in proc.stderr
    assert json.loads(proc.stdout)["abstained"] is False


def test_corrupt_index_is_rebuilt_not_crashed(tmp_path):
    """A damaged vectors file is detected, rebuilt, and the question still answered."""
    from tests.models import small_knowledge  # a rebuild of the whole shipped index would take minutes

    class S:
        data_dir = tmp_path / "data"
        knowledge_dir = small_knowledge(tmp_path / "knowledge")

    assert run(["index", "build"], S).returncode == 0
    data = S.data_dir
    current = (data / "index" / "CURRENT").read_text().strip()
    (data / "index" / "builds" / current / "vectors.npy").write_bytes(b"\x00junk")

    proc = run(["ask", "--json", "What is cross-validation?"], S)
    assert proc.returncode == 0, proc.stderr
    assert "damaged" in proc.stderr
    assert json.loads(proc.stdout)["sources"]


def test_validate_reports_file_and_line(tmp_path):
    """kb validate exits non-zero and prints file:line: reason for a broken file."""
    (tmp_path / "concepts").mkdir()
    (tmp_path / "concepts" / "x.md").write_text(
        "---\nid: concept-x\ntitle: X\nskill: cooking\nlevel: beginner\n---\n# X\n"
    )

    class S:
        data_dir = tmp_path / "data"
        knowledge_dir = tmp_path

    proc = run(["kb", "validate"], S)
    assert proc.returncode == 1
    assert "concepts/x.md:4: skill:" in proc.stdout


def _gameable_quiz(tmp_path):
    """A valid knowledge folder whose one quiz file always has the longest option as its key."""
    from tests.helpers import small_kb

    small_kb(tmp_path)
    (tmp_path / "quiz").mkdir()
    items = "".join(
        f"""\
  - id: q-math-00{n}
    skill: math
    topic: test
    difficulty: 1
    prompt: "Question number {n} about gradient descent steps?"
    options: ["The long and correct answer {n}", "No", "Maybe", "Never"]
    answer: 0
    explanation: "The long option is right here, and the short ones are wrong."
    source: concept-gradient-descent
"""
        for n in (1, 2, 3)
    )
    (tmp_path / "quiz" / "math.yaml").write_text(
        "id: quiz-math\ntitle: Q\nskill: math\nlevel: beginner\nitems:\n" + items
    )

    class S:
        data_dir = tmp_path / "data"
        knowledge_dir = tmp_path

    return S


def test_validate_quiz_checks_warn_locally_and_fail_in_ci_or_strict(tmp_path):
    """A gameable quiz file is a file:line warning (exit 0) locally, and an error (exit 1) with CI=true or --strict."""
    settings = _gameable_quiz(tmp_path)
    local = run(["kb", "validate"], settings, env={"CI": "false"})
    assert local.returncode == 0, local.stderr
    assert "quiz/math.yaml:6: warning: the key is the longest option in 3/3 items (100%), limit 30%" in local.stdout
    assert "quiz/math.yaml: 3 items, key longest 100%, overlap winner 0%" in local.stdout
    in_ci = run(["kb", "validate", "--skip-duplicates"], settings, env={"CI": "true"})
    assert in_ci.returncode == 1
    assert "quiz/math.yaml:6: error: the key is the longest option" in in_ci.stdout
    strict = run(["kb", "validate", "--strict", "--skip-duplicates", "--details"], settings, env={"CI": "false"})
    assert strict.returncode == 1
    assert "quiz/math.yaml:15: note: q-math-002: the key is the longest option" in strict.stdout


def test_index_status_reports_chunks_and_staleness(ready):
    """index status --json shows the chunk count, model and a fresh (not stale) index."""
    proc = run(["index", "status", "--json"], ready)
    data = json.loads(proc.stdout)
    assert data["built"] and not data["stale"]
    assert data["chunks"] > 300
    assert data["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_index_build_with_nothing_changed_says_up_to_date(ready):
    """A second `index build` embeds nothing and says "Index up to date", not "Built index"."""
    proc = run(["index", "build"], ready)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Index up to date: ")
    assert "embedded" not in proc.stdout


def test_start_without_a_terminal_is_short_unwrapped_and_ends_with_next_steps(ready):
    """`studybot start` with no token and no terminal: demo answer, then next steps last; nothing cut at 80 columns."""
    proc = run(["start"], ready, env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.stderr
    assert "Answer (confidence" in proc.stdout and "Sources:" in proc.stdout
    assert proc.stderr.rstrip().splitlines()[-4] == "Next steps:"
    assert len(proc.stdout.splitlines()) + len(proc.stderr.splitlines()) <= 25
    assert any(len(line) > 80 for line in proc.stdout.splitlines())  # long lines stay whole
