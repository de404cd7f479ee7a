"""The setups and faults of the fault suite, shared by its tests (``tests/faults``) and ``bench/faults.py``.

Setups: real ``coinseason serve`` processes over real market rows (the shared CoinGecko set: the top coins of its
last day, source ``market``), with API keys and rate limits high enough never to refuse the load:

* :func:`postgres_setup`: a private PostgreSQL cluster and a private Redis, ``--workers 2``;
* :func:`duckdb_setup`: a DuckDB file, one worker, its ingestion loop on, taking snapshots from the local fake
  CoinGecko server every ``interval`` seconds.

Each fault function runs one fault under the load of a :class:`~tests.faults.load.LoadLoop` and returns a
:class:`FaultResult`: requests sent and failed (from the fault until the service was seen healthy again), the
recovery time (from the moment the fault's cause was removed, e.g. the database accepting connections again, to the
answer of the last failed request; 0 when nothing failed after it), rows lost or duplicated (against a reference
made without the fault), wrong answers (a 200 whose body differs from the known-good one), failures that were not
problem+json, and failures whose text named the database server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import psycopg

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.services.keys import KeyService
from coinseason.store import DuckDBStore, open_store
from tests.api.serve_helpers import Server, clean_env, serve, stop
from tests.conftest import COINGECKO_DAILY, fixed_clock
from tests.fakes.provider_server import FakeProviderServer, ProviderData, fake_provider
from tests.faults.load import LoadLoop, Probe, Window
from tests.faults.services import PostgresCluster, PrivateRedis, private_postgres, private_redis
from tests.support.requirements import shared_file

LAST_DAY = dt.date(2025, 7, 19)
SOURCE = "market"
EXTRA_SOURCE = "extra"
DATABASE = "coinseason_faults"
RECOVERY_BOUND = 5.0
"""The issue's bound: the API serves again within 5 s of the database accepting connections (or the fault's end)."""
QUIET = 2.0
"""The service counts as recovered once no request failed for this long after the fault's cause was removed."""
OBSERVE_LIMIT = 30.0
"""The longest a fault is watched after its cause was removed (a service still failing then has not recovered)."""
WRITE_TAG = "coinseason-fault-writer"
"""``application_name`` of the writer a fault kills, so that its backend can be found in ``pg_stat_activity``."""
LIMITS = {"COINSEASON_RATE_LIMIT_PER_MINUTE": "1000000", "COINSEASON_ANONYMOUS_RATE_LIMIT_PER_MINUTE": "1000000"}
SMALL_MARKET = {"COINSEASON_SEASON_MIN_ELIGIBLE": "0"}
"""The markets here hold 20–40 coins: the minimum universe (20 eligible altcoins) is not what these tests are about."""


@dataclass(frozen=True)
class Market:
    """The files a setup serves and writes: ``base`` (served), ``extra`` (the big import killed mid-write), and the
    rows the fake provider serves to the ingestion."""

    base: Path
    extra: Path
    provider: pl.DataFrame
    coins: list[str]
    days: list[dt.date]


def make_market(root: Path, *, coins: int = 40, days: int = 400, extra_coins: int = 60) -> Market:
    """Subsets of the shared CoinGecko daily set, in its own file format: the top ``coins`` of its last day over
    ``days`` days (served), and the whole history of the top ``extra_coins`` (imported under another source)."""
    frame = pl.scan_parquet(shared_file(COINGECKO_DAILY))
    top = (
        frame.filter(pl.col("date") == LAST_DAY)
        .sort("market_cap_usd", descending=True)
        .select("coin_id")
        .head(max(coins, extra_coins))
        .collect()["coin_id"]
        .to_list()
    )
    first = LAST_DAY - dt.timedelta(days=days - 1)
    base = frame.filter(pl.col("coin_id").is_in(top[:coins]) & (pl.col("date") >= first)).collect()
    extra = frame.filter(pl.col("coin_id").is_in(top[:extra_coins])).collect()
    provider = base
    root.mkdir(parents=True, exist_ok=True)
    base.write_parquet(root / "base.parquet")
    extra.write_parquet(root / "extra.parquet")
    return Market(
        base=root / "base.parquet",
        extra=root / "extra.parquet",
        provider=provider,
        coins=top[:coins],
        days=[first + dt.timedelta(days=i) for i in range(days)],
    )


