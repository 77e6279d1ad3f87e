"""Which ``AnswerService`` answers which server, run off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bot import metrics
from bot.domain.answering import Answer
from bot.domain.asking import NotesLoading, NotesUnavailable
from bot.domain.conversation import Turn
from bot.retrieval.servers import GuildIndexes, GuildIndexStatus


class Answerer:
    """Runs the CPU-bound answer pipeline on a worker thread so the event loop keeps acknowledging others.

    Each server is answered from its own index (the shipped one plus its overlay), whichever is live when
    the question arrives; a rebuild in progress never blocks or half-changes an answer. It exists before the
    index does (the bot connects first): until ``attach``, questions raise ``NotesLoading``.
    """

    def __init__(self, indexes: GuildIndexes | None = None) -> None:
        self._indexes = indexes  # None while the index loads (the bot connects first): questions get NotesLoading
        self._failure: str | None = None  # the error id of a load that failed: questions get NotesUnavailable
        # One worker: the encoder and BM25 are not documented as thread-safe, and one question takes ~10 ms.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answer")

    @property
    def ready(self) -> bool:
        return self._indexes is not None

    @property
    def failure(self) -> str | None:
        return self._failure

    @property
    def indexes(self) -> GuildIndexes:
        if self._indexes is None:
            raise NotesLoading() if self._failure is None else NotesUnavailable(self._failure)
        return self._indexes

    def fail(self, error_id: str) -> None:
        """The index could not be loaded: refuse questions with this error id instead of "still loading"."""
        self._failure = error_id

    def attach(self, indexes: GuildIndexes) -> None:
        """The index has loaded: answer from now on."""
        self._indexes = indexes

    def memory_bytes(self) -> int:
        """The loaded indexes' estimated size (0 while loading), for the index-memory gauge."""
        return 0 if self._indexes is None else self._indexes.memory_bytes()

    async def ask(
        self, question: str, history: Sequence[Turn] = (), *, via: str = "slash", guild_id: int | None = None
    ) -> Answer:
        indexes = self.indexes  # NotesLoading while the index loads, NotesUnavailable if it failed
        loop = asyncio.get_running_loop()
        with metrics.ANSWER_SECONDS.time():
            answer = await loop.run_in_executor(self._pool, partial(_answer, indexes, question, history, guild_id))
        metrics.QUESTIONS.labels(via, "abstained" if answer.abstained else "answered").inc()
        return answer

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The answering thread: other work that uses the query encoder (the grounding check) runs here too."""
        return self._pool

    def status(self, guild_id: int) -> GuildIndexStatus:
        """The server's index as it answers now (for /kb status)."""
        return self.indexes.status(guild_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _answer(indexes: GuildIndexes, question: str, history: Sequence[Turn], guild_id: int | None) -> Answer:
    # On the worker: picking the service may read an evicted server's index back from disk.
    return indexes.service(guild_id).ask(question, history=history)
