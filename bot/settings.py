"""Configuration, read once from ``STUDYBOT_*`` environment variables or ``.env`` and passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDYBOT_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    data_dir: Path = Field(Path("./data"), description="Index, database, charts and logs live here.")
    knowledge_dir: Path = Field(Path("./knowledge"), description="The shipped knowledge base.")
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Confidence below which StudyBot says it does not know; default: calibrated."
    )
    index_path: Path | None = Field(None, description="Where the index lives; default: DATA_DIR/index.")
    metrics_port: int | None = Field(
        None, ge=1, le=65535, description="Serve Prometheus /metrics on this port; unset: no metrics server."
    )
    metrics_host: str = Field("127.0.0.1", description="Address for the metrics server (0.0.0.0 to scrape remotely).")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    discord_token: SecretStr | None = Field(
        None, description="The bot token; never logged (log lines are scrubbed of tokens). Unset: local demo."
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:pass@host/db to use PostgreSQL (never logged); default: SQLite at DATA_DIR/studybot.db.",
    )

    # Discord. The two endpoint overrides point the real client at a Discord-compatible server (a REST proxy,
    # or the fake Discord of the end-to-end tests); leave them unset for discord.com.
    discord_application_id: int | None = Field(None, description="For `studybot invite`; read from the token if unset.")
    discord_api_base: str | None = Field(
        None, description="A Discord-compatible REST base (a proxy, or the e2e tests' fake); unset: Discord."
    )
    discord_gateway: str | None = Field(
        None, description="A Discord-compatible gateway websocket URL, as above; unset: Discord."
    )
    dev_guild_id: int | None = Field(None, description="Sync slash commands to this server only (instant).")
    shard_count: int | None = Field(None, ge=1, description="Run an AutoShardedBot with this many shards.")
    shard_ids: Annotated[tuple[int, ...] | None, NoDecode] = Field(
        None,
        description="Run only these shards of SHARD_COUNT (a cluster), e.g. `0-3` or `4,5,6,7`; default: all.",
    )
    help_channels: list[int] = Field(
        default_factory=list,
        description="JSON list of channel ids where every message is a question (servers override it with /config help-channels).",
    )
    qotd_channel_id: int | None = Field(
        None, description="Where the question of the day is posted (servers override it with /config qotd)."
    )
    qotd_hour: int = Field(9, ge=0, le=23, description="UTC hour at which the question of the day is posted.")
    ask_rate_limit: int = Field(5, ge=1, description="Questions a learner may ask per window.")
    ask_rate_window: float = Field(60.0, gt=0, description="The rate-limit window, in seconds.")
    scheduler_seconds: float = Field(60.0, gt=0, description="How often the QOTD and reminder loops wake up.")
    shutdown_grace: float = Field(10.0, ge=0, description="Seconds SIGTERM waits for in-flight interactions.")
    kb_poll_seconds: float = Field(
        2.0,
        gt=0,
        description="How often server knowledge changes made by other processes are looked for, when they are not pushed.",
    )
    kb_listen: bool = Field(
        True,
        description="On PostgreSQL, learn of knowledge changes by LISTEN/NOTIFY (off behind a transaction-pooling proxy).",
    )
    index_memory_mb: int = Field(
        200,
        ge=1,
        description="Memory for servers' own knowledge indexes (the shipped one not counted); past it, the least "
        "recently asked server's index is dropped and read back from disk when next asked.",
    )

    ci: bool = Field(
        False,
        validation_alias=AliasChoices("ci", "CI", "STUDYBOT_CI"),
        description="Running in CI (CI services set CI=true): quiz-bank check warnings become errors.",
    )

    @field_validator("ci", mode="before")
    @classmethod
    def _ci(cls, value: Any) -> Any:
        # CI services spell it true, 1, True or the service's name; only an explicit "off" value means no.
        if isinstance(value, str):
            return value.strip().lower() not in {"", "0", "false", "no", "off"}
        return value

    # Optional generated answers (off unless a base URL is set). Checked in bot/llm.py, not here: a bad URL
    # must not stop the bot, which then answers extractively and says why at start-up and in `studybot llm check`.
    llm_base_url: str | None = Field(
        None,
        description="An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1; unset: extractive answers only.",
    )
    llm_model: str = Field("", description="The model name sent to the endpoint (Ollama and OpenAI need one).")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the endpoint; never logged or shown.")
    llm_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Seconds a generated answer may take before the extractive one is shown."
    )
    llm_max_tokens: int = Field(400, ge=16, le=4096, description="Most tokens the model may write per answer.")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object) -> object:
        """Accept ``0-3``, ``4,5,6,7`` or a mix (``0,2-3``); a list or tuple passes through to the int check."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        ids: list[int] = []
        for part in value.split(","):
            low, dash, high = part.strip().partition("-")
            try:
                first, last = int(low), int(high if dash else low)
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not a shard id or range; use e.g. 0-3 or 4,5,6,7") from None
            if first < 0 or last < first:
                raise ValueError(f"{part.strip()!r} is not an ascending range of shard ids")
            ids.extend(range(first, last + 1))
        return ids

    @field_validator("shard_ids")
    @classmethod
    def _shards_fit(cls, value: tuple[int, ...] | None, info: ValidationInfo) -> tuple[int, ...] | None:
        if value is None:
            return None
        count = info.data.get("shard_count")  # validated before: it is declared first
        if count is None:
            raise ValueError("needs STUDYBOT_SHARD_COUNT too (the number of shards over every cluster)")
        if not value:
            raise ValueError("lists no shard")
        if len(set(value)) != len(value):
            raise ValueError("lists a shard twice")
        outside = [i for i in value if i >= count]
        if outside:
            raise ValueError(
                f"shard {outside[0]} does not exist with STUDYBOT_SHARD_COUNT={count} (ids run from 0 to {count - 1})"
            )
        return tuple(sorted(value))

    def serves(self, guild_id: int) -> bool:
        """Whether this process holds the shard of ``guild_id`` (Discord routes a guild to (id >> 22) % count)."""
        if self.shard_ids is None or self.shard_count is None:
            return True
        return (guild_id >> 22) % self.shard_count in self.shard_ids

    @property
    def index_memory_bytes(self) -> int:
        return self.index_memory_mb * 1024 * 1024

    @property
    def index_dir(self) -> Path:
        return self.index_path or self.data_dir / "index"

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL; a secret, because it may hold a password: never log it."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'studybot.db').resolve()}"
        return self.database_url.get_secret_value()


def _shown_default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "–"
    if isinstance(value, Path):
        return f"`{value.as_posix() if value.is_absolute() else './' + value.as_posix()}`"
    if isinstance(value, list):
        return f"`{value!r}`"
    return f"`{value}`"


def markdown_table() -> str:
    """The README's configuration table, built from the model so the two cannot drift (a test compares them)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name.upper()}` | {_shown_default(name)} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m bot.settings --markdown   (prints the README's configuration table)")
    print(markdown_table())
