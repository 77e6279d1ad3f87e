"""The README's configuration table is the settings model's own table, so neither can drift from the other."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
_TABLE = re.compile(r"<!-- settings table:.*?-->\n(.*?)\n<!-- end of settings table -->", re.S)


def test_readme_table_matches_the_settings_model() -> None:
    """The table in README.md is exactly what `python -m bot.settings --markdown` prints (regenerate it if not)."""
    found = _TABLE.search(README.read_text(encoding="utf-8"))
    assert found, "README.md lost its settings-table markers"
    assert found.group(1) == markdown_table(), "README settings table is stale: run python -m bot.settings --markdown"


def test_every_setting_has_a_row_and_a_meaning() -> None:
    """Each field of Settings, including the three the README used to miss, appears once with a description."""
    table = markdown_table()
    for name, field in Settings.model_fields.items():
        assert table.count(f"`STUDYBOT_{name.upper()}`") == 1
        assert field.description, f"{name} needs a description for the README"
    for name in ("DISCORD_APPLICATION_ID", "SCHEDULER_SECONDS", "SHUTDOWN_GRACE"):
        assert f"`STUDYBOT_{name}`" in table
