"""A learner's progress chart as PNG bytes, shared by the Discord ``/progress`` command and the console.

The renderer is pure: callers pass the numbers, and nothing here reads a clock, a database or Discord. The
last activity day is taken to be "today". Figures are built with matplotlib's object-oriented API on an
explicit Agg canvas, never pyplot, because pyplot keeps global state and rendering runs in worker threads.
matplotlib is imported on first render, so importing this module stays cheap at start-up.
"""

from __future__ import annotations

import functools
import io
import math
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain.learners import Progress

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Text

TITLE_LIMIT = 60  # the title is the learner's display name: keep a pasted essay from crowding out the chart
_LABEL_LIMIT = 30  # the label column has one shared font size, so one long label would shrink them all
_STRIP_DAYS = 30
_MAX_SKILLS = 20  # the figure grows with each skill; a cap keeps the PNG far below Discord's attachment limits
_WIDTH_IN, _HEIGHT_IN, _DPI = 8.0, 5.5, 100  # 800x550 px for the usual 7 skills: legible without clicking through
_USUAL_SKILLS, _MIN_ROWS = 7, 3  # the height follows the skill count, so three skills don't float in white space
_CHROME_IN = 2.45  # title, panel headings, axis labels and the activity strip
_ROW_IN = (_HEIGHT_IN - _CHROME_IN) / _USUAL_SKILLS

# DejaVu Sans ships inside matplotlib, so every machine draws the same glyphs and the bytes are reproducible.
_FONT = "DejaVu Sans"
_INK, _MUTED, _TRACK, _EMPTY_DAY = "#222222", "#6b6b6b", "#e9e9e9", "#e3e3e3"
_MASTERY = "#0072B2"  # Okabe-Ito blue: distinct from grey under every common colour-vision deficiency
_ACTIVITY_CMAP = "Blues"  # single-hue ColorBrewer ramp, colour-blind safe; light means few answers
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # not %b: locale-free
_MISSING_LETTER = "□"
# Horizontal layout in figure fractions: skill labels | bars | notes.
_MARGIN, _BARS_LEFT, _BARS_RIGHT, _GAP = 0.025, 0.31, 0.735, 0.012
_MIN_FONT = 6.0


@dataclass(frozen=True)
class SkillProgress:
    """One skill's bar: ``mastery`` is mean FSRS retrievability (0..1) of practised items, None if none were."""

    label: str
    mastery: float | None
    accuracy: float | None
    seen: int
    total: int


@dataclass(frozen=True)
class ProgressReport:
    """Everything the chart shows; ``activity`` is (local day, answers) for the last 30 days, oldest first."""

    title: str
    skills: tuple[SkillProgress, ...]
    activity: tuple[tuple[date, int], ...]
    streak: int = 0


