"""The composition root: settings → storage → index → services, shared by the CLI, the console and Discord.

Every surface gets its services here and nowhere else:

- ``open_services``: the database-backed services (quiz, streaks, moderation, the question log);
- ``shipped_answers``: answering from the shipped index alone (``studybot ask`` and the console's questions),
  with no database and no torch;
- ``open_bot_services``: both, with each server answered from its own index (``open_indexes``, attached once
  loaded) and questions logged as asked.

Imports happen inside the functions: ``studybot ask`` must not pay for SQLAlchemy, nor the bot for the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain.ports import Clock, utc_now
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.domain.answering import AnswerService
    from bot.domain.asking import AskLog, Questions
    from bot.domain.content import KnowledgeBase
    from bot.domain.daily import DailyService
    from bot.domain.gaps import ReviewQueue
    from bot.domain.knowledge_admin import KnowledgeAdmin
    from bot.domain.learners import LearnerService
    from bot.domain.moderation import ModerationService
    from bot.domain.quiz import QuizBank, QuizBanks, QuizService
    from bot.domain.quiz_admin import QuizAdmin
    from bot.domain.resources import ResourceCatalog
    from bot.llm import GuildGenerators
    from bot.retrieval.answerer import Answerer
    from bot.retrieval.servers import GuildIndexes
    from bot.storage import SqlStore

Notify = Callable[[str], None]  # one line of progress for the person waiting (index builds)


def load_kb(settings: Settings) -> KnowledgeBase:
    from bot.domain.content import is_folder, load_knowledge
    from bot.domain.errors import KnowledgeError

    if not is_folder(settings.knowledge_dir):
        raise KnowledgeError(
            f"The knowledge folder {settings.knowledge_dir} does not exist or cannot be read. "
            "Run StudyBot from the project folder or set STUDYBOT_KNOWLEDGE_DIR."
        )
    kb = load_knowledge(settings.knowledge_dir)
    if kb.problems:
        raise KnowledgeError(
            f"The knowledge base has {len(kb.problems)} problem(s); run `studybot kb validate`.", kb.problems
        )
    return kb


def quiz_bank(kb: KnowledgeBase) -> QuizBank:
    from bot.domain.quiz import QuizBank

    titles = {e.id: e.title for e in kb.entries.values()} | {r.id: r.title for r in kb.resources.values()}
    return QuizBank(kb.quiz.values(), titles)


@dataclass
class Services:
    """The service container: every domain service StudyBot runs, over one database connection pool."""

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
    resources: ResourceCatalog
    review: ReviewQueue  # what moderators review: unanswered questions and 👎 answers
    answerer: Answerer | None = None  # each server's answering; only the bot attaches it (open_bot_services)
    generators: GuildGenerators | None = None  # generated answers, when the host configured a model endpoint

    @property
    def questions(self) -> Questions:
        """Answer a question and log it, in one call (the bot's /ask, mentions and help channels)."""
        from bot.domain.asking import Questions

        if self.answerer is None:
            raise RuntimeError("no answerer attached: open the services with open_bot_services")
        return Questions(self.answerer, self.asks)

    async def close(self) -> None:
        if self.answerer is not None:
            self.answerer.close()
        await self.store.close()


async def open_services(settings: Settings, clock: Clock = utc_now, kb: KnowledgeBase | None = None) -> Services:
    """Load the knowledge base, connect to the database and migrate it to the latest schema."""
    from bot.domain.asking import AskLog
    from bot.domain.daily import DailyService
    from bot.domain.gaps import ReviewQueue
    from bot.domain.knowledge_admin import KnowledgeAdmin
    from bot.domain.learners import LearnerService
    from bot.domain.moderation import ConfigDefaults, ModerationService
    from bot.domain.quiz import QuizBanks, QuizService
    from bot.domain.quiz_admin import QuizAdmin
    from bot.domain.resources import ResourceCatalog
    from bot.storage import open_store

    kb = kb if kb is not None else load_kb(settings)
    bank = quiz_bank(kb)
    store = await open_store(settings.database)
    banks = QuizBanks(store, bank)
    quiz = QuizService(store, bank, clock, banks)
    defaults = ConfigDefaults(tuple(settings.help_channels), settings.qotd_channel_id, settings.qotd_hour)
    moderation = ModerationService(store, clock, defaults)
    kb_admin = KnowledgeAdmin(store, kb, moderation, clock)
    return Services(
        store,
        kb,
        bank,
        quiz,
        LearnerService(store, bank, clock, banks),
        AskLog(store, clock),
        DailyService(store, quiz, clock),
        moderation=moderation,
        kb_admin=kb_admin,
        banks=banks,
        quiz_admin=QuizAdmin(store, banks, moderation, clock),
        resources=ResourceCatalog(kb, kb_admin),
        review=ReviewQueue(kb_admin, moderation),
    )


def shipped_answers(settings: Settings, notify: Notify) -> AnswerService:
    """Answering from the shipped index, built first if missing or stale (the CLI and the console)."""
    from bot.retrieval.shipped import IndexService

    return IndexService(settings).answer_service(notify)


def open_indexes(settings: Settings, notify: Notify) -> GuildIndexes:
    """Each server answered from its own index (shipped plus overlay); blocking: file reads, model loading and,
    on a fresh data folder, the shipped index's build (minutes on a slow machine), run in a child process so
    this one never holds the build's torch (``bot.retrieval.child_build``)."""
    from bot.retrieval.embedders import reusing_embedder
    from bot.retrieval.servers import GuildIndexes, service_factory
    from bot.retrieval.shipped import IndexService

    index = IndexService(settings, build_in_child=True)
    base = index.ensure(notify, _progress_lines(notify))
    encoder = index.query_embedder()
    make = service_factory(encoder, settings.abstain_threshold)
    return GuildIndexes(
        base,
        settings.index_dir,
        make,
        reusing_embedder(),
        memory_budget=settings.index_memory_bytes,
        query_embedder=encoder,
    )


def _progress_lines(notify: Notify, every: float = 10.0) -> Callable[[str, int, int], None]:
    """A build's progress as a line at most every ``every`` seconds per stage (a fresh build takes minutes)."""
    import time

    last: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != "done" and (stage not in last or now - last[stage] >= every or done >= total):
            last[stage] = now
            notify(f"Building the index: {stage} {done}/{total}.")

    return progress


async def open_bot_services(settings: Settings, clock: Clock = utc_now) -> Services:
    """The database services with an answerer that is not ready yet: the bot connects at once and attaches
    the index (``open_indexes``, off the event loop) when it is loaded; questions meanwhile get ``NotesLoading``."""
    from bot.retrieval.answerer import Answerer

    services = await open_services(settings, clock)
    services.answerer = Answerer()
    from bot.llm import guild_generators

    services.generators = guild_generators(settings, services.answerer)
    return services
