"""The progress chart renderer: valid PNGs, hostile titles, edge cases, determinism and thread safety."""

from __future__ import annotations

import ast
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.charts import TITLE_LIMIT, ProgressReport, SkillProgress, render_progress, truncate_title

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TODAY = date(2026, 5, 14)
LABELS = (
    "Mathematics & statistics",
    "Python & software engineering",
    "Classical machine learning",
    "Deep learning",
    "Data engineering",
    "MLOps & deployment",
    "Responsible AI & ethics",
)
STATES = (  # (mastery, accuracy, seen, total): practised, near-mastered, unpractised, zero-mastery, empty skill
    (0.82, 0.9, 34, 40),
    (0.55, 0.71, 20, 52),
    (0.97, 1.0, 12, 12),
    (0.12, 0.4, 5, 60),
    (None, None, 0, 30),
    (0.0, 0.0, 2, 25),
    (None, None, 0, 0),
)


def days(counts: list[int], last: date = TODAY) -> tuple[tuple[date, int], ...]:
    """(day, count) pairs, oldest first, ending on ``last``."""
    return tuple((last - timedelta(days=len(counts) - 1 - i), n) for i, n in enumerate(counts))


def report(title: str = "Progress for Ada", **changes: Any) -> ProgressReport:
    """A typical learner: seven skills in mixed states and a month of uneven practice."""
    skills = tuple(SkillProgress(label, *state) for label, state in zip(LABELS, STATES, strict=True))
    activity = days([0, 0, 3, 5, 0, 12, 8, 0, 0, 1, 2, 25, 40, 7, 0, 0, 0, 3, 9, 14, 2, 0, 0, 6, 11, 18, 130, 4, 7, 9])
    return replace(ProgressReport(title, skills, activity, streak=9), **changes)


@pytest.fixture(scope="module")
def typical_png() -> bytes:
    """One render of the typical report, shared by the tests that only inspect it (each render costs ~0.2 s)."""
    return render_progress(report())


def decode(png: bytes) -> Image.Image:
    """Check the signature, then fully decode, so a truncated or corrupt file fails here."""
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_typical_report_is_an_800_by_550_png(typical_png: bytes):
    """Seven skills give a decodable PNG of exactly 800x550 pixels (8x5.5 in at 100 dpi)."""
    assert decode(typical_png).size == (800, 550)


def test_learner_with_no_practice_renders_with_today_outlined():
    """All None, zero answers and no streak give a full-size chart whose only dark strip ink is today's outline."""
    empty = report(
        skills=tuple(SkillProgress(label, None, None, 0, 10) for label in LABELS),
        activity=days([0] * 30),
        streak=0,
    )
    image = decode(render_progress(empty))
    assert image.size == (800, 550)
    band = np.asarray(image.convert("L"))[-75:-32]  # the strip's row, between its heading and the date labels
    dark_columns = np.nonzero((band < 80).any(axis=0))[0]
    assert dark_columns.size > 0
    assert dark_columns.min() > 0.94 * image.width  # only inside the rightmost of the 30 cells


def test_report_with_nothing_at_all_renders():
    """No skills and no activity days at all still render, as a shorter chart with placeholder text."""
    assert decode(render_progress(ProgressReport("Progress for Ada", (), ()))).size[0] == 800


