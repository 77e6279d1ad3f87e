"""Code in the notes is checked: every ```python block parses, and every ```python runnable block runs.

Learners copy these snippets, so a typo or an API that moved is a bug we ship. Runnable blocks run one per
subprocess with this venv's interpreter (NumPy and CPU PyTorch available), offline, each within a time limit.
The walk covers every knowledge/**/*.md, however many notes other writers add.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.domain.content import CodeBlock, code_blocks, code_problems

KNOWLEDGE = Path(__file__).resolve().parents[2] / "knowledge"
# Per block. Most take 2-10 s on a busy shared machine, mostly importing torch; one that needs longer is too heavy
# for a note. A slower CI machine may raise it (the variable is read only here, by this test).
TIMEOUT_S = float(os.environ.get("STUDYBOT_NOTE_CODE_TIMEOUT", "60"))
STDERR_TAIL = 2_000  # characters of stderr kept in a failure message


def _notes(root: Path = KNOWLEDGE) -> list[tuple[str, str]]:
    """(display path, text) for every Markdown file under ``root``."""
    return [(str(p.relative_to(root.parent)), p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.md"))]


def _runnable(root: Path = KNOWLEDGE) -> list[tuple[str, CodeBlock]]:
    return [(where, b) for where, text in _notes(root) for b in code_blocks(text) if b.runnable]


def run_block(where: str, block: CodeBlock, workdir: Path, timeout: float = TIMEOUT_S) -> str | None:
    """Run one block; None if it exits 0, else a ``file:line`` message with the stderr tail.

    The script is padded with blank lines so its traceback line numbers are the note's own line numbers.
    """
    script = workdir / (Path(where).name + ".py")
    script.write_text("\n" * (block.line - 1) + block.code + "\n", encoding="utf-8")
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",  # plots render to files, never to a window
        "CUDA_VISIBLE_DEVICES": "",  # the same result on a machine with a GPU
        "OMP_NUM_THREADS": "1",  # the test machine is shared; a snippet needs no parallel BLAS
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            check=False,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"{where}:{block.fence_line}: runnable block did not finish within {timeout:g} s"
    if done.returncode == 0:
        return None
    return f"{where}:{block.fence_line}: runnable block exited with {done.returncode}:\n{done.stderr[-STDERR_TAIL:]}"


def test_every_python_block_in_the_notes_parses():
    """Each ```python block of every note parses with ast.parse; failures are listed as file:line."""
    problems: list[str] = []
    python_blocks = 0
    for where, text in _notes():
        blocks = code_blocks(text)
        python_blocks += sum(b.is_python for b in blocks)
        problems += code_problems(blocks, where)
    assert python_blocks > 0, "no python blocks found: the walk over knowledge/ is broken"
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(("where", "block"), [pytest.param(w, b, id=f"{w}:{b.fence_line}") for w, b in _runnable()])
def test_runnable_block_runs(where: str, block: CodeBlock, tmp_path: Path):
    """A ```python runnable block exits 0 within the time limit, in a fresh process and an empty folder."""
    error = run_block(where, block, tmp_path)
    assert error is None, error


# -- the checker itself can fail ------------------------------------------------------------------
NOTE = """\
---
id: concept-demo
---
# Demo

## Does it run?
```python runnable
import numpy as np
x = np.arange(3)
assert x.sum() == 3
```
"""


def test_code_blocks_report_their_note_line_numbers():
    """The walker finds fenced blocks with the note's line numbers and reads the runnable marker exactly."""
    text = NOTE + "\n~~~python\nprint('tilde fence')\n~~~\n\n```pythonrunnable\nx = 1\n```\n"
    blocks = code_blocks(text)
    assert [(b.info, b.fence_line, b.line, b.runnable) for b in blocks] == [
        ("python runnable", 7, 8, True),
        ("python", 13, 14, False),
        ("pythonrunnable", 17, 18, False),
    ]
    assert blocks[0].code.splitlines()[-1] == "assert x.sum() == 3"


def test_a_runnable_block_passes_and_a_failing_one_names_its_line_and_error(tmp_path):
    """A good block passes; a failing one is reported at its fence line with the exception from stderr."""
    (good,) = code_blocks(NOTE)
    assert run_block("concepts/demo.md", good, tmp_path) is None
    (bad,) = code_blocks(NOTE.replace("x.sum() == 3", "x.sum() == 4, 'sum is off'"))
    error = run_block("concepts/demo.md", bad, tmp_path)
    assert error is not None
    assert error.startswith("concepts/demo.md:7: runnable block exited with 1")
    assert "AssertionError: sum is off" in error
    assert "line 10" in error  # the traceback points at the note's own line


def test_a_block_that_hangs_is_stopped_and_reported(tmp_path):
    """A block that runs past the limit is killed and reported as too slow, not left hanging."""
    (slow,) = code_blocks(NOTE.replace("import numpy as np", "import time; time.sleep(30)"))
    error = run_block("concepts/demo.md", slow, tmp_path, timeout=1)
    assert error == "concepts/demo.md:7: runnable block did not finish within 1 s"
