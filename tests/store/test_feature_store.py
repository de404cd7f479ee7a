"""The feature and model-artifact tables of every store (PostgreSQL: a fresh database per test on 127.0.0.1:5432,
skipped when no server answers unless CI=true)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from coinseason.data.tidy import FEATURE_SCHEMA
from coinseason.errors import StoreError
from coinseason.store import Store
from coinseason.store.records import ModelArtifact
from tests.conftest import FIXED_NOW


def at(day: str, hour: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def rows(items: list[tuple[str, str, dt.datetime, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "series": [r[0] for r in items],
            "date": [dt.date.fromisoformat(r[1]) for r in items],
            "known_at": [r[2] for r in items],
            "value": [r[3] for r in items],
        },
        schema=FEATURE_SCHEMA,
    )


def test_rows_round_trip_with_counts(any_store: Store) -> None:
    first = rows(
        [("fng.value", "2024-01-01", at("2024-01-02"), 30.0), ("fng.value", "2024-01-02", at("2024-01-03"), 15.0)]
    )
    counts = any_store.write_features(first)
    assert (counts.added, counts.updated, counts.unchanged) == (2, 0, 0)
    again = rows(
        [("fng.value", "2024-01-01", at("2024-01-02"), 31.0), ("fng.value", "2024-01-02", at("2024-01-03"), 15.0)]
    )
    counts = any_store.write_features(again)
    assert (counts.added, counts.updated, counts.unchanged) == (0, 1, 1)
    assert any_store.features().rows() == [
        ("fng.value", dt.date(2024, 1, 1), at("2024-01-02"), 31.0),
        ("fng.value", dt.date(2024, 1, 2), at("2024-01-03"), 15.0),
    ]


def test_revisions_are_kept_and_known_by_reads_the_past(any_store: Store) -> None:
    any_store.write_features(
        rows(
            [
                ("btc_cm.adr_act_cnt", "2024-01-01", at("2024-01-02", 6), 100.0),
                ("btc_cm.adr_act_cnt", "2024-01-01", at("2024-02-01", 6), 104.0),  # revised a month later
                ("yahoo.sp500_close", "2024-01-01", at("2024-01-02", 12), 4700.0),
            ]
        )
    )
    assert any_store.features(known_by=at("2024-01-02", 6)).rows() == [
        ("btc_cm.adr_act_cnt", dt.date(2024, 1, 1), at("2024-01-02", 6), 100.0)
    ]
    both = any_store.features(("btc_cm.adr_act_cnt",))
    assert both["value"].to_list() == [100.0, 104.0]
    assert any_store.features(("nothing",)).height == 0
    assert any_store.features().schema == pl.Schema(FEATURE_SCHEMA)


def test_a_bad_batch_writes_nothing_and_keeps_what_was_stored(any_store: Store) -> None:
    any_store.write_features(rows([("fng.value", "2024-01-01", at("2024-01-02"), 30.0)]))
    bad = rows(
        [("fng.value", "2024-01-02", at("2024-01-03"), 20.0), ("fng.value", "2024-01-03", at("2024-01-04"), None)]
    )
    with pytest.raises(StoreError, match="nothing was"):
        any_store.write_features(bad)
    assert any_store.features()["value"].to_list() == [30.0]


def test_model_artifacts(any_store: Store) -> None:
    assert any_store.model() is None
    old = ModelArtifact("v1", FIXED_NOW, {"horizon": 30}, b"\x00\x01model")
    new = ModelArtifact("v2", FIXED_NOW + dt.timedelta(hours=1), {"horizon": 14}, b"\xff" * 1000)
    any_store.write_model(old)
    any_store.write_model(new)
    latest = any_store.model()
    assert latest is not None and (latest.version, latest.meta, latest.payload) == (
        "v2",
        {"horizon": 14},
        b"\xff" * 1000,
    )
    first = any_store.model("v1")
    assert first is not None and first.payload == b"\x00\x01model" and first.created_at == FIXED_NOW
    assert any_store.model("v3") is None
    with pytest.raises(StoreError, match="exists already"):
        any_store.write_model(ModelArtifact("v1", FIXED_NOW, {}, b""))
