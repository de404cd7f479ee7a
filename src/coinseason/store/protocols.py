"""What a store offers, as small protocols: each service takes the narrow one it needs. :class:`Store` is all of
them, what :func:`coinseason.store.open_store` returns (DuckDB or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

import polars as pl

from coinseason.store.alert_records import AlertEvent, AlertRule, WebhookEndpoint
from coinseason.store.records import (
    ApiKeyRecord,
    DataVersion,
    ImportRecord,
    IngestCursor,
    ModelArtifact,
    SourceSummary,
    WriteCounts,
)

__all__ = ["AlertStore", "FeatureStore", "KeyStore", "LeaseStore", "MarketData", "ModelStore", "Store", "Versioned"]


class MarketData(Protocol):
    """Point-in-time market data: coins, observations by source, the import log and ingestion cursors. Every write
    is one transaction: all of it lands, or nothing does."""

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

    def imports(self) -> pl.DataFrame: ...


class LeaseStore(Protocol):
    """Leases: one process at a time does a job (ingestion) across processes, hosts and replicas."""

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


class KeyStore(Protocol):
    """API keys, stored only as the hash of their secret."""

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


class FeatureStore(Protocol):
    """Point-in-time feature rows (:data:`~coinseason.data.tidy.FEATURE_SCHEMA`): revisions are kept as new rows."""

    def write_features(self, rows: pl.DataFrame) -> WriteCounts:
        """Upsert feature rows (:data:`FEATURE_SCHEMA`, key series, date, known_at) in one transaction."""
        ...

    def features(self, series: tuple[str, ...] | None = None, *, known_by: dt.datetime | None = None) -> pl.DataFrame:
        """Feature rows (of ``series``, default all) known at or before ``known_by``, by series, date, known_at."""
        ...


class ModelStore(Protocol):
    """Trained model artifacts, by version."""

    def write_model(self, artifact: ModelArtifact) -> None:
        """Store a model artifact; :class:`~coinseason.errors.StoreError` when its version exists already."""
        ...

    def model(self, version: str | None = None) -> ModelArtifact | None:
        """The artifact ``version``, or the newest one; None when there is none."""
        ...


class Versioned(Protocol):
    """How a server learns of writes made by other processes: it polls the version and reloads when it changes."""

    def data_version(self) -> DataVersion:
        """The store's current :class:`DataVersion`; cheap enough to ask every second."""
        ...


class AlertStore(Protocol):
    """Alert rules of API keys, their webhook endpoints, and the events they raise, kept as the outbox of their
    delivery: an event is written in the same transaction as the evaluation that raised it and stays ``pending``
    until an endpoint took it, so a crash or a restart loses none."""

    def add_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None: ...

    def webhook_endpoints(self, key_prefix: str | None = None) -> list[WebhookEndpoint]:
        """The endpoints of ``key_prefix`` (default: every key's), oldest first."""
        ...

    def webhook_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    def add_alert_rule(self, rule: AlertRule) -> None: ...

    def alert_rules(self, key_prefix: str | None = None, *, deleted: bool = False) -> list[AlertRule]:
        """The rules of ``key_prefix`` (default: every key's), oldest first; deleted ones too with ``deleted``."""
        ...

    def alert_rule(self, rule_id: str) -> AlertRule | None:
        """The rule ``rule_id``, deleted or not."""
        ...

    def delete_alert_rule(self, rule_id: str, at: dt.datetime) -> bool:
        """Mark the rule deleted (its events stay); False when it is unknown or deleted already."""
        ...

    def alert_rules_version(self) -> tuple[int, str]:
        """A fingerprint that changes whenever a rule is added, deleted or armed (its first number is 0 while there
        is no rule); cheap enough to ask every second."""
        ...

    def record_alert_events(
        self, new: Sequence[AlertEvent], revoked: Sequence[str], armed: Mapping[str, dt.date]
    ) -> None:
        """One evaluation's outcome, in one transaction: the ``new`` events (pending delivery), the ids of events
        the data no longer supports (``active`` turned off) and the rules armed at a day (``armed``)."""
        ...

    def alert_events(
        self,
        *,
        key_prefix: str | None = None,
        rule_id: str | None = None,
        status: str | None = None,
        active: bool | None = None,
        limit: int = 1000,
    ) -> list[AlertEvent]:
        """Events matching every condition given, oldest first, at most ``limit``."""
        ...

    def alert_event(self, event_id: str) -> AlertEvent | None: ...

    def due_alert_events(self, now: dt.datetime, *, limit: int = 100) -> list[AlertEvent]:
        """Pending events whose next attempt is due at ``now``, longest due first."""
        ...

    def next_alert_due(self) -> dt.datetime | None:
        """When the earliest pending event is due; None when none is pending. Cheap enough to ask every second."""
        ...

    def update_delivery(
        self,
        event_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: dt.datetime,
        last_error: str | None = None,
        delivered_at: dt.datetime | None = None,
    ) -> bool:
        """Record an attempt's outcome on a pending event; False when it is not pending (any more)."""
        ...

    def replay_alert_event(self, event_id: str, now: dt.datetime) -> bool:
        """Put a dead letter back in the outbox, due ``now``, with a fresh round of retries; False when
        ``event_id`` is no dead letter."""
        ...

    def delivery_counts(self) -> dict[str, tuple[int, int]]:
        """Per delivery status: (events, attempts made)."""
        ...


class Store(MarketData, LeaseStore, KeyStore, FeatureStore, ModelStore, Versioned, AlertStore, Protocol):
    """Every store protocol at once: one backend (DuckDB or PostgreSQL) behind one URL."""

    url: str

    def close(self) -> None: ...
