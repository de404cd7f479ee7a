"""The embedded store shared by processes (:mod:`coinseason.store.duckdb_file`): the file is held only while an
operation runs, readers of several processes share it, a writer that finds it busy waits a bounded time and then
says which process holds it, and small reads are kept only while nobody writes.

Other processes are real (``python -c`` holding the file the way a running server or a CLI command would); the
waits use a fake clock, so no test sleeps."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from coinseason.errors import ConfigError, StoreBusy, StoreError
from coinseason.store import DuckDBStore, open_store
from coinseason.store.duckdb_file import DuckDBFile, Patience
from tests.conftest import FIXED_NOW
from tests.store.test_store_contract import RECORD, coins, obs

HOLDER = """
import sys, time, duckdb
for attempt in range(200):  # a store of the test may still hold the file a moment after its last operation
    try:
        con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
        break
    except duckdb.IOException:
        time.sleep(0.05)
for statement in sys.argv[3:]:
    con.execute(statement)
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
con.close()
"""


@contextmanager
def held(path: Path, mode: str, *statements: str) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``path`` open (``rw`` or ``ro``) until the block ends, after running
    ``statements``."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", HOLDER, str(path), mode, *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process
    finally:
        release(process)


def release(process: subprocess.Popen[str]) -> None:
    """Let the holder go: it closes the file and exits."""
    for pipe in (process.stdin, process.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()
    process.wait(30)


class FakeTime:
    """A monotonic clock that moves only when someone sleeps; ``on_sleep`` runs at each sleep (before time moves)."""

    def __init__(self, on_sleep: Callable[[int], None] | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))
        self.now += seconds


def made(path: Path) -> Path:
    """A store file with one row, closed."""
    store = DuckDBStore(path)
    store.write_import(coins(["a"]), obs([("a", "2024-01-01", 1.0)]), RECORD)
    store.close()
    return path


def store_for(path: Path, fake: FakeTime, timeout: float = 2.0) -> DuckDBStore:
    return DuckDBStore(path, busy_timeout=timeout, sleep=fake.sleep, monotonic=fake.monotonic)


# -- several processes -----------------------------------------------------------------------------------------


def test_the_file_is_let_go_after_the_operations(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    store = DuckDBStore(path)
    assert store.sources()[0].rows == 1
    store.let_go()  # at once (it would after LINGER_SECONDS): another program can open the file for writing
    with duckdb.connect(str(path)) as other:
        other.execute("UPDATE observations SET price = 2.0")
    assert store.observations("s")["price"].to_list() == [2.0]
    store.close()


WRITER = """
import sys
from coinseason.store import DuckDBStore
DuckDBStore(sys.argv[1], busy_timeout=60).add_api_key("abcdefgh", "other", "f" * 64, __import__("coinseason.clock",
    fromlist=["utc_now"]).utc_now())