@dataclass
class FaultResult:
    setup: str
    fault: str
    sent: int
    failed: int
    recovery: float | None
    """Seconds; None when the service still failed when watching stopped."""
    lost: int
    duplicated: int
    wrong: int
    plain: int
    leaks: int
    slowest: float
    statuses: dict[int, int] = field(default_factory=dict)
    note: str = ""

    @property
    def sound(self) -> bool:
        """What every fault must keep: no row lost or twice, no wrong answer, no plain or leaking failure."""
        return not (self.lost or self.duplicated or self.wrong or self.plain or self.leaks)


@dataclass
class Setup:
    """A running service under test and what the faults need to reach it."""

    name: str
    server: Server
    db: str
    keys: list[str]
    market: Market
    root: Path
    env: dict[str, str]
    args: list[str]
    pg: PostgresCluster | None = None
    redis: PrivateRedis | None = None
    provider: FakeProviderServer | None = None
    secrets: list[str] = field(default_factory=list)
    """Strings no answer may show: the database server's address and the store's URL."""

    def probes(self) -> list[Probe]:
        """Keyed store reads (each key's coin history over a few ranges, uncached) between anonymous in-memory
        reads (the season and dominance series, cached or computed)."""
        days, coins = self.market.days, self.market.coins
        keyed = []
        for i, key in enumerate(self.keys):
            for span in (7, 30, 120):
                end = days[-1 - 3 * i]
                start = end - dt.timedelta(days=span)
                keyed.append(
                    Probe(
                        f"/v1/coins/{coins[i % len(coins)]}/history",
                        (("from", start.isoformat()), ("to", end.isoformat())),
                        key=key,
                        uncached=True,
                    )
                )
        anonymous = [Probe("/v1/dominance/latest")]
        for top, window in ((10, 30), (20, 30), (30, 90)):
            anonymous.append(Probe("/v1/season/latest", (("top", str(top)), ("window", str(window)))))
            anonymous.append(
                Probe(
                    "/v1/season/history",
                    (("top", str(top)), ("window", str(window)), ("from", days[-60].isoformat())),
                    uncached=True,
                )
            )
        mixed: list[Probe] = []
        for i in range(max(len(keyed), len(anonymous))):
            mixed.append(keyed[i % len(keyed)])
            mixed.append(anonymous[i % len(anonymous)])
        return mixed

    def known_answers(self, probes: Sequence[Probe]) -> dict[Probe, bytes]:
        """Each probe's body from the healthy service, asked twice (two workers may answer): both must agree."""
        known: dict[Probe, bytes] = {}
        with httpx.Client(base_url=self.server.url, timeout=30.0) as client:
            for probe in dict.fromkeys(probes):
                headers = {"X-API-Key": probe.key} if probe.key else {}
                bodies = set()
                for _ in range(2):
                    answer = client.get(probe.path, params=list(probe.params), headers=headers)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{probe.path} answered {answer.status_code}: {answer.text}")
                    bodies.add(answer.content)
                if len(bodies) != 1:
                    raise RuntimeError(f"two answers of {probe.path} differ before any fault")
                known[probe] = bodies.pop()
        return known

    def load(self, *, threads: int = 4, max_seconds: float = 600.0, pause: float = 0.0) -> LoadLoop:
        probes = self.probes()
        return LoadLoop(
            servers=[self.server.url],
            probes=probes,
            known=self.known_answers(probes),
            secrets=self.secrets,
            threads=threads,
            max_seconds=max_seconds,
            pause=pause,
        )

    def readiness(self) -> str:
        """What ``/readyz`` says now (status and reasons), for the table's notes."""
        try:
            answer = httpx.get(f"{self.server.url}/readyz", timeout=5.0)
        except httpx.HTTPError as exc:
            return f"/readyz: no answer ({type(exc).__name__})"
        reasons = answer.json().get("reasons", []) if answer.headers.get("content-type") == "application/json" else []
        return f"/readyz {answer.status_code}: {'; '.join(reasons) or 'ready'}"


# -- setups ---------------------------------------------------------------------------------------------------------


def _import(db: str, path: Path, source: str) -> None:
    store = open_store(db)
    try:
        ImportService(store, clock=fixed_clock).import_file(path, FileFormat.COINGECKO_DAILY, source=source)
    finally:
        store.close()


def _keys(db: str, count: int) -> list[str]:
    store = open_store(db)
    try:
        service = KeyService(store, clock=fixed_clock)
        return [service.create(f"fault load {i}")[1] for i in range(count)]
    finally:
        store.close()


