"""Every moderator command goes through the one moderation gate, on a real SQLite file and a real PostgreSQL database.

The list of commands is read from the moderation cog and its views, so a new moderator command without a case
here fails ``test_every_moderator_call_in_the_cog_has_a_case``.
"""

from __future__ import annotations

import ast
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Services
from bot.domain.errors import StudyBotError
from bot.domain.moderation import NotModerator, Refused
from bot.domain.ports import Actor, AskedRecord, AuditRecord, Learner
from tests.helpers import CONCEPT

ROOT = Path(__file__).resolve().parents[2]
MODERATION_EXT = ROOT / "bot" / "exts" / "moderation"
SERVICES = {"kb_admin", "quiz_admin", "moderation", "review"}  # the Services fields that hold moderator services
# Reached from the moderation cog without the gate, on purpose: autocomplete and the pre-fill of a form, which
# show a server's entries and items (learners see them in answers and quizzes anyway); the command that opens
# the form calls ``moderation.check`` first, and saving goes through the gate again.
OPEN_READS = {
    ("kb_admin", "search_entries"),
    ("kb_admin", "entry"),
    ("quiz_admin", "search_items"),
    ("quiz_admin", "item"),
}

GUILD, ROLE, OTHER_ROLE = 500, 777, 778
MOD = Actor(user_id=11, guild_id=GUILD, command="/kb add", manage_guild=True, name="mod")
MEMBER = Actor(user_id=22, guild_id=GUILD, command="/kb add", role_ids=frozenset({OTHER_ROLE}), name="member")
TWO_SECTIONS = "## What is it?\nA short explanation of the idea in plain words.\n\n## Why care?\nBecause it matters."
ATTENTION = CONCEPT.format(slug="attention", title="Attention", body="Attention weighs the inputs by relevance.")
SHIPPED_ID = "concept-overfitting"


@dataclass(frozen=True)
class World:
    """What the calls act on: a server entry (two revisions), an open gap and a shipped quiz item."""

    doc_id: str
    gap_id: int
    item_id: str


Call = Callable[[Services, Actor, World], Awaitable[object]]

# (Services field, method) → (the audited action, a call of it as the cog makes it).
CASES: dict[tuple[str, str], tuple[str, Call]] = {
    ("moderation", "check"): ("kb.add", lambda s, a, w: s.moderation.check(a, "kb.add")),
    ("moderation", "set_moderator_role"): (
        "config.moderator-role",
        lambda s, a, w: s.moderation.set_moderator_role(a, OTHER_ROLE),
    ),
    ("moderation", "set_help_channels"): (
        "config.help-channels",
        lambda s, a, w: s.moderation.set_help_channels(a, [1]),
    ),
    ("moderation", "set_qotd"): ("config.qotd", lambda s, a, w: s.moderation.set_qotd(a, 5, 8)),
    ("moderation", "set_generation"): ("config.generation", lambda s, a, w: s.moderation.set_generation(a, False)),
    ("moderation", "show"): ("config.show", lambda s, a, w: s.moderation.show(a)),
    ("kb_admin", "add"): ("kb.add", lambda s, a, w: s.kb_admin.add(a, "Mine", "python", TWO_SECTIONS)),
    ("kb_admin", "edit"): (
        "kb.edit",
        lambda s, a, w: s.kb_admin.edit(a, w.doc_id, title="X", skill="python", body=TWO_SECTIONS),
    ),
    ("kb_admin", "remove"): ("kb.remove", lambda s, a, w: s.kb_admin.remove(a, w.doc_id)),
    ("kb_admin", "hide"): ("kb.hide", lambda s, a, w: s.kb_admin.hide(a, SHIPPED_ID)),
    ("kb_admin", "unhide"): ("kb.unhide", lambda s, a, w: s.kb_admin.unhide(a, SHIPPED_ID)),
    ("kb_admin", "history"): ("kb.history", lambda s, a, w: s.kb_admin.history(a, w.doc_id)),
    ("kb_admin", "diff"): ("kb.history", lambda s, a, w: s.kb_admin.diff(a, w.doc_id, 1, 2)),
    ("kb_admin", "rollback"): ("kb.rollback", lambda s, a, w: s.kb_admin.rollback(a, w.doc_id, 1)),
    ("kb_admin", "import_files"): (
        "kb.import",
        lambda s, a, w: s.kb_admin.import_files(a, [("attention.md", ATTENTION.encode())]),
    ),
    ("review", "gaps"): ("kb.gaps", lambda s, a, w: s.review.gaps(a)),
    ("review", "answer_gap"): (
        "kb.answer-gap",
        lambda s, a, w: s.review.answer_gap(a, w.gap_id, "Transformers", "machine-learning", TWO_SECTIONS),
    ),
    ("review", "feedback_reports"): ("kb.reports", lambda s, a, w: s.review.feedback_reports(a)),
    ("quiz_admin", "add_item"): (
        "quiz.add",
        lambda s, a, w: s.quiz_admin.add_item(
            a,
            "math",
            "Which zebra stripe pattern is unique to each individual zebra?",
            ["All of them", "None of them", "Only the tail", "Only the legs"],
            0,
            "Every zebra has its own stripe pattern, like a fingerprint.",
            "concept-bias-variance-tradeoff",
        ),
    ),
    ("quiz_admin", "edit_item"): ("quiz.edit", lambda s, a, w: s.quiz_admin.edit_item(a, w.item_id, topic="zebras")),
    ("quiz_admin", "suspend"): ("quiz.suspend", lambda s, a, w: s.quiz_admin.suspend(a, w.item_id, "wrong")),
    ("quiz_admin", "restore"): ("quiz.restore", lambda s, a, w: s.quiz_admin.restore(a, w.item_id)),
    ("quiz_admin", "reports"): ("quiz.reports", lambda s, a, w: s.quiz_admin.reports(a)),
}