def truncate_title(text: str, limit: int = TITLE_LIMIT) -> str:
    """Flatten whitespace and cut to ``limit`` characters ending in an ellipsis, so one line always fits."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rstrip()
    # A zero-width joiner or variation selector left at the cut would attach to the ellipsis.
    while cut and unicodedata.category(cut[-1]) == "Cf":
        cut = cut[:-1]
    return cut + "…"


def render_progress(report: ProgressReport) -> bytes:
    """Draw the report as a PNG; safe to call from several threads at once, and the same input gives the same bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    skills = report.skills[:_MAX_SKILLS]
    rows = max(len(skills), _MIN_ROWS)
    height = _HEIGHT_IN + _ROW_IN * (rows - _USUAL_SKILLS)
    inch = 1 / height  # one inch as a fraction of the figure's height
    # A fixed layout rather than constrained: the panels sit in the same place whatever the labels say.
    fig = Figure(figsize=(_WIDTH_IN, height), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(fig)

    heading = _text(ha="left", va="top", fontweight="bold", color=_INK)
    title = fig.text(_MARGIN, 1 - 0.18 * inch, _fit(report.title, TITLE_LIMIT), fontsize=16, **heading)
    _fit_width([title], 1 - 2 * _MARGIN)
    hidden = _hidden_note(len(report.skills) - len(skills))
    fig.text(_MARGIN, 1 - 0.62 * inch, "Mastery by skill" + hidden, fontsize=11, **heading)
    skill_ax = fig.add_axes((_BARS_LEFT, 1.5 * inch, _BARS_RIGHT - _BARS_LEFT, 1 - _CHROME_IN * inch))
    _draw_skills(skill_ax, skills, rows)
    activity_ax = fig.add_axes((_MARGIN, 0.36 * inch, 1 - 2 * _MARGIN, 0.34 * inch))
    _draw_activity(activity_ax, report.activity, report.streak)

    buffer = io.BytesIO()
    # Without the Software key the PNG carries no matplotlib version, so bytes only change when pixels do.
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _text(**extra: Any) -> dict[str, Any]:
    """Text properties for every label: literal text (``$x$`` is not mathtext) in the bundled font."""
    return {"fontfamily": _FONT, "parse_math": False, **extra}


def _fit(text: str, limit: int) -> str:
    return truncate_title(_drawable(text), limit)


@functools.cache
def _covered_codepoints() -> frozenset[int]:
    """Code points both the regular and bold faces can draw; anything else would hit matplotlib's tofu glyph."""
    from matplotlib import font_manager, ft2font

    faces = (font_manager.FontProperties(family=_FONT, weight=w) for w in ("normal", "bold"))
    maps = [ft2font.FT2Font(font_manager.findfont(face)).get_charmap() for face in faces]
    return frozenset(maps[0]).intersection(*maps[1:])


def _drawable(text: str) -> str:
    """Replace characters the font lacks, which would otherwise warn and draw as tofu boxes.

    Styled letters often used in display names (𝓐𝓭𝓪, ｆｕｌｌｗｉｄｔｈ) fold to plain ones through NFKC. Other
    letters and digits become a hollow square so the name's shape survives; emoji and other symbols are dropped,
    with the invisible joiners and variation selectors that glue emoji sequences together.
    """
    covered = _covered_codepoints()
    out: list[str] = []
    for char in text:
        if unicodedata.category(char) == "Cf" or _is_variation_selector(char):
            continue
        if ord(char) in covered or char.isspace():
            out.append(char)
            continue
        folded = unicodedata.normalize("NFKC", char)
        if folded != char and all(ord(c) in covered for c in folded):
            out.append(folded)
        elif unicodedata.category(char)[0] in "LN":
            out.append(_MISSING_LETTER)
    return "".join(out)


def _is_variation_selector(char: str) -> bool:
    return 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF


def _unit(value: float | None) -> float | None:
    """Clamp a 0..1 value; NaN and infinities count as unknown rather than breaking the bar."""
    if value is None or not math.isfinite(value):
        return None
    return min(max(value, 0.0), 1.0)


def _skill_note(skill: SkillProgress, mastery: float | None) -> str:
    if skill.total <= 0 and skill.seen <= 0:
        return "no items yet"
    if mastery is None:
        return "not practised yet"
    accuracy = _unit(skill.accuracy)
    shown = "—" if accuracy is None else f"{accuracy * 100:.0f}%"
    return f"accuracy {shown} · seen {max(skill.seen, 0)}/{max(skill.total, 0)}"


def _hidden_note(hidden: int) -> str:
    return f"  (+{hidden} more not shown)" if hidden > 0 else ""


def _fit_width(texts: list[Text], fraction: float) -> None:
    """Shrink a column of texts by one common factor until the widest spans at most ``fraction`` of the figure."""
    available = fraction * _WIDTH_IN * _DPI
    for _ in range(3):  # hinting makes width only roughly proportional to size, so re-measure
        widest = max(text.get_window_extent().width for text in texts)
        if widest <= available:
            return
        for text in texts:
            text.set_fontsize(max(_MIN_FONT, float(text.get_fontsize()) * available / widest))


def _note_tone(mastery: float | None) -> dict[str, Any]:
    return {"color": _MUTED, "style": "italic"} if mastery is None else {"color": _INK}


def _draw_skills(ax: Axes, skills: tuple[SkillProgress, ...], rows: int) -> None:
    ax.set_xlim(0, 100)
    ax.set_ylim(rows - 0.5, -0.5)  # first skill on top
    ax.tick_params(axis="y", left=False, labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if not skills:
        ax.set_xticks([])
        ax.text(50, (rows - 1) / 2, "No skills to show yet", ha="center", va="center", color=_MUTED, **_text())
        return
    ax.set_xticks([0, 25, 50, 75, 100], labels=["0%", "25%", "50%", "75%", "100%"])
    ax.tick_params(axis="x", labelsize=8, labelcolor=_MUTED, color=_TRACK, labelfontfamily=_FONT)

    shown = range(len(skills))
    masteries = [_unit(skill.mastery) for skill in skills]
    ax.barh(shown, [100] * len(skills), height=0.62, color=_TRACK)
    ax.barh(shown, [0 if m is None else m * 100 for m in masteries], height=0.62, color=_MASTERY)

    # Label and note columns sit just outside the bars: x in axes fractions, y in data rows.
    column = _text(va="center", transform=ax.get_yaxis_transform())
    outside = _GAP / (_BARS_RIGHT - _BARS_LEFT)
    labels = [
        ax.text(-outside, row, _fit(skill.label, _LABEL_LIMIT), ha="right", fontsize=10, color=_INK, **column)
        for row, skill in zip(shown, skills, strict=True)
    ]
    notes = [
        ax.text(1 + outside, row, _skill_note(skill, mastery), ha="left", fontsize=9, **column, **_note_tone(mastery))
        for row, skill, mastery in zip(shown, skills, masteries, strict=True)
    ]
    # One shared size per column keeps the rows looking alike when a single label is long.
    _fit_width(labels, _BARS_LEFT - _GAP - _MARGIN)
    _fit_width(notes, 1 - _BARS_RIGHT - _GAP - _MARGIN / 2)

    for row, mastery in zip(shown, masteries, strict=True):
        if mastery is None:
            continue
        percent = mastery * 100
        inside = percent >= 86  # the value would run off the track, so it moves inside the bar
        x, align, colour = (percent - 1.5, "right", "white") if inside else (percent + 1.5, "left", _INK)
        ax.text(
            x, row, f"{percent:.0f}%", ha=align, va="center", fontsize=9, fontweight="bold", color=colour, **_text()
        )


def _streak_text(streak: int) -> str:
    if streak <= 0:
        return "no current streak"
    return f"streak {streak} day" + ("" if streak == 1 else "s")


def _draw_activity(ax: Axes, activity: tuple[tuple[date, int], ...], streak: int) -> None:
    from matplotlib import colormaps
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(left=False, labelleft=False, bottom=False, labelsize=8, labelcolor=_MUTED, labelfontfamily=_FONT)
    ax.set_xlim(-0.5, _STRIP_DAYS - 0.5)
    ax.set_ylim(0, 1)
    title = {"loc": "left", "fontsize": 11, "fontweight": "bold", "color": _INK, "pad": 7, **_text()}

    # Days are placed by date, so gaps, duplicates and unsorted input still land in the right cell.
    counts: defaultdict[date, int] = defaultdict(int)
    for day, answers in activity:
        counts[day] += max(answers, 0)
    if not counts:
        ax.set_title(f"Last {_STRIP_DAYS} days · {_streak_text(streak)}", **title)
        ax.set_xticks([])
        ax.text(
            _STRIP_DAYS / 2 - 0.5, 0.5, "No activity recorded yet", ha="center", va="center", color=_MUTED, **_text()
        )
        return

    today = max(counts)
    days = [today - timedelta(days=_STRIP_DAYS - 1 - slot) for slot in range(_STRIP_DAYS)]
    window = [counts.get(day, 0) for day in days]  # older input days fall outside the window and are dropped
    total, busiest = sum(window), max(window)
    plural = "" if total == 1 else "s"
    ax.set_title(f"Last {_STRIP_DAYS} days · {_streak_text(streak)} · {total} answer{plural}", **title)

    ramp = colormaps[_ACTIVITY_CMAP]
    colours: list[Any] = []
    count_style = _text(ha="center", va="center", fontsize=7)
    for slot, answers in enumerate(window):
        # sqrt keeps a light day visible next to a very busy one; the ramp starts above white to stay off the grey.
        shade = 0.3 + 0.7 * math.sqrt(answers / busiest) if answers else 0.0
        colours.append(ramp(shade) if answers else _EMPTY_DAY)
        if answers:  # the number repeats what the colour says, for readers who cannot tell the shades apart
            ax.text(slot, 0.5, _count(answers), color="white" if shade > 0.6 else _INK, **count_style)
    cells = [Rectangle((slot - 0.44, 0.06), 0.88, 0.88) for slot in range(_STRIP_DAYS)]
    ax.add_collection(PatchCollection(cells, facecolors=colours, edgecolors="none"), autolim=False)
    last = _STRIP_DAYS - 1
    ax.add_patch(Rectangle((last - 0.5, 0.0), 1.0, 1.0, facecolor="none", edgecolor=_INK, linewidth=1.6, clip_on=False))

    ticks = list(range(last % 7, last, 7))  # weekly back from today, so "today" never collides with a date
    ax.set_xticks([*ticks, last], labels=[_short_date(days[t]) for t in ticks] + ["today"])
    ax.get_xticklabels()[-1].set_fontweight("bold")


def _count(answers: int) -> str:
    return str(answers) if answers < 1000 else f"{answers // 1000}k"  # a cell is about three digits wide


def _short_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


# ------------------------------------------------------------------ the domain's Progress as a chart
def progress_report(progress: Progress) -> ProgressReport:
    """The chart's title is the learner's name; skills keep the domain's order (the ``Skill`` enum's)."""
    return ProgressReport(
        title=progress.name,
        skills=tuple(SkillProgress(s.skill.label, s.mastery, s.accuracy, s.seen, s.total) for s in progress.skills),
        activity=progress.activity,
        streak=progress.streak.current,
    )


def progress_png(progress: Progress) -> bytes:
    """PNG bytes of the progress chart: CPU-bound (~0.15 s, ~1 s on first use), so async callers use a thread."""
    return render_progress(progress_report(progress))