@contextlib.contextmanager
def postgres_setup(root: Path, market: Market, *, workers: int = 2, keys: int = 8) -> Iterator[Setup]:
    """``coinseason serve --workers N`` over a private PostgreSQL cluster and a private Redis."""
    root.mkdir(parents=True, exist_ok=True)
    with private_postgres() as pg, private_redis(root / "redis.log") as redis:
        db = pg.create_database(DATABASE)
        _import(db, market.base, SOURCE)
        made = _keys(db, keys)
        env = {
            **LIMITS,
            **SMALL_MARKET,
            "COINSEASON_REDIS_URL": redis.url,
            "COINSEASON_DEFAULT_SOURCE": SOURCE,
            "COINSEASON_INGEST": "false",
            "COINSEASON_ACCESS_LOG": "false",
        }
        args = ["--db", db, "--workers", str(workers)]
        with serve(args, log=root / "serve.log", env=env) as server:
            yield Setup(
                name=f"PostgreSQL + Redis, {workers} workers",
                server=server,
                db=db,
                keys=made,
                market=market,
                root=root,
                env=env,
                args=args,
                pg=pg,
                redis=redis,
                secrets=[f"127.0.0.1:{pg.port}", f"port {pg.port}", db, "postgres@"],
            )


def provider_env(provider: FakeProviderServer) -> dict[str, str]:
    return {
        "COINSEASON_COINGECKO_URL": provider.coingecko_url,
        "COINSEASON_COINGECKO_PLAN": "pro",  # the fake's data is older than a keyless plan's year of history
        "COINSEASON_COINGECKO_API_KEY": "test-key",
        "COINSEASON_COINGECKO_CALLS_PER_MINUTE": "60000",
    }


@contextlib.contextmanager
def duckdb_setup(root: Path, market: Market, *, keys: int = 8, interval: float = 1.0) -> Iterator[Setup]:
    """``coinseason serve`` (one worker) over a DuckDB file, its ingestion loop taking a snapshot every
    ``interval`` seconds from the fake CoinGecko server."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "store.duckdb"
    _import(str(path), market.base, SOURCE)
    made = _keys(str(path), keys)
    data = ProviderData.from_frames(market.provider, as_of=LAST_DAY)
    with fake_provider(data, stamp_now=True) as provider:
        env = {
            **LIMITS,
            **SMALL_MARKET,
            **provider_env(provider),
            "COINSEASON_DEFAULT_SOURCE": SOURCE,
            "COINSEASON_INGEST_PROVIDER": "coingecko",
            "COINSEASON_INGEST_TOP": str(len(market.coins)),
            "COINSEASON_INGEST_INTERVAL_MINUTES": str(interval / 60),
            "COINSEASON_ACCESS_LOG": "false",
        }
        args = ["--db", str(path)]
        with serve(args, log=root / "serve.log", env=env) as server:
            setup = Setup(
                name="DuckDB, 1 worker, ingestion loop on",
                server=server,
                db=str(path),
                keys=made,
                market=market,
                root=root,
                env=env,
                args=args,
                provider=provider,
                secrets=[str(root)],
            )
            try:
                yield setup
            finally:
                stop(setup.server.process)  # the server a fault restarted, if any


# -- measuring ------------------------------------------------------------------------------------------------------


def watch(load: LoadLoop, start: float, cleared: float) -> tuple[Window, float | None]:
    """Wait until no request failed for QUIET seconds after ``cleared`` (at most OBSERVE_LIMIT), then the window of
    requests sent since ``start`` and the recovery time (None when failures went on to the end)."""
    limit = cleared + OBSERVE_LIMIT
    while True:
        now = time.monotonic()
        last = load.window(start).last_failure()
        if now - max(last or cleared, cleared) >= QUIET:
            break
        if now > limit:
            window = load.window(start)
            return window, None
        time.sleep(0.1)
    window = load.window(start, time.monotonic())
    last = window.last_failure()
    return window, (max(0.0, last - cleared) if last is not None else 0.0)


def result(setup: Setup, fault: str, window: Window, recovery: float | None, **rest: Any) -> FaultResult:
    return FaultResult(
        setup=setup.name,
        fault=fault,
        sent=window.sent,
        failed=window.failed,
        recovery=recovery,
        wrong=window.wrong,
        plain=window.plain,
        leaks=window.leaks,
        slowest=window.slowest,
        statuses=window.statuses(),
        lost=rest.pop("lost", 0),
        duplicated=rest.pop("duplicated", 0),
        note=rest.pop("note", ""),
    )


def rows(db: str, source: str) -> pl.DataFrame:
    """Every stored observation of ``source``, all columns, in key order."""
    store = open_store(db)
    try:
        columns = ("coin_id", "date", "price", "market_cap", "volume", "rank", "circulating_supply", "flags")
        return store.observations(source, columns=columns).sort("coin_id", "date")
    finally:
        store.close()


def compare(expected: pl.DataFrame, got: pl.DataFrame) -> tuple[int, int]:
    """(rows of ``expected`` missing from ``got`` or changed, rows of ``got`` not expected or there twice)."""
    lost = expected.join(got, on=expected.columns, how="anti", nulls_equal=True).height
    extra = got.join(expected, on=expected.columns, how="anti", nulls_equal=True).height
    return lost, extra + (got.height - got.unique().height)


# -- faults of the PostgreSQL setup ---------------------------------------------------------------------------------


def kill_backends(setup: Setup, load: LoadLoop, *, rounds: int = 3) -> FaultResult:
    """``pg_terminate_backend`` on every backend of the test's database, ``rounds`` times a second apart."""
    assert setup.pg is not None
    before = rows(setup.db, SOURCE)
    start = time.monotonic()
    killed = 0
    for i in range(rounds):
        if i:
            time.sleep(1.0)
        killed += setup.pg.terminate_backends(DATABASE)
    cleared = time.monotonic()
    window, recovery = watch(load, start, cleared)
    lost, duplicated = compare(before, rows(setup.db, SOURCE))
    note = f"{killed} backends terminated in {rounds} rounds"
    return result(setup, "kill PostgreSQL backends", window, recovery, lost=lost, duplicated=duplicated, note=note)


