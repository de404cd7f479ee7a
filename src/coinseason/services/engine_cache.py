"""Loaded season engines kept on disk, so a command on a store that has not changed answers without rebuilding
its engine (reading every observation, pivoting, classifying: seconds on a full history).

One file per source holds a :class:`~coinseason.services.loaded_engine.Loaded` as it stood when a command built it,
with the rankings and series it had computed: a small pickle (restricted on load to the classes an engine is made
of) and, out of band, every array's bytes, aligned, which a later process maps from the file instead of reading
them (pages are read as they are touched, and are private to the process: the file is never written through).

A file is used only when its key matches: the store's data version (:class:`~coinseason.store.protocols.Versioned`:
newest import and token classes; for a DuckDB file, the identity, size and modification time of the file and its
write-ahead log instead, so that a hit never opens the store), the source, and the versions of Python, numpy,
polars and of the code that builds and computes engines (a digest of its source files). Anything else — another
key, a truncated or garbled file, an unpickling error — means the file is ignored and the engine rebuilt (and
written again). Files are written to a temporary name and renamed into place, so concurrent writers and readers
only ever see whole files; the last writer wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import mmap
import os
import pickle
import platform
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from coinseason.services.loaded_engine import Loaded, load_engine
from coinseason.store.protocols import MarketData, Versioned
from coinseason.store.records import SourceSummary

__all__ = ["FORMAT_VERSION", "CacheStats", "EngineCache", "VersionedMarket", "sweep_leftovers"]

log = logging.getLogger("coinseason.engine_cache")

MAGIC = b"coinseason-engine\n"
FORMAT_VERSION = 1
ALIGN = 64
"""Each array's bytes start at a multiple of this (numpy's aligned access, cache lines)."""

_CODE_PACKAGES = ("core",)
_CODE_MODULES = ("services/loaded_engine.py", "services/classify.py", "services/engine_cache.py")


class VersionedMarket(MarketData, Versioned, Protocol):
    """A store that answers market data and its data version."""


@dataclass(slots=True)
class CacheStats:
    """What the cache did in this process (for the command's log and the tests)."""

    hits: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)
    """Source → why its file was not used (absent files are not listed)."""
    written: list[str] = field(default_factory=list)


