"""The engines kept beside the store: used while the store is unchanged, rebuilt when data lands, and a damaged,
foreign or half-written file is ignored (and replaced), never trusted."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from coinseason.cli.reading import engine_cache_dir, file_version
from coinseason.clock import utc_now
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.engine_cache import MAGIC, EngineCache, _read, _write, sweep_leftovers
from coinseason.services.importing import ImportService
from coinseason.services.loaded_engine import Loaded, load_engine
from coinseason.store import DuckDBStore
from coinseason.store.protocols import MarketData
from tests.cli.helpers import small_store
from tests.conftest import small_market_csv

QUERY = SeasonQuery(top=3, window=2)


class Counting:
    """``load_engine``, counting the builds."""

    def __init__(self) -> None:
        self.builds = 0

    def __call__(self, store: MarketData, source: str) -> Loaded:
        self.builds += 1
        return load_engine(store, source)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    yield Path(small_store(tmp_path))


def session(db: Path, build: Counting) -> tuple[DuckDBStore, EngineCache, AnalyticsService]:
    store = DuckDBStore(db)
    directory = engine_cache_dir(str(db))
    assert directory is not None
    cache = EngineCache(directory, store, version=lambda: file_version(db), build=build)
    return store, cache, AnalyticsService(store, load=cache.load, sources=cache.sources)


def history(db: Path, build: Counting) -> tuple[pl.DataFrame, EngineCache]:
    """One command: the season history, then the cache written as the CLI does."""
    store, cache, service = session(db, build)
    try:
        frame = service.season_history(QUERY)
        cache.save()
    finally:
        store.close()
    return frame, cache


def test_the_second_command_reads_the_kept_engine_and_answers_the_same(db: Path) -> None:
    build = Counting()
    first, cache = history(db, build)
    assert cache.stats.built == ["custom"] and cache.stats.written == ["custom"]
    assert (db.parent / "cli.duckdb.engines").is_dir()
    second, again = history(db, build)
    assert again.stats.hits == ["custom"] and build.builds == 1
    assert_frame_equal(first, second)
    store = DuckDBStore(db)
    try:
        assert_frame_equal(second, AnalyticsService(store).season_history(QUERY))  # as a fresh engine answers
    finally:
        store.close()


def test_new_data_changes_the_key_and_rebuilds(db: Path, tmp_path: Path) -> None:
    build = Counting()
    history(db, build)
    before = file_version(db)
    more = tmp_path / "more.csv"
    lines = small_market_csv(tmp_path / "m.csv").read_text().splitlines()
    more.write_text("\n".join([lines[0], *[line.replace("2024-01-0", "2024-01-2") for line in lines[1:]]]) + "\n")
    store = DuckDBStore(db)
    try:
        ImportService(store, clock=utc_now).import_file(more, FileFormat.TIDY)
    finally:
        store.close()
    assert file_version(db) != before
    frame, cache = history(db, build)
    assert cache.stats.built == ["custom"] and build.builds == 2
    assert str(frame["date"].max()) == "2024-01-29"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"garbage" + data[7:],  # not a cache file
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data.replace(b'"digest": "', b'"digest": "0', 1),  # header garbled
        lambda data: b"",  # empty
    ],
)
def test_a_damaged_file_is_ignored_and_rebuilt(db: Path, damage: object) -> None:
    build = Counting()
    history(db, build)
    (path,) = (db.parent / "cli.duckdb.engines").glob("*.engine")
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    frame, cache = history(db, build)
    assert frame.height == 10 and cache.stats.hits == [] and "custom" in cache.stats.ignored
    assert build.builds == 2 and cache.stats.written == ["custom"]
    _, third = history(db, build)
    assert third.stats.hits == ["custom"]  # written again, whole


class Planted:
    """What a foreign file might hold: unpickling it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def test_a_file_naming_anything_but_an_engine_is_refused_not_run(db: Path, tmp_path: Path) -> None:
    build = Counting()
    history(db, build)
    (path,) = (db.parent / "cli.duckdb.engines").glob("*.engine")
    marker = tmp_path / "ran"
    body = pickle.dumps(Planted(marker), protocol=5)
    data = path.read_bytes()
    header_end = data.index(b"\n", len(MAGIC)) + 1
    header = json.loads(data[len(MAGIC) : header_end])
    at, _ = header["pickle"]
    header["pickle"] = [at, len(body)]
    header["digest"] = hashlib.blake2b(body, digest_size=16).hexdigest()
    head = json.dumps(header).encode()
    assert len(MAGIC) + len(head) + 1 <= at
    forged = bytearray(data)
    forged[: len(MAGIC) + len(head) + 1] = MAGIC + head + b"\n"
    forged[at : at + len(body)] = body
    path.write_bytes(bytes(forged))
    with pytest.raises(pickle.UnpicklingError, match="is not part of an engine"):
        _read(path, header["key"])
    _, cache = history(db, build)
    assert not marker.exists()
    assert "is not part of an engine" in cache.stats.ignored["custom"] and build.builds == 2


def test_concurrent_writers_leave_a_whole_file(db: Path) -> None:
    store = DuckDBStore(db)
    try:
        loaded = load_engine(store, "custom")
    finally:
        store.close()
    path = db.parent / "race" / "custom.engine"
    key = {"k": 1}
    errors: list[BaseException] = []
    seen: list[object] = []

    def write() -> None:
        try:
            for _ in range(10):
                _write(path, key, loaded)
        except BaseException as exc:  # noqa: BLE001  # a failure in a thread is reported by the test
            errors.append(exc)

    def read() -> None:
        for _ in range(30):
            try:
                seen.append(_read(path, key))
            except FileNotFoundError:
                continue
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)] + [threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(isinstance(found, Loaded) for found in seen)
    found = _read(path, key)
    assert isinstance(found, Loaded) and found.engine.n_days == loaded.engine.n_days
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_file_for_another_key_is_not_used(db: Path, tmp_path: Path) -> None:
    store = DuckDBStore(db)
    try:
        loaded = load_engine(store, "custom")
    finally:
        store.close()
    path = tmp_path / "x.engine"
    _write(path, {"imports": 1}, loaded)
    assert _read(path, {"imports": 2}) is None
    assert isinstance(_read(path, {"imports": 1}), Loaded)


def test_postgres_engines_go_to_the_user_cache_without_credentials() -> None:
    one = engine_cache_dir("postgresql://alice:secret@db.example:5432/market")
    other = engine_cache_dir("postgresql://bob@db.example:5432/market")
    assert one is not None and one == other and "secret" not in str(one)
    assert engine_cache_dir("postgresql://db.example/other") != one
    assert engine_cache_dir("duckdb://:memory:") is None


def test_leftovers_of_dead_writers_are_swept_live_ones_kept(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)  # noqa: S603
    dead = int(finished.stdout)
    dead_file = tmp_path / f".custom-1.engine.{dead}.abc123.tmp"
    live_file = tmp_path / f".custom-1.engine.{os.getpid()}.def456.tmp"
    kept = tmp_path / "custom-1.engine"
    for path in (dead_file, live_file, kept):
        path.write_bytes(b"x")
    assert sweep_leftovers(tmp_path) == [dead_file]
    assert not dead_file.exists() and live_file.exists() and kept.exists()
