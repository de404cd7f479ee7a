"""Settings, read from the environment (prefix ``COINSEASON_``) once per CLI or app run, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_db_path() -> Path:
    """The embedded store in the user's data directory."""
    return Path(platformdirs.user_data_dir("coinseason")) / "coinseason.duckdb"


HANDOFF_ENV = "COINSEASON_SERVE_SETTINGS"
"""The one variable through which ``coinseason serve`` hands its validated settings to the server's worker
processes (JSON of :meth:`Settings.to_handoff`); nothing else is read from the environment in a worker."""


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
    redis_timeout_seconds: float = Field(
        default=0.25, gt=0, le=60, description="a rate-limit or invalidation call to Redis slower than this fails"
    )
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    max_body_bytes: int = Field(default=65_536, ge=1_024)
    max_ws_message_bytes: int = Field(default=4_096, ge=64)
    max_range_days: int = Field(default=20_000, ge=1, description="longest date range one history request may span")
    stale_after_hours: float = Field(default=36.0, gt=0, description="data older than this is marked stale")
    default_source: str | None = Field(default=None, description="source the API serves when a request names none")
    log_json: bool = True
    log_level: str = "INFO"
    access_log: bool = Field(default=True, description="one log line per HTTP request (metrics count them anyway)")

    # -- ingestion (coinseason.services.ingestion) --
    ingest: bool = Field(default=True, description="serve runs the ingestion loop when ingest_provider is set")
    ingest_provider: Literal["coingecko", "cmc"] | None = Field(
        default=None, description="provider the ingestion loop (and serve --ingest) takes snapshots from"
    )
    ingest_cross_check: list[Literal["coingecko", "cmc"]] = Field(
        default_factory=list, description="other providers each snapshot is cross-checked against"
    )
    ingest_top: int = Field(default=500, ge=1, le=5000, description="coins in each snapshot")
    ingest_interval_minutes: float = Field(default=15.0, gt=0, le=1440, description="intraday snapshot interval")
    ingest_spike_factor: float = Field(default=10.0, gt=1, description="K: over K x both neighbours is a spike")
    ingest_supply_jump_factor: float = Field(default=5.0, gt=1, description="a one-day supply move beyond it")
    ingest_cross_check_threshold: float = Field(default=0.05, gt=0, description="relative deviation from median")
    ingest_heartbeat_minutes: float = Field(default=60.0, gt=0, description="provider values older are stale")
    ingest_dominance_threshold: float = Field(
        default=3.0, gt=0, description="BTC dominance points between the snapshot's and a provider's /global flagged"
    )

    # -- live providers (coinseason.providers.coingecko / .coinmarketcap) --
    coingecko_url: str | None = Field(default=None, description="CoinGecko base URL; default: the plan's own")
    coingecko_api_key: str | None = Field(default=None, repr=False, description="demo or pro key")
    coingecko_plan: Literal["keyless", "demo", "pro"] = "keyless"
    coingecko_calls_per_minute: int | None = Field(default=None, ge=1, description="overrides the plan's limit")
    cmc_url: str = Field(default="https://pro-api.coinmarketcap.com", description="CoinMarketCap base URL")
    cmc_api_key: str | None = Field(default=None, repr=False)
    cmc_plan: Literal["basic", "hobbyist", "startup", "standard", "professional", "enterprise"] = "basic"
    cmc_calls_per_minute: int | None = Field(default=None, ge=1, description="overrides the plan's limit")
    provider_timeout_seconds: float = Field(default=10.0, gt=0, description="time-out of one provider request")

    # -- live exchange feed (coinseason.live) --
    live: bool = Field(default=False, description="serve: push the intraday index from the exchange stream")
    exchange_ws_url: str = Field(
        default="wss://stream.binance.com:9443/ws/!miniTicker@arr", description="exchange mini-ticker stream"
    )
    live_push_seconds: float = Field(default=1.0, gt=0, description="at most one intraday push per this many s")
    live_heartbeat_seconds: float = Field(default=10.0, gt=0, description="a stream silent this long is reconnected")
    live_stale_after_seconds: float = Field(default=120.0, gt=0, description="a coin's tick older than this is out")

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_with_keys(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must start with http:// or https:// (or be *)")
        return origins

    def to_handoff(self) -> str:
        """These settings as JSON, secrets included, for :meth:`from_handoff` in a worker process."""
        return self.model_dump_json()

    @classmethod
    def from_handoff(cls, text: str) -> Settings:
        """The settings :meth:`to_handoff` wrote, validated again; the environment is not read."""
        return cls.model_validate_json(text)
