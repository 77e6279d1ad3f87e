"""Layering rules, checked on the source text so they hold even for code no test imports."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_domain_never_imports_discord():
    """The pure core (bot/domain) has no discord import anywhere."""
    offenders = [p for p, names in _imports(ROOT / "bot" / "domain").items() if "discord" in names]
    assert offenders == []


def test_index_imports_nothing_from_bot_or_discord():
    """index/ stands alone: no bot or discord imports."""
    offenders = [p for p, names in _imports(ROOT / "index").items() if names & {"bot", "discord"}]
    assert offenders == []
