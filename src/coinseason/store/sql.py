"""What the DuckDB and PostgreSQL stores share: their tables, the query text that reads the same in both, and the
converters from stored rows to records.

Query text uses ``?`` placeholders (DuckDB's); :func:`pyformat` turns it into psycopg's ``%s``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from coinseason.errors import StoreError
from coinseason.store.alert_tables import alert_ddl
from coinseason.store.records import SCHEMA_VERSION, DataVersion, ImportRecord, ModelArtifact, SourceSummary, utc


def ddl(*, key: str, double: str, blob: str, import_id: str, before_imports: str = "") -> str:
    """The store's tables in one SQL dialect.

    ``key`` is the type of the text columns that are compared and sorted (ids, sources, prefixes), ``double`` and
    ``blob`` the dialect's float and bytes types, ``import_id`` the ``imports.id`` column definition and
    ``before_imports`` any statement it needs first (a sequence).
    """
    return f"""
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS features (
    series {key} NOT NULL, date DATE NOT NULL, known_at TIMESTAMPTZ NOT NULL, value {double} NOT NULL,
    PRIMARY KEY (series, date, known_at)
);
CREATE TABLE IF NOT EXISTS model_artifacts (
    version {key} PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL, meta VARCHAR NOT NULL, payload {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS coins (
    source {key} NOT NULL,
    coin_id {key} NOT NULL,
    symbol VARCHAR,
    name VARCHAR,
    categories VARCHAR,
    token_class VARCHAR,
    class_basis VARCHAR,
    class_source VARCHAR,
    PRIMARY KEY (source, coin_id)
);
CREATE TABLE IF NOT EXISTS observations (
    source {key} NOT NULL,
    coin_id {key} NOT NULL,
    date DATE NOT NULL,
    price {double} NOT NULL,
    market_cap {double},
    volume {double},
    rank INTEGER,
    circulating_supply {double},
    flags SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, coin_id, date)
);
{before_imports}
CREATE TABLE IF NOT EXISTS imports (
    {import_id},
    source VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL,
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    rejections VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    prefix {key} PRIMARY KEY,
    name VARCHAR NOT NULL,
    secret_hash VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS ingest_cursors (
    name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_leases (
    name VARCHAR PRIMARY KEY, owner VARCHAR NOT NULL, expires_at TIMESTAMPTZ NOT NULL
);
""" + alert_ddl(key=key)


def pyformat(query: str) -> str:
    """``query`` with psycopg's ``%s`` placeholders in place of ``?`` (no query here holds a literal ``?``)."""
    return query.replace("?", "%s")


READ_VERSION: Final = "SELECT value FROM meta WHERE key = 'schema_version'"
WRITE_VERSION: Final = "INSERT INTO meta VALUES ('schema_version', ?)"
KEY_COLUMNS: Final = "prefix, name, secret_hash, created_at, revoked_at"
ADD_API_KEY: Final = "INSERT INTO api_keys (prefix, name, secret_hash, created_at) VALUES (?, ?, ?, ?)"
API_KEY: Final = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE prefix = ?"  # noqa: S608 - constant text
API_KEYS: Final = f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, prefix"  # noqa: S608 - constant text
REVOKE_API_KEY: Final = "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL RETURNING prefix"
SAVE_CURSOR: Final = (
    "INSERT INTO ingest_cursors (name, value, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)
INGEST_CURSOR: Final = "SELECT value FROM ingest_cursors WHERE name = ?"
TAKE_LEASE: Final = (
    "INSERT INTO ingest_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
    " SET owner = excluded.owner, expires_at = excluded.expires_at"
    " WHERE ingest_leases.owner = excluded.owner OR ingest_leases.expires_at <= ? OR ingest_leases.owner = ?"
    " RETURNING owner"
)
LEASE_HOLDER: Final = "SELECT owner FROM ingest_leases WHERE name = ?"
INSERT_IMPORT: Final = (
    "INSERT INTO imports (source, path, format, sha256, imported_at, added, updated, unchanged,"
    " rejected, rejections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
COINS: Final = """
SELECT c.coin_id, c.symbol, c.name, c.categories, c.token_class, c.class_basis, c.class_source,
       s.first_seen, s.last_seen, s.n_days
FROM coins c
LEFT JOIN (SELECT coin_id, min(date) AS first_seen, max(date) AS last_seen, count(*) AS n_days
           FROM observations WHERE source = ? GROUP BY coin_id) s USING (coin_id)
WHERE c.source = ?
ORDER BY c.coin_id
"""
COIN_OBSERVATION_COLUMNS: Final = ("date", "price", "market_cap", "volume", "rank", "circulating_supply")
COIN_OBSERVATIONS: Final = (
    f"SELECT {', '.join(COIN_OBSERVATION_COLUMNS)} FROM observations"  # noqa: S608 - constant text
    " WHERE source = ? AND coin_id = ? AND date BETWEEN ? AND ? ORDER BY date"
)
CLASSIFY: Final = """
UPDATE coins SET token_class = f.token_class, class_basis = f.class_basis, class_source = f.class_source
FROM {staged} f WHERE coins.source = ? AND coins.coin_id = f.coin_id
"""
UPSERT_COINS: Final = """
INSERT INTO coins (source, coin_id, symbol, name, categories)
SELECT source, coin_id, symbol, name, categories FROM {staged}
ON CONFLICT (source, coin_id) DO UPDATE SET
    symbol = coalesce(excluded.symbol, coins.symbol),
    name = coalesce(excluded.name, coins.name),
    categories = coalesce(excluded.categories, coins.categories)
"""
FEATURE_COUNTS: Final = (
    "SELECT count(*) FILTER (WHERE f.series IS NULL), count(*) FILTER (WHERE f.value <> i.value),"
    " count(*) FILTER (WHERE f.value = i.value) FROM {staged} i LEFT JOIN features f"
    " ON f.series = i.series AND f.date = i.date AND f.known_at = i.known_at"
)
UPSERT_FEATURES: Final = (
    "INSERT INTO features SELECT series, date, known_at, value FROM {staged}"
    " ON CONFLICT (series, date, known_at) DO UPDATE SET value = excluded.value"
)
FEATURES: Final = "SELECT series, date, known_at, value FROM features WHERE {where} ORDER BY series, date, known_at"
INSERT_MODEL: Final = "INSERT INTO model_artifacts VALUES (?, ?, ?, ?)"
MODEL: Final = "SELECT version, created_at, meta, payload FROM model_artifacts WHERE version = ?"
LATEST_MODEL: Final = (
    "SELECT version, created_at, meta, payload FROM model_artifacts ORDER BY created_at DESC, version DESC LIMIT 1"
)


def check_version(where: str, found: list[tuple[Any, ...]]) -> None:
    """Refuse a store whose tables were written by another schema version (``found``: the rows of READ_VERSION)."""
    if found and found[0][0] != SCHEMA_VERSION:
        raise StoreError(
            f"{where} has store schema version {found[0][0]}; this coinseason reads version {SCHEMA_VERSION}"
        )


def import_row(record: ImportRecord, counts: tuple[int, int, int]) -> tuple[Any, ...]:
    """The values of INSERT_IMPORT for ``record`` and its (added, updated, unchanged) counts."""
    return (
        record.source,
        record.path,
        record.format,
        record.sha256,
        record.imported_at,
        counts[0],
        counts[1],
        counts[2],
        record.rejected,
        json.dumps(record.rejections, sort_keys=True),
    )


def model_row(artifact: ModelArtifact) -> tuple[Any, ...]:
    """The values of INSERT_MODEL for ``artifact``."""
    return (artifact.version, utc(artifact.created_at), json.dumps(artifact.meta), artifact.payload)


def model_artifact(row: tuple[Any, ...]) -> ModelArtifact:
    """A row of MODEL or LATEST_MODEL as the artifact it stores."""
    version, created, meta, payload = row
    return ModelArtifact(version=version, created_at=utc(created), meta=json.loads(meta), payload=bytes(payload))


def source_summary(row: tuple[Any, ...]) -> SourceSummary:
    """A row of (source, coins, rows, first date, last date) as a summary."""
    return SourceSummary(row[0], int(row[1]), int(row[2]), row[3], row[4])


def known_by_bound(known_by: dt.datetime | None) -> dt.datetime:
    """The ``known_at`` bound of a feature read: ``known_by`` in UTC, or no bound at all."""
    return utc(known_by) if known_by else dt.datetime.max.replace(tzinfo=dt.UTC)


DATA_VERSION: Final = """
SELECT
    (SELECT coalesce(max(id), 0) FROM imports),
    (SELECT coalesce(md5(string_agg(source || '/' || coin_id || '=' || coalesce(token_class, ''), ','
                                    ORDER BY source, coin_id)), '') FROM coins),
    (SELECT count(*) + count(revoked_at) FROM api_keys)
"""
"""The store's :class:`DataVersion`, in one statement that reads the same in DuckDB and PostgreSQL."""


def data_version(row: tuple[Any, ...]) -> DataVersion:
    """A row of DATA_VERSION as the version it is."""
    return DataVersion(imports=int(row[0]), classes=str(row[1]), keys=int(row[2]))
