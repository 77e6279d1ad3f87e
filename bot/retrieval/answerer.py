"""Which ``AnswerService`` answers which server, run off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from bot import metrics
from bot.domain.answering import Answer
from bot.domain.conversation import Turn
from bot.retrieval.servers import GuildIndexes, GuildIndexStatus


class Answerer:
    """Runs the CPU-bound answer pipeline on a worker thread so the event loop keeps acknowledging others.

    Each server is answered from its own index (the shipped one plus its overlay), whichever is live when
    the question arrives; a rebuild in progress never blocks or half-changes an answer.
    """

    def __init__(self, indexes: GuildIndexes) -> None:
        self.indexes = indexes
        # One worker: the encoder and BM25 are not documented as thread-safe, and one question takes ~10 ms.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answer")

    async def ask(
        self, question: str, history: Sequence[Turn] = (), *, via: str = "slash", guild_id: int | None = None
    ) -> Answer:
        loop = asyncio.get_running_loop()
        service = self.indexes.service(guild_id)
        with metrics.ANSWER_SECONDS.time():
            answer = await loop.run_in_executor(self._pool, partial(service.ask, question, history=history))
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