print("written", flush=True)
"""


def test_a_writer_elsewhere_gets_its_turn_while_this_process_reads_without_a_pause(tmp_path: Path) -> None:
    """Reads of this process overlap, so its open never ends on its own; the other process's write waits in the
    queue, this process lets no new read begin, the file is let go, and the write lands."""
    path = made(tmp_path / "s.duckdb")
    store = DuckDBStore(path)
    stop = threading.Event()
    reads: list[int] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                reads.append(store.observations("s").height)
            except BaseException as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        written = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        stop.set()
        for reader in readers:
            reader.join(60)
    assert written.returncode == 0 and written.stdout.strip() == "written", written.stderr
    assert failures == [] and reads and set(reads) == {1}
    assert store.api_key("abcdefgh") is not None


def test_a_writer_waits_for_a_busy_file_then_names_the_holder(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    fake = FakeTime()
    store = store_for(path, fake, timeout=2.0)
    with held(path, "rw") as holder:
        with pytest.raises(StoreBusy) as caught:
            store.write_import(coins(["b"]), obs([("b", "2024-01-01", 5.0)]), RECORD)
        assert 2.0 <= fake.now < 2.2  # bounded: the time it was given, not more
        assert fake.sleeps[0] < 0.01 and max(fake.sleeps) <= 0.1  # back-off from a few ms, capped
        with pytest.raises(StoreBusy):
            store.sources()  # a read cannot share a file another process writes either
    message = str(caught.value)
    assert f"process {holder.pid} (" in message and "-c" in message  # its PID and its command line
    assert "waited 2 s" in message and str(path) in message
    assert not DuckDBFile(str(path))._others_waiting()  # it left the queue when it gave up
    assert store.observations("s", columns=("coin_id",))["coin_id"].to_list() == ["a"]  # nothing lost or added


def test_a_writer_gets_in_as_soon_as_the_holder_lets_go(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    holders: list[subprocess.Popen[str]] = []

    def third_try_finds_it_free(sleeps: int) -> None:
        if sleeps == 2:
            release(holders[0])

    fake = FakeTime(third_try_finds_it_free)
    store = store_for(path, fake, timeout=5.0)
    with held(path, "rw") as holder:
        holders.append(holder)
        counts = store.write_import(coins(["b"]), obs([("b", "2024-01-01", 5.0)]), RECORD)
    assert counts.added == 1 and len(fake.sleeps) == 2
    assert sorted(store.observations("s")["coin_id"].to_list()) == ["a", "b"]


def test_readers_of_two_processes_share_the_file(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    fake = FakeTime()
    store = store_for(path, fake)
    with held(path, "ro"):
        assert store.sources()[0].rows == 1
        assert store.observations("s").height == 1
        assert fake.sleeps == []  # no waiting
        with pytest.raises(StoreBusy):
            store.add_api_key("abcdefgh", "k", "f" * 64, FIXED_NOW)  # a write needs the file alone
    store.add_api_key("abcdefgh", "k", "f" * 64, FIXED_NOW)
    assert [k.prefix for k in store.api_keys()] == ["abcdefgh"]


def test_the_source_summary_is_answered_from_the_last_read_while_another_process_writes(tmp_path: Path) -> None:
    """``/readyz`` asks for it: during a long import elsewhere it answers after a brief wait, not the full one."""
    path = made(tmp_path / "s.duckdb")
    fake = FakeTime()
    store = store_for(path, fake, timeout=10.0)
    assert store.sources()[0].rows == 1
    with held(path, "rw", "INSERT INTO observations (source, coin_id, date, price) VALUES ('s', 'z', '2024-01-02', 1)"):
        assert store.sources()[0].rows == 1  # the last summary: the file is busy, and it changed
        assert 0.5 <= fake.now < 0.7
        with pytest.raises(StoreBusy):
            store.observations("s")  # reads without a last value wait the full time and fail
    assert store.sources()[0].rows == 2


def test_a_waiting_process_goes_before_new_operations_of_others(tmp_path: Path) -> None:
    """While another process waits for its turn (it holds ``<file>.queue``), this one opens nothing new."""
    path = made(tmp_path / "s.duckdb")
    fake = FakeTime()
    store = store_for(path, fake, timeout=1.0)
    queue = os.open(f"{path}.queue", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(queue, fcntl.LOCK_EX)  # another open file description: to this store, another process
    try:
        with pytest.raises(StoreBusy, match="another process found it held and waits for its turn"):
            store.observations("s")
    finally:
        os.close(queue)
    assert store.observations("s").height == 1  # its turn over, this process goes on


def test_the_store_opens_read_only_when_it_need_not_write(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    with held(path, "ro"):  # a reader elsewhere: opening the store must not need the file alone
        store = store_for(path, FakeTime(), timeout=0.5)
        assert store.sources()[0].coins == 1


def test_a_missing_table_is_added_on_open(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("DROP TABLE ingest_leases")
    store = DuckDBStore(path)
    assert store.lease_holder("x") is None
    assert store.observations("s").height == 1


# -- threads of one process ------------------------------------------------------------------------------------


def test_a_write_waits_for_the_reads_of_a_read_only_open(tmp_path: Path) -> None:
    """One process's threads: a read holds a read-only open; a write waits for it (DuckDB refuses a second open of
    another mode), and no new read joins the read-only open meanwhile; all of them finish."""
    path = made(tmp_path / "s.duckdb")
    file = DuckDBFile(str(path))
    patience = Patience(timeout=30.0)
    inside, let_go = threading.Event(), threading.Event()
    order: list[str] = []

    def long_read() -> None:
        with file.connection(write=False, patience=patience) as con:
            con.execute("SELECT 1").fetchall()
            inside.set()
            assert let_go.wait(30)
            order.append("read done")

    def write() -> None:
        with file.connection(write=True, patience=patience) as con:
            order.append("write")
            con.execute("UPDATE observations SET price = 3.0")

    reader = threading.Thread(target=long_read)
    reader.start()
    assert inside.wait(30)
    writer = threading.Thread(target=write)
    writer.start()
    while not file._writers_waiting:  # the writer queued behind the read
        time.sleep(0.001)

    def late_read() -> None:
        with file.connection(write=False, patience=patience) as con:
            order.append("late read")
            con.execute("SELECT price FROM observations").fetchall()

    late = threading.Thread(target=late_read)
    late.start()
    let_go.set()
    for thread in (reader, writer, late):
        thread.join(30)
    assert order[0] == "read done"  # neither the write nor the late read got in while the read held the file
    assert sorted(order[1:]) == ["late read", "write"]


def test_threads_share_one_open(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    file = DuckDBFile(str(path))
    patience = Patience(timeout=30.0)
    inside, let_go = threading.Event(), threading.Event()

    def held_read() -> None:
        with file.connection(write=False, patience=patience):
            inside.set()
            assert let_go.wait(30)

    thread = threading.Thread(target=held_read)
    thread.start()
    assert inside.wait(30)
    opens = file.opens
    for _ in range(5):
        with file.connection(write=False, patience=patience) as con:
            assert con.execute("SELECT count(*) FROM observations").fetchall() == [(1,)]
    assert file.opens == opens  # joined the open file each time
    let_go.set()
    thread.join(30)


# -- kept reads --------------------------------------------------------------------------------------------------


def age(path: Path, seconds: float = 60.0) -> None:
    """Set the file's times ``seconds`` into the past: what a file nobody wrote for a while looks like."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_small_reads_are_kept_until_someone_writes(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    store = DuckDBStore(path)
    age(path)
    first = store.data_version()
    done = store.operations
    assert store.data_version() == first and store.sources()[0].rows == 1
    store.api_key("abcdefgh")
    store.sources()
    assert store.data_version() == first
    assert store.operations == done + 2  # sources and the key table read once each; the version not again
    store.let_go()
    with duckdb.connect(str(path)) as other:  # a write by someone else, as another process would
        other.execute("INSERT INTO api_keys VALUES ('abcdefgh', 'n', ?, ?, NULL)", ["f" * 64, FIXED_NOW])
    assert store.api_key("abcdefgh") is not None
    assert store.data_version().keys == first.keys + 1


