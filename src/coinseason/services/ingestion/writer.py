"""Provider rows into the store: the quality gates (with the stored neighbours of the incoming days), then one
transaction per write through :meth:`~coinseason.store.protocols.MarketData.write_import` (with an
:class:`ImportRecord` and the job's cursor), so ingested data is seen as imported data is; every rejection and flag
is logged with its reason and counted in the record."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import polars as pl

from coinseason.data.gates import GateConfig, GateReport, gate_observations
from coinseason.data.tidy import COIN_SCHEMA, conform_observations
from coinseason.services.classify import ClassificationService
from coinseason.store.protocols import MarketData
from coinseason.store.records import ImportRecord, IngestCursor, WriteCounts

log = logging.getLogger("coinseason.ingest")

CONTEXT_DAYS: Final = 4
"""Stored days before the incoming ones read as neighbours for the gates (the day gap fill reaches, and one)."""


class IngestWriter:
    """Gates and writes the rows of ``source`` fetched from ``origin`` (the provider's base URL, logged as the
    import's path); ``clock`` dates the writes and says what "today" is for the gates."""

    def __init__(
        self,
        store: MarketData,
        source: str,
        *,
        origin: str,
        gates: GateConfig,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._store = store
        self.source = source
        self._origin = origin
        self._gates = gates
        self._clock = clock

    def cursor(self, name: str) -> dict[str, Any]:
        """The JSON object the ingestion cursor ``name`` holds; {} when it was never written."""
        text = self._store.ingest_cursor(name)
        value = json.loads(text) if text is not None else None
        return value if isinstance(value, dict) else {}

    def gate(self, incoming: pl.DataFrame, context: tuple[dt.date, dt.date]) -> GateReport:
        """Gate ``incoming`` with the stored days of ``context`` (first, last) as neighbours."""
        stored = self._store.observations_between(self.source, *context)
        return gate_observations(incoming, today=self._clock().date(), config=self._gates, stored=stored)

    def commit(self, coins: pl.DataFrame, gate: GateReport, fmt: str, cursor: IngestCursor) -> WriteCounts:
        """Write what passed the gates with ``cursor``, in one transaction, logging every rejection and flag."""
        for reason, n in sorted(gate.rejections.items()):
            log.warning("%s %s: rejected %d row(s): %s", self.source, fmt, n, reason)
        for reason, n in sorted(gate.flagged.items()):
            log.warning("%s %s: flagged %d row(s): %s", self.source, fmt, n, reason)
        record = ImportRecord(
            source=self.source,
            path=self._origin,
            format=fmt,
            sha256="",
            imported_at=self._clock(),
            rejected=gate.rejected,
            rejections={**gate.rejections, **{f"flagged: {k}": v for k, v in gate.flagged.items()}},
        )
        return self._store.write_import(coins, gate.good, record, cursor=cursor)

    def known_coins(self) -> set[str]:
        """Ids of the source's coins already in the store."""
        return set(self._store.coins(self.source)["coin_id"].to_list())

    def reclassify(self) -> None:
        """Classify the source's coins again (after new coins or new history landed)."""
        ClassificationService(self._store).reclassify(self.source)


def coin_meta(row: dict[str, Any]) -> list[str | None]:
    """``[coin_id, symbol, name]`` of a snapshot row."""
    return [row["coin_id"], row.get("symbol"), row.get("name")]


def coins_frame(
    source: str, meta: Sequence[Sequence[str | None]], categories: dict[str, str] | None = None
) -> pl.DataFrame:
    """The coins rows of ``meta``; ``categories`` (by coin id) fill the categories of those it names (the others
    stay null: the store keeps what it held)."""
    categories = categories or {}
    return pl.DataFrame(
        {
            "source": [source] * len(meta),
            "coin_id": [m[0] for m in meta],
            "symbol": [m[1] for m in meta],
            "name": [m[2] for m in meta],
            "categories": [categories.get(str(m[0])) for m in meta],
        },
        schema=COIN_SCHEMA,
    )


def dated(rows: pl.DataFrame, source: str, day: dt.date) -> pl.DataFrame:
    """Provider rows as observations of ``source`` on ``day``."""
    return conform_observations(rows.with_columns(pl.lit(source).alias("source"), pl.lit(day).alias("date")))
