"""The records a store reads and writes, and the small helpers its backends share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

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
class DataVersion:
    """A cheap fingerprint of what a store holds, read by servers to learn of writes by any other process: it
    changes with every import or ingestion snapshot (each logs an import), every change of token classes and every
    API key created or revoked."""

    imports: int
    """The newest import's id (0 before the first)."""
    classes: str
    """A digest of every coin's token class."""
    keys: int
    """Keys created plus keys revoked: grows with each."""

    @property
    def market(self) -> tuple[int, str]:
        """The part that changes what the indices are: when it changes, a server reloads."""
        return (self.imports, self.classes)


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
