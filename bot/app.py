"""The composition root: settings → storage → services, shared by the CLI, the console and Discord."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.asking import AskLog
from bot.domain.content import KnowledgeBase, load_knowledge
from bot.domain.daily import DailyService
from bot.domain.errors import KnowledgeError
from bot.domain.gaps import ReviewQueue
from bot.domain.knowledge_admin import KnowledgeAdmin
from bot.domain.learners import LearnerService
from bot.domain.moderation import ConfigDefaults, ModerationService
from bot.domain.ports import Clock, utc_now
from bot.domain.quiz import QuizBank, QuizBanks, QuizService
from bot.domain.quiz_admin import QuizAdmin
from bot.settings import Settings
from bot.storage import SqlStore, open_store


def load_kb(settings: Settings) -> KnowledgeBase:
    if not settings.knowledge_dir.is_dir():
        raise KnowledgeError(
            f"The knowledge folder {settings.knowledge_dir} does not exist. "
            "Run StudyBot from the project folder or set STUDYBOT_KNOWLEDGE_DIR."
        )
    kb = load_knowledge(settings.knowledge_dir)
    if kb.problems:
        raise KnowledgeError(
            f"The knowledge base has {len(kb.problems)} problem(s); run `studybot kb validate`.", kb.problems
        )
    return kb


def quiz_bank(kb: KnowledgeBase) -> QuizBank:
    titles = {e.id: e.title for e in kb.entries.values()} | {r.id: r.title for r in kb.resources.values()}
    return QuizBank(kb.quiz.values(), titles)


@dataclass
class State:
    """Everything StudyBot remembers, behind the domain services."""

    store: SqlStore
    kb: KnowledgeBase
    bank: QuizBank
    quiz: QuizService
    learners: LearnerService
    asks: AskLog
    daily: DailyService
    moderation: ModerationService
    kb_admin: KnowledgeAdmin
    banks: QuizBanks  # each server's quiz bank; ``bank`` holds the shipped items only
    quiz_admin: QuizAdmin
    review: ReviewQueue  # what moderators review: unanswered questions and 👎 answers

    async def close(self) -> None:
        await self.store.close()


async def open_state(settings: Settings, clock: Clock = utc_now, kb: KnowledgeBase | None = None) -> State:
    """Load the knowledge base, connect to the database and migrate it to the latest schema."""
    kb = kb if kb is not None else load_kb(settings)
    bank = quiz_bank(kb)
    store = await open_store(settings.database)
    banks = QuizBanks(store, bank)
    quiz = QuizService(store, bank, clock, banks)
    defaults = ConfigDefaults(tuple(settings.help_channels), settings.qotd_channel_id, settings.qotd_hour)
    moderation = ModerationService(store, clock, defaults)
    kb_admin = KnowledgeAdmin(store, kb, moderation, clock)
    return State(
        store,
        kb,
        bank,
        quiz,
        LearnerService(store, bank, clock, banks),
        AskLog(store, clock),
        DailyService(store, bank, quiz, clock),
        moderation=moderation,
        kb_admin=kb_admin,
        banks=banks,
        quiz_admin=QuizAdmin(store, banks, moderation, clock),
        review=ReviewQueue(kb_admin, moderation),
    )
