"""Private servers that a fault test may stop, restart and break: a PostgreSQL cluster of its own (``initdb`` and
``pg_ctl`` in a temporary directory, on a free port of 127.0.0.1) and a Redis of its own (``redis-server --port N``,
nothing saved). The machine's own PostgreSQL and Redis are never touched.

PostgreSQL refuses to run as root: under root (CI) the cluster belongs to the ``postgres`` system user and its
commands run through ``runuser``. Without the binaries the tests skip, or fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql

from tests.api.serve_helpers import free_port
from tests.support.requirements import skip_or_fail

PG_BIN_DIRS = [Path("/usr/lib/postgresql/15/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
START_TIMEOUT = 60.0
"""Seconds ``pg_ctl start`` or a Redis start may take (a loaded CI machine)."""


def pg_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``; a skip (a failure under CI=true) without them."""
    for candidate in PG_BIN_DIRS:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")


def _run_as() -> list[str]:
    """The prefix that runs a PostgreSQL server command as a user it accepts: none, or runuser under root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        skip_or_fail("running as root and no 'postgres' user to run a private PostgreSQL cluster as")
    return ["runuser", "-u", "postgres", "--"]


@dataclass
class PostgresCluster:
    """A PostgreSQL server of this test alone: trust authentication, listening on 127.0.0.1:``port`` only."""

    root: Path
    port: int
    bin: Path
    prefix: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def server(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def _ctl(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        command = [*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10, check=False)  # noqa: S603
        if done.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr or done.stdout}\n{log}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._ctl("start", "-w", "-t", str(int(START_TIMEOUT)), "-l", str(self.root / "server.log"), "-o", options)

    def stop(self) -> None:
        """Fast shutdown: every backend is terminated, then nothing listens on the port (connections refused)."""
        self._ctl("stop", "-m", "fast", "-w")

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True, connect_timeout=5) as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"{self.server}/{name}"

    def terminate_backends(self, database: str) -> int:
        """``pg_terminate_backend`` on every backend of ``database`` but this call's own: how many there were."""
        with psycopg.connect(f"{self.server}/postgres", autocommit=True, connect_timeout=5) as con:
            rows = con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(rows)


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresCluster]:
    """A new PostgreSQL cluster in a temporary directory, started; stopped and removed on exit."""
    binaries = pg_bin()
    prefix = _run_as()
    root = Path(tempfile.mkdtemp(prefix="coinseason-pg-"))
    try:
        if prefix:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        init = [*prefix, str(binaries / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"]
        done = subprocess.run(  # noqa: S603 - the machine's own initdb
            [*init, "-E", "UTF8", "--locale=C", "--no-sync"], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        cluster = PostgresCluster(root=root, port=free_port(), bin=binaries, prefix=prefix)
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                cluster._ctl("stop", "-m", "immediate", "-w")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """``redis-server`` of this test alone on 127.0.0.1:``port``, nothing persisted: stop and start at will."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> Sequence[str]:
        binary = shutil.which("redis-server")
        if binary is None:
            skip_or_fail("redis-server not found on PATH")
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(self.command(), stdout=sink, stderr=subprocess.STDOUT)  # noqa: S603
        client: Any = redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start: {self.log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def private_redis(log: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(port=free_port(), log=log)
    server.start()
    try:
        yield server
    finally:
        server.stop()
