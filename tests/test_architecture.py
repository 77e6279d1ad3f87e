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


def test_only_the_discord_adapter_imports_discord():
    """discord is imported only by bot/exts and bot/client.py: storage, console, CLI and charts stay portable."""
    allowed = ("bot/exts/", "bot/client.py")
    offenders = [p for p, names in _imports(ROOT / "bot").items() if "discord" in names and not p.startswith(allowed)]
    assert offenders == []


def test_domain_never_imports_storage_or_adapters():
    """The domain depends on ports only: no SQLAlchemy, storage, CLI or Discord adapter imports."""
    offenders = []
    for path in (ROOT / "bot" / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [module or ""]
            for name in names:
                if name.startswith(("sqlalchemy", "bot.storage", "bot.exts", "bot.cli", "bot.client", "bot.console")):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_slash_commands_match_the_spec_and_are_described():
    """The bot exposes exactly the documented commands, each with a description and described options."""
    import asyncio

    from discord.ext import commands

    from bot.client import extension_modules
    from bot.exts._ui import MESSAGE_LIMIT

    class Probe(commands.Bot):
        def __init__(self) -> None:
            import discord

            super().__init__(command_prefix="!", intents=discord.Intents.none())

        # the extensions only read these during commands, never at load time
        settings = state = answerer = ask_limiter = None

        def spawn(self, coro: object, name: str) -> None:
            coro.close()  # type: ignore[attr-defined]  # the daily scheduler is not under test here

    async def load() -> list[tuple[str, str, list[tuple[str, str]]]]:
        probe = Probe()
        for name in extension_modules():
            await probe.load_extension(name)
        found = []
        for command in probe.tree.walk_commands():
            params = [(p.name, p.description) for p in getattr(command, "parameters", [])]
            found.append((command.qualified_name, command.description, params))
        return found

    commands_found = asyncio.run(load())
    names = [name for name, _, _ in commands_found]
    assert len(names) == len(set(names))
    assert set(names) == {
        "ask",
        "quiz",
        "streak",
        "leaderboard",
        "progress",
        "resources",
        "settings",
        "privacy",
        "forget-me",
        "help",
        "kb",
        "quizbank",
        "config",
        *(
            f"kb {c}"
            for c in (
                [
                    "add",
                    "edit",
                    "remove",
                    "hide",
                    "unhide",
                    "import",
                    "history",
                    "diff",
                    "rollback",
                    "gaps",
                    "reports",
                    "status",
                ]
            )
        ),
        *(f"quizbank {c}" for c in ("add", "edit", "suspend", "restore")),
        *(f"config {c}" for c in ("moderator-role", "help-channels", "qotd", "show")),
    }
    for name, description, params in commands_found:
        assert description and len(description) <= 100 and "…" not in description, name
        for param, text in params:
            assert text and text != "…" and len(text) <= 100, f"/{name} {param}"
    assert MESSAGE_LIMIT == 2000
