"""Builders for small, valid knowledge folders used by unit tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

# The front matter of a server's quiz upload; its items follow from line 8.
_QUIZ_HEADER = textwrap.dedent("""\
    id: quiz-server
    title: Server quiz
    skill: machine-learning
    tags: [quiz]
    level: beginner
    related: []
    items:
    """)


def quiz_upload(items: str) -> str:
    """A server's quiz file: the shared front matter, then ``items`` (a YAML list, any indentation)."""
    return _QUIZ_HEADER + textwrap.indent(textwrap.dedent(items), "  ")


CONCEPT = """\
---
id: concept-{slug}
title: {title}
skill: machine-learning
tags: [test]
level: beginner
related: []
---
# {title}

## What is {title}?
{body}

## Why does {title} matter?
{title} matters because it changes how models behave on new data. Learners meet it early.
"""


def write_concept(root: Path, slug: str, title: str, body: str) -> Path:
    path = root / "concepts" / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONCEPT.format(slug=slug, title=title, body=body))
    return path


def write_resources(root: Path) -> Path:
    path = root / "resources" / "math.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent("""\
        id: resources-math
        title: Math resources
        skill: math
        tags: [resources]
        level: beginner
        related: []
        resources:
          - id: res-linear-algebra-course
            title: Linear Algebra Course
            url: https://ocw.mit.edu/courses/18-06-linear-algebra-spring-2010/
            kind: course
            skill: math
            level: beginner
            cost: free
            why: A classic course on vectors, matrices and eigenvalues.
            tags: [linear algebra]
        """)
    )
    return path


def small_kb(root: Path) -> Path:
    write_concept(
        root,
        "overfitting",
        "Overfitting",
        "Overfitting happens when a model memorises training data and fails on new data. "
        "Regularization and more data reduce overfitting.",
    )
    write_concept(
        root,
        "gradient-descent",
        "Gradient descent",
        "Gradient descent updates parameters step by step against the gradient of the loss. "
        "The learning rate sets the step size.",
    )
    write_resources(root)
    return root


ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[Any], env: dict[str, str], *, stdin: Any = None, text: bool = True, timeout: int = 300) -> Any:
    """`python -m bot ARGS` as a real subprocess from the repository root, offline, with ``env`` over the
    process's own environment; never raises on a non-zero exit (tests read the return code)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=text,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **env},
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
