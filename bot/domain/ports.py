"""What the domain needs from storage and time, as small Protocols, and the plain records that cross them.

The services in this package only ever see these types, so the same engine runs on SQLite, PostgreSQL or an
in-memory fake, and never learns which. Every datetime here is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from bot.domain.streaks import Event
from index.chunking import Document

Clock = Callable[[], datetime]
SessionKind = Literal["daily", "targeted", "qotd"]

LOCAL_GUILD = 0  # the console and DMs: not a server, so never on a server's leaderboard


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Learner:
    user_id: int
    name: str
    created_at: datetime
    timezone: str = "UTC"
    day_start_hour: int = 0
    leaderboard_hidden: bool = False
    reminder_hour: int | None = None  # local hour for the opt-in reminder; None means off
    last_reminder_day: date | None = None  # the learner's local date of the last reminder sent


@dataclass
class CardRecord:
    """One learner's memory of one quiz item: FSRS state plus plain counts for accuracy."""

    user_id: int
    item_id: str
    state: int
    due: datetime
    step: int | None = None
    stability: float | None = None
    difficulty: float | None = None
    last_review: datetime | None = None
    reps: int = 0
    correct: int = 0


@dataclass
class SessionRecord:
    id: str
    user_id: int
    guild_id: int
    kind: SessionKind
    local_day: date
    item_ids: tuple[str, ...]
    created_at: datetime
    finished_at: datetime | None = None


@dataclass
class ChoiceRecord:
    """A learner's choice on one position of a quiz session (stored once; a second click returns the first)."""

    session_id: str
    position: int
    user_id: int
    guild_id: int
    item_id: str
    choice: int
    correct: bool
    points: int
    rating: int
    answered_at: datetime
    elapsed_ms: int | None = None


@dataclass
class AskedRecord:
    """A question asked in a server, kept for feedback, thread follow-ups and the moderators' gap queue."""

    user_id: int
    guild_id: int
    channel_id: int
    question: str
    abstained: bool
    confidence: float
    sources: tuple[str, ...]
    created_at: datetime
    thread_id: int | None = None
    id: int | None = None
    standalone: str | None = None  # the question as answered, when a follow-up was rewritten to stand alone


@dataclass
class QotdPost:
    guild_id: int
    channel_id: int
    day: date
    item_id: str
    posted_at: datetime
    message_id: int | None = None
    id: int | None = None


@dataclass
class PointsRow:
    user_id: int
    name: str
    points: int
    correct: int


@dataclass
class ExportedData:
    """Everything stored about one learner, table by table, as JSON-ready rows."""

    user_id: int
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# -- moderation: records ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the adapter saw them. The domain decides whether that makes them a moderator."""

    user_id: int
    guild_id: int
    command: str  # e.g. "/kb add" or "studybot kb import", for the audit log
    role_ids: frozenset[int] = frozenset()
    manage_guild: bool = False  # the member holds Manage Server (or is the owner / an administrator)
    name: str = ""
    trusted: bool = False  # the CLI run by the server owner on the host: every action is allowed


@dataclass
class GuildConfig:
    guild_id: int
    moderator_role_id: int | None = None
    help_channels: tuple[int, ...] | None = None  # None: the STUDYBOT_HELP_CHANNELS default
    qotd_channel_id: int | None = None
    qotd_hour: int | None = None
    generate: bool | None = None  # generated answers here; None follows the host (on when an endpoint is set)
    author_id: int | None = None
    updated_at: datetime | None = None


@dataclass
class AuditRecord:
    guild_id: int
    author_id: int
    command: str
    action: str
    target: str
    outcome: Literal["ok", "refused"]
    detail: str
    created_at: datetime
    id: int | None = None


@dataclass
class EntryRecord:
    """A server's own knowledge entry or resource, at its live revision."""

    guild_id: int
    doc_id: str
    kind: Literal["entry", "resource"]
    title: str
    skill: str
    body: str
    created_at: datetime
    updated_at: datetime
    url: str | None = None
    tags: tuple[str, ...] = ()
    revision: int = 1
    deleted: bool = False
    id: int | None = None


@dataclass
class RevisionRecord:
    entry_id: int
    number: int
    action: Literal["add", "edit", "remove", "rollback", "import"]
    author_id: int
    reason: str
    title: str
    skill: str
    body: str
    created_at: datetime
    url: str | None = None
    tags: tuple[str, ...] = ()
    deleted: bool = False
    id: int | None = None


@dataclass(frozen=True)
class KbOverlay:
    """What one server adds to and hides from the shipped knowledge base, at one version."""

    guild_id: int
    version: int
    documents: tuple[Document, ...] = ()
    hidden: frozenset[str] = frozenset()
    # The documents' vectors as the publishing process stored them (``OverlayEncoder``), by key, and their model:
    # a build reuses them instead of embedding again; any text without one is embedded as usual.
    vectors: Mapping[str, bytes] = field(default_factory=dict, compare=False)
    vectors_model: str | None = None