def refuse_connections(setup: Setup, load: LoadLoop, *, seconds: float = 10.0) -> FaultResult:
    """The database server stopped (fast shutdown: backends terminated, the port refusing) for ``seconds``."""
    assert setup.pg is not None
    before = rows(setup.db, SOURCE)
    start = time.monotonic()
    setup.pg.stop()
    time.sleep(seconds / 2)
    said = setup.readiness()
    time.sleep(max(0.0, seconds - (time.monotonic() - start)))
    setup.pg.start()
    cleared = time.monotonic()
    window, recovery = watch(load, start, cleared)
    lost, duplicated = compare(before, rows(setup.db, SOURCE))
    fault = f"PostgreSQL refuses connections {seconds:g} s"
    return result(setup, fault, window, recovery, lost=lost, duplicated=duplicated, note=f"while down, {said}")


def restart_redis(setup: Setup, load: LoadLoop, *, seconds: float = 5.0) -> FaultResult:
    """The private Redis stopped for ``seconds``, then started afresh (empty: nothing was saved)."""
    assert setup.redis is not None
    start = time.monotonic()
    setup.redis.stop()
    time.sleep(seconds / 2)
    said = setup.readiness()
    time.sleep(max(0.0, seconds - (time.monotonic() - start)))
    setup.redis.start()
    cleared = time.monotonic()
    window, recovery = watch(load, start, cleared)
    return result(setup, f"Redis stopped {seconds:g} s, restarted", window, recovery, note=f"while down, {said}")