@pytest.mark.parametrize(
    "title",
    [
        "Progress for $x$ <@123> 🔥🏳️‍🌈 **bold** 山田 𝓐𝓭𝓪 ｆｕｌｌ Zoë \x07\n\t",  # glyphs DejaVu Sans lacks
        r"Progress for $\frac{$ unbalanced mathtext",  # would raise ValueError if parsed as mathtext
    ],
)
def test_hostile_titles_render_as_plain_text_without_glyph_warnings(title: str):
    """Dollar signs, mentions, markdown, emoji, CJK and control characters neither raise (mathtext is off) nor warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # matplotlib reports a missing glyph as a UserWarning
        decode(render_progress(report(title)))


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Progress for Ada", TITLE_LIMIT, "Progress for Ada"),
        ("x" * TITLE_LIMIT, TITLE_LIMIT, "x" * TITLE_LIMIT),
        ("x" * (TITLE_LIMIT + 1), TITLE_LIMIT, "x" * (TITLE_LIMIT - 1) + "…"),
        ("  Progress\n\tfor   Ada ", TITLE_LIMIT, "Progress for Ada"),
        ("ab   cdef", 4, "ab…"),
        ("ab\u200dcdef", 4, "ab…"),
    ],
)
def test_truncate_title(text: str, limit: int, expected: str):
    """Whitespace collapses; over-long text is cut to the limit with an ellipsis, never after a space or joiner."""
    assert truncate_title(text, limit) == expected


def test_truncated_title_never_exceeds_the_limit():
    """Whatever the input, the result fits in TITLE_LIMIT characters."""
    assert len(truncate_title("🔥 " * 500)) <= TITLE_LIMIT


def test_same_input_gives_identical_bytes(typical_png: bytes):
    """Rendering is deterministic and embeds no software version or timestamp."""
    assert render_progress(report()) == typical_png
    assert b"Software" not in typical_png
    assert b"atplotlib" not in typical_png
    assert b"tIME" not in typical_png


def test_days_before_the_30_day_window_are_ignored(typical_png: bytes):
    """The strip ends on the newest day: thirty older busy days change no pixel of the typical chart."""
    older = days([50] * 30, last=TODAY - timedelta(days=30))
    assert render_progress(report(activity=older + report().activity)) == typical_png


def test_the_window_is_the_30_days_ending_on_the_newest_day(typical_png: bytes):
    """Answers on the oldest in-window day, 29 days before the newest, change the chart."""
    oldest = TODAY - timedelta(days=29)
    changed = tuple((day, 5 if day == oldest else n) for day, n in report().activity)
    assert dict(report().activity)[oldest] == 0
    assert render_progress(report(activity=changed)) != typical_png


def test_days_are_placed_by_date_not_by_position(typical_png: bytes):
    """Shuffled days, a day split in two and omitted quiet days draw exactly like the tidy 30-day list."""
    busy = [(day, n) for day, n in report().activity if n]
    (first_day, first_n), rest = busy[0], busy[1:]
    messy = (*reversed(rest), (first_day, 1), (first_day, first_n - 1))
    assert render_progress(report(activity=messy)) == typical_png


def test_odd_skill_values_render():
    """Zero totals, out-of-range or NaN fractions, negative counts, long labels and huge counts render."""
    odd = (
        SkillProgress("Nothing available", None, None, 0, 0),
        SkillProgress("Out of range", 1.7, -0.2, 99, 3),
        SkillProgress("Not a number", float("nan"), float("inf"), -1, -5),
        SkillProgress("A very long skill label that keeps going and going " * 3, 0.5, 0.5, 10**6, 10**7),
    )
    decode(render_progress(report(skills=odd, activity=days([-3, 10**6, 0]), streak=-1)))


def test_many_skills_are_capped_and_stay_under_a_megabyte():
    """Fifty skills draw only the first twenty rows (5.5 in + 13 extra rows of 3.05/7 in), still far below 1 MB."""
    many = tuple(SkillProgress(f"Skill {i} " + "W" * 25, i / 50, 0.5, 123456, 999999) for i in range(50))
    png = render_progress(report("W" * 200, skills=many, activity=days(list(range(0, 3000, 100)))))
    assert decode(png).size == (800, 1116)
    assert len(png) < 1_000_000


def test_typical_png_is_well_under_a_megabyte(typical_png: bytes):
    """The usual chart is small enough to attach to any Discord message many times over."""
    assert len(typical_png) < 200_000


def test_concurrent_renders_in_worker_threads_match_serial_ones(typical_png: bytes):
    """Four worker threads rendering two different reports at once produce exactly the serial bytes: no state leaks."""
    other = report("Progress for Grace", activity=days([7] * 30), streak=30)
    expected = [typical_png, render_progress(other)] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        produced = list(pool.map(render_progress, [report(), other] * 2))
    assert produced == expected
    assert all(decode(png).size == (800, 550) for png in produced)


def test_renderer_imports_neither_discord_nor_pyplot_nor_storage():
    """bot/charts.py stays pure: no discord, no pyplot global state, no database layer."""
    source = Path(__file__).resolve().parents[2] / "bot" / "charts.py"
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    banned = ("discord", "matplotlib.pyplot", "sqlalchemy", "bot.storage", "asyncpg", "aiosqlite")
    assert not {m for m in modules if m.startswith(banned)}
