"""Layering rules, checked on the source text so they hold even for code no test imports."""

import ast
import re
from collections.abc import Callable
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
        settings = services = answerer = ask_limiter = None

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
        *(f"config {c}" for c in ("moderator-role", "help-channels", "qotd", "generation", "show")),
    }
    for name, description, params in commands_found:
        assert description and len(description) <= 100 and "…" not in description, name
        for param, text in params:
            assert text and text != "…" and len(text) <= 100, f"/{name} {param}"
    assert MESSAGE_LIMIT == 2000


# -- the layers as a whitelist ---------------------------------------------------------------------------------

STDLIB = frozenset(__import__("sys").stdlib_module_names) | {"__future__"}
# What the domain may use besides the standard library: validation, YAML, scheduling. Anything new is a decision.
DOMAIN_THIRD_PARTY = {"pydantic", "yaml", "fsrs", "numpy"}  # numpy: the vectors index hands to the composer


def _modules(path: Path) -> set[str]:
    """Every absolute module a file imports, in full (``bot.domain.quiz``, ``yaml``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, allowed: Callable[[str], bool]) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / folder).rglob("*.py")
        for name in _modules(path)
        if not allowed(name)
    )


def test_the_domain_imports_only_the_domain_index_and_its_libraries():
    """bot/domain may import bot.domain, index, the standard library and the listed libraries: nothing else."""

    def allowed(name: str) -> bool:
        top = name.split(".", maxsplit=1)[0]
        return name.startswith(("bot.domain", "index")) or top in STDLIB or top in DOMAIN_THIRD_PARTY

    assert _offenders("bot/domain", allowed) == []


def test_the_discord_adapter_and_console_never_import_storage():
    """Cogs, views and the console reach the database only through the services in bot.app."""

    def allowed(name: str) -> bool:
        return not (name.startswith("bot.storage") or name.split(".", maxsplit=1)[0] in {"sqlalchemy", "alembic"})

    assert _offenders("bot/exts", allowed) == []
    assert _offenders("bot/console", allowed) == []


def test_only_the_composition_root_and_entry_points_wire_retrieval():
    """bot.retrieval is wired in bot/app.py; the cog, console and CLI get answering from there."""
    wiring = {"bot/app.py", "bot/cli.py", "bot/client.py"}  # cli.py: `index build|status`, not answering
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "bot").rglob("*.py")
        if not str(path.relative_to(ROOT)).startswith("bot/retrieval/") and str(path.relative_to(ROOT)) not in wiring
        for name in _modules(path)
        if name.startswith("bot.retrieval")
    ]
    assert offenders == []


def _cog_methods(path: Path) -> list[ast.AsyncFunctionDef | ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return [
        item
        for cls in tree.body
        if isinstance(cls, ast.ClassDef) and cls.name.endswith("Cog")
        for item in cls.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def _fat(method: ast.AsyncFunctionDef | ast.FunctionDef) -> list[str]:
    """What makes a cog method more than "call a service, render the result"."""
    found = []
    for node in ast.walk(method):
        if isinstance(node, ast.Attribute) and node.attr in {"store", "transaction", "engine", "conn"}:
            found.append(f".{node.attr}")
        if isinstance(node, ast.Name) and node.id == "repos":
            found.append("repos")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL.search(node.value):
            found.append("SQL text")
        if isinstance(node, ast.For | ast.comprehension) and isinstance(node.iter, ast.Await):
            found.append("a loop over awaited records")
    return found


def test_cogs_are_thin():
    """Cog methods hold no SQL, no storage access and no loops over stored records: they call a service and render.

    Checked: no ``.store``/``.transaction()``/``repos`` access, no SQL keywords in strings, and no ``for`` loop
    (statement or comprehension) over an awaited result.
    """
    offenders = [
        f"{path.relative_to(ROOT)}:{method.name}: {why}"
        for path in (ROOT / "bot" / "exts").rglob("_cog.py")
        for method in _cog_methods(path)
        for why in _fat(method)
    ]
    assert offenders == []


def test_cog_rules_catch_a_fat_cog(tmp_path):
    """The thin-cog check is not vacuous: a cog that queries and loops over the records is reported."""
    fat = tmp_path / "_cog.py"
    fat.write_text(
        "class FatCog:\n"
        "    async def top(self):\n"
        "        async with self.bot.services.store.transaction() as repos:\n"
        "            for row in await repos.points(1, None, 10):\n"
        "                print(row, 'SELECT 1')\n"
    )
    assert set(_fat(_cog_methods(fat)[0])) == {
        ".store",
        ".transaction",
        "repos",
        "SQL text",
        "a loop over awaited records",
    }


def test_settings_are_built_only_by_entry_points():
    """Settings() is constructed in bot/cli.py alone; everything else receives it (no import-time environment reads)."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "bot").rglob("*.py")
        if path.relative_to(ROOT).as_posix() != "bot/cli.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Settings"
    ]
    assert offenders == []


def test_exported_studybot_variables_do_not_reach_test_settings(monkeypatch):
    """STUDYBOT_* exported before the run is cleared for the session, so a test's Settings sees only what it sets."""
    import os

    from bot.settings import Settings
    from tests.conftest import clear_studybot_env

    assert not [name for name in os.environ if name.startswith("STUDYBOT_")]
    monkeypatch.setenv("STUDYBOT_QOTD_HOUR", "3")  # as if exported in the shell that ran pytest
    monkeypatch.setenv("STUDYBOT_DATABASE_URL", "postgresql://prod.example/studybot")
    assert Settings(_env_file=None).qotd_hour == 3  # without the clearing it would leak...
    removed = clear_studybot_env(os.environ)
    assert set(removed) == {"STUDYBOT_QOTD_HOUR", "STUDYBOT_DATABASE_URL"}
    settings = Settings(_env_file=None)  # ...and after it, it does not
    assert settings.qotd_hour == 9 and settings.database_url is None
