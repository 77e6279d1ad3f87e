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
    log_level: str = "INFO"
    discord_token: SecretStr | None = None
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:pass@host/db to use PostgreSQL; default: SQLite at DATA_DIR/studybot.db.",
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL; a secret, because it may hold a password: never log it."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'studybot.db').resolve()}"
        return self.database_url.get_secret_value()
