"""The contract every market store keeps; run on each store implementation (PostgreSQL: a fresh database per
test on 127.0.0.1:5432, skipped when no server answers unless CI=true)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from coinseason.data.tidy import OBSERVATION_SCHEMA
from coinseason.errors import ConfigError, StoreError
from coinseason.store import DataVersion, DuckDBStore, ImportRecord, Store, open_store
from tests.conftest import FIXED_NOW


def obs(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["s"] * len(rows),
            "coin_id": [r[0] for r in rows],
            "date": [dt.date.fromisoformat(r[1]) for r in rows],
            "price": [r[2] for r in rows],
            "market_cap": [r[2] * 10 for r in rows],
            "volume": [None] * len(rows),
            "rank": [None] * len(rows),
            "circulating_supply": [None] * len(rows),
            "flags": [0] * len(rows),
        },
        schema=OBSERVATION_SCHEMA,
    )


def coins(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"source": "s", "coin_id": ids, "symbol": ids, "name": None, "categories": None},
        schema={
            "source": pl.String,
            "coin_id": pl.String,
            "symbol": pl.String,
            "name": pl.String,
            "categories": pl.String,
        },
    )


RECORD = ImportRecord(source="s", path="p", format="tidy", sha256="x", imported_at=FIXED_NOW, rejected=0)


def test_write_read_and_counts(any_store: Store) -> None:
    counts = any_store.write_import(
        coins(["a", "b"]), obs([("a", "2024-01-01", 1.0), ("b", "2024-01-01", 2.0)]), RECORD
    )
    assert (counts.added, counts.updated, counts.unchanged) == (2, 0, 0)
    counts = any_store.write_import(
        coins(["a"]), obs([("a", "2024-01-01", 1.5), ("a", "2024-01-02", 1.0), ("b", "2024-01-01", 2.0)]), RECORD
    )
    assert (counts.added, counts.updated, counts.unchanged) == (1, 1, 1)
    got = any_store.observations("s", columns=("coin_id", "date", "price")).sort("coin_id", "date")
    assert got.rows() == [
        ("a", dt.date(2024, 1, 1), 1.5),
        ("a", dt.date(2024, 1, 2), 1.0),
        ("b", dt.date(2024, 1, 1), 2.0),
    ]
    summary = any_store.sources()[0]
    assert (summary.source, summary.coins, summary.rows) == ("s", 2, 3)
    assert (summary.first_date, summary.last_date) == (dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    info = any_store.coins("s").sort("coin_id")
    assert info["first_seen"].to_list() == [dt.date(2024, 1, 1)] * 2
    assert info["last_seen"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 1)]
    last = any_store.last_observations("s").sort("coin_id")
    assert last["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 1)]


def test_sources_are_kept_apart(any_store: Store) -> None:
    any_store.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
    other = obs([("a", "2024-01-01", 9.0)]).with_columns(pl.lit("t").alias("source"))
    any_store.write_import(coins(["a"]).with_columns(pl.lit("t").alias("source")), other, RECORD)
    assert any_store.observations("s", columns=("price",))["price"].to_list() == [1.0]
    assert any_store.observations("t", columns=("price",))["price"].to_list() == [9.0]


def test_failed_write_leaves_store_exactly_as_it_was(any_store: Store) -> None:
    any_store.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
    bad = obs([("a", "2024-01-02", 2.0), ("z", "2024-01-01", 3.0)]).with_columns(
        pl.when(pl.col("coin_id") == "z").then(None).otherwise(pl.col("price")).alias("price")
    )  # a NULL price violates the schema half-way through the write
    with pytest.raises(StoreError, match="nothing was written"):
        any_store.write_import(coins(["a", "z"]), bad, RECORD)
    assert any_store.observations("s", columns=("coin_id", "price")).rows() == [("a", 1.0)]
    assert any_store.coins("s")["coin_id"].to_list() == ["a"]
    assert any_store.imports().height == 1


def test_store_url_schemes(tmp_path: Path) -> None:
    plain = open_store(tmp_path / "plain.duckdb")
    assert isinstance(plain, DuckDBStore)
    plain.close()
    memory = open_store("duckdb://:memory:")
    assert memory.sources() == []
    memory.close()
    with pytest.raises(ConfigError, match="unsupported store URL scheme 'mysql'"):
        open_store("mysql://localhost/db")


def test_not_a_store(tmp_path: Path) -> None:
    path = tmp_path / "junk.duckdb"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open the DuckDB store"):
        DuckDBStore(path)


def test_values_come_back_exactly(any_store: Store) -> None:
    tricky = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0, float("inf"), 123456789.12345679, float("nan")]
    frame = pl.DataFrame(
        {
            "source": "s",
            "coin_id": [f"c{i}" for i in range(len(tricky))],
            "date": dt.date(2024, 1, 1),
            "price": tricky,
            "market_cap": [None, *tricky[1:]],
            "volume": [1e-300] * len(tricky),
            "rank": [None, *range(1, len(tricky))],
            "circulating_supply": [None] * len(tricky),
            "flags": [0, 1, 2, 3, 0, 0, 0, 32767],
        },
        schema=OBSERVATION_SCHEMA,
    )
    names = ["", 'comma, "quote"', "line\nbreak", "ünï €", None, "x", "y", "z"]
    coin_frame = coins(frame["coin_id"].to_list()).with_columns(pl.Series("name", names, pl.String))
    counts = any_store.write_import(coin_frame, frame, RECORD)
    assert (counts.added, counts.updated, counts.unchanged) == (8, 0, 0)
    got = any_store.observations("s", columns=tuple(OBSERVATION_SCHEMA)).sort("coin_id")
    assert got.schema == pl.Schema(OBSERVATION_SCHEMA)
    assert got.equals(frame)  # NaN equals NaN here, null stays null, -0.0 and 5e-324 survive
    assert any_store.coins("s").sort("coin_id")["name"].to_list() == names
    again = any_store.write_import(coin_frame, frame, RECORD)  # NaN IS NOT DISTINCT FROM NaN: unchanged
    assert (again.added, again.updated, again.unchanged) == (0, 0, 8)


def test_read_schemas(any_store: Store) -> None:
    any_store.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
    assert any_store.observations("s", columns=("flags", "rank", "date")).schema == pl.Schema(
        {"flags": pl.Int16, "rank": pl.Int32, "date": pl.Date}
    )
    assert any_store.coins("s").schema == pl.Schema(
        {
            **dict.fromkeys(
                ("coin_id", "symbol", "name", "categories", "token_class", "class_basis", "class_source"), pl.String
            ),
            "first_seen": pl.Date,
            "last_seen": pl.Date,
            "n_days": pl.Int64,
        }
    )
    assert any_store.last_observations("s").schema == pl.Schema(
        {
            "coin_id": pl.String,
            "symbol": pl.String,
            "date": pl.Date,
            "price": pl.Float64,
            "market_cap": pl.Float64,
            "circulating_supply": pl.Float64,
        }
    )
    imports = any_store.imports()
    assert imports.columns == [
        "id", "source", "path", "format", "sha256", "imported_at",
        "added", "updated", "unchanged", "rejected", "rejections",
    ]  # fmt: skip
    assert isinstance(imports["imported_at"].dtype, pl.Datetime) and imports["imported_at"].dtype.time_unit == "us"
    assert imports["imported_at"].dt.convert_time_zone("UTC").to_list() == [FIXED_NOW]
    assert imports.select("added", "rejections").rows() == [(1, "{}")]
    with pytest.raises(StoreError, match="unknown observation columns"):
        any_store.observations("s", columns=("price", "nope"))


def test_empty_reads(any_store: Store) -> None:
    assert any_store.observations("s").height == 0
    assert any_store.observations("s").schema == pl.Schema(
        {c: OBSERVATION_SCHEMA[c] for c in ("coin_id", "date", "price", "market_cap", "flags")}
    )
    assert any_store.coins("s").height == 0
    assert any_store.last_observations("s").height == 0
    assert any_store.imports().height == 0
    assert any_store.sources() == []
    assert any_store.api_keys() == []


def test_last_observations_before_a_day(any_store: Store) -> None:
    rows = [("a", "2024-01-01", 1.0), ("a", "2024-01-03", 3.0), ("b", "2024-01-02", 2.0), ("c", "2024-01-05", 5.0)]
    any_store.write_import(coins(["a", "b", "c"]), obs(rows), RECORD)
    last = any_store.last_observations("s", before=dt.date(2024, 1, 3))
    assert last.select("coin_id", "date", "price").rows() == [
        ("a", dt.date(2024, 1, 1), 1.0),
        ("b", dt.date(2024, 1, 2), 2.0),
    ]


def test_coins_keep_known_names_and_take_classes(any_store: Store) -> None:
    named = coins(["a", "b"]).with_columns(pl.Series("name", ["Alpha", "Beta"]))
    any_store.write_import(named, obs([("a", "2024-01-01", 1.0), ("b", "2024-01-01", 1.0)]), RECORD)
    any_store.write_import(coins(["a"]), obs([("a", "2024-01-02", 1.0)]), RECORD)  # name NULL: keep "Alpha"
    classes = pl.DataFrame(
        {"coin_id": ["a", "zz"], "token_class": ["stablecoin", "wrapped"], "class_basis": ["peg"] * 2}
    ).with_columns(pl.lit("test").alias("class_source"))
    any_store.write_classification("s", classes)
    got = any_store.coins("s").select("coin_id", "name", "token_class", "class_basis", "class_source", "n_days")
    assert got.rows() == [("a", "Alpha", "stablecoin", "peg", "test", 2), ("b", "Beta", None, None, None, 1)]


# -- API keys ---------------------------------------------------------------------------------------------------

BERLIN = dt.timezone(dt.timedelta(hours=1))


def test_api_keys(any_store: Store) -> None:
    assert any_store.api_key("abcdefgh") is None
    any_store.add_api_key("abcdefgh", "first", "f" * 64, FIXED_NOW)
    any_store.add_api_key("ABCDEFGH", "second", "e" * 64, dt.datetime(2026, 11, 24, 14, 0, tzinfo=BERLIN))
    first = any_store.api_key("abcdefgh")
    assert first is not None
    assert (first.prefix, first.name, first.secret_hash, first.revoked_at) == ("abcdefgh", "first", "f" * 64, None)
    assert first.created_at == FIXED_NOW and first.created_at.utcoffset() == dt.timedelta(0)
    assert first.active
    assert "f" * 64 not in repr(first)
    listed = any_store.api_keys()
    assert [k.prefix for k in listed] == ["abcdefgh", "ABCDEFGH"]  # oldest first; prefixes are case-sensitive
    assert listed[1].created_at == dt.datetime(2026, 11, 24, 13, 0, tzinfo=dt.UTC)


def test_api_key_revocation(any_store: Store) -> None:
    any_store.add_api_key("abcdefgh", "first", "f" * 64, FIXED_NOW)
    later = FIXED_NOW + dt.timedelta(days=1, microseconds=7)
    assert any_store.revoke_api_key("abcdefgh", later) is True
    assert any_store.revoke_api_key("abcdefgh", later + dt.timedelta(days=1)) is False  # revoked already
    assert any_store.revoke_api_key("unknown1", later) is False
    record = any_store.api_key("abcdefgh")
    assert record is not None and record.revoked_at == later and not record.active
    assert [k.revoked_at for k in any_store.api_keys()] == [later]


def test_api_key_prefix_is_unique(any_store: Store) -> None:
    any_store.add_api_key("abcdefgh", "first", "f" * 64, FIXED_NOW)
    with pytest.raises(StoreError, match="prefix 'abcdefgh' exists already"):
        any_store.add_api_key("abcdefgh", "again", "0" * 64, FIXED_NOW)
    assert [k.name for k in any_store.api_keys()] == ["first"]


def test_api_key_times_must_be_aware(any_store: Store) -> None:
    with pytest.raises(StoreError, match="no time zone"):
        any_store.add_api_key("abcdefgh", "naive", "f" * 64, dt.datetime(2026, 1, 1))  # noqa: DTZ001
    assert any_store.api_keys() == []


def test_an_old_store_gains_the_api_key_table(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    DuckDBStore(path).close()
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE api_keys")
    con.close()
    store = DuckDBStore(path)
    assert store.api_keys() == []
    store.close()


def test_one_store_is_shared_safely_by_threads(any_store: Store) -> None:
    # the API reads one store from its thread pool, its reload thread and the event loop at once
    any_store.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
    failures: list[str] = []

    def loop(read: Callable[[], object]) -> None:
        for _ in range(300):
            try:
                read()
            except Exception as exc:  # noqa: BLE001 (every failure is the finding)
                failures.append(f"{type(exc).__name__}: {exc}")

    reads: list[Callable[[], object]] = [
        lambda: len(any_store.sources()) == 1 or failures.append("sources lost"),
        lambda: any_store.api_key("abcdefgh") is None or failures.append("a key appeared"),
        lambda: any_store.observations("s").height == 1 or failures.append("rows lost"),
    ]
    threads = [threading.Thread(target=loop, args=(read,)) for read in reads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# -- the data version ----------------------------------------------------------------------------------------------


def test_the_data_version_follows_every_kind_of_write(any_store: Store) -> None:
    store = any_store
    empty = store.data_version()
    assert empty == DataVersion(imports=0, classes=empty.classes, keys=0)
    store.write_import(coins(["a", "b"]), obs([("a", "2024-01-01", 1.0), ("b", "2024-01-01", 2.0)]), RECORD)
    imported = store.data_version()
    assert imported.imports == 1 and imported.market != empty.market
    classes = pl.DataFrame(
        {"coin_id": ["a"], "token_class": ["stablecoin"], "class_basis": ["peg"], "class_source": ["test"]}
    )
    store.write_classification("s", classes)
    classified = store.data_version()
    assert classified.imports == 1 and classified.classes != imported.classes
    store.add_api_key("abcdefgh", "k", "f" * 64, FIXED_NOW)
    keyed = store.data_version()
    assert keyed.keys == 1 and keyed.market == classified.market
    store.revoke_api_key("abcdefgh", FIXED_NOW)
    assert store.data_version().keys == 2
    store.observations("s")
    store.acquire_lease("ingest", "me", FIXED_NOW, dt.timedelta(seconds=90))
    assert store.data_version().market == classified.market  # reads and leases change nothing served
