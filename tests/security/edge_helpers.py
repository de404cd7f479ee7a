"""Helpers of the server-edge security tests: real ``coinseason serve`` processes on either server, and raw
sockets that send what a hostile client sends."""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.api.serve_helpers import Server, serve
from tests.conftest import fixed_clock, small_market_csv

SERVERS = ("granian", "uvicorn")
CLOSE_BOUND = 60.0
"""Longest wait for the server to close a connection it must close: a hang guard, not a time measured."""


@contextmanager
def serving(
    kind: str, db: str, tmp_path: Path, env: Mapping[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[Server]:
    """``coinseason serve --server KIND --db DB`` with ``env``, healthy, stopped on exit; its log in ``tmp_path``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with serve(["--server", kind, "--db", db, *args], log=tmp_path / f"{kind}.log", env=dict(env or {})) as server:
        yield server


def open_sockets(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    """``count`` connections to 127.0.0.1:``port``, each having sent ``first_bytes``."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if first_bytes:
            sock.sendall(first_bytes)
        sockets.append(sock)
    return sockets


def wait_closed(sockets: list[socket.socket], *, bound: float = CLOSE_BOUND) -> tuple[int, bytes]:
    """Read every socket until the server closes it (EOF or reset) or ``bound`` runs out; (how many are still
    open, every byte the server sent on them). Closes them all."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    received = bytearray()
    open_count = len(sockets)
    deadline = time.monotonic() + bound
    try:
        while open_count and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                except BlockingIOError:
                    continue
                if chunk:
                    received += chunk
                    continue
                selector.unregister(sock)
                open_count -= 1
    finally:
        selector.close()
        for sock in sockets:
            sock.close()
    return open_count, bytes(received)


def market_db_at(root: Path) -> str:
    """A DuckDB store file in ``root`` holding the small market of ``tests.conftest.small_market_csv``."""
    path = root / "edge.duckdb"
    store = DuckDBStore(path)
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(root / "m.csv"), FileFormat.TIDY)
    finally:
        store.close()
    return str(path)
