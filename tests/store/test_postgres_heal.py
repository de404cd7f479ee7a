"""The PostgreSQL store heals: terminated backends and a restarted server are survived without reopening the store;
while the server is out of reach a call fails with :class:`StoreUnavailable`, whose reason names no server.

Backend kills run on the machine's server, in the test's own database (``pg_terminate_backend`` on that database's
backends only); stopping the server runs on a private cluster (``tests/faults/services.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from coinseason.errors import StoreError, StoreUnavailable
from coinseason.settings import PostgresSettings
from coinseason.store.postgres import PostgresStore, connect_reason, failure_reason
from tests.faults.scenarios import RECOVERY_BOUND
from tests.faults.services import PostgresCluster, private_postgres
from tests.store.postgres_server import fresh_database
from tests.store.test_store_contract import RECORD, coins, obs

ROWS = [("a", "2024-01-01", 1.0), ("a", "2024-01-02", 2.0), ("b", "2024-01-01", 3.0)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def terminate(url: str, *, except_pid: int | None = None) -> int:
    """``pg_terminate_backend`` on every backend of ``url``'s database (this call's own and ``except_pid`` spared)."""
    with psycopg.connect(url, autocommit=True) as con:
        return len(
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid IS DISTINCT FROM %s",
                (except_pid,),
            ).fetchall()
        )


def filled(url: str, **pool: float) -> PostgresStore:
    store = PostgresStore(url, pool=PostgresSettings(**pool))
    store.write_import(coins(["a", "b"]), obs(ROWS), RECORD)
    return store


def prices(store: PostgresStore) -> list[tuple[str, float]]:
    return sorted(store.observations("s", columns=("coin_id", "price")).rows())


def test_terminated_backends_are_replaced_without_an_error(pg_url: str) -> None:
    store = filled(pg_url)
    try:
        assert prices(store) == [("a", 1.0), ("a", 2.0), ("b", 3.0)]
        assert terminate(pg_url) >= 1  # the pool's idle connection(s)
        assert prices(store) == [("a", 1.0), ("a", 2.0), ("b", 3.0)]  # no error: the dead one was checked, replaced
        assert store.sources()[0].rows == 3
        terminate(pg_url)
        store.add_api_key("abcdefgh", "after the kill", "f" * 64, RECORD.imported_at)  # writes too
        assert store.api_key("abcdefgh") is not None
    finally:
        store.close()


def test_one_session_a_thread(pg_url: str) -> None:
    store = filled(pg_url)
    try:
        with store.session() as con, pytest.raises(StoreError, match="already open"), store.session():
            pass
        assert not con.closed  # handed back to the pool, not closed
        assert prices(store) == [("a", 1.0), ("a", 2.0), ("b", 3.0)]
    finally:
        store.close()


def test_a_read_whose_backend_is_terminated_mid_way_is_tried_again(pg_url: str) -> None:
    """The read is held behind a table lock; its backend is terminated while it waits; the store reads again on a
    fresh connection and, once the lock is gone, returns every row."""
    store = filled(pg_url)
    got: dict[str, object] = {}
    reader = threading.Thread(target=lambda: got.update(rows=prices(store)))
    try:
        with psycopg.connect(pg_url) as locker:
            locker.execute("LOCK TABLE observations IN ACCESS EXCLUSIVE MODE")
            holder = locker.info.backend_pid
            reader.start()
            blocked = _wait_blocked(pg_url, holder, count=1)
            terminate(pg_url, except_pid=holder)  # the waiting reader's backend (the pool's idle ones too)
            _wait_blocked(pg_url, holder, count=1, not_pid=blocked)  # the second try waits in its turn
            locker.rollback()  # the lock goes
        reader.join(timeout=30)
        assert got == {"rows": [("a", 1.0), ("a", 2.0), ("b", 3.0)]}
    finally:
        store.close()


def test_a_write_whose_backend_is_terminated_fails_whole_and_says_why(pg_url: str) -> None:
    store = filled(pg_url)
    failure: dict[str, BaseException] = {}

    def write() -> None:
        try:
            store.write_import(coins(["c"]), obs([("c", "2024-01-01", 9.0), ("c", "2024-01-02", 9.5)]), RECORD)
        except StoreError as exc:
            failure["error"] = exc

    writer = threading.Thread(target=write)
    try:
        with psycopg.connect(pg_url) as locker:
            locker.execute("LOCK TABLE observations IN ACCESS EXCLUSIVE MODE")
            holder = locker.info.backend_pid
            writer.start()
            _wait_blocked(pg_url, holder, count=1)
            terminate(pg_url, except_pid=holder)
            writer.join(timeout=30)
        error = failure["error"]
        assert isinstance(error, StoreUnavailable)  # a write is not repeated behind the caller's back
        assert error.reason == "the database connection was terminated by the server (an administrator or a shutdown)"
        assert "nothing was written" in str(error)
        assert prices(store) == [("a", 1.0), ("a", 2.0), ("b", 3.0)]  # none of it landed
        assert len(store.imports()) == 1
    finally:
        store.close()


def _wait_blocked(url: str, holder: int, *, count: int, not_pid: int | None = None, timeout: float = 30.0) -> int:
    """The pid of a backend waiting for ``holder``'s lock (other than ``not_pid``), once there is one."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as con:
        while time.monotonic() < deadline:
            found = con.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid)) AND pid IS DISTINCT FROM %s",
                (holder, not_pid),
            ).fetchall()
            if len(found) >= count:
                return int(found[0][0])
            time.sleep(0.01)
    raise AssertionError(f"no backend waited for backend {holder}")