class OverlayEncoder(Protocol):
    """Embeds a server's overlay when it is published, so the processes that hear of the change need not.

    Implemented over the index's encoder (``bot.retrieval.overlay_vectors``); the domain sees keys and bytes only.
    """

    @property
    def model_id(self) -> str: ...

    def keys(self, documents: Sequence[Document]) -> set[str]:
        """The key of every text a server index embeds for these documents (their chunks and sentences)."""
        ...

    async def encode(self, documents: Sequence[Document], skip: Collection[str]) -> dict[str, bytes]:
        """The vectors of those texts whose key is not in ``skip``, computed off the event loop."""
        ...


@dataclass
class QuizOverlayRecord:
    guild_id: int
    item_id: str
    skill: str
    item: dict[str, Any]  # a QuizItem's fields, validated by bot.domain.content.QuizItem
    author_id: int
    created_at: datetime
    updated_at: datetime


@dataclass
class QuizItemState:
    guild_id: int
    item_id: str
    suspended: bool
    reason: str
    updated_at: datetime
    author_id: int | None = None  # None when the reports suspended it automatically


@dataclass
class QuizReport:
    guild_id: int
    item_id: str
    user_id: int
    reason: str
    created_at: datetime
    resolved: bool = False
    id: int | None = None


@dataclass
class FeedbackReport:
    """A 👎 vote on an answer, with the question it was about, for the moderators' review."""

    asked_id: int
    guild_id: int
    user_id: int
    question: str
    comment: str | None
    created_at: datetime
    abstained: bool = False


class ModerationRepo(Protocol):
    """Server configuration and the audit log (implemented in bot/storage/moderation_repos.py)."""

    async def get_guild_config(self, guild_id: int) -> GuildConfig | None: ...
    async def save_guild_config(self, config: GuildConfig) -> None: ...
    async def guild_configs(self) -> list[GuildConfig]: ...
    async def add_audit(self, record: AuditRecord) -> int: ...
    async def audit_entries(self, guild_id: int, limit: int) -> list[AuditRecord]:
        """The server's audit log, newest first."""
        ...


class KbRepo(Protocol):
    """Knowledge overlays, revisions, hidden entries, versions and gaps (bot/storage/kb_repos.py)."""

    async def get_entry(self, guild_id: int, doc_id: str, *, lock: bool = False) -> EntryRecord | None: ...
    async def overlay_entries(self, guild_id: int, *, include_deleted: bool = False) -> list[EntryRecord]: ...
    async def add_entry(self, entry: EntryRecord) -> int:
        """Insert a new entry; returns its row id."""
        ...

    async def update_entry(self, entry: EntryRecord) -> None:
        """Overwrite the live fields of the entry with this row id."""
        ...

    async def add_revision(self, revision: RevisionRecord) -> None: ...
    async def revisions(self, entry_id: int) -> list[RevisionRecord]:
        """Every revision of an entry, newest first."""
        ...

    async def hide_doc(self, guild_id: int, doc_id: str, author_id: int, at: datetime) -> bool:
        """Hide a shipped entry in one server; False when it already was."""
        ...

    async def unhide_doc(self, guild_id: int, doc_id: str) -> bool: ...
    async def hidden_docs(self, guild_id: int) -> set[str]: ...
    async def bump_kb_version(self, guild_id: int, at: datetime) -> int:
        """Add one to the server's overlay version (creating it at 1); returns the new version."""
        ...

    async def kb_version(self, guild_id: int) -> int: ...
    async def kb_versions(self) -> dict[int, int]: ...
    async def overlay_vectors(self, guild_id: int, model_id: str) -> dict[str, bytes]:
        """The stored vectors of the server's live overlay by key (``OverlayEncoder``), for this model."""
        ...

    async def overlay_vector_keys(self, guild_id: int, model_id: str) -> set[str]: ...
    async def put_overlay_vectors(
        self, guild_id: int, model_id: str, keep: Collection[str], add: dict[str, bytes]
    ) -> None:
        """Keep only the ``keep`` keys of the server's vectors for this model, then store ``add`` (new keys)."""
        ...

    async def open_gap_questions(self, guild_id: int) -> list[AskedRecord]:
        """Questions the bot abstained on in this server that no entry has closed yet, oldest first."""
        ...

    async def close_gap_questions(
        self, guild_id: int, asked_ids: Collection[int], doc_id: str, author_id: int, at: datetime
    ) -> int: ...
    async def negative_feedback(self, guild_id: int, limit: int) -> list[FeedbackReport]:
        """👎 votes in this server, newest first."""
        ...

    async def exportable_quiz_items(self, guild_id: int) -> list[QuizOverlayRecord]:
        """The server's own quiz items (read-only here; written through QuizAdminRepo.put_quiz_item)."""
        ...


