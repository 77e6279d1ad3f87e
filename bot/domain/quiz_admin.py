"""Moderators manage their server's quiz items; learners report wrong ones.

A server's bank is the shipped items minus the ones it suspended plus its own (see ``QuizBanks``). Shipped
items are read-only here: they come from the knowledge folder, which ``studybot kb validate`` guards, so a
server fixes one by suspending it and adding a corrected copy. Every moderator action goes through the
moderation gate (``bot.domain.moderation``), which authorizes it and audits it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.domain.content import QuizItem, Skill
from bot.domain.errors import StudyBotError
from bot.domain.knowledge_admin import Origin
from bot.domain.moderation import ModerationService
from bot.domain.ports import (
    LOCAL_GUILD,
    Actor,
    Clock,
    QuizItemState,
    QuizOverlayRecord,
    QuizReport,
    Repos,
    StateStore,
    utc_now,
)
from bot.domain.quiz import QuizBank, QuizBanks
from bot.domain.uploads import GUILD_PREFIX, free_id, slugify

REPORTS_TO_SUSPEND = 3  # one learner can't take an item down; a few agreeing can, until a moderator looks
SEARCH_LIMIT = 25  # Discord shows at most 25 autocomplete choices
REASON_LENGTH = 200  # quiz_item_state.reason
REPORT_LENGTH = 500
DEFAULT_DIFFICULTY = 2
# What the add/edit parameters are called, for problems a moderator can act on.
_FIELD_NAMES = {"prompt": "question", "options": "choices", "answer": "answer_index", "source": "source_id"}


class QuizAdminError(StudyBotError):
    pass


class QuizItemNotFound(QuizAdminError):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"This server has no quiz item `{item_id[:80]}`. Pick one from the suggestions.")
        self.item_id = item_id


class ShippedItemReadOnly(QuizAdminError):
    def __init__(self, item_id: str) -> None:
        super().__init__(
            f"`{item_id}` ships with StudyBot, so it can't be edited here. Suspend it for this server "
            "and add a corrected copy as your own item instead."
        )
        self.item_id = item_id


class InvalidQuizItem(QuizAdminError):
    """The item failed the same checks as ``studybot kb validate``; ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"• {p}" for p in self.problems)
        super().__init__(f"That quiz item can't be saved yet ({len(self.problems)} problem(s)):\n{lines}")


class NotInServer(QuizAdminError):
    def __init__(self) -> None:
        super().__init__("Quiz items are managed per server: use this command in your study server.")


@dataclass(frozen=True)
class AdminItem:
    item: QuizItem
    origin: Origin
    suspended: bool = False
    reason: str = ""

    # The item's own fields, so an AdminItem can pre-fill an edit form like a QuizItem.
    @property
    def id(self) -> str:
        return self.item.id

    @property
    def skill(self) -> Skill:
        return self.item.skill

    @property
    def topic(self) -> str:
        return self.item.topic

    @property
    def difficulty(self) -> int:
        return self.item.difficulty

    @property
    def prompt(self) -> str:
        return self.item.prompt

    @property
    def options(self) -> list[str]:
        return self.item.options

    @property
    def answer(self) -> int:
        return self.item.answer

    @property
    def explanation(self) -> str:
        return self.item.explanation

    @property
    def source(self) -> str:
        return self.item.source

    @property
    def label(self) -> str:
        """One line for an autocomplete choice."""
        return ("[suspended] " if self.suspended else "") + " ".join(self.prompt.split())


@dataclass(frozen=True)
class ReportOutcome:
    count: int  # unresolved reports of the item, this one included
    suspended_now: bool  # this report was the one that suspended it
    repeated: bool = False  # the learner had already reported it: nothing changed


@dataclass(frozen=True)
class ReportedItem:
    item_id: str
    item: QuizItem | None  # None if it no longer exists (a shipped item removed by an update)
    count: int
    reasons: tuple[str, ...]  # the non-empty ones, oldest first
    suspended: bool


def validate_item(data: dict[str, Any]) -> tuple[QuizItem | None, list[str]]:
    """The ``QuizItem`` schema of the knowledge folder, with problems named after add_item's parameters."""
    try:
        return QuizItem.model_validate(data), []
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = [str(p) for p in e["loc"]]
            name = ".".join([_FIELD_NAMES.get(loc[0], loc[0]), *loc[1:]]) if loc else "item"
            problems.append(f"{name}: {e['msg'].removeprefix('Value error, ')}")
        return None, problems


def _prompt_key(prompt: str) -> str:
    return re.sub(r"\W+", " ", prompt.lower()).strip()


