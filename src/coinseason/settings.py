"""Settings, read from the environment (prefix ``COINSEASON_``) once per CLI or app run, never at import."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_db_path() -> Path:
    """The embedded store in the user's data directory."""
    return Path(platformdirs.user_data_dir("coinseason")) / "coinseason.duckdb"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COINSEASON_", extra="ignore")

    db: str = Field(default_factory=lambda: str(default_db_path()), description="store path or URL")

    # -- API service --
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    allow_anonymous: bool = Field(default=True, description="serve reads without an API key")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="requests a minute for each API key")
    anonymous_rate_limit_per_minute: int = Field(default=120, ge=1, description="requests a minute per anonymous IP")
    redis_url: str | None = Field(default=None, description="shared limits, cache invalidation and pub/sub")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    max_body_bytes: int = Field(default=65_536, ge=1_024)
    max_ws_message_bytes: int = Field(default=4_096, ge=64)
    max_range_days: int = Field(default=20_000, ge=1, description="longest date range one history request may span")
    stale_after_hours: float = Field(default=36.0, gt=0, description="data older than this is marked stale")
    default_source: str | None = Field(default=None, description="source the API serves when a request names none")
    log_json: bool = True
    log_level: str = "INFO"

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_keys(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must start with http:// or https:// (or be *)")
        return origins
