"""What every command that reads the indices shares: the store named by ``--db`` (refused when it holds no
store), the analytics over it with engines kept on disk beside the store, checks of ``--from``/``--to`` against
the data, and a one-line warning on stderr when the data is older than the stale limit."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from coinseason.cli.output import err, steps
from coinseason.cli.runtime import duckdb_path, open_db, store_url
from coinseason.clock import Clock
from coinseason.errors import ConfigError
from coinseason.services.analytics import AnalyticsService
from coinseason.services.engine_cache import EngineCache
from coinseason.services.loaded_engine import Loaded, load_engine
from coinseason.store import Store
from coinseason.store.protocols import MarketData

STALE_ENV = "COINSEASON_STALE_AFTER_HOURS"
DEFAULT_STALE_HOURS = 36.0
"""The stale limit when ``COINSEASON_STALE_AFTER_HOURS`` is not set (the API's default,
:attr:`coinseason.settings.ApiSettings.stale_after_hours`; a test keeps the two equal)."""

REFRESH_HINT = (
    "refresh with `coinseason import FILE --format F` or a provider (`coinseason ingest backfill`, "
    "or `coinseason serve` with COINSEASON_INGEST_PROVIDER set)"
)


@dataclass(frozen=True, slots=True)
class Reading:
    """An open store and the analytics over it, for one command."""

    store: Store
    service: AnalyticsService
    cache: EngineCache | None


def engine_cache_dir(url: str) -> Path | None:
    """Where the engines of the store ``url`` are kept: beside a DuckDB file (``FILE.engines/``), in the user's
    cache directory for PostgreSQL (one directory per server and database); None for a store in memory."""
    path = duckdb_path(url)
    if path is not None:
        return path.with_name(path.name + ".engines")
    if not url.startswith(("postgresql://", "postgres://")):
        return None
    import platformdirs

    rest = url.split("://", 1)[1]
    where = rest.rsplit("@", 1)[-1]  # no user name or password in the key
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return Path(platformdirs.user_cache_dir("coinseason")) / "engines" / digest


@contextmanager
def reading(db: str | None, clock: Clock, *, cached: bool = True) -> Iterator[Reading]:
    """The store of ``--db`` for reading (a path that holds no store is refused, not created) and the analytics
    over it. When the command succeeds, the engines it built are written to the cache, and a source whose data is
    older than the stale limit gets a one-line warning on stderr."""
    url = store_url(db)
    with open_db(url, create=False, lazy=True) as store:
        directory = engine_cache_dir(url) if cached else None
        path = duckdb_path(url)
        cache = (
            EngineCache(
                directory,
                store,
                identity=_identity(url),
                version=(lambda: file_version(path)) if path is not None else None,
                build=_build_showing_progress,
            )
            if directory is not None
            else None
        )
        service = (
            AnalyticsService(store, load=cache.load, sources=cache.sources)
            if cache is not None
            else AnalyticsService(store)
        )
        yield Reading(store, service, cache)
        if cache is not None:
            cache.save()
        used = set(cache.stats.hits + cache.stats.built) if cache is not None else set()
        warn_if_stale(service, clock, used or None)


def _build_showing_progress(store: MarketData, source: str) -> Loaded:
    """:func:`load_engine` with a spinner on stderr: the first command after new data reads every observation."""
    with steps(f"reading {source} from the store (kept beside it for the next command)"):
        return load_engine(store, source)


def _identity(url: str) -> dict[str, object]:
    """A PostgreSQL URL's host and database (without credentials); nothing more for a DuckDB file (its
    :func:`file_version` says it all)."""
    return {} if duckdb_path(url) is not None else {"server": url.split("://", 1)[-1].rsplit("@", 1)[-1]}


def file_version(path: Path) -> dict[str, object]:
    """What a DuckDB store holds, without opening it: the inode, size and modification time of the file and of
    its write-ahead log (every committed write changes one of them; reads change neither, and a file deleted and
    imported afresh is another inode or time)."""
    found: dict[str, object] = {}
    for name, part in (("file", path), ("wal", path.with_name(path.name + ".wal"))):
        try:
            stat = part.stat()
        except FileNotFoundError:
            found[name] = None
            continue
        found[name] = [stat.st_ino, stat.st_size, stat.st_mtime_ns]
    return found


def stale_hours() -> float:
    """The stale limit, hours: ``COINSEASON_STALE_AFTER_HOURS`` (read as the API reads it), else the default."""
    if not any(name.upper() == STALE_ENV for name in os.environ):  # read as the settings read: any case
        return DEFAULT_STALE_HOURS
    from coinseason.settings import Settings  # the validation of the setting, only when it is set

    return Settings.from_env().api.stale_after_hours


def stale_warning(source: str, last: dt.date, now: dt.datetime, limit_hours: float) -> str | None:
    """The warning for data of ``source`` ending on ``last`` (a day's data is complete at the end of that day,
    UTC), or None when it is within ``limit_hours``."""
    complete = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    age = now - complete
    if age.total_seconds() <= limit_hours * 3600:
        return None
    days = (now.date() - last).days
    return (
        f"warning: the data of {source} ends on {last.isoformat()}, {days} day{'s' if days != 1 else ''} ago"
        f" (stale after {limit_hours:g} h): {REFRESH_HINT}"
    )


def warn_if_stale(service: AnalyticsService, clock: Clock, sources: set[str] | None = None) -> None:
    """One line on stderr for each source (of ``sources``, default all) whose data is older than the limit."""
    limit = stale_hours()
    now = clock()
    for summary in service.sources():
        if sources is not None and summary.source not in sources:
            continue
        line = stale_warning(summary.source, summary.last_date, now, limit)
        if line is not None:
            err.print(line, style="yellow", highlight=False, markup=False)


def check_dates(
    service: AnalyticsService, source: str | None, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """``--from``/``--to`` as given, refused (one line, exit code 2, as the API answers 422) when ``--from`` is
    after ``--to`` or the range holds no day of the data."""
    if start is not None and end is not None and start > end:
        raise ConfigError(f"--from ({start}) is after --to ({end})")
    if start is None and end is None:
        return start, end
    engine = service.loaded(source).engine
    if start is not None and start > engine.end:
        raise ConfigError(f"--from {start} is after the data, which runs from {engine.start} to {engine.end}")
    if end is not None and end < engine.start:
        raise ConfigError(f"--to {end} is before the data, which runs from {engine.start} to {engine.end}")
    return start, end