class EngineCache:
    """The engine loader of :class:`~coinseason.services.analytics.AnalyticsService` (``load=cache.load``) backed
    by files in ``directory``; :meth:`save` writes the engines built in this process."""

    def __init__(
        self,
        directory: Path,
        store: VersionedMarket,
        *,
        identity: dict[str, Any] | None = None,
        version: Callable[[], dict[str, Any]] | None = None,
        build: Callable[[MarketData, str], Loaded] = load_engine,
    ) -> None:
        """``identity`` tells this store apart from another that could answer the same data version (the CLI
        gives a PostgreSQL server and database). ``version`` says what the store holds without asking it (the
        CLI gives, for a DuckDB file, the inode, size and modification time of the file and of its write-ahead
        log, which any write changes: a command whose engine is kept then never opens the store); by default
        the store's :meth:`~coinseason.store.protocols.Versioned.data_version`."""
        self.directory = directory
        self.store = store
        self.identity = identity or {}
        self._version = version
        self._build = build
        self._pending: dict[str, tuple[dict[str, Any], Loaded]] = {}
        self._data: dict[str, Any] | None = None
        self._sources: list[SourceSummary] | None = None
        self.stats = CacheStats()

    def data_key(self) -> dict[str, Any]:
        """The store's data as of the first question of this process (a write landing later only makes what
        this process writes stale, never wrong: it is keyed by what it was made from)."""
        if self._data is None:
            held = self._version() if self._version is not None else data_key(self.store)
            self._data = {"format": FORMAT_VERSION, **held, "store": self.identity}
        return self._data

    def sources(self) -> list[SourceSummary]:
        """The store's sources (counting them reads every observation): from ``sources.json`` when it was written
        for the same data, else asked of the store and written for the next command."""
        path = self.directory / "sources.json"
        key = self.data_key()
        try:
            kept = json.loads(path.read_text())
            if kept["key"] == key:
                return [_summary(row) for row in kept["sources"]]
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged file is rebuilt
            log.info("engine cache %s not used: %s", path, exc)
        found = self.store.sources()
        rows = [
            {**asdict(s), "first_date": s.first_date.isoformat(), "last_date": s.last_date.isoformat()} for s in found
        ]
        try:
            _replace(path, json.dumps({"key": key, "sources": rows}).encode())
        except OSError as exc:
            log.warning("engine cache: sources not written to %s: %s", self.directory, exc)
        return found

    def path(self, source: str) -> Path:
        """The file of ``source`` (its name kept readable, made safe, and told apart by a digest)."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in source)[:40]
        digest = hashlib.sha256(source.encode()).hexdigest()[:10]
        return self.directory / f"{safe}-{digest}.engine"

    def load(self, store: MarketData, source: str) -> Loaded:
        """``source``'s engine from its file when the key matches, else built from ``store`` (and kept for
        :meth:`save`). The key is read before the data, so a write landing meanwhile only makes the file stale.
        Another store than the cache's is simply built from."""
        if store is not self.store:
            return self._build(store, source)
        key = {**self.data_key(), "source": source, **_software()}
        path = self.path(source)
        try:
            found = _read(path, key)
        except FileNotFoundError:
            found = None
        except Exception as exc:  # any damage or mismatch: the file is a cache, rebuild
            self.stats.ignored[source] = str(exc) or type(exc).__name__
            log.info("engine cache %s not used: %s", path, exc)
            found = None
        if found is not None:
            self.stats.hits.append(source)
            return found
        loaded = self._build(store, source)
        self.stats.built.append(source)
        self._pending[source] = (key, loaded)
        return loaded

    def save(self) -> None:
        """Write every engine this process built (with what it computed since), each atomically; a directory
        that cannot be written only costs the next command a rebuild."""
        if self._pending:
            sweep_leftovers(self.directory)
        for source, (key, loaded) in list(self._pending.items()):
            try:
                _write(self.path(source), key, loaded)
            except OSError as exc:
                log.warning("engine cache for %s not written to %s: %s", source, self.directory, exc)
                continue
            self.stats.written.append(source)
            del self._pending[source]


def data_key(store: VersionedMarket) -> dict[str, Any]:
    """What the store holds, as far as the indices go: its data version (newest import, token classes)."""
    version = store.data_version()
    return {"imports": version.imports, "classes": version.classes}


