"""One DuckDB file shared by several processes: a server, its ingestion loop and any number of CLI commands.

DuckDB lets one process write a file, or several read it, never both: a process that has the file open read-write
locks out every other one. So :class:`DuckDBFile` holds the file only while operations run (read-only for reads,
so readers in different processes share it) and a moment after (``LINGER_SECONDS``: opening a DuckDB database
costs some 20-35 ms of CPU, which a burst of operations then pays once), and closes it at once when another process
waits for it. An operation that finds the file held by another process retries with back-off for a bounded time,
then raises :class:`~coinseason.errors.StoreBusy` naming the process that holds it.

Within one process every operation on a file goes through the one :class:`DuckDBFile` of its path
(:meth:`DuckDBFile.shared`): operations running at the same time share one open database (DuckDB refuses a second
one of another mode in the same process), a write waits for the reads of a read-only open to finish, and while it
waits no new read joins them.

Fairness between processes: a process that found the file busy holds an exclusive ``flock`` on ``<file>.queue``
while it retries. Every other process checks that lock before it opens the file or lets a new operation join an
open one, and waits while it is held: the file is closed as soon as the operations already running end (an idle
open is closed within ``QUEUE_CHECK_SECONDS``), and the waiting process gets its turn instead of losing every race
to a busy neighbour.

Small reads can be kept between operations (:meth:`DuckDBFile.cached`): a kept value is used while the file and
its write-ahead log keep their size, times and inode, i.e. while no process wrote. A change within the file
system's time resolution of the last look could hide a write, so a value read less than ``RACY_SECONDS`` after the
file last changed is not trusted, and none is kept longer than ``KEEP_SECONDS``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import duckdb

from coinseason.errors import StoreBusy, StoreError

__all__ = ["BRIEF_WAIT_SECONDS", "BUSY_TIMEOUT_SECONDS", "LINGER_SECONDS", "DuckDBFile", "MemoryFile", "Patience"]

T = TypeVar("T")

BUSY_TIMEOUT_SECONDS: Final = 10.0
"""How long an operation waits for a file another process holds before it fails."""
BRIEF_WAIT_SECONDS: Final = 0.5
"""How long a read that can answer from its last value waits for a busy file before it does."""
RETRY_FIRST_SECONDS: Final = 0.005
RETRY_MAX_SECONDS: Final = 0.1
"""Back-off between attempts to open a busy file: doubling from the first to the largest step."""
QUEUE_CHECK_SECONDS: Final = 0.02
"""How often an operation that waits for another process's turn looks again, and an idle open whether another
process waits for the file."""
LINGER_SECONDS: Final = 0.5
"""How long the file stays open after the last operation of this process, unless another process waits for it."""
RACY_SECONDS: Final = 1.0
"""A read made less than this after the file last changed is not kept (a later write might not show in the times)."""
KEEP_SECONDS: Final = 5.0
"""The longest a kept read is used without reading the file again."""

_LOCK_CONFLICT: Final = re.compile(r"could not set lock on file", re.IGNORECASE)
_HOLDER: Final = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


@dataclass(frozen=True, slots=True)
class Patience:
    """How long an operation waits for a busy file, and with what clock and sleep (injected by tests)."""

    timeout: float = BUSY_TIMEOUT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


Signature = tuple[tuple[int, int, int, int] | None, ...]
"""(mtime ns, ctime ns, size, inode) of the file and of its write-ahead log; None for a file that is not there."""


@dataclass(slots=True)
class _Kept:
    signature: Signature
    value: Any
    until: float


def holder_of(message: str) -> str:
    """Who holds the file, from DuckDB's lock error: ``process 123 (python -m coinseason serve)``."""
    found = _HOLDER.search(message)
    if found is None:
        return "another process"
    pid = found["pid"]
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = found["exe"]
    return f"process {pid} ({command or found['exe']})"


def is_lock_conflict(exc: duckdb.Error) -> bool:
    return isinstance(exc, duckdb.IOException) and _LOCK_CONFLICT.search(str(exc)) is not None


