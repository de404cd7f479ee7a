"""What every market store offers; :func:`coinseason.store.open_store` picks one by URL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from coinseason.errors import StoreError

SCHEMA_VERSION = "1"
"""Version of the store's tables; a store written by another version is refused, never guessed at."""


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """Rows an import added, changed and found already stored as they were."""

    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """The log line an import leaves in the store, written in the same transaction as its rows."""

    source: str
    path: str
    format: str
    sha256: str
    imported_at: dt.datetime
    rejected: int
    rejections: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceSummary:
    source: str
    coins: int
    rows: int
    first_date: dt.date
    last_date: dt.date


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as stored: its public prefix and the hash of its secret, never the secret itself."""

    prefix: str
    name: str
    secret_hash: str = field(repr=False)
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class IngestCursor:
    """Where a resumable ingestion job is: written in the same transaction as the rows it covers."""

    name: str
    """The job, e.g. ``backfill:coingecko``."""
    value: str
    """The job's own position (JSON text)."""


FEATURE_SCHEMA: dict[str, pl.DataType] = {
    "series": pl.String(),
    "date": pl.Date(),
    "known_at": pl.Datetime("us", "UTC"),
    "value": pl.Float64(),
}
"""Point-in-time feature rows: the value of ``series`` for ``date`` as it became known at ``known_at``."""


@dataclass(frozen=True, slots=True)
class ModelArtifact:
    """A trained model as stored: its version, when it was made, what it is (JSON-able meta) and its bytes."""

    version: str
    created_at: dt.datetime
    meta: dict[str, Any]
    payload: bytes = field(repr=False)


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; a naive time is refused, as it could be anyone's local time."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StoreError(f"time {moment.isoformat()} has no time zone: the store keeps UTC times only")
    return moment.astimezone(dt.UTC)


def api_key_record(row: tuple[Any, ...]) -> ApiKeyRecord:
    """A key from a ``(prefix, name, secret_hash, created_at, revoked_at)`` row, its times in UTC."""
    prefix, name, secret_hash, created_at, revoked_at = row
    return ApiKeyRecord(
        prefix=prefix,
        name=name,
        secret_hash=secret_hash,
        created_at=utc(created_at),
        revoked_at=utc(revoked_at) if revoked_at is not None else None,
    )


class MarketStore(Protocol):
    """A point-in-time market store. Every write is one transaction: all of it lands, or nothing does."""

    url: str

    def write_import(
        self,
        coins: pl.DataFrame,
        observations: pl.DataFrame,
        record: ImportRecord,
        *,
        cursor: IngestCursor | None = None,
    ) -> WriteCounts:
        """Upsert coins and observations (tidy schema) and log the import, atomically; ``cursor`` (an ingestion
        job's position) is saved in the same transaction."""
        ...

    def observations_between(self, source: str, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Every observation of ``source`` dated ``start`` to ``end`` inclusive, all columns (tidy schema)."""
        ...

    def ingest_cursor(self, name: str) -> str | None:
        """The value of the ingestion cursor ``name``; None when it was never written."""
        ...

    def acquire_lease(
        self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta, *, dead: str | None = None
    ) -> bool:
        """Take or renew the lease ``name`` for ``owner`` until ``now + ttl``, in one transaction: True when
        ``owner`` holds it (it was free, expired, already ``owner``'s, or held by ``dead``, a holder known to have
        died), False when someone else does."""
        ...

    def lease_holder(self, name: str) -> str | None:
        """Who holds (or last held, if expired) the lease ``name``; None when nobody does."""
        ...

    def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""
        ...

    def write_classification(self, source: str, classes: pl.DataFrame) -> None:
        """Replace the token class, basis and evidence source of ``source``'s coins."""
        ...

    def observations(
        self, source: str, *, columns: tuple[str, ...] = ("coin_id", "date", "price", "market_cap", "flags")
    ) -> pl.DataFrame:
        """Every observation of ``source``."""
        ...

    def coins(self, source: str) -> pl.DataFrame:
        """Coins of ``source`` with symbol, name, categories, class, first and last day seen."""
        ...

    def last_observations(self, source: str, *, before: dt.date | None = None) -> pl.DataFrame:
        """Each coin's latest observation before ``before`` (default: the latest of all) with coin_id, symbol,
        date, price, market_cap, circulating_supply."""
        ...

    def coin_observations(
        self, source: str, coin_id: str, *, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """One coin's stored days (date, price, market_cap, volume, rank, circulating_supply), oldest first."""
        ...

    def sources(self) -> list[SourceSummary]: ...

    def add_api_key(self, prefix: str, name: str, secret_hash: str, created_at: dt.datetime) -> None:
        """Store a new API key; :class:`~coinseason.errors.StoreError` when ``prefix`` is taken."""
        ...

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        """The key with ``prefix``, revoked or not; None when there is none."""
        ...

    def api_keys(self) -> list[ApiKeyRecord]:
        """Every key, oldest first."""
        ...

    def revoke_api_key(self, prefix: str, at: dt.datetime) -> bool:
        """Mark the key revoked at ``at``; False when it is unknown or revoked already."""
        ...

    def imports(self) -> pl.DataFrame: ...

    def write_features(self, rows: pl.DataFrame) -> WriteCounts:
        """Upsert feature rows (:data:`FEATURE_SCHEMA`, key series, date, known_at) in one transaction."""
        ...

    def features(self, series: tuple[str, ...] | None = None, *, known_by: dt.datetime | None = None) -> pl.DataFrame:
        """Feature rows (of ``series``, default all) known at or before ``known_by``, by series, date, known_at."""
        ...

    def write_model(self, artifact: ModelArtifact) -> None:
        """Store a model artifact; :class:`~coinseason.errors.StoreError` when its version exists already."""
        ...

    def model(self, version: str | None = None) -> ModelArtifact | None:
        """The artifact ``version``, or the newest one; None when there is none."""
        ...

    def close(self) -> None: ...
