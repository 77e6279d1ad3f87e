"""The shipped index: kept in step with the knowledge folder, and the answering service over it."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.domain.answering import AnswerService
from bot.domain.content import fingerprint, is_folder, load_knowledge
from bot.domain.errors import KnowledgeError
from bot.retrieval.embedders import EmbedderFactory, build_embedder, query_embedder
from bot.settings import Settings
from index.chunking import CHUNKER_VERSION, Chunk, chunk_document
from index.confidence import Calibration
from index.embedder import MODEL_ID, Embedder
from index.retriever import HybridRetriever
from index.store import (
    BuildReport,
    IndexCorrupt,
    IndexMissing,
    IndexOutdated,
    IndexStore,
    LoadedIndex,
    ModelMismatch,
    Progress,
    offtopic_topics,
)

log = logging.getLogger(__name__)
Notify = Callable[[str], None]


@dataclass
class IndexStatus:
    built: bool
    stale: bool
    chunks: int
    model_id: str | None
    built_at: str | None
    dense_index: str | None
    build_id: str | None


def sources_stamp(knowledge_dir: Path) -> str:
    """What the shipped index is built from: the knowledge files, the rules that cut them into chunks, and the
    off-topic list, whose vectors it holds too.

    Without the list, editing index/offtopic.txt left "Index up to date" and the old categories in use.
    """
    topics = hashlib.sha256("\n".join(offtopic_topics()).encode()).hexdigest()[:16]
    return f"{fingerprint(knowledge_dir)}:{topics}:c{CHUNKER_VERSION}"


def knowledge_chunks(knowledge_dir: Path, *, strict: bool = True) -> tuple[list[Chunk], str, list[str]]:
    """The chunks to index, the sources' fingerprint, and the knowledge base's problems.

    ``strict`` (``studybot index build``) refuses a knowledge base with any problem; otherwise the valid
    files are indexed and the problems returned, unless nothing at all is valid.
    """
    if not is_folder(knowledge_dir):
        raise KnowledgeError(
            f"The knowledge folder {knowledge_dir} does not exist or cannot be read. "
            "Run StudyBot from the project folder or set STUDYBOT_KNOWLEDGE_DIR."
        )
    stamp = sources_stamp(knowledge_dir)
    kb = load_knowledge(knowledge_dir)
    if kb.problems and (strict or not kb.entries):
        raise KnowledgeError(
            f"The knowledge base has {len(kb.problems)} problem(s); run `studybot kb validate`.", kb.problems
        )
    return [c for doc in kb.documents() for c in chunk_document(doc)], stamp, kb.problems


def build_shipped(
    knowledge_dir: Path,
    store: IndexStore,
    embedder_factory: EmbedderFactory = build_embedder,
    *,
    force: bool = False,
    progress: Progress | None = None,
    strict: bool = True,
) -> BuildReport:
    """Build the shipped index from ``knowledge_dir`` into ``store`` (here, or in the build child)."""
    chunks, stamp, problems = knowledge_chunks(knowledge_dir, strict=strict)
    return store.build(
        chunks,
        embedder_factory,
        MODEL_ID,
        sources_fingerprint=stamp,
        progress=progress,
        force=force,
        problems=problems,
    )


class IndexService:
    def __init__(
        self, settings: Settings, embedder_factory: EmbedderFactory = build_embedder, *, build_in_child: bool = False
    ) -> None:
        """``build_in_child``: ``ensure`` builds in a child process (``child_build``), as the bot does, so this
        process never imports torch; ``embedder_factory`` then serves only ``build`` called directly."""
        self.settings = settings
        self.build_in_child = build_in_child
        self.store = IndexStore(settings.index_dir)
        self.embedder_factory = embedder_factory
        self._query_embedder: Embedder | None = None

    @property
    def knowledge_dir(self) -> Path:
        return self.settings.knowledge_dir

    def chunks(self, *, strict: bool = True) -> tuple[list[Chunk], str, list[str]]:
        """The chunks to index, the sources' fingerprint, and the knowledge base's problems (``knowledge_chunks``)."""
        return knowledge_chunks(self.knowledge_dir, strict=strict)

    def status(self) -> IndexStatus:
        manifest = self.store.manifest()
        if manifest is None:
            return IndexStatus(False, True, 0, None, None, None, None)
        stale = (
            manifest.get("model_id") != MODEL_ID
            or not is_folder(self.knowledge_dir)
            or manifest.get("sources_fingerprint") != sources_stamp(self.knowledge_dir)
        )
        return IndexStatus(
            True,
            stale,
            len(manifest.get("chunks", [])),
            manifest.get("model_id"),
            manifest.get("built_at"),
            manifest.get("dense_index"),
            manifest.get("build_id"),
        )

    def build(self, *, force: bool = False, progress: Progress | None = None, strict: bool = True) -> BuildReport:
        return build_shipped(
            self.knowledge_dir, self.store, self.embedder_factory, force=force, progress=progress, strict=strict
        )

    def ensure(self, notify: Notify, progress: Progress | None = None) -> LoadedIndex:
        """Open the live index, (re)building it first if it is missing, stale, damaged or foreign.

        A knowledge base with problems never stops answers: the last good index keeps answering (or, with none,
        the valid files are indexed), with a warning naming the problems.
        """
        reason: str | None = None
        force = False
        loaded: LoadedIndex | None = None
        try:
            loaded = self.store.open(MODEL_ID)
        except IndexMissing:
            reason = "No index yet: building it now (first run takes a minute)."
        except ModelMismatch as exc:
            reason, force = f"Refusing the existing index because {exc}; rebuilding it from scratch.", True
        except IndexOutdated as exc:
            reason = f"The index was built by an older version of StudyBot ({exc}); rebuilding it in the new format."
        except IndexCorrupt as exc:
            reason = f"The index is damaged ({exc}); rebuilding it."
        else:
            if loaded.notice:
                notify(f"Warning: {loaded.notice}.")
                log.warning("index: %s", loaded.notice)
            fresh = is_folder(self.knowledge_dir) and loaded.manifest.get("sources_fingerprint") == sources_stamp(
                self.knowledge_dir
            )
            if fresh or not is_folder(self.knowledge_dir):  # with nothing to rebuild from, the last good index answers
                if loaded.notice:
                    self.store.repoint(loaded.build_id)
                self._warn_problems(notify, loaded.manifest.get("problems") or [])
                return loaded
            reason = "The knowledge base changed since the last build: updating the index."
        if loaded is not None:
            problems = load_knowledge(self.knowledge_dir).problems
            if problems:  # a bad file: keep answering from the last good build rather than dropping entries
                self._warn_problems(notify, problems, stale=True)
                return loaded
        notify(reason)
        log.info("index rebuild: %s", reason)
        if self.build_in_child:
            from bot.retrieval.child_build import build_in_child

            report = build_in_child(self.knowledge_dir, self.settings.index_dir, force=force, progress=progress)
        else:
            report = self.build(force=force, progress=progress, strict=False)
        notify(
            f"Index ready: {report.chunks} chunks ({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f}s."
        )
        built = self.store.open(MODEL_ID)
        self._warn_problems(notify, built.manifest.get("problems") or [])
        return built

    @staticmethod
    def _warn_problems(notify: Notify, problems: list[str], *, stale: bool = False) -> None:
        if not problems:
            return
        served = "answering from the last good index" if stale else "those files are left out of answers"
        notify(
            f"Warning: the knowledge base has {len(problems)} problem(s) ({problems[0]}"
            + (", …" if len(problems) > 1 else "")
            + f"); {served}. Run `studybot kb validate`."
        )
        log.warning("knowledge base problems: %s", "; ".join(problems[:20]))

    def query_embedder(self) -> Embedder:
        if self._query_embedder is None:
            self._query_embedder = query_embedder()
        return self._query_embedder

    def answer_service(self, notify: Notify, progress: Progress | None = None) -> AnswerService:
        loaded = self.ensure(notify, progress)
        retriever = HybridRetriever(loaded, self.query_embedder())
        return AnswerService(retriever, Calibration.load(), self.settings.abstain_threshold)
