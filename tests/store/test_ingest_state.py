"""Ingestion state every store keeps: a cursor written with the data it covers, and a lease one holder at a time
(run on DuckDB and on PostgreSQL, like the store contract)."""

from __future__ import annotations

import datetime as dt
import threading

import polars as pl
import pytest

from coinseason.errors import StoreError
from coinseason.store import Store
from coinseason.store.postgres import PostgresStore
from coinseason.store.records import IngestCursor
from tests.conftest import FIXED_NOW
from tests.store.postgres_server import fresh_database, wait_until_blocked
from tests.store.test_store_contract import RECORD, coins, obs

TTL = dt.timedelta(seconds=30)


def test_cursor_is_saved_with_the_rows(any_store: Store) -> None:
    assert any_store.ingest_cursor("backfill:s") is None
    any_store.write_import(
        coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD, cursor=IngestCursor("backfill:s", '{"done": 1}')
    )
    assert any_store.ingest_cursor("backfill:s") == '{"done": 1}'
    any_store.write_import(
        coins(["b"]), obs([("b", "2024-01-01", 2.0)]), RECORD, cursor=IngestCursor("backfill:s", '{"done": 2}')
    )
    assert any_store.ingest_cursor("backfill:s") == '{"done": 2}'
    assert any_store.ingest_cursor("other") is None


def test_a_failed_write_leaves_the_cursor_where_it_was(any_store: Store) -> None:
    any_store.write_import(
        coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD, cursor=IngestCursor("backfill:s", "1")
    )
    bad = obs([("b", "2024-01-02", 1.0)]).with_columns(pl.lit(None, dtype=pl.Float64).alias("price"))  # NOT NULL
    with pytest.raises(StoreError, match="nothing was written"):
        any_store.write_import(coins(["b"]), bad, RECORD, cursor=IngestCursor("backfill:s", "2"))
    assert any_store.ingest_cursor("backfill:s") == "1"
    assert any_store.observations("s")["coin_id"].to_list() == ["a"]


def test_lease_has_one_holder_until_it_expires(any_store: Store) -> None:
    assert any_store.acquire_lease("ingest", "one", FIXED_NOW, TTL)
    assert not any_store.acquire_lease("ingest", "two", FIXED_NOW + dt.timedelta(seconds=10), TTL)
    assert any_store.acquire_lease("ingest", "one", FIXED_NOW + dt.timedelta(seconds=20), TTL)  # renewed to +50 s
    assert not any_store.acquire_lease("ingest", "two", FIXED_NOW + dt.timedelta(seconds=45), TTL)
    assert any_store.acquire_lease("ingest", "two", FIXED_NOW + dt.timedelta(seconds=50), TTL)  # expired
    assert not any_store.acquire_lease("ingest", "one", FIXED_NOW + dt.timedelta(seconds=51), TTL)
    assert any_store.acquire_lease("other", "one", FIXED_NOW, TTL)  # leases are independent


def test_released_lease_is_free_and_only_its_holder_releases_it(any_store: Store) -> None:
    assert any_store.acquire_lease("ingest", "one", FIXED_NOW, TTL)
    any_store.release_lease("ingest", "two")  # not the holder: nothing happens
    assert not any_store.acquire_lease("ingest", "two", FIXED_NOW, TTL)
    any_store.release_lease("ingest", "one")
    assert any_store.acquire_lease("ingest", "two", FIXED_NOW, TTL)


def test_lease_refuses_naive_times(any_store: Store) -> None:
    with pytest.raises(StoreError, match="no time zone"):
        any_store.acquire_lease("ingest", "one", FIXED_NOW.replace(tzinfo=None), TTL)


def test_a_holder_known_dead_is_replaced_at_once(any_store: Store) -> None:
    assert any_store.lease_holder("ingest") is None
    assert any_store.acquire_lease("ingest", "one", FIXED_NOW, TTL)
    assert any_store.lease_holder("ingest") == "one"
    assert not any_store.acquire_lease("ingest", "two", FIXED_NOW, TTL, dead="someone else")
    assert any_store.acquire_lease("ingest", "two", FIXED_NOW, TTL, dead="one")
    assert any_store.lease_holder("ingest") == "two"


@pytest.mark.parametrize("before", ["free", "expired"])
def test_a_taker_arriving_while_another_takes_the_lease_waits_and_loses(before: str) -> None:
    """A race on PostgreSQL with its interleaving forced: the first taker's statement has run but is not committed
    (its transaction is held open) when the second taker's arrives. The second must wait for the first and then
    see its lease: exactly one holder, whether the lease was free or held by someone whose time ran out."""
    with fresh_database() as url:
        first, second = PostgresStore(url), PostgresStore(url)
        try:
            if before == "expired":
                assert first.acquire_lease("ingest", "gone", FIXED_NOW - 2 * TTL, TTL)
            result: dict[str, bool] = {}
            taker = threading.Thread(
                target=lambda: result.update(second=second.acquire_lease("ingest", "second", FIXED_NOW, TTL))
            )
            with first.session() as con, con.transaction():  # held open: the first take is done but not committed
                assert first.acquire_lease("ingest", "first", FIXED_NOW, TTL)
                taker.start()
                wait_until_blocked(url, con.info.backend_pid)
            taker.join(timeout=30)
            assert result == {"second": False}
            assert second.lease_holder("ingest") == "first"
        finally:
            first.close()
            second.close()
