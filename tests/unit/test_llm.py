"""The OpenAI-compatible client against the fake server: streams, errors, retries and clear messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.domain.generation import GenerationFailed
from bot.llm import LLMConfig, LLMConfigError, OpenAIChat, llm_config
from bot.settings import Settings
from tests.fake_llm import RIGHT_KEY, FakeLLM, fake_llm

PROMPT = [
    {"role": "system", "content": "rules"},
    {"role": "user", "content": '<passage id="1" source="x">\nOverfitting happens when a model learns noise in the training data.\n</passage>'},
]  # fmt: skip


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with fake_llm() as running:
        yield running


def _client(server: FakeLLM, model: str, key: str | None = None, timeout: float = 5.0, base: str | None = None):
    return OpenAIChat(LLMConfig(base or server.base_url, model, key, timeout, 200))


def _collect(client: OpenAIChat) -> str:
    async def go() -> str:
        return "".join([piece async for piece in client.stream(PROMPT)])

    return asyncio.run(go())


def test_settings_off_by_default_and_bad_urls_are_explained():
    """No base URL means no generation; a URL that is not a URL gets a message naming the setting."""
    assert llm_config(Settings(_env_file=None)) is None
    for bad in ("localhost:8080", "not a url", "ftp://host/v1", "http://host:port/v1"):
        with pytest.raises(LLMConfigError, match="STUDYBOT_LLM_BASE_URL"):
            llm_config(Settings(_env_file=None, llm_base_url=bad))


def test_chat_url_and_shown_url_hide_credentials():
    """The base gets /chat/completions (a bare host /v1 first), and a user:password never shows."""
    assert LLMConfig("http://h:1/v1", "", None, 1, 1).chat_url == "http://h:1/v1/chat/completions"
    assert LLMConfig("http://h:1", "", None, 1, 1).chat_url == "http://h:1/v1/chat/completions"
    assert "secret" not in LLMConfig("http://u:secret@h:1/v1", "", None, 1, 1).shown_url


def test_key_is_secret_in_settings():
    """The API key is a SecretStr: its repr never shows the value."""
    settings = Settings(_env_file=None, llm_base_url="http://h/v1", llm_api_key=SecretStr("sk-abc"))
    assert "sk-abc" not in repr(settings) and "sk-abc" not in str(settings.model_dump())


def test_good_stream_and_request_shape(server):
    """A good answer streams as text; the request is an OpenAI chat-completions request with stream on."""
    text = _collect(_client(server, "good", key="k"))
    assert "[1]" in text and "Overfitting happens" in text
    body, headers = server.requests[-1], server.headers[-1]
    assert body["stream"] is True and body["model"] == "good" and body["max_tokens"] == 200
    assert body["messages"][0] == {"role": "system", "content": "rules"}
    assert headers["Authorization"] == "Bearer k"


@pytest.mark.parametrize(
    ("model", "reason", "words"),
    [
        ("500", "http_error", "HTTP 500"),
        ("429long", "rate_limited", "429"),
        ("garbage", "garbage", "not JSON"),
        ("html", "not_compatible", "OpenAI-compatible"),
        ("auth", "auth", "STUDYBOT_LLM_API_KEY"),
    ],
)
def test_failures_have_a_reason_and_a_clear_message(server, model, reason, words):
    """Each failure of the endpoint becomes a typed error whose message says what is wrong."""
    with pytest.raises(GenerationFailed) as caught:
        _collect(_client(server, model, key="wrong"))
    assert caught.value.reason == reason
    assert words in caught.value.message
    assert "wrong" not in caught.value.message  # the key is never echoed


def test_429_with_short_retry_after_is_retried_once(server):
    """A 429 asking to wait one second is retried, and the answer then streams."""
    assert "[1]" in _collect(_client(server, "429"))


def test_wrong_path_and_closed_port_are_explained(server):
    """A server without the API (404) and nothing listening both get a message saying what to check."""
    with pytest.raises(GenerationFailed, match="OpenAI-compatible"):
        _collect(_client(server, "good", base=f"http://127.0.0.1:{server.port}/api"))
    with pytest.raises(GenerationFailed, match="is the server running"):
        _collect(_client(server, "good", base="http://127.0.0.1:9/v1"))


def test_stall_is_a_timeout(server):
    """A stream that stops sending is cut after the timeout, not waited on forever."""
    with pytest.raises(GenerationFailed) as caught:
        _collect(_client(server, "stall", timeout=1.0))
    assert caught.value.reason == "timeout"


def test_check_reports_model_first_token_and_speed(server):
    """`llm check`'s probe measures time to first token and tokens per second."""
    report = asyncio.run(_client(server, "slow", key=RIGHT_KEY).check())
    assert report.model == "slow"
    assert 0 < report.first_token_s < 5 and report.tokens_per_s > 0 and report.tokens > 2
