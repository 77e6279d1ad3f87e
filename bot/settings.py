"""Configuration, read once from ``STUDYBOT_*`` environment variables or ``.env`` and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDYBOT_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(Path("./data"), description="Index, database and charts live here.")
    knowledge_dir: Path = Field(Path("./knowledge"), description="The shipped knowledge base.")
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="Confidence below which StudyBot says it does not know; default: calibrated."
    )
    index_path: Path | None = Field(None, description="Where the index lives; default: DATA_DIR/index.")
    metrics_port: int | None = Field(None, ge=1, le=65535, description="Serve Prometheus metrics on this port.")
    metrics_host: str = Field("127.0.0.1", description="Address for the metrics server (0.0.0.0 to scrape remotely).")
    log_level: str = "INFO"
    discord_token: SecretStr | None = None
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:pass@host/db to use PostgreSQL; default: SQLite at DATA_DIR/studybot.db.",
    )

    # Discord. The two endpoint overrides point the real client at a Discord-compatible server (a REST proxy,
    # or the fake Discord of the end-to-end tests); leave them unset for discord.com.
    discord_application_id: int | None = Field(None, description="For `studybot invite`; read from the token if unset.")
    discord_api_base: str | None = Field(None, description="REST base, e.g. http://127.0.0.1:8080/api/v10.")
    discord_gateway: str | None = Field(None, description="Gateway websocket URL, e.g. ws://127.0.0.1:8080/gateway.")
    dev_guild_id: int | None = Field(None, description="Sync slash commands to this server only (instant).")
    shard_count: int | None = Field(None, ge=1, description="Run an AutoShardedBot with this many shards.")
    help_channels: list[int] = Field(default_factory=list, description="Channels where every message is a question.")
    qotd_channel_id: int | None = Field(None, description="Where the question of the day is posted.")
    qotd_hour: int = Field(9, ge=0, le=23, description="UTC hour at which the question of the day is posted.")
    ask_rate_limit: int = Field(5, ge=1, description="Questions a learner may ask per window.")
    ask_rate_window: float = Field(60.0, gt=0, description="The rate-limit window, in seconds.")
    scheduler_seconds: float = Field(60.0, gt=0, description="How often the QOTD and reminder loops wake up.")
    shutdown_grace: float = Field(10.0, ge=0, description="Seconds SIGTERM waits for in-flight interactions.")
    kb_poll_seconds: float = Field(
        2.0, gt=0, description="How often server knowledge changes made by other processes are looked for."
    )

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

    @property
    def index_dir(self) -> Path:
        return self.index_path or self.data_dir / "index"

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL; a secret, because it may hold a password: never log it."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'studybot.db').resolve()}"
        return self.database_url.get_secret_value()
