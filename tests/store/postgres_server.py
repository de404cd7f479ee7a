"""Throw-away PostgreSQL databases for tests, on the server at 127.0.0.1:5432.

Each test gets its own database (``cs_test_<random>``), dropped afterwards, so tests are isolated and can run in
parallel. Without a server the tests skip, except under ``CI=true``, where they fail: CI must run them.
``COINSEASON_TEST_POSTGRES`` points them at another server (``postgresql://user@host:port``).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.support.requirements import skip_or_fail

SERVER = os.environ.get("COINSEASON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432").rstrip("/")
_where = urlsplit(SERVER)
UNREACHABLE = f"PostgreSQL not reachable at {_where.hostname}:{_where.port or 5432}"


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    """A connection to the server's ``postgres`` database; skips (fails under CI=true) without a server."""
    try:
        return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"{UNREACHABLE}: {exc}")


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (with any connection left open) on exit."""
    name = f"cs_test_{secrets.token_hex(6)}"
    with admin() as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin() as con:
            con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wait_until_blocked(url: str, holder: int, *, timeout: float = 30.0) -> None:
    """Return once some backend of the database waits for a lock the backend ``holder`` holds (how a test forces the
    interleaving of a race: the first transaction held open, the second arrived and queued behind it; each test has
    its own database, so the waiter is the test's). The server is asked every 10 ms; ``timeout`` only guards against
    a test that would hang."""
    deadline = time.monotonic() + timeout
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND %s = ANY(pg_blocking_pids(pid))"
    )
    with psycopg.connect(url, autocommit=True) as con:
        while not (con.execute(query, (holder,)).fetchone() or [0])[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"no backend ever waited for backend {holder}")
            time.sleep(0.01)