def _software() -> dict[str, str]:
    """The versions that must match for a kept engine to be read back as it was written."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "polars": pl.__version__,
        "code": _code_digest(),
    }


def _summary(row: dict[str, Any]) -> SourceSummary:
    return SourceSummary(
        source=str(row["source"]),
        coins=int(row["coins"]),
        rows=int(row["rows"]),
        first_date=dt.date.fromisoformat(row["first_date"]),
        last_date=dt.date.fromisoformat(row["last_date"]),
    )


_code: str | None = None


def _code_digest() -> str:
    """A digest of the source of the code that makes and computes engines: a kept engine made by other code (an
    upgrade, a local change) is not used."""
    global _code  # computed once per process
    if _code is None:
        root = Path(__file__).resolve().parent.parent
        files = sorted(p for pkg in _CODE_PACKAGES for p in (root / pkg).rglob("*.py"))
        files += [root / m for m in _CODE_MODULES]
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
        _code = digest.hexdigest()[:32]
    return _code


# -- the file ------------------------------------------------------------------------------------------------


def _write(path: Path, key: dict[str, Any], loaded: Loaded) -> None:
    """``loaded`` into ``path``: written beside it under a temporary name, then renamed into place."""
    buffers: list[pickle.PickleBuffer] = []
    body = pickle.dumps(loaded, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]
    header_room = 4096 + 64 * len(views)
    offset = _aligned(len(MAGIC) + header_room)
    pickled = (offset, len(body))
    offset = _aligned(offset + len(body))
    spans = []
    for view in views:
        spans.append((offset, view.nbytes))
        offset = _aligned(offset + view.nbytes)
    header = {
        "key": key,
        "pickle": pickled,
        "buffers": spans,
        "size": offset,
        "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
    }
    head = json.dumps(header).encode()
    if len(head) + 1 > header_room:
        raise OSError(f"engine cache header too large ({len(head)} bytes)")

    def fill(out: io.BufferedWriter) -> None:
        out.write(MAGIC + head + b"\n")
        _pad_to(out, pickled[0])
        out.write(body)
        for (start, _), view in zip(spans, views, strict=True):
            _pad_to(out, start)
            out.write(view)
        _pad_to(out, offset)

    _atomic(path, fill)


def _replace(path: Path, content: bytes) -> None:
    _atomic(path, lambda out: out.write(content))


def _atomic(path: Path, fill: Callable[[io.BufferedWriter], object]) -> None:
    """``path`` written whole or not at all: filled under a temporary name beside it, then renamed into place
    (a reader sees the old file or the new one; of two writers, the last wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path, key: dict[str, Any]) -> Loaded | None:
    """The :class:`Loaded` of ``path`` if its key is ``key`` (None: another key); an exception when the file is
    damaged."""
    with path.open("rb") as handle:
        if handle.read(len(MAGIC)) != MAGIC:
            raise ValueError("not an engine cache file")
        line = handle.readline(1 << 20)
        if not line.endswith(b"\n"):
            raise ValueError("no header")
        header = json.loads(line)
        if header["key"] != key:
            return None
        size = os.fstat(handle.fileno()).st_size
        if size != header["size"]:
            raise ValueError(f"truncated: {size} bytes of {header['size']}")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(mapped)
    at, length = header["pickle"]
    body = view[at : at + length]
    if hashlib.blake2b(body, digest_size=16).hexdigest() != header["digest"]:
        raise ValueError("damaged: the digest does not match")
    buffers = [view[a : a + n] for a, n in header["buffers"]]
    found = _EngineUnpickler(io.BytesIO(body), buffers=buffers).load()
    if not isinstance(found, Loaded):
        raise ValueError(f"holds a {type(found).__name__}, not an engine")
    return found


def sweep_leftovers(directory: Path) -> list[Path]:
    """Delete the temporary files of writers that died before renaming them (each name holds its writer's process
    id; a live writer's file is left alone). A file as large as an engine must not pile up."""
    removed = []
    for path in directory.glob(".*.tmp") if directory.is_dir() else ():
        parts = path.name.split(".")
        pid = int(parts[-3]) if len(parts) >= 4 and parts[-3].isdigit() else None
        if pid is None or _alive(pid):
            continue
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def _pad_to(out: io.BufferedWriter, offset: int) -> None:
    gap = offset - out.tell()
    if gap < 0:
        raise OSError("engine cache layout overlaps")
    out.write(b"\0" * gap)


_ALLOWED = {
    "builtins": {"set", "frozenset", "dict", "list", "tuple", "bytearray", "complex", "slice"},
    "datetime": {"date", "datetime", "timedelta", "timezone"},
    "numpy": {"dtype", "ndarray"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "polars.dataframe.frame": {"DataFrame"},
    "polars.series.series": {"Series"},
    "coinseason.services.loaded_engine": {"Loaded"},
}


class _EngineUnpickler(pickle.Unpickler):
    """Only what an engine is made of: numpy arrays, a polars frame, dates, and coinseason's core classes (a file
    beside the store that names anything else is refused, not run)."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get(module)
        if (allowed is not None and name in allowed) or (module.startswith("coinseason.core.") and name[:1].isupper()):
            return super().find_class(module, name)
        if module.startswith("numpy.dtypes") and name.endswith("DType"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of an engine")
