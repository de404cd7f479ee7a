"""What only the PostgreSQL store has to show: URLs, a server shared by many processes, concurrent imports."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import psycopg
import pytest

from coinseason.errors import StoreError
from coinseason.store import DuckDBStore, ImportRecord, WriteCounts, open_store
from coinseason.store.postgres import PostgresStore, redact
from tests.conftest import FIXED_NOW
from tests.store.postgres_server import fresh_database, wait_until_blocked
from tests.store.test_store_contract import RECORD, coins, obs


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def test_both_schemes_open_postgres(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        assert store.sources() == []
        store.close()


def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open the PostgreSQL store") as caught:
        PostgresStore("postgresql://me:hunter2@127.0.0.1:1/nowhere?connect_timeout=2")
    assert "hunter2" not in str(caught.value)


def test_redact() -> None:
    assert redact("postgresql://me:hunter2@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert redact("postgresql://me@db/x?password=hunter2&sslmode=require") == (
        "postgresql://me@db/x?password=%2A%2A%2A&sslmode=require"
    )
    assert redact("postgres://db/x") == "postgres://db/x"
    assert redact("host=db password=hunter2 dbname=x") == "host=db password=*** dbname=x"
    assert redact("host=db password = 'hun ter2' dbname=x") == "host=db password = *** dbname=x"


def test_two_stores_see_each_others_writes(pg_url: str) -> None:
    """Two PostgresStore objects stand for two processes: nothing is cached, every read asks the server."""
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        first.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
        assert second.observations("s", columns=("coin_id", "price")).rows() == [("a", 1.0)]
        counts = second.write_import(coins(["a"]), obs([("a", "2024-01-01", 2.0), ("a", "2024-01-02", 3.0)]), RECORD)
        assert counts == WriteCounts(added=1, updated=1, unchanged=0)
        assert sorted(first.observations("s", columns=("price",))["price"].to_list()) == [2.0, 3.0]
        assert first.imports()["updated"].to_list() == [0, 1]
        second.write_classification(
            "s",
            pl.DataFrame({"coin_id": ["a"], "token_class": ["wrapped"], "class_basis": ["b"], "class_source": ["x"]}),
        )
        assert first.coins("s")["token_class"].to_list() == ["wrapped"]
        first.add_api_key("abcdefgh", "shared", "f" * 64, FIXED_NOW)
        assert second.revoke_api_key("abcdefgh", FIXED_NOW) is True
        record = first.api_key("abcdefgh")
        assert record is not None and record.revoked_at == FIXED_NOW
    finally:
        first.close()
        second.close()


def test_an_import_arriving_during_another_waits_and_counts_exactly(pg_url: str) -> None:
    """Two imports of the same rows, the second arriving while the first is written but not committed (its
    transaction held open): the second waits for it, then finds every row stored, so the counts add up exactly."""
    rows = [(f"c{i}", f"2024-01-{d:02d}", float(i * d)) for i in range(200) for d in range(1, 29)]
    frame, coin_frame = obs(rows), coins([f"c{i}" for i in range(200)])
    first, second = PostgresStore(pg_url), PostgresStore(pg_url)
    results: dict[str, WriteCounts] = {}
    importer = threading.Thread(target=lambda: results.update(second=second.write_import(coin_frame, frame, RECORD)))
    try:
        with first.session() as con, con.transaction():  # held open: the first import is written, not committed
            results["first"] = first.write_import(coin_frame, frame, RECORD)
            importer.start()
            wait_until_blocked(pg_url, con.info.backend_pid)
        importer.join(timeout=60)
        assert results == {
            "first": WriteCounts(added=len(rows), updated=0, unchanged=0),
            "second": WriteCounts(added=0, updated=0, unchanged=len(rows)),
        }
        assert first.sources()[0].rows == len(rows)
    finally:
        first.close()
        second.close()


def test_same_reads_as_duckdb(pg_url: str, tmp_path: Path) -> None:
    duck, pg = DuckDBStore(tmp_path / "same.duckdb"), PostgresStore(pg_url)
    first = obs([("b", "2024-01-01", 2.0), ("a", "2024-01-01", 1.0), ("a", "2024-01-03", 1.5)])
    second = obs([("a", "2024-01-03", 1.75), ("c", "2024-01-02", 9.0)])
    second_record = ImportRecord("s", "q", "tidy", "y", FIXED_NOW + dt.timedelta(hours=1), 3, {"bad price": 3})
    try:
        for store in (duck, pg):
            store.write_import(coins(["a", "b"]), first, RECORD)
            store.write_import(coins(["c", "a"]), second, second_record)
        assert pg.observations("s").sort("coin_id", "date").equals(duck.observations("s").sort("coin_id", "date"))
        assert pg.coins("s").equals(duck.coins("s"))
        assert pg.last_observations("s").equals(duck.last_observations("s"))
        assert pg.sources() == duck.sources()
        utc = pl.col("imported_at").dt.convert_time_zone("UTC")
        assert pg.imports().with_columns(utc).equals(duck.imports().with_columns(utc))
    finally:
        duck.close()
        pg.close()


def test_schema_version_is_checked(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="has store schema version 99"):
        PostgresStore(pg_url)


def test_a_foreign_database_is_not_a_store(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE TABLE meta (something INTEGER)")
    with pytest.raises(StoreError, match="is not a coinseason store"):
        PostgresStore(pg_url)


def test_an_old_store_gains_the_api_key_table(pg_url: str) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("DROP TABLE api_keys")
    store = PostgresStore(pg_url)
    assert store.api_keys() == []
    store.close()
