"""The CLI's own words: help that shows flags as flags, honest index status lines, and the next steps."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot import cli
from index.store import BuildReport


def all_commands() -> list[list[str]]:
    """Every command path of the studybot CLI, e.g. ["index", "build"]."""
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        if hasattr(command, "commands"):  # a group (typer ships its own click, so no isinstance check)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(cli.app), [])
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "studybot")
def test_help_shows_flags_without_a_value(path: list[str]) -> None:
    """No option in any --help reads as taking a value it doesn't take (`--help <bool>`, `--json <bool>`)."""
    result = CliRunner().invoke(cli.app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help" in result.output


def test_ask_help_lists_json_as_a_flag() -> None:
    """`ask --help` shows `--json` followed directly by its description."""
    output = CliRunner().invoke(cli.app, ["ask", "--help"]).output
    line = next(ln for ln in output.splitlines() if ln.strip().startswith("--json"))
    assert line.split()[1] == "Print"


def report(embedded: int, sentences: int) -> BuildReport:
    return BuildReport(
        "b1", chunks=348, embedded=embedded, reused=348 - embedded, sentences_embedded=sentences, seconds=1.5
    )


def test_nothing_embedded_reads_as_up_to_date() -> None:
    """A build that embedded nothing says "Index up to date", not "Built index"."""
    assert cli.index_built(report(0, 0)).startswith("Index up to date: 348 chunks")


def test_build_line_counts_what_was_embedded() -> None:
    """The summary states the same sentence count the progress bar counted (the report's)."""
    line = cli.index_built(report(348, 2288))
    assert line.startswith("Index built: 348 chunks (348 embedded, 0 reused), 2288 sentences embedded")


def test_next_steps_name_chat_ask_and_the_discord_token() -> None:
    """After the demo: at most four lines naming `studybot chat`, `studybot ask` and where the token goes."""
    lines = cli.NEXT_STEPS.splitlines()
    assert len(lines) <= 4
    assert "studybot chat" in cli.NEXT_STEPS and "studybot ask" in cli.NEXT_STEPS
    assert "STUDYBOT_DISCORD_TOKEN" in cli.NEXT_STEPS and ".env" in cli.NEXT_STEPS
