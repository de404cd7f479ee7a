"""Settings, read from the environment (prefix ``COINSEASON_``) once per CLI or app run, never at import, and passed
down: nested by concern (``settings.api.port``, ``settings.ingest.top``), each field still read from its one
``COINSEASON_*`` variable. Secrets are :class:`~pydantic.SecretStr`: they never show in a repr or a log."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import platformdirs
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from coinseason.errors import ConfigError
from coinseason.vocab import ProviderName

__all__ = [
    "HANDOFF_ENV",
    "AlertSettings",
    "ApiSettings",
    "CmcSettings",
    "CoinGeckoSettings",
    "IngestSettings",
    "LiveSettings",
    "LogSettings",
    "PostgresSettings",
    "ProviderSettings",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "WebhookSettings",
    "default_db_path",
    "is_postgres_url",
]

HANDOFF_ENV = "COINSEASON_SERVE_SETTINGS"
"""The one variable through which ``coinseason serve`` hands its validated settings to the server's worker
processes (JSON of :meth:`Settings.to_handoff`); nothing else is read from the environment in a worker."""

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def default_db_path() -> Path:
    """The embedded store in the user's data directory."""
    return Path(platformdirs.user_data_dir("coinseason")) / "coinseason.duckdb"


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


class StoreSettings(BaseSettings):
    """The store (``COINSEASON_DB``): a DuckDB file path (default: in the user's data directory) or a URL."""

    model_config = SettingsConfigDict(env_prefix="COINSEASON_", extra="ignore")

    db: str = Field(default_factory=lambda: str(default_db_path()), description="store path or URL")


def _env(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)


class PostgresSettings(BaseSettings):
    """The connection pool of a PostgreSQL store (``COINSEASON_PG_*``); a DuckDB store ignores them.

    The bound on a request while the database is out of reach: it waits at most ``timeout_seconds`` for a
    connection (at most ``FAIL_FAST_SECONDS`` of :mod:`coinseason.store.postgres` once an attempt to connect has
    failed and none has succeeded since), then is answered 503."""

    model_config = _env("COINSEASON_PG_")

    pool_size: int = Field(default=8, ge=1, le=100, description="most connections one process holds to PostgreSQL")
    timeout_seconds: float = Field(
        default=2.0, gt=0, le=60, description="longest wait for a database connection before a request gets a 503"
    )
    connect_timeout_seconds: int = Field(
        default=3, ge=1, le=60, description="one attempt to connect to PostgreSQL gives up after this"
    )


class ApiSettings(BaseSettings):
    """The API service (``COINSEASON_HOST``, ``COINSEASON_PORT``, …)."""

    model_config = _env("COINSEASON_")

    host: str = Field(default="127.0.0.1", description="address serve listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port serve listens on")
    workers: int = Field(default=1, ge=1, le=64, description="server processes (more than one needs PostgreSQL)")
    allow_anonymous: bool = Field(default=True, description="serve reads without an API key")
    rate_limit_per_minute: int = Field(default=600, ge=1, description="requests a minute for each API key")
    anonymous_rate_limit_per_minute: int = Field(default=120, ge=1, description="requests a minute per anonymous IP")
    redis_url: str | None = Field(default=None, description="shared limits, cache invalidation and pub/sub")
    redis_timeout_seconds: float = Field(
        default=0.25, gt=0, le=60, description="a rate-limit or invalidation call to Redis slower than this fails"
    )
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    max_body_bytes: int = Field(default=65_536, ge=1_024, description="largest request body accepted")
    max_ws_message_bytes: int = Field(default=4_096, ge=64, description="largest WebSocket message accepted")
    max_ws_connections_per_client: int = Field(
        default=8, ge=1, description="WebSocket connections one client address may hold open at once"
    )
    max_ws_subscriptions: int = Field(default=8, ge=1, description="topics one WebSocket connection may follow")
    auth_failures_per_minute: int = Field(
        default=10, ge=1, description="failed API key checks a minute per client address, then 429"
    )
    sweep_seconds: float = Field(default=20.0, gt=0, le=600, description="wall-clock bound of one backtest sweep")
    sweep_memory_mb: int = Field(default=1_024, ge=64, description="resident-memory bound of a backtest sweep's worker")
    max_range_days: int = Field(default=20_000, ge=1, description="longest date range one history request may span")
    stale_after_hours: float = Field(default=36.0, gt=0, description="data older than this is marked stale")
    default_source: str | None = Field(default=None, description="source the API serves when a request names none")
    access_log: bool = Field(default=True, description="one log line per HTTP request (metrics count them anyway)")

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_urls(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"CORS origin {origin!r} must start with http:// or https:// (or be *)")
        return origins