def worker_pids(server: Server) -> list[int]:
    """The worker processes of a ``serve --workers N``: children of its supervisor started by multiprocessing's
    ``spawn_main`` (not its resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == server.process.pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                found.append(int(stat.parent.name))
    return sorted(found)


def kill_worker(setup: Setup, load: LoadLoop) -> FaultResult:
    """``kill -9`` of one worker; its supervisor starts another."""
    workers = worker_pids(setup.server)
    if len(workers) < 2:
        raise RuntimeError(f"expected several workers, found {workers}")
    start = time.monotonic()
    os.kill(workers[0], signal.SIGKILL)
    deadline = start + OBSERVE_LIMIT
    while time.monotonic() < deadline:  # the supervisor notices and starts a new one
        now = worker_pids(setup.server)
        if workers[0] not in now and len(now) == len(workers):
            break
        time.sleep(0.1)
    window, recovery = watch(load, start, start)
    replaced = worker_pids(setup.server)
    note = f"worker {workers[0]} killed; workers now {len(replaced)}"
    return result(setup, "kill -9 one worker", window, recovery, note=note)


def _tagged(db: str) -> str:
    return f"{db}?application_name={WRITE_TAG}"


_WRITING = (
    "SELECT xact_start, left(query, 40) FROM pg_stat_activity WHERE application_name = %s"
    " AND xact_start IS NOT NULL AND (query ILIKE '%%cs_incoming%%' OR query ILIKE '%%WITH delta%%')"
)


@dataclass
class WriterWatch:
    """Whether the tagged writer's backend is inside a write transaction of the store (staging rows into
    ``cs_incoming`` or upserting them), asked on one open connection; the first ``skip`` such transactions are let
    through. ``caught`` is the statement it was running when it was seen."""

    con: psycopg.Connection[tuple[Any, ...]]
    skip: int = 0
    seen: set[object] = field(default_factory=set)
    caught: str = ""

    def __call__(self) -> bool:
        found = self.con.execute(_WRITING, (WRITE_TAG,)).fetchone()
        if not found:
            return False
        self.seen.add(found[0])
        self.caught = " ".join(str(found[1]).split())
        return len(self.seen) > self.skip


@contextlib.contextmanager
def writer_watch(pg: PostgresCluster, *, skip: int = 0) -> Iterator[WriterWatch]:
    with psycopg.connect(f"{pg.server}/postgres", autocommit=True, connect_timeout=5) as con:
        yield WriterWatch(con, skip)


def _writer_gone(pg: PostgresCluster, *, timeout: float = 30.0) -> None:
    """Wait until the killed writer's backend has ended (its transaction rolled back by the server)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"{pg.server}/postgres", autocommit=True, connect_timeout=5) as con:
        while time.monotonic() < deadline:
            found = con.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (WRITE_TAG,)
            ).fetchone()
            if not found or not found[0]:
                return
            time.sleep(0.02)
    raise RuntimeError("the killed writer's backend did not end")


def _cli(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "coinseason", *args],
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], *, timeout: float = 300.0) -> bool:
    """``kill -9`` of ``proc`` once ``ready()`` holds; False when the process ended first (it was not caught)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)
            return True
    proc.kill()
    proc.communicate(timeout=30)
    return False


def _finish(proc: subprocess.Popen[str]) -> str:
    out, errors = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"the rerun failed ({proc.returncode}): {errors or out}")
    return out


def reference_import(root: Path, market: Market) -> pl.DataFrame:
    """The ``extra`` rows as an uninterrupted import into a fresh DuckDB file stores them."""
    path = root / "reference-import.duckdb"
    store = DuckDBStore(path)
    try:
        ImportService(store, clock=fixed_clock).import_file(
            market.extra, FileFormat.COINGECKO_DAILY, source=EXTRA_SOURCE
        )
    finally:
        store.close()
    return rows(str(path), EXTRA_SOURCE)


def import_args(market: Market, db: str) -> list[str]:
    return ["import", str(market.extra), "--format", "coingecko-daily", "--source", EXTRA_SOURCE, "--db", db]


def kill_import(setup: Setup, load: LoadLoop, reference: pl.DataFrame) -> FaultResult:
    """``kill -9`` of ``coinseason import`` while its transaction writes (seen in ``pg_stat_activity``), then the
    import run again to the end: the rows must be exactly the uninterrupted import's."""
    assert setup.pg is not None
    pg = setup.pg
    start = time.monotonic()
    with writer_watch(pg) as writing:
        proc = _cli(import_args(setup.market, _tagged(setup.db)))
        caught = _kill_when(proc, writing)
    killed_at = time.monotonic()
    _writer_gone(pg)
    half = rows(setup.db, EXTRA_SOURCE).height  # an import is one transaction: nothing of it may remain
    _finish(_cli(import_args(setup.market, setup.db)))
    window, recovery = watch(load, start, killed_at)
    lost, duplicated = compare(reference, rows(setup.db, EXTRA_SOURCE))
    where = f"killed mid-write (in: {writing.caught})" if caught else "NOT caught mid-write"
    note = f"{where}; rows left by the killed import: {half}"
    return result(
        setup, "kill -9 an import mid-write", window, recovery, lost=lost, duplicated=duplicated + half, note=note
    )


BACKFILL = ("--top", "30", "--since", "2024-06-01", "--batch", "10")