class DuckDBFile:
    """Opens the DuckDB file ``path`` for each operation and shares it between the operations of this process."""

    _shared: dict[str, DuckDBFile] = {}  # noqa: RUF012 - one per path per process
    _shared_lock = threading.Lock()

    def __init__(
        self,
        path: str,
        *,
        linger: float = LINGER_SECONDS,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.linger = linger
        self._monotonic = monotonic
        self._idle_since = 0.0
        self._closer: threading.Thread | None = None
        self._queue_path = f"{path}.queue"
        self._watched = (Path(path), Path(f"{path}.wal"))
        self._wall = wall
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._writable = False
        self._users = 0
        self._busy = False
        """True while one thread opens or closes the file (outside the condition's lock)."""
        self._writers_waiting = 0
        self._queue_fd: int | None = None
        """Held while this process waits for the file: the exclusive lock on ``<path>.queue``."""
        self.writing = threading.RLock()
        """Held by each write: one write at a time in this process (DuckDB would make a second one fail)."""
        self._kept: dict[str, _Kept] = {}
        self._kept_lock = threading.Lock()
        self.opens = 0
        """How many times this process opened the file (for tests and benchmarks)."""
        self.operations = 0
        """How many operations ran on the file (for tests)."""

    @classmethod
    def shared(cls, path: str) -> DuckDBFile:
        """The one :class:`DuckDBFile` of ``path`` in this process."""
        key = os.path.realpath(path)
        with cls._shared_lock:
            found = cls._shared.get(key)
            if found is None:
                found = cls._shared[key] = cls(path)
            return found

    # -- operations -------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def connection(self, *, write: bool, patience: Patience) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation (read-write when ``write``), the file open until the last one ends;
        :class:`StoreBusy` when another process holds the file longer than ``patience`` allows."""
        con = self._acquire(write, patience)
        self.operations += 1
        try:
            with con.cursor() as cursor:
                yield cursor
        finally:
            self._release()

    def _acquire(self, write: bool, patience: Patience) -> duckdb.DuckDBPyConnection:
        deadline = patience.monotonic() + patience.timeout
        waiting_to_write = False
        try:
            while True:
                idle: duckdb.DuckDBPyConnection | None = None
                with self._cond:
                    others = not self._busy and self._others_waiting()
                    if not self._busy and not others:
                        con = self._con
                        if con is not None and (self._writable or (not write and not self._writers_waiting)):
                            self._users += 1  # join the open file: a read joins any, a write a writable one
                            return con
                        if con is None and (write or not self._writers_waiting):
                            self._busy = True  # this thread opens it
                            break
                        if con is not None and not self._users:  # idle, read-only, and a write wants it
                            idle, self._con, self._busy = con, None, True
                    if idle is None:
                        if write and not waiting_to_write:  # no new read joins a read-only open meanwhile
                            waiting_to_write = True
                            self._writers_waiting += 1
                        left = deadline - patience.monotonic()
                        if left <= 0:
                            raise StoreBusy(f"the DuckDB store {self.path} is busy: {self._why_waiting()}")
                        if not others:  # this process's own operations: they say when they are done
                            self._cond.wait(min(left, QUEUE_CHECK_SECONDS))
                            continue
                if idle is not None:
                    self._close(idle)
                    continue
                patience.sleep(min(left, QUEUE_CHECK_SECONDS))  # another process's turn
        finally:
            if waiting_to_write:
                with self._cond:
                    self._writers_waiting -= 1
        try:
            con = self._open(write, deadline, patience)
        except BaseException:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._con, self._writable, self._busy = con, write, False
            self._users += 1
            self._cond.notify_all()
        return con

    def _release(self) -> None:
        with self._cond:
            self._users -= 1
            if self._users:
                return
            self._idle_since = self._monotonic()
            self._cond.notify_all()  # a write waiting for this read-only open may close it now
            if self.linger > 0 and not self._others_waiting():
                if self._closer is None:  # let it linger: the closer ends it when idle long enough
                    # not a daemon: at exit the interpreter waits for it to close the file (at once then), as DuckDB
                    # must not be closed by a thread the interpreter is stopping (it aborts the process)
                    self._closer = threading.Thread(target=self._close_when_idle, name="duckdb-linger")
                    self._closer.start()
                return
            con, self._con, self._busy = self._con, None, True
        if con is not None:
            self._close(con)

    def _close_when_idle(self) -> None:
        """Close the open file once no operation used it for ``linger`` seconds, or at once when another process
        waits for it (looked at every QUEUE_CHECK_SECONDS)."""
        with self._cond:
            while True:
                exiting = not threading.main_thread().is_alive()
                if self._con is None or self._busy or (exiting and self._users):
                    self._closer = None
                    return
                if self._users:
                    self._cond.wait(QUEUE_CHECK_SECONDS)  # the last user's release wakes this
                    continue
                left = self.linger - (self._monotonic() - self._idle_since)
                if left <= 0 or exiting or self._others_waiting():
                    con, self._con, self._busy, self._closer = self._con, None, True, None
                    break
                self._cond.wait(min(left, QUEUE_CHECK_SECONDS))
        self._close(con)

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        """Close an open this thread took out (``_busy`` set), then let the others in."""
        try:
            con.close()
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def let_go(self) -> None:
        """Close the file now if no operation of this process uses it (it would linger otherwise)."""
        with self._cond:
            if self._con is None or self._users or self._busy:
                return
            con, self._con, self._busy = self._con, None, True
        self._close(con)

    def _open(self, write: bool, deadline: float, patience: Patience) -> duckdb.DuckDBPyConnection:
        """Open the file, retrying with back-off while another process holds it (and taking the queue meanwhile)."""
        delay = RETRY_FIRST_SECONDS
        try:
            while True:
                try:
                    con = duckdb.connect(self.path, read_only=not write)
                except duckdb.Error as exc:
                    if not is_lock_conflict(exc):
                        raise StoreError(f"cannot open the DuckDB store {self.path}: {exc}") from exc
                    left = deadline - patience.monotonic()
                    if left <= 0:
                        raise StoreBusy(
                            f"the DuckDB store {self.path} is busy: {holder_of(str(exc))} holds it"
                            f" (waited {patience.timeout:g} s); try again when it is done"
                        ) from exc
                    self._take_queue()
                    patience.sleep(min(delay, left))
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    continue
                self.opens += 1
                return con
        finally:
            self._leave_queue()

    def _why_waiting(self) -> str:
        if self._others_waiting():
            return "another process found it held and waits for its turn, which comes first"
        return f"operations of this process ({os.getpid()}) held it all along"

    # -- the queue of waiting processes --------------------------------------------------------------------------

    def _take_queue(self) -> None:
        if self._queue_fd is not None:
            return
        try:
            fd = os.open(self._queue_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # a read-only directory: no queue, the retries alone
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process waits already: retry beside it
            os.close(fd)
            return
        self._queue_fd = fd

    def _leave_queue(self) -> None:
        fd, self._queue_fd = self._queue_fd, None
        if fd is not None:
            os.close(fd)  # closing releases the lock

    def _others_waiting(self) -> bool:
        """True when another process waits for the file (holds the queue lock)."""
        if self._queue_fd is not None:
            return False  # this process is the one waiting
        try:
            fd = os.open(self._queue_path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)  # also releases the shared lock, if taken
        return False

    # -- kept reads -----------------------------------------------------------------------------------------------

    def signature(self) -> Signature:
        """What changes whenever any process writes the file: the stat of the file and of its write-ahead log."""
        found: list[tuple[int, int, int, int] | None] = []
        for name in self._watched:
            try:
                st = name.stat()
            except FileNotFoundError:
                found.append(None)
            else:
                found.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
        return tuple(found)

    def cached(self, name: str, load: Callable[[], T], *, monotonic: Callable[[], float] = time.monotonic) -> T:
        """The value ``load()`` returned, read again only when the file may have changed since (see the module)."""
        now = monotonic()
        wall = self._wall()  # before the stat: a change after it shows as a time after this one
        signature = self.signature()
        with self._kept_lock:
            kept = self._kept.get(name)
        if kept is not None and kept.signature == signature and now < kept.until:
            value: T = kept.value
            return value
        value = load()
        changed = max((s[0] for s in signature if s is not None), default=0)  # a write sets mtime and ctime alike
        trusted = changed < (wall - RACY_SECONDS) * 1e9
        with self._kept_lock:
            self._kept[name] = _Kept(signature, value, now + KEEP_SECONDS if trusted else now)
        return value

    def last(self, name: str) -> Any | None:
        """The value last read for ``name``, valid or not; None when there is none."""
        with self._kept_lock:
            kept = self._kept.get(name)
        return None if kept is None else kept.value

    def forget(self) -> None:
        """Drop every kept read (after a write of this process)."""
        with self._kept_lock:
            self._kept.clear()


@dataclass
class MemoryFile:
    """``:memory:``: one database held for the life of the store, nothing shared, nothing kept."""

    path: str = ":memory:"
    con: duckdb.DuckDBPyConnection = field(default_factory=lambda: duckdb.connect(":memory:"))
    writing: threading.RLock = field(default_factory=threading.RLock)
    opens: int = 1
    operations: int = 0

    @contextlib.contextmanager
    def connection(self, *, write: bool, patience: Patience) -> Iterator[duckdb.DuckDBPyConnection]:
        self.operations += 1
        with self.con.cursor() as cursor:
            yield cursor

    def cached(self, name: str, load: Callable[[], T], *, monotonic: Callable[[], float] = time.monotonic) -> T:
        return load()

    def last(self, name: str) -> Any | None:
        return None

    def forget(self) -> None:
        return None

    def let_go(self) -> None:
        return None

    def close(self) -> None:
        self.con.close()
