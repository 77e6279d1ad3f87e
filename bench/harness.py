"""Shared set-up for benchmarks: settings from the environment, an up-to-date index, a retriever."""

from __future__ import annotations

import sys

from bot.domain.answering import AnswerService
from bot.retrieval.shipped import IndexService
from bot.settings import Settings
from index.confidence import Calibration
from index.embedder import NumpyMiniLM
from index.retriever import HybridRetriever


def open_retriever(settings: Settings | None = None) -> HybridRetriever:
    service = IndexService(settings or Settings())
    loaded = service.ensure(lambda msg: print(msg, file=sys.stderr))
    return HybridRetriever(loaded, NumpyMiniLM())


def open_service(settings: Settings | None = None) -> AnswerService:
    return AnswerService(open_retriever(settings), Calibration.load())