class QuizAdmin:
    def __init__(
        self, store: StateStore, banks: QuizBanks, moderation: ModerationService, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.banks = banks
        self.moderation = moderation
        self.clock = clock

    # -- moderators ----------------------------------------------------------------------------------------

    async def add_item(
        self,
        actor: Actor,
        skill: Skill | str,
        question: str,
        choices: Sequence[str],
        answer_index: int,
        explanation: str,
        source_id: str | None = None,
        *,
        topic: str | None = None,
        difficulty: int = DEFAULT_DIFFICULTY,
    ) -> str:
        """Add one of the server's own items; returns its new id, ``guild-<slug of the question>``."""
        guild_id = _server(actor.guild_id)
        now = self.clock()
        async with self.moderation.transaction(actor, "quiz.add") as repos:
            known = await self.banks.known(repos, guild_id)
            item_id = free_id(f"{GUILD_PREFIX}{slugify(question)}", known.items)
            data = {
                "id": item_id,
                "skill": skill,
                "topic": topic if topic is not None else _default_topic(skill),
                "difficulty": difficulty,
                "prompt": question,
                "options": list(choices),
                "answer": answer_index,
                "explanation": explanation,
                "source": source_id if source_id is not None else f"skill-{skill}",
            }
            item = await self._validated(repos, guild_id, known, data)
            record = QuizOverlayRecord(
                guild_id, item_id, item.skill.value, item.model_dump(mode="json"), actor.user_id, now, now
            )
            await repos.put_quiz_item(record)
            await self.moderation.audit(repos, actor, "quiz.add", item_id, item.prompt[:200])
        self.banks.invalidate(guild_id)
        return item_id

    async def edit_item(
        self,
        actor: Actor,
        item_id: str,
        *,
        skill: Skill | str | None = None,
        question: str | None = None,
        choices: Sequence[str] | None = None,
        answer_index: int | None = None,
        explanation: str | None = None,
        source_id: str | None = None,
        topic: str | None = None,
        difficulty: int | None = None,
    ) -> AdminItem:
        """Replace the given fields of one of the server's own items; the others stay as they were."""
        guild_id = _server(actor.guild_id)
        now = self.clock()
        async with self.moderation.transaction(actor, "quiz.edit", item_id) as repos:
            current = await repos.get_quiz_item(guild_id, item_id)
            if current is None:
                known = await self.banks.known(repos, guild_id)
                raise ShippedItemReadOnly(item_id) if item_id in known.items else QuizItemNotFound(item_id)
            changes = {
                "skill": skill,
                "prompt": question,
                "options": None if choices is None else list(choices),
                "answer": answer_index,
                "explanation": explanation,
                "source": source_id,
                "topic": topic,
                "difficulty": difficulty,
            }
            data = current.item | {k: v for k, v in changes.items() if v is not None}
            known = await self.banks.known(repos, guild_id)
            item = await self._validated(repos, guild_id, known, data | {"id": item_id})
            current.skill, current.item = item.skill.value, item.model_dump(mode="json")
            current.author_id, current.updated_at = actor.user_id, now
            await repos.put_quiz_item(current)
            changed = ", ".join(_FIELD_NAMES.get(k, k) for k, v in changes.items() if v is not None) or "nothing"
            await self.moderation.audit(repos, actor, "quiz.edit", item_id, f"changed {changed}")
            state = (await repos.quiz_item_states(guild_id)).get(item_id)
        self.banks.invalidate(guild_id)
        return _admin_item(item, state)

    async def suspend(self, actor: Actor, item_id: str, reason: str) -> AdminItem:
        """Take an item out of this server's quizzes and questions of the day; sessions already holding it
        can still be finished."""
        guild_id = _server(actor.guild_id)
        now = self.clock()
        reason = " ".join(reason.split())[:REASON_LENGTH]
        async with self.moderation.transaction(actor, "quiz.suspend", item_id) as repos:
            item = await self._existing(repos, guild_id, item_id)
            state = QuizItemState(guild_id, item_id, True, reason, now, actor.user_id)
            await repos.set_quiz_item_state(state)
            await self.moderation.audit(repos, actor, "quiz.suspend", item_id, reason)
        self.banks.invalidate(guild_id)
        return _admin_item(item, state)

    async def restore(self, actor: Actor, item_id: str) -> AdminItem:
        """Put the item back and resolve its reports: the moderator has looked at them."""
        guild_id = _server(actor.guild_id)
        now = self.clock()
        async with self.moderation.transaction(actor, "quiz.restore", item_id) as repos:
            item = await self._existing(repos, guild_id, item_id)
            state = QuizItemState(guild_id, item_id, False, "", now, actor.user_id)
            await repos.set_quiz_item_state(state)
            resolved = await repos.resolve_quiz_reports(guild_id, item_id)
            detail = f"resolved {resolved} report(s)"
            await self.moderation.audit(repos, actor, "quiz.restore", item_id, detail)
        self.banks.invalidate(guild_id)
        return _admin_item(item, state)

    async def reports(self, actor: Actor, guild_id: int | None = None) -> list[ReportedItem]:
        """Items with unresolved reports, most reported first; the actor's server unless told otherwise."""
        guild_id = actor.guild_id if guild_id is None else guild_id
        async with self.moderation.transaction(actor, "quiz.reports", "", guild_id) as repos:
            known = await self.banks.known(repos, guild_id)
            states = await repos.quiz_item_states(guild_id)
            by_item: dict[str, list[QuizReport]] = {}
            for report in await repos.quiz_reports(guild_id):
                by_item.setdefault(report.item_id, []).append(report)
        found = [
            ReportedItem(
                item_id=item_id,
                item=known.get(item_id),
                count=len(reports),
                reasons=tuple(r.reason for r in reports if r.reason),
                suspended=item_id in states and states[item_id].suspended,
            )
            for item_id, reports in by_item.items()
        ]
        return sorted(found, key=lambda r: (-r.count, r.item_id))

    # -- anyone --------------------------------------------------------------------------------------------

    async def item(self, guild_id: int, item_id: str) -> AdminItem:
        async with self.store.transaction() as repos:
            item = (await self.banks.known(repos, guild_id)).get(item_id)
            state = (await repos.quiz_item_states(guild_id)).get(item_id) if guild_id != LOCAL_GUILD else None
        if item is None:
            raise QuizItemNotFound(item_id)
        return _admin_item(item, state)

    async def search_items(self, guild_id: int, text: str, limit: int = SEARCH_LIMIT) -> list[tuple[str, str]]:
        """For autocomplete, ``(item_id, label)``: this server's items, suspended ones too (to restore them)."""
        needle = " ".join(text.lower().split())
        async with self.store.transaction() as repos:
            known = await self.banks.known(repos, guild_id)
            states = await repos.quiz_item_states(guild_id) if guild_id != LOCAL_GUILD else {}

        def rank(item: QuizItem) -> tuple[int, int, str] | None:
            own = 0 if item.id.startswith(GUILD_PREFIX) else 1
            if not needle or item.id.startswith(needle):
                return (0, own, item.id)
            if needle in item.id or needle in " ".join(item.prompt.lower().split()):
                return (1, own, item.id)
            if needle in item.topic.lower():
                return (2, own, item.id)
            return None

        ranked = sorted((r, i) for i in known.items.values() if (r := rank(i)) is not None)
        found = [_admin_item(i, states.get(i.id)) for _, i in ranked[: min(limit, SEARCH_LIMIT)]]
        return [(a.id, a.label) for a in found]

    async def report(self, guild_id: int, item_id: str, user_id: int, reason: str = "") -> ReportOutcome:
        """A learner flags an item as wrong; enough distinct learners suspend it until a moderator looks."""
        guild_id = _server(guild_id)
        now = self.clock()
        reason = reason.strip()[:REPORT_LENGTH]
        async with self.store.transaction() as repos:
            if item_id not in (await self.banks.known(repos, guild_id)).items:
                raise QuizItemNotFound(item_id)
            # Locking the item's state row serialises its reports: two learners reporting at once can't both
            # count two of three and leave it live.
            state = await repos.lock_quiz_item(guild_id, item_id, now)
            new = await repos.add_quiz_report(QuizReport(guild_id, item_id, user_id, reason, now))
            count = len(await repos.quiz_reports(guild_id, item_id))
            suspend = new and count >= REPORTS_TO_SUSPEND and not state.suspended
            if suspend:
                why = f"{REPORTS_TO_SUSPEND} learner reports"
                await repos.set_quiz_item_state(QuizItemState(guild_id, item_id, True, why, now, None))
                # The learners' reports acted, not a moderator: the row names the one whose report tipped it.
                reporter = Actor(user_id, guild_id, "report")
                await self.moderation.audit(repos, reporter, "quiz.autosuspend", item_id, why)
        if suspend:
            self.banks.invalidate(guild_id)
        return ReportOutcome(count=count, suspended_now=suspend, repeated=not new)

    # ------------------------------------------------------------------------------------------------------

    async def _existing(self, repos: Repos, guild_id: int, item_id: str) -> QuizItem:
        item = (await self.banks.known(repos, guild_id)).get(item_id)
        if item is None:
            raise QuizItemNotFound(item_id)
        return item

    async def _validated(self, repos: Repos, guild_id: int, known: QuizBank, data: dict[str, Any]) -> QuizItem:
        item, problems = validate_item(data)
        if item is not None:
            if item.source not in known.titles and not (
                item.source.startswith(GUILD_PREFIX) and await repos.kb_entry_exists(guild_id, item.source)
            ):
                problems.append(f"source_id: no knowledge entry or resource has the id '{item.source}'")
            key = _prompt_key(item.prompt)
            twin = next((i.id for i in known.items.values() if i.id != item.id and _prompt_key(i.prompt) == key), None)
            if twin is not None:
                problems.append(f"question: the same question is already item '{twin}'")
        if problems or item is None:
            raise InvalidQuizItem(problems)
        return item


def _server(guild_id: int) -> int:
    if guild_id == LOCAL_GUILD:
        raise NotInServer()
    return guild_id


def _default_topic(skill: Skill | str) -> str:
    try:
        return Skill(skill).label
    except ValueError:
        return "general"  # the skill itself is reported as invalid


def _admin_item(item: QuizItem, state: QuizItemState | None) -> AdminItem:
    return AdminItem(
        item=item,
        origin="server" if item.id.startswith(GUILD_PREFIX) else "shipped",
        suspended=state is not None and state.suspended,
        reason=state.reason if state is not None and state.suspended else "",
    )