def backfill_args(db: str) -> list[str]:
    return ["ingest", "backfill", *BACKFILL, "--db", db]


def reference_backfill(setup: Setup, provider: FakeProviderServer) -> pl.DataFrame:
    """The rows an uninterrupted backfill stores (into a database of its own on the same cluster)."""
    assert setup.pg is not None
    db = setup.pg.create_database("coinseason_reference")
    _finish(_cli(backfill_args(db), provider_env(provider)))
    return rows(db, "coingecko")


def kill_ingestion(setup: Setup, load: LoadLoop, provider: FakeProviderServer, reference: pl.DataFrame) -> FaultResult:
    """``kill -9`` of ``coinseason ingest backfill`` while a batch is being written, then the backfill resumed: the
    rows must equal an uninterrupted backfill's, none lost, none twice."""
    assert setup.pg is not None
    pg = setup.pg
    env = provider_env(provider)
    start = time.monotonic()
    with writer_watch(pg, skip=1) as writing:  # the second batch: the first is kept, the resume must skip it
        proc = _cli(backfill_args(_tagged(setup.db)), env)
        caught = _kill_when(proc, writing)
    killed_at = time.monotonic()
    _writer_gone(pg)
    partial = rows(setup.db, "coingecko").height
    out = _finish(_cli(backfill_args(setup.db), env))
    window, recovery = watch(load, start, killed_at)
    lost, duplicated = compare(reference, rows(setup.db, "coingecko"))
    resumed = "resumed" if "resumed after" in out else "started over"
    where = f"killed mid-write of batch 2 (in: {writing.caught})" if caught else "NOT caught mid-write"
    note = f"{where}; {partial} rows kept from whole batches, {resumed}"
    return result(
        setup, "kill -9 an ingestion mid-write", window, recovery, lost=lost, duplicated=duplicated, note=note
    )


# -- faults of the DuckDB setup -------------------------------------------------------------------------------------


def snapshot_rows(db: str) -> pl.DataFrame:
    """The ingested rows (source ``coingecko``) of a DuckDB file that no server holds."""
    return rows(db, "coingecko")


def kill_server_mid_ingestion(setup: Setup, load: LoadLoop) -> FaultResult:
    """``kill -9`` of the only server process while its ingestion loop writes snapshots, then a restart: the file
    must open, keep every row written before, and the served answers must be the known ones again."""
    assert setup.provider is not None
    provider = setup.provider
    before = provider.wait_for(lambda log: sum("coins/markets" in c.path for c in log) >= 3, timeout=120)
    start = time.monotonic()
    setup.server.process.send_signal(signal.SIGKILL)
    setup.server.process.wait(30)
    stop(setup.server.process)
    killed_at = time.monotonic()
    market_before = rows(setup.db, SOURCE)  # the file opens after the kill: no corruption
    ingested = snapshot_rows(setup.db)
    restarted = _restart(setup)
    window, recovery = watch(load, start, killed_at)
    stop(restarted.process)
    after_market = rows(setup.db, SOURCE)
    after_ingested = snapshot_rows(setup.db)
    lost, duplicated = compare(market_before, after_market)
    # rows written before the kill stay (a later snapshot may only refresh today's values, never drop a coin-day)
    gone = (
        ingested.select("coin_id", "date")
        .join(after_ingested.select("coin_id", "date"), on=["coin_id", "date"], how="anti")
        .height
    )
    twice = after_ingested.height - after_ingested.select("coin_id", "date").unique().height
    setup.server = _restart(setup)
    taking = "snapshots were being taken" if before else "no snapshot seen"
    note = f"{taking}; {ingested.height} ingested rows before the kill"
    return result(
        setup,
        "kill -9 the server mid-ingestion, restart",
        window,
        recovery,
        lost=lost + gone,
        duplicated=duplicated + twice,
        note=note,
    )


def _restart(setup: Setup) -> Server:
    """Start the setup's server again on its port (the load keeps its URL), healthy."""
    from tests.api.serve_helpers import wait_healthy

    command = [sys.executable, "-m", "coinseason", "serve", "--host", "127.0.0.1", "--port", str(setup.server.port)]
    with setup.server.log.open("ab") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, *setup.args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env(setup.env),
            start_new_session=True,
        )
    server = Server(url=setup.server.url, port=setup.server.port, process=process, log=setup.server.log)
    wait_healthy(server)
    return server