class QuizAdminRepo(Protocol):
    """Quiz overlays, item suspension and reports (bot/storage/quiz_admin_repos.py)."""

    async def put_quiz_item(self, record: QuizOverlayRecord) -> None:
        """Insert or replace the server's quiz item with this id (used by /quizbank and by imports)."""
        ...

    async def get_quiz_item(self, guild_id: int, item_id: str) -> QuizOverlayRecord | None: ...
    async def quiz_items(self, guild_id: int) -> list[QuizOverlayRecord]: ...
    async def quiz_item_states(self, guild_id: int) -> dict[str, QuizItemState]: ...
    async def set_quiz_item_state(self, state: QuizItemState) -> None: ...
    async def lock_quiz_item(self, guild_id: int, item_id: str, now: datetime) -> QuizItemState:
        """The item's state row, created unsuspended if absent and locked, so reports on it run one at a time."""
        ...

    async def quiz_bank_stamp(self, guild_id: int) -> tuple[Any, ...] | None:
        """Changes whenever the server's overlay or suspensions change; None when it has neither."""
        ...

    async def add_quiz_report(self, report: QuizReport) -> bool:
        """Record the learner's report unless an unresolved one exists; True when it counts as new."""
        ...

    async def quiz_reports(self, guild_id: int, item_id: str | None = None) -> list[QuizReport]:
        """Unresolved reports, oldest first."""
        ...

    async def resolve_quiz_reports(self, guild_id: int, item_id: str) -> int: ...
    async def kb_entry_exists(self, guild_id: int, doc_id: str) -> bool:
        """Whether the server has a live knowledge entry with this id, for quiz items citing it."""
        ...


class LearnerRepo(Protocol):
    async def get_learner(self, user_id: int) -> Learner | None: ...
    async def save_learner(self, learner: Learner) -> None: ...
    async def learners_with_reminders(self) -> list[Learner]: ...
    async def claim_reminder(self, user_id: int, day: date) -> bool:
        """Mark today's reminder as sent unless it already was; True for the one caller that may send it."""
        ...


class CardRepo(Protocol):
    async def cards(
        self, user_id: int, item_ids: Collection[str] | None = None, *, lock: bool = False
    ) -> dict[str, CardRecord]: ...
    async def save_card(self, card: CardRecord) -> None: ...


class SessionRepo(Protocol):
    async def open_session(self, user_id: int, kind: SessionKind, local_day: date) -> SessionRecord | None:
        """The learner's unfinished session of this kind for that day, if any."""
        ...

    async def add_session(self, session: SessionRecord) -> None: ...
    async def add_session_if_absent(self, session: SessionRecord) -> bool: ...
    async def get_session(self, session_id: str, *, lock: bool = False) -> SessionRecord | None: ...
    async def finish_session(self, session_id: str, at: datetime) -> None: ...
    async def choices(self, session_id: str) -> list[ChoiceRecord]: ...
    async def add_choice(self, choice: ChoiceRecord) -> None: ...


class StreakRepo(Protocol):
    async def add_event(self, user_id: int, event: Event) -> None: ...
    async def events(self, user_ids: Collection[int]) -> dict[int, list[Event]]: ...


class StatsRepo(Protocol):
    async def points(self, guild_id: int, since: datetime | None, limit: int) -> list[PointsRow]:
        """Visible learners of a server by points, best first."""
        ...

    async def points_of(self, guild_id: int, user_id: int, since: datetime | None) -> tuple[int, int] | None:
        """(points, rank) of one learner among the visible ones, or None when they have no points there."""
        ...

    async def answer_times(self, user_id: int, since: datetime) -> list[datetime]: ...


class AskRepo(Protocol):
    async def add_asked(self, asked: AskedRecord) -> int: ...
    async def get_asked(self, asked_id: int) -> AskedRecord | None: ...
    async def first_asked_in_thread(self, thread_id: int) -> AskedRecord | None: ...
    async def recent_in_thread(self, thread_id: int, since: datetime, limit: int) -> list[AskedRecord]:
        """The thread's answered questions since ``since``, oldest first, at most ``limit``."""
        ...

    async def set_thread(self, asked_id: int, thread_id: int) -> None: ...
    async def set_feedback(
        self, asked_id: int, user_id: int, guild_id: int, helpful: bool, comment: str | None, at: datetime
    ) -> None: ...


class QotdRepo(Protocol):
    async def add_qotd(self, post: QotdPost) -> int | None:
        """Insert the server's question of the day unless one exists for that day; the new id, or None."""
        ...

    async def get_qotd(self, post_id: int) -> QotdPost | None: ...
    async def set_qotd_message(self, post_id: int, message_id: int) -> None: ...
    async def recent_qotd_items(self, guild_id: int, limit: int) -> list[str]: ...


class PrivacyRepo(Protocol):
    async def export_user(self, user_id: int) -> ExportedData: ...
    async def delete_user(self, user_id: int) -> dict[str, int]:
        """Delete every row about the learner; returns rows deleted per table."""
        ...


class Repos(
    LearnerRepo,
    CardRepo,
    SessionRepo,
    StreakRepo,
    StatsRepo,
    AskRepo,
    QotdRepo,
    PrivacyRepo,
    ModerationRepo,
    KbRepo,
    QuizAdminRepo,
    Protocol,
):
    """Every repository, bound to one transaction."""


class StateStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Repos]:
        """All-or-nothing: commits when the block ends, rolls back when it raises."""
        ...

    async def close(self) -> None: ...
