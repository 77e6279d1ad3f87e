"""The client for an OpenAI-compatible ``/chat/completions`` endpoint (Ollama, llama.cpp, vLLM, LM Studio, OpenAI).

aiohttp is already StudyBot's HTTP client (discord.py depends on it), so streaming needs no new dependency.
Every failure becomes a ``GenerationFailed`` with a short reason and a message safe to show: it names the host,
never the key, and says what to fix. The caller then falls back to the extractive answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from bot.domain.generation import ChatModel, Generated, GenerationFailed, Generator, Message

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from bot.domain.answering import Answer, AnswerService
    from bot.domain.conversation import Turn
    from bot.domain.grounding import GroundingChecker, WordRarity
    from bot.settings import Settings

log = logging.getLogger(__name__)

DOMAIN_WORD_SHARE = 0.15  # see ``lexicon``: 0.10-0.20 all give the same benchmark figures
RETRY_AFTER_MAX = 5.0  # seconds a 429 may ask us to wait and still be retried once; longer falls back at once
BODY_SNIPPET = 200  # characters of an error body worth showing


class LLMConfigError(ValueError):
    """The generation settings cannot work (for example a base URL that is not a URL); the message says why."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None
    timeout_s: float
    max_tokens: int

    @property
    def chat_url(self) -> str:
        """``…/chat/completions`` under the base; a bare host gets ``/v1`` first, as every compatible server uses."""
        parts = urlsplit(self.base_url.rstrip("/"))
        path = parts.path
        if not path.endswith("/chat/completions"):
            path = (path or "/v1") + "/chat/completions"
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    @property
    def shown_url(self) -> str:
        """The endpoint as it may be shown: without any user:password part."""
        parts = urlsplit(self.chat_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def llm_config(settings: Settings) -> LLMConfig | None:
    """The generation settings, or None when generation is off; raises ``LLMConfigError`` when they cannot work."""
    raw = (settings.llm_base_url or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise LLMConfigError(
            f"STUDYBOT_LLM_BASE_URL is not an http(s) URL ({raw[:80]!r}); "
            "use for example http://127.0.0.1:8080/v1 (llama.cpp) or http://127.0.0.1:11434/v1 (Ollama)."
        )
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise LLMConfigError(f"STUDYBOT_LLM_BASE_URL has an invalid port ({raw[:80]!r}).") from None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LLMConfig(raw, settings.llm_model, key or None, settings.llm_timeout_s, settings.llm_max_tokens)


@dataclass(frozen=True)
class CheckReport:
    model: str
    first_token_s: float
    tokens_per_s: float
    tokens: int
    text: str


def _failed(reason: str, message: str) -> GenerationFailed:
    return GenerationFailed(reason, message)


class OpenAIChat:
    """Streams a chat completion; a ``ChatModel`` for the domain's generator."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    def _payload(self, messages: Sequence[Message], max_tokens: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "messages": [dict(m) for m in messages],
            "stream": True,
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": 0.2,  # grounded answers: little room to wander from the passages
        }
        if self.config.model:
            payload["model"] = self.config.model
        return payload

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    async def stream(self, messages: Sequence[Message], max_tokens: int | None = None) -> AsyncIterator[str]:
        """Yield the answer's text as it arrives; raise ``GenerationFailed`` on anything but a clean stream."""
        import aiohttp

        cfg = self.config
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(cfg.timeout_s, 10.0), sock_read=cfg.timeout_s)
        where = cfg.shown_url
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                for attempt in range(2):
                    async with session.post(
                        cfg.chat_url, json=self._payload(messages, max_tokens), headers=self._headers()
                    ) as resp:
                        if resp.status == 429 and attempt == 0:
                            wait = _retry_after(resp.headers.get("Retry-After"))
                            if wait is not None and wait <= RETRY_AFTER_MAX:
                                log.info("LLM endpoint rate-limited us; retrying in %.1fs", wait)
                                await asyncio.sleep(wait)
                                continue
                        await _raise_for_status(resp, where)
                        async for text in _read_body(resp, where):
                            yield text
                        return
        except GenerationFailed:
            raise
        except TimeoutError:
            raise _failed("timeout", f"The model at {where} stopped answering within {cfg.timeout_s:g}s.") from None
        except aiohttp.ClientConnectionError as exc:
            raise _failed(
                "connection", f"Could not reach {where} ({type(exc).__name__}): is the server running?"
            ) from None
        except aiohttp.ClientError as exc:
            raise _failed("garbage", f"The endpoint {where} sent a broken response ({type(exc).__name__}).") from None

    async def check(self) -> CheckReport:
        """Ask for a short reply and time it: the model, time to first token, tokens per second."""
        messages: list[Message] = [{"role": "user", "content": "Say in one short sentence what overfitting is."}]
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        async with asyncio.timeout(self.config.timeout_s):
            async for text in self.stream(messages, max_tokens=48):
                if first is None and text.strip():
                    first = time.perf_counter()
                pieces.append(text)
        ended = time.perf_counter()
        if first is None:
            raise _failed("empty", f"The endpoint {self.config.shown_url} answered, but with no text.")
        tokens = len(pieces)
        rate = (tokens - 1) / (ended - first) if tokens > 1 and ended > first else 0.0
        return CheckReport(self.config.model or "(server default)", first - started, rate, tokens, "".join(pieces))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: too far ahead to wait for in a chat


async def _raise_for_status(resp: Any, where: str) -> None:
    status = resp.status
    if status == 200:
        return
    body = (await resp.text(errors="replace"))[:BODY_SNIPPET] if status != 429 else ""
    if status in {401, 403}:
        raise _failed("auth", f"The endpoint {where} refused the API key (HTTP {status}): check STUDYBOT_LLM_API_KEY.")
    if status in {404, 405}:
        raise _failed(
            "not_compatible",
            f"{where} has no chat-completions API (HTTP {status}): is STUDYBOT_LLM_BASE_URL an OpenAI-compatible "
            "endpoint such as http://127.0.0.1:8080/v1?",
        )
    if status == 429:
        raise _failed("rate_limited", f"The endpoint {where} is rate-limiting requests (HTTP 429).")
    detail = " ".join(body.split())
    raise _failed("http_error", f"The endpoint {where} failed with HTTP {status}" + (f": {detail}" if detail else "."))


async def _read_body(resp: Any, where: str) -> AsyncIterator[str]:
    """Server-sent events (``data: {json}`` lines up to ``data: [DONE]``); a plain JSON reply is accepted too."""
    kind = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "application/json":  # a server that ignores "stream": one whole completion
        data = _json(await resp.text(errors="replace"), where)
        content = _field(data, where, "message")
        if content:
            yield content
        return
    if kind != "text/event-stream":
        raise _failed(
            "not_compatible",
            f"{where} answered with {kind or 'no content type'}, not a chat-completions stream: "
            "is it an OpenAI-compatible endpoint?",
        )
    async for raw in resp.content:
        line = raw.decode("utf-8", errors="replace").strip()
        if not line or line.startswith(":") or not line.startswith("data:"):
            continue  # blank separators, comments and event names carry no text
        data_text = line[5:].strip()
        if data_text == "[DONE]":
            return
        content = _field(_json(data_text, where), where, "delta")
        if content:
            yield content


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise _failed("garbage", f"The endpoint {where} streamed something that is not JSON.") from None


def _field(data: Any, where: str, key: str) -> str:
    """``choices[0][key].content``; an error object or any other shape is garbage, not an answer."""
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        error = data["error"]
        message = error.get("message", "") if isinstance(error, dict) else str(error)
        raise _failed("http_error", f"The endpoint {where} reported an error: {' '.join(str(message).split())[:120]}")
    try:
        choice = data["choices"][0] if data["choices"] else {}
        part = choice.get(key) or {}
        content = part.get("content")
    except (KeyError, TypeError, AttributeError, IndexError):
        raise _failed("garbage", f"The endpoint {where} streamed chunks that are not chat completions.") from None
    if content is not None and not isinstance(content, str):
        raise _failed("garbage", f"The endpoint {where} streamed chunks that are not chat completions.")
    return content or ""


# -- wiring: the generator for an answer service, and a blocking front for the CLI and console ---------------


def lexicon_for(service: AnswerService) -> set[str]:
    """Stems of the knowledge base's technical terms, from its index's entry titles and texts."""
    chunks = [c for c in service.retriever.index.chunks if c.kind == "entry"]
    documents: dict[str, str] = {}
    for c in chunks:
        documents[c.doc_id] = documents.get(c.doc_id, "") + "\n" + c.text
    return lexicon({c.title for c in chunks}, documents.values())


def rarity_for(service: AnswerService) -> WordRarity:
    """How rare each word is in the index's chunks, for the grounding check's rare-outside-word rule."""
    from bot.domain.grounding import WordRarity

    return WordRarity(c.title + "\n" + c.text for c in service.retriever.index.chunks)


def checker_for(service: AnswerService) -> GroundingChecker:
    """A grounding checker over ``service``'s notes: its terms and word rarity, computed once per index."""
    from bot.domain.grounding import GroundingChecker

    return GroundingChecker(service.retriever.embedder.encode, lexicon_for(service), rarity=rarity_for(service))


def lexicon(titles: Iterable[str], documents: Iterable[str] = (), max_share: float = DOMAIN_WORD_SHARE) -> set[str]:
    """Stems of technical terms: the words of entry titles and the library names, minus generic words.

    A title word found in more than ``max_share`` of the entries ("score", "series", "model") is everyday
    vocabulary in these notes: demanding it in the cited passage would drop honest paraphrases.
    """
    from bot.domain.grounding import stem
    from bot.domain.questions import LIBRARIES
    from index.text import STOPWORDS

    names = set(titles) | set(LIBRARIES) | {a for aliases in LIBRARIES.values() for a in aliases}
    words = {w.lower() for name in names for w in re.findall(r"[A-Za-z][A-Za-z0-9]{3,}", name)}
    stems = {stem(w) for w in words if w not in STOPWORDS and w not in _GENERIC}
    docs = [{stem(w) for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", d)} for d in documents]
    if docs:
        stems = {s for s in stems if sum(s in d for d in docs) <= max_share * len(docs)}
    # Multi-word terms ("learning rate", "gradient boosting") are checked whole, so a swap made of
    # everyday words ("the learning rate reaching early layers") is still caught.
    for name in names:
        for piece in re.split(r"\s+(?:vs\.?|and|or)\s+|[,:()/]", name.lower()):
            parts = [stem(w) for w in re.findall(r"[a-z][a-z0-9]*", piece) if w not in STOPWORDS]
            if len(parts) >= 2:
                stems.add(" ".join(parts))
    return stems


# Title words that name no technical idea: requiring them in the cited passage would drop honest paraphrases.
_GENERIC = frozenset(
    [
        "what",
        "when",
        "which",
        "your",
        "choosing",
        "choose",
        "building",
        "build",
        "getting",
        "started",
        "first",
        "basics",
        "introduction",
        "guide",
        "practical",
        "common",
        "good",
        "better",
        "best",
        "using",
        "with",
        "from",
        "into",
        "more",
        "less",
        "about",
        "between",
        "versus",
        "beginners",
        "tips",
        "explained",
        "overview",
        "work",
        "working",
        "works",
        "make",
        "making",
        "simple",
    ]
)


def build_generator(settings: Settings, service: AnswerService, model: ChatModel | None = None) -> Generator:
    """The generator over ``service``'s index and query encoder; raises ``LLMConfigError`` when unconfigured."""
    config = llm_config(settings)
    if config is None:
        raise LLMConfigError("Generation is off: set STUDYBOT_LLM_BASE_URL (and STUDYBOT_LLM_MODEL) to turn it on.")
    checker = checker_for(service)
    return Generator(model or OpenAIChat(config), checker, timeout_s=config.timeout_s)


class _Indexes(Protocol):
    def service(self, guild_id: int | None) -> AnswerService: ...


class Answering(Protocol):
    """What generation needs of the answerer (bot.retrieval's, wired in bot/app.py): each server's index, its pool."""

    @property
    def indexes(self) -> _Indexes: ...

    @property
    def executor(self) -> Executor: ...


class GuildGenerators:
    """The bot's generators: one per answering index, so each server's answer is checked against its own notes.

    Servers that answer from the same index share a generator; a rebuilt index gets a new one (the old one is
    forgotten with its index). Building one reads the index's terms, on the answering thread.
    """

    def __init__(self, config: LLMConfig, answerer: Answering, model: ChatModel | None = None) -> None:
        self.config = config
        self.model = model or OpenAIChat(config)
        self.answerer = answerer
        self._built: weakref.WeakKeyDictionary[AnswerService, Generator] = weakref.WeakKeyDictionary()

    async def for_guild(self, guild_id: int | None) -> Generator:
        service = self.answerer.indexes.service(guild_id)
        built = self._built.get(service)
        if built is None:
            executor = self.answerer.executor
            checker = await asyncio.get_running_loop().run_in_executor(executor, checker_for, service)
            built = Generator(self.model, checker, timeout_s=self.config.timeout_s, executor=executor)
            self._built[service] = built
        return built


def guild_generators(settings: Settings, answerer: Answering) -> GuildGenerators | None:
    """The bot's generators, or None (extractive answers) when generation is off or its settings cannot work."""
    try:
        config = llm_config(settings)
    except LLMConfigError as exc:
        log.warning("generated answers are off: %s", exc)
        return None
    if config is None:
        return None
    log.info(
        "generated answers on: %s (model %s); /config generation switches them per server",
        config.shown_url,
        config.model or "server default",
    )
    return GuildGenerators(config, answerer)


class BlockingGenerator:
    """``Generator.generate`` for synchronous callers (the CLI and console), on one event loop kept open."""

    def __init__(self, generator: Generator, runner: asyncio.Runner | None = None) -> None:
        self.generator = generator
        self._owned = runner is None  # the console lends its session's runner; the CLI gets its own
        self._runner = runner or asyncio.Runner()

    def generate(self, answer: Answer, history: Sequence[Turn] = ()) -> Generated:
        return self._runner.run(self.generator.generate(answer, history))

    def close(self) -> None:
        if self._owned:
            self._runner.close()


class Unavailable:
    """Stands in for ``BlockingGenerator`` when generation cannot run: every answer stays extractive, saying why."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason, self.message = reason, message

    def generate(self, answer: Answer, history: Sequence[Turn] = ()) -> Generated:
        return Generated(answer, "extractive", fallback_reason=self.reason, fallback_message=self.message)

    def close(self) -> None:
        """Nothing to release."""
