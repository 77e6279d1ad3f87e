"""The moderators' gap queue: questions the bot could not answer, similar ones grouped into one item.

Grouping is plain Python over the stored questions, so it is deterministic and testable without a database.
``ReviewQueue`` lists, closes and answers the groups through the moderation gate; answering one writes the missing
entry into the server's knowledge overlay in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import StudyBotError
from bot.domain.knowledge_admin import KnowledgeAdmin, UnknownEntry
from bot.domain.moderation import MAX_AUDIT_ROWS, ModerationService
from bot.domain.ports import Actor, AskedRecord, EntryRecord, FeedbackReport, Repos


class UnknownGap(StudyBotError):
    def __init__(self) -> None:
        super().__init__("That question is no longer in the gap queue: someone may have answered it already.")


@dataclass(frozen=True)
class Gap:
    """Similar questions the bot could not answer, as one item of the moderators' queue."""

    id: int  # the group's smallest asked id: stable while the group is open, fits a button's custom_id
    question: str
    count: int
    asked_ids: tuple[int, ...]
    last_asked: datetime


# Words that say nothing about the topic ("what's" splits into "what" and "s").
_STOPWORD_TEXT = (
    "a an and are as at be can could d do does for from how i in is it ll m me my of on or re s should t the "
    "to ve what when where which who why will with would you your about into this that there their them we us"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def normalize_question(text: str) -> tuple[str, frozenset[str]]:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS]
    return " ".join(words), frozenset(words)


def group_gaps(questions: Iterable[AskedRecord], threshold: float = 0.5) -> list[Gap]:
    """Group questions by identical normalized text or word-set Jaccard ≥ threshold with a group's first one.

    Deterministic: questions are taken oldest first and join the first group that matches.
    """
    groups: list[tuple[str, frozenset[str], list[AskedRecord]]] = []
    for asked in sorted(questions, key=lambda a: a.id or 0):
        norm, tokens = normalize_question(asked.question)
        for g_norm, g_tokens, members in groups:
            union = tokens | g_tokens
            if norm == g_norm or (union and len(tokens & g_tokens) / len(union) >= threshold):
                members.append(asked)
                break
        else:
            groups.append((norm, tokens, [asked]))
    gaps = [
        Gap(
            id=members[0].id or 0,
            question=members[0].question,
            count=len(members),
            asked_ids=tuple(m.id or 0 for m in members),
            last_asked=max(m.created_at for m in members),
        )
        for _, _, members in groups
    ]
    return sorted(gaps, key=lambda g: (-g.count, -g.last_asked.timestamp(), g.id))


async def open_gaps(repos: Repos, guild_id: int) -> list[Gap]:
    """The server's open questions, grouped, most asked first."""
    return group_gaps(await repos.open_gap_questions(guild_id))


async def find_gap(repos: Repos, guild_id: int, gap_id: int) -> Gap:
    """The open group holding question ``gap_id`` (a button names any one of its questions)."""
    for gap in await open_gaps(repos, guild_id):
        if gap_id in gap.asked_ids:
            return gap
    raise UnknownGap()


class ReviewQueue:
    """What moderators review: questions the bot could not answer (grouped) and answers learners voted down."""

    def __init__(self, kb_admin: KnowledgeAdmin, moderation: ModerationService) -> None:
        self.kb_admin = kb_admin
        self.moderation = moderation

    async def gaps(self, actor: Actor, guild_id: int | None = None) -> list[Gap]:
        """Open questions the bot could not answer in the actor's server, similar ones grouped, most asked first."""
        async with self.moderation.transaction(actor, "kb.gaps", "", guild_id) as repos:
            return await open_gaps(repos, actor.guild_id)

    async def close_gap(self, actor: Actor, gap_id: int, doc_id: str) -> Gap:
        """Mark a group of questions as answered by an existing entry (this server's or a shipped one)."""
        async with self.moderation.transaction(actor, "kb.close-gap", doc_id) as repos:
            gap = await find_gap(repos, actor.guild_id, gap_id)
            own = await repos.get_entry(actor.guild_id, doc_id)
            if (own is None or own.deleted) and doc_id not in self.kb_admin.shipped:
                raise UnknownEntry(doc_id)
            await repos.close_gap_questions(
                actor.guild_id, gap.asked_ids, doc_id, actor.user_id, self.moderation.clock()
            )
            await self.moderation.audit(repos, actor, "kb.close-gap", doc_id, f"{gap.count}× {gap.question}"[:500])
            return gap

    async def answer_gap(
        self, actor: Actor, gap_id: int, title: str, skill: str, body: str, reason: str = ""
    ) -> EntryRecord:
        """Write the missing entry and close the gap with it, in one transaction."""
        async with self.moderation.transaction(actor, "kb.answer-gap", title) as repos:
            gap = await find_gap(repos, actor.guild_id, gap_id)
            entry = await self.kb_admin.add_in(
                repos, actor, title, skill, body, kind="entry", url=None, tags=(), reason=reason or gap.question
            )
            now = self.moderation.clock()
            await repos.close_gap_questions(actor.guild_id, gap.asked_ids, entry.doc_id, actor.user_id, now)
            await self.moderation.audit(
                repos, actor, "kb.close-gap", entry.doc_id, f"{gap.count}× {gap.question}"[:500]
            )
            return entry

    async def feedback_reports(
        self, actor: Actor, guild_id: int | None = None, limit: int = 20
    ) -> list[FeedbackReport]:
        """👎 votes on answers in the actor's server, newest first, with the question and the learner's comment."""
        async with self.moderation.transaction(actor, "kb.reports", "", guild_id) as repos:
            return await repos.negative_feedback(actor.guild_id, max(1, min(limit, MAX_AUDIT_ROWS)))