def test_a_read_just_after_a_write_is_not_kept(tmp_path: Path) -> None:
    """A write within the file system's time resolution of the last look might not change the file's times: a
    read made within RACY_SECONDS of the last change is read again next time."""
    path = made(tmp_path / "s.duckdb")
    store = DuckDBStore(path)
    age(path, -30.0)  # changed "now" (in the future: however slow this machine, it stays recent)
    store.data_version()
    done = store.operations
    store.data_version()
    store.data_version()
    assert store.operations == done + 2


def test_kept_reads_are_read_again_after_a_while(tmp_path: Path) -> None:
    path = made(tmp_path / "s.duckdb")
    fake = FakeTime()
    store = store_for(path, fake)
    age(path)
    store.data_version()
    done = store.operations
    fake.now += 4.9
    store.data_version()
    assert store.operations == done
    fake.now += 0.2  # past KEEP_SECONDS
    store.data_version()
    assert store.operations == done + 1


# -- URLs ------------------------------------------------------------------------------------------------------------


def test_the_busy_timeout_in_the_url(tmp_path: Path) -> None:
    store = open_store(f"duckdb://{tmp_path / 'u.duckdb'}?busy_timeout=0.25")
    assert isinstance(store, DuckDBStore) and store._patience.timeout == 0.25
    assert store.path == str(tmp_path / "u.duckdb")
    with pytest.raises(ConfigError, match="busy_timeout='soon'"):
        open_store(f"duckdb:///{tmp_path / 'u.duckdb'}?busy_timeout=soon")
    with pytest.raises(ConfigError, match="unknown DuckDB store option"):
        open_store(f"duckdb:///{tmp_path / 'u.duckdb'}?threads=4")


def test_a_closed_store_refuses_operations(tmp_path: Path) -> None:
    store = DuckDBStore(made(tmp_path / "s.duckdb"))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.sources()
