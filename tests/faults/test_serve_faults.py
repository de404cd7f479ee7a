"""The quick part of the fault suite: real ``coinseason serve`` processes under a small steady load (two threads on
127.0.0.1), one fault at a time. Every fault must leave no row lost or twice, serve no wrong answer, and answer every
failure with problem+json that names no server; the service must recover, within the issue's 5 s where it states a
bound (checked by polling, see ``tests/faults/scenarios.py``). ``bench/faults.py`` runs the same faults under more
load and prints the table.

Needs the shared data (``../shared/data``), PostgreSQL's server binaries and ``redis-server``: skipped without them,
failed under ``CI=true``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from tests.fakes.provider_server import FakeProviderServer, Fault, ProviderData, fake_provider
from tests.faults.load import LoadLoop
from tests.faults.scenarios import (
    LAST_DAY,
    RECOVERY_BOUND,
    FaultResult,
    Market,
    Setup,
    duckdb_setup,
    kill_backends,
    kill_import,
    kill_ingestion,
    kill_server_mid_ingestion,
    kill_worker,
    make_market,
    postgres_setup,
    reference_backfill,
    reference_import,
    refuse_connections,
    restart_redis,
    worker_pids,
)

THREADS = 2
PAUSE = 0.01
"""Between two requests of a thread: a light load, beside the other tests on a 2-core machine."""


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Market:
    return make_market(tmp_path_factory.mktemp("market"), coins=20, days=200, extra_coins=40)


@pytest.fixture(scope="module")
def postgres(market: Market, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, LoadLoop]]:
    """The PostgreSQL + Redis setup with two workers, and a load loop (not started) with its known answers."""
    with postgres_setup(tmp_path_factory.mktemp("postgres"), market, keys=4) as setup:
        yield setup, setup.load(threads=THREADS, max_seconds=300)


@pytest.fixture
def pg_load(postgres: tuple[Setup, LoadLoop]) -> Iterator[tuple[Setup, LoadLoop]]:
    setup, template = postgres
    with LoadLoop(
        servers=template.servers,
        probes=template.probes,
        known=template.known,
        secrets=template.secrets,
        threads=THREADS,
        max_seconds=300,
        pause=PAUSE,
    ) as load:
        load.wait_for_requests(20)
        yield setup, load


@pytest.fixture(scope="module")
def provider(market: Market) -> Iterator[FakeProviderServer]:
    data = ProviderData.from_frames(market.provider, as_of=LAST_DAY)
    with fake_provider(data, faults=[Fault("slow", delay=0.02, path="market_chart", times=10**6)]) as fake:
        yield fake


def assert_sound(found: FaultResult) -> None:
    assert found.sent > 0, found
    assert (found.lost, found.duplicated) == (0, 0), found
    assert found.wrong == 0, found
    assert found.plain == 0 and found.leaks == 0, found


def assert_recovered(found: FaultResult, bound: float | None = RECOVERY_BOUND) -> None:
    assert found.recovery is not None, f"still failing when watching stopped: {found}"
    if bound is not None:
        assert found.recovery <= bound, found


def test_killed_backends_cost_nothing(pg_load: tuple[Setup, LoadLoop]) -> None:
    found = kill_backends(*pg_load, rounds=2)
    assert_sound(found)
    assert_recovered(found)


def test_postgres_refusing_connections_10_s(pg_load: tuple[Setup, LoadLoop]) -> None:
    found = refuse_connections(*pg_load, seconds=10.0)
    assert_sound(found)
    assert_recovered(found)
    assert set(found.statuses) <= {200, 503}, found  # refused as problem+json 503, never a 500
    assert found.failed > 0 and found.statuses.get(200, 0) > 0  # the keyed store reads failed; memory served
    assert "store unreachable: the database server refuses connections" in found.note


def test_redis_stopped_and_restarted(pg_load: tuple[Setup, LoadLoop]) -> None:
    found = restart_redis(*pg_load, seconds=2.0)
    assert_sound(found)
    assert_recovered(found)
    assert set(found.statuses) <= {200, 503}, found  # the shared limiter fails closed while Redis is away


def test_one_worker_killed(pg_load: tuple[Setup, LoadLoop]) -> None:
    setup, _ = pg_load
    found = kill_worker(*pg_load)
    assert_sound(found)
    assert_recovered(found, bound=None)  # a new worker starts: no bound stated for that
    assert len(worker_pids(setup.server)) == 2


def test_an_import_killed_mid_write(pg_load: tuple[Setup, LoadLoop], tmp_path: Path) -> None:
    setup, load = pg_load
    found = kill_import(setup, load, reference_import(tmp_path, setup.market))
    assert found.note.startswith("killed mid-write"), found
    assert_sound(found)


def test_an_ingestion_killed_mid_write(pg_load: tuple[Setup, LoadLoop], provider: FakeProviderServer) -> None:
    setup, load = pg_load
    reference = reference_backfill(setup, provider)
    assert reference.height > 0 and isinstance(reference, pl.DataFrame)
    found = kill_ingestion(setup, load, provider, reference)
    assert found.note.startswith("killed mid-write of batch 2"), found
    assert found.note.endswith("resumed"), found  # the first batch was kept and not fetched again
    assert_sound(found)


def test_the_duckdb_server_killed_mid_ingestion(market: Market, tmp_path: Path) -> None:
    with (
        duckdb_setup(tmp_path, market, keys=2) as setup,
        setup.load(threads=THREADS, max_seconds=300, pause=PAUSE) as load,
    ):
        load.wait_for_requests(20)
        found = kill_server_mid_ingestion(setup, load)
    assert_sound(found)
    assert_recovered(found, bound=None)  # a restart: no bound stated for that
    assert found.note.startswith("snapshots were being taken"), found