# -- the server stopped and started again (a private cluster) -------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with private_postgres() as pg:
        yield pg


def test_a_stopped_server_is_unavailable_with_a_safe_reason_then_heals(cluster: PostgresCluster) -> None:
    url = cluster.create_database("heal")
    store = filled(url, timeout_seconds=1.0)
    try:
        cluster.stop()
        with pytest.raises(StoreUnavailable) as first:
            store.sources()
        for error in (first.value, _unavailable(store)):  # found out, then known: the second fails fast
            assert error.reason in (
                "the database server refuses connections",
                "the database connection was terminated by the server (an administrator or a shutdown)",
                "the database server is starting up or shutting down",
            )
            assert str(cluster.port) not in error.reason and "127.0.0.1" not in error.reason
        assert store.unreachable == "the database server refuses connections"
        cluster.start()
        deadline = time.monotonic() + RECOVERY_BOUND  # the bound, polled
        while True:
            try:
                assert store.sources()[0].rows == 3
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, f"the store did not heal within {RECOVERY_BOUND:g} s"
                time.sleep(0.05)
        assert store.unreachable is None
        assert prices(store) == [("a", 1.0), ("a", 2.0), ("b", 3.0)]
    finally:
        store.close()


def _unavailable(store: PostgresStore) -> StoreUnavailable:
    try:
        store.sources()
    except StoreUnavailable as exc:
        return exc
    raise AssertionError("the store answered while its server was stopped")


def test_a_store_cannot_open_on_a_stopped_server(cluster: PostgresCluster) -> None:
    url = cluster.create_database("never")
    cluster.stop()
    try:
        with pytest.raises(StoreUnavailable, match="cannot open the PostgreSQL store") as caught:
            PostgresStore(url)
        assert caught.value.reason == "the database server refuses connections"
    finally:
        cluster.start()


# -- reasons --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            'connection failed: connection to server at "10.1.2.3", port 5432 failed: Connection refused\n'
            "\tIs the server running on that host and accepting TCP/IP connections?",
            "the database server refuses connections",
        ),
        (
            'connection failed: connection to server at "db.internal" (10.1.2.3), port 5432 failed: FATAL:  the'
            " database system is shutting down",
            "the database server is shutting down",
        ),
        (
            "connection failed: FATAL:  the database system is starting up",
            "the database server is starting up or shutting down",
        ),
        ("connection timeout expired", "connecting to the database server timed out"),
        (
            'connection failed: FATAL:  password authentication failed for user "admin"',
            "the database refused the credentials",
        ),
        ('connection failed: FATAL:  database "secret_db" does not exist', "the database does not exist"),
        ('could not translate host name "db.internal" to address', "the database host name does not resolve"),
        ("something else at db.internal", "the database server cannot be reached"),
    ],
)
def test_connect_reasons_name_no_server(message: str, reason: str) -> None:
    assert connect_reason(psycopg.OperationalError(message)) == reason


def test_failure_reasons() -> None:
    assert failure_reason(psycopg.errors.AdminShutdown("terminating connection due to administrator command")) == (
        "the database connection was terminated by the server (an administrator or a shutdown)"
    )
    assert failure_reason(psycopg.errors.CannotConnectNow("x")) == "the database server is restarting"
    assert failure_reason(psycopg.OperationalError("the connection is closed")) == "the database connection was lost"
    assert failure_reason(psycopg.errors.QueryCanceled("x")) == "the database cancelled the statement"