class ServerSettings(BaseSettings):
    """The HTTP server process of ``serve`` (``COINSEASON_SERVER``, ``COINSEASON_SERVER_*``,
    ``COINSEASON_FORWARDED_ALLOW_IPS``): which server, and the bounds it keeps before the app sees a request."""

    model_config = _env("COINSEASON_SERVER_")

    kind: Literal["granian", "uvicorn"] = Field(
        default="granian", validation_alias="COINSEASON_SERVER", description="the ASGI server serve runs"
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="a connection that has not sent a request's headers by then is closed"
    )
    keep_alive_seconds: float = Field(
        default=5.0, gt=0, le=600, description="an idle keep-alive connection is closed after this"
    )
    max_connections: int = Field(
        default=1024, ge=1, le=100_000, description="requests one worker handles at once; more wait or get a 503"
    )
    stop_seconds: float = Field(
        default=10.0, gt=0, le=600, description="on SIGTERM, open requests get this long before workers are ended"
    )
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="COINSEASON_FORWARDED_ALLOW_IPS",
        description="proxies whose X-Forwarded-For/-Proto are believed (addresses, networks, or *); none by default",
    )

    @field_validator("forwarded_allow_ips", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """A plain ``10.0.0.1,10.0.1.0/24`` as well as a JSON list."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if host == "*":
                continue
            try:
                ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise ValueError(f"{host!r} is not an IP address or network") from None
        return hosts


class LogSettings(BaseSettings):
    """Logs (``COINSEASON_LOG_LEVEL``, ``COINSEASON_LOG_JSON``, ``COINSEASON_LOG_FLUSH_SECONDS``)."""

    model_config = _env("COINSEASON_LOG_")

    level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    json_lines: bool = Field(default=True, validation_alias="COINSEASON_LOG_JSON", description="one JSON object a line")
    flush_seconds: float = Field(
        default=0.2,
        ge=0.0,
        le=60.0,
        description="serve buffers access lines this long at most (warnings and errors are written at once); 0"
        " writes each at once",
    )


class IngestSettings(BaseSettings):
    """The snapshot loop (``COINSEASON_INGEST_*``; ``COINSEASON_INGEST`` turns it off in ``serve``)."""

    model_config = _env("COINSEASON_INGEST_")

    run: bool = Field(
        default=True,
        validation_alias="COINSEASON_INGEST",
        description="serve runs the ingestion loop when a provider is set",
    )
    provider: ProviderName | None = Field(
        default=None, description="provider the ingestion loop (and serve --ingest) takes snapshots from"
    )
    backfill: bool = Field(
        default=True,
        description="serve first backfills what the store lacks: the plan's whole reach on an empty store, else the"
        " days missed since the last stored day",
    )
    cross_check: list[ProviderName] = Field(
        default_factory=list, description="other providers each snapshot is cross-checked against"
    )
    top: int = Field(default=500, ge=1, le=5000, description="coins in each snapshot")
    interval_minutes: float = Field(default=15.0, gt=0, le=1440, description="intraday snapshot interval")
    spike_factor: float = Field(default=10.0, gt=1, description="K: over K x both neighbours is a spike")
    supply_jump_factor: float = Field(default=5.0, gt=1, description="a one-day supply move beyond it")
    cross_check_threshold: float = Field(default=0.05, gt=0, description="relative deviation from median")
    heartbeat_minutes: float = Field(default=60.0, gt=0, description="provider values older are stale")
    dominance_threshold: float = Field(
        default=3.0, gt=0, description="BTC dominance points between the snapshot's and a provider's /global flagged"
    )


class ProviderSettings(BaseSettings):
    """What every market-data provider takes: a key, a call budget and a time-out."""

    api_key: SecretStr | None = Field(default=None, description="the plan's API key")
    calls_per_minute: int | None = Field(default=None, ge=1, description="overrides the plan's limit")
    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        validation_alias="COINSEASON_PROVIDER_TIMEOUT_SECONDS",
        description="time-out of one provider request",
    )


class CoinGeckoSettings(ProviderSettings):
    """The CoinGecko provider (``COINSEASON_COINGECKO_*``)."""

    model_config = _env("COINSEASON_COINGECKO_")

    url: str | None = Field(default=None, description="CoinGecko base URL; default: the plan's own")
    plan: Literal["keyless", "demo", "pro"] = Field(default="keyless", description="CoinGecko plan (see the plans)")


class CmcSettings(ProviderSettings):
    """The CoinMarketCap provider (``COINSEASON_CMC_*``)."""

    model_config = _env("COINSEASON_CMC_")

    url: str = Field(default="https://pro-api.coinmarketcap.com", description="CoinMarketCap base URL")
    plan: Literal["basic", "hobbyist", "startup", "standard", "professional", "enterprise"] = Field(
        default="basic", description="CoinMarketCap plan (see the plans)"
    )


class LiveSettings(BaseSettings):
    """The exchange feed (``COINSEASON_LIVE``, ``COINSEASON_LIVE_*``, ``COINSEASON_EXCHANGE_WS_URL``)."""

    model_config = _env("COINSEASON_LIVE_")

    run: bool = Field(
        default=False,
        validation_alias="COINSEASON_LIVE",
        description="serve: push the intraday index from the exchange stream",
    )
    exchange_ws_url: str = Field(
        default="wss://stream.binance.com:9443/ws/!miniTicker@arr",
        validation_alias="COINSEASON_EXCHANGE_WS_URL",
        description="exchange mini-ticker stream",
    )
    push_seconds: float = Field(default=1.0, gt=0, description="at most one intraday push per this many s")
    heartbeat_seconds: float = Field(default=10.0, gt=0, description="a stream silent this long is reconnected")
    stale_after_seconds: float = Field(default=120.0, gt=0, description="a coin's tick older than this is out")


class AlertSettings(BaseSettings):
    """Alert rules evaluated inside ``serve`` (``COINSEASON_ALERTS``, ``COINSEASON_ALERTS_*``)."""

    model_config = _env("COINSEASON_ALERTS_")

    run: bool = Field(
        default=True,
        validation_alias="COINSEASON_ALERTS",
        description="serve evaluates alert rules when data lands and sends their webhooks",
    )
    tick_seconds: float = Field(default=1.0, gt=0, le=60, description="how often the outbox is looked at")
    lease_seconds: float = Field(
        default=30.0, ge=3, le=3600, description="one replica sends at a time: its lease lasts this long unrenewed"
    )
    evaluate_minutes: float = Field(
        default=15.0, gt=0, le=1440, description="rules are evaluated at least this often, besides on new data"
    )


class WebhookSettings(BaseSettings):
    """Webhook delivery (``COINSEASON_WEBHOOK_*``)."""

    model_config = _env("COINSEASON_WEBHOOK_")

    allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="host names or IPs (comma-separated) webhooks may reach although private or loopback",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="one delivery attempt gives up after")
    max_response_bytes: int = Field(default=65_536, ge=0, description="most of a response body that is read")
    retry_base_seconds: float = Field(default=10.0, gt=0, description="first retry delay; doubled each time")
    retry_max_seconds: float = Field(default=3600.0, gt=0, description="longest delay between two attempts")
    give_up_hours: float = Field(
        default=24.0, gt=0, description="retries stop after this long: the event becomes a dead letter"
    )

    @field_validator("allow_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower().strip("[]") for part in value.split(",") if part.strip()]
        return value


class SeasonSettings(BaseSettings):
    """How season indices are read (``COINSEASON_SEASON_*``)."""

    model_config = _env("COINSEASON_SEASON_")

    min_eligible: int = Field(
        default=20,
        ge=0,
        le=500,
        description="a day with fewer eligible altcoins (at most the universe's altcoin places) has no index value",
    )


class Settings(BaseModel):
    """Everything one run of coinseason is configured with: build it once (:meth:`from_env`), pass it down."""

    model_config = {"extra": "forbid"}

    db: str = Field(default_factory=lambda: StoreSettings().db, description="store path or URL (COINSEASON_DB)")
    api: ApiSettings = Field(default_factory=ApiSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    pg: PostgresSettings = Field(default_factory=PostgresSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    coingecko: CoinGeckoSettings = Field(default_factory=CoinGeckoSettings)
    cmc: CmcSettings = Field(default_factory=CmcSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    season: SeasonSettings = Field(default_factory=SeasonSettings)

    @model_validator(mode="after")
    def _several_workers_need_postgres(self) -> Self:
        if self.api.workers > 1 and not is_postgres_url(self.db):
            raise ValueError("several workers need a PostgreSQL store (--db postgresql://…): DuckDB has one writer")
        return self

    @classmethod
    def from_env(cls, *, db: str | None = None, **concerns: dict[str, Any]) -> Settings:
        """Read every ``COINSEASON_*`` variable, once; ``db`` and a concern's own fields
        (``api={"port": 9000}``, ``live={"run": True}``) win over the environment. A :class:`ConfigError` names
        every setting that is wrong."""
        try:
            parts: dict[str, Any] = {name: _CONCERNS[name](**fields) for name, fields in concerns.items()}
            if db is not None:
                parts["db"] = db
            return cls(**parts)
        except ValidationError as exc:
            raise ConfigError(_problems(exc)) from None

    def to_handoff(self) -> str:
        """These settings as JSON, secrets included, for :meth:`from_handoff` in a worker process."""
        return json.dumps(_revealed(self.model_dump()))

    @classmethod
    def from_handoff(cls, text: str) -> Settings:
        """The settings :meth:`to_handoff` wrote, validated again; the environment is not read."""
        return cls.model_validate_json(text)


def _revealed(value: Any) -> Any:
    """``value`` (a model dump) with every secret as its plain text."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _problems(exc: ValidationError) -> str:
    """Each error of ``exc`` as ``COINSEASON_VARIABLE: what is wrong``, on one line."""
    classes: list[type[BaseSettings]] = [*_CONCERNS.values(), StoreSettings]
    concerns = {c.__name__: c for c in classes}
    concern = concerns.get(exc.title)
    found = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if concern is None or not error["loc"]:
            found.append(message)
            continue
        name = str(error["loc"][0])
        if name.startswith("COINSEASON_"):  # the field was given by its variable's name (a validation alias)
            found.append(f"{name}: {message}")
            continue
        field = concern.model_fields.get(name)
        alias = field.validation_alias if field is not None else None
        where = alias if isinstance(alias, str) else f"{concern.model_config.get('env_prefix', '')}{name}".upper()
        found.append(f"{where}: {message}")
    return "; ".join(found)


_CONCERNS: dict[str, type[BaseSettings]] = {
    "api": ApiSettings,
    "server": ServerSettings,
    "pg": PostgresSettings,
    "log": LogSettings,
    "ingest": IngestSettings,
    "coingecko": CoinGeckoSettings,
    "cmc": CmcSettings,
    "live": LiveSettings,
    "alerts": AlertSettings,
    "webhook": WebhookSettings,
    "season": SeasonSettings,
}