def _service_of(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """``…services.<service>`` or a local name bound to one, else None."""
    if isinstance(node, ast.Attribute) and node.attr in SERVICES:
        inner = node.value
        if isinstance(inner, ast.Attribute) and inner.attr == "services":
            return node.attr
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    return None


def moderator_calls() -> set[tuple[str, str]]:
    """Every (service, method) the moderation cog and its views call."""
    found: set[tuple[str, str]] = set()
    for path in sorted(MODERATION_EXT.glob("*.py")):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            aliases: dict[str, str] = {}
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    service = _service_of(node.value, {})
                    if service is not None:
                        aliases[node.targets[0].id] = service
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    service = _service_of(node.func.value, aliases)
                    if service is not None:
                        found.add((service, node.func.attr))
    return found


def test_every_moderator_call_in_the_cog_has_a_case() -> None:
    """The cases below are exactly the service methods the moderation cog and views reach, minus the open reads."""
    calls = moderator_calls()
    assert calls >= OPEN_READS, "an open read is no longer used: drop it from OPEN_READS"
    assert calls - OPEN_READS == set(CASES)


async def make_world(state: Services) -> World:
    """An entry with two revisions, a question the bot could not answer, a shipped quiz item; a role configured."""
    await state.moderation.set_moderator_role(MOD, ROLE)
    entry = await state.kb_admin.add(MOD, "Attention", "machine-learning", TWO_SECTIONS)
    await state.kb_admin.edit(MOD, entry.doc_id, title="Attention", skill="math", body=TWO_SECTIONS)
    now = state.kb_admin.clock()
    async with state.store.transaction() as repos:
        await repos.save_learner(Learner(user_id=31, name="u31", created_at=now))
        gap_id = await repos.add_asked(AskedRecord(31, GUILD, 1, "what is a transformer?", True, 0.1, (), now))
    return World(entry.doc_id, gap_id, sorted(state.bank.items)[0])


async def audit_rows(state: Services) -> list[AuditRecord]:
    """The server's audit log, oldest first."""
    async with state.store.transaction() as repos:
        return sorted(await repos.audit_entries(GUILD, 1000), key=lambda r: r.id or 0)


@pytest.mark.parametrize("case", list(CASES), ids=".".join)
async def test_the_gate_refuses_a_non_moderator_audits_it_and_admits_the_moderator_role(
    state: Services, case: tuple[str, str]
) -> None:
    """A member without Manage Server or the role is refused with one refused audit row; the role holder is not."""
    action, call = CASES[case]
    world = await make_world(state)
    before = {r.id for r in await audit_rows(state)}
    with pytest.raises(Refused):  # raised by the gate only, after the refused transaction rolled back
        await call(state, MEMBER, world)
    new = [r for r in await audit_rows(state) if r.id not in before]
    assert [(r.outcome, r.action, r.author_id, r.command) for r in new] == [
        ("refused", action, MEMBER.user_id, MEMBER.command)
    ]
    role_mod = Actor(user_id=23, guild_id=GUILD, command="/kb add", role_ids=frozenset({ROLE}))
    try:
        await call(state, role_mod, world)
    except NotModerator:
        pytest.fail(f"{case} refused a holder of the moderator role")
    except StudyBotError:
        pass  # e.g. a shipped quiz item is read-only: refused on its merits, after the gate let the call in
    assert [r.author_id for r in await audit_rows(state) if r.outcome == "refused"] == [MEMBER.user_id]


async def test_audit_values_are_cut_to_their_columns(state: Services) -> None:
    """Over-long commands and targets are cut to the audit columns, for refusals and for successful quiz changes."""
    long_command = "/quizbank " + "x" * 200
    with pytest.raises(Refused):
        await state.quiz_admin.suspend(Actor(22, GUILD, long_command), "q" * 300, "wrong")
    item_id = sorted(state.bank.items)[0]
    await state.quiz_admin.suspend(Actor(11, GUILD, long_command, manage_guild=True), item_id, "wrong")
    rows = await audit_rows(state)
    assert [(r.outcome, len(r.command), len(r.target)) for r in rows] == [
        ("refused", 80, 200),
        ("ok", 80, len(item_id)),
    ]
