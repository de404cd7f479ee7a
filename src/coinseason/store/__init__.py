"""Market stores, chosen by URL: ``duckdb:///path/to/file.duckdb`` (or a plain path) is the embedded default,
``postgresql://user@host/db`` (or ``postgres://``) the shared one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from coinseason.errors import ConfigError
from coinseason.store.duckdb import DuckDBStore
from coinseason.store.protocols import Store
from coinseason.store.records import ApiKeyRecord, DataVersion, ImportRecord, SourceSummary, WriteCounts

if TYPE_CHECKING:
    from coinseason.settings import PostgresSettings  # pydantic loads only with the settings or PostgreSQL
    from coinseason.store.postgres import PostgresStore

__all__ = [
    "ApiKeyRecord",
    "DataVersion",
    "DuckDBStore",
    "ImportRecord",
    "Store",
    "PostgresStore",
    "SourceSummary",
    "WriteCounts",
    "open_store",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_store(url: str | Path, *, pool: PostgresSettings | None = None) -> Store:
    """Open the store named by ``url``: a DuckDB file path, ``duckdb:///path[?busy_timeout=SECONDS]`` or
    ``postgresql://…`` (whose connection pool ``pool`` sizes and bounds; the defaults of :class:`PostgresSettings`
    without it)."""
    text = str(url)
    if text.startswith("duckdb://"):
        return _duckdb(text.removeprefix("duckdb://"))  # duckdb:///abs, duckdb://rel, duckdb://:memory:
    if text.startswith(POSTGRES_SCHEMES):
        from coinseason.store.postgres import PostgresStore  # psycopg loads only when it is used

        return PostgresStore(text, pool=pool)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"unsupported store URL scheme {scheme!r}: use a DuckDB file path, duckdb:///PATH"
            " or postgresql://USER@HOST/DB"
        )
    return DuckDBStore(Path(text).expanduser())


def _duckdb(rest: str) -> DuckDBStore:
    """``PATH[?busy_timeout=SECONDS]``: how long an operation waits for a file another process holds."""
    path, _, query = rest.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    wait = options.pop("busy_timeout", None)
    if options:
        raise ConfigError(f"unknown DuckDB store option(s) {', '.join(sorted(options))}: only busy_timeout is known")
    if wait is None:
        return DuckDBStore(path)
    try:
        seconds = float(wait)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise ConfigError(f"busy_timeout={wait!r} in the DuckDB store URL: give seconds from 0 to 3600")
    return DuckDBStore(path, busy_timeout=seconds)


def __getattr__(name: str) -> object:
    if name == "PostgresStore":
        from coinseason.store.postgres import PostgresStore  # psycopg loads only when it is used

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
