"""The embedded default store: one DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from coinseason.data.schema import COIN_SCHEMA, OBSERVATION_SCHEMA
from coinseason.errors import StoreError
from coinseason.store.base import (
    SCHEMA_VERSION,
    ApiKeyRecord,
    ImportRecord,
    SourceSummary,
    WriteCounts,
    api_key_record,
    utc,
)

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS coins (
    source VARCHAR NOT NULL,
    coin_id VARCHAR NOT NULL,
    symbol VARCHAR,
    name VARCHAR,
    categories VARCHAR,
    token_class VARCHAR,
    class_basis VARCHAR,
    class_source VARCHAR,
    PRIMARY KEY (source, coin_id)
);
CREATE TABLE IF NOT EXISTS observations (
    source VARCHAR NOT NULL,
    coin_id VARCHAR NOT NULL,
    date DATE NOT NULL,
    price DOUBLE NOT NULL,
    market_cap DOUBLE,
    volume DOUBLE,
    rank INTEGER,
    circulating_supply DOUBLE,
    flags SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, coin_id, date)
);
CREATE SEQUENCE IF NOT EXISTS import_ids START 1;
CREATE TABLE IF NOT EXISTS imports (
    id BIGINT PRIMARY KEY DEFAULT nextval('import_ids'),
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
    prefix VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    secret_hash VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
"""

_KEY_COLUMNS = "prefix, name, secret_hash, created_at, revoked_at"
_VALUE_COLUMNS = ("price", "market_cap", "volume", "rank", "circulating_supply", "flags")
_OBS_COLUMNS = ", ".join(OBSERVATION_SCHEMA)


class DuckDBStore:
    """Market store in one DuckDB file (``:memory:`` for a throw-away store)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.url = f"duckdb:///{self.path}" if self.path != ":memory:" else "duckdb://:memory:"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path)
        except duckdb.Error as exc:
            raise StoreError(f"cannot open the DuckDB store {self.path}: {exc}") from exc
        self._migrate()

    def _migrate(self) -> None:
        try:
            self._con.execute(_DDL)
            found = self._con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{self.path} is not a coinseason store: {exc}") from exc
        if not found:
            self._con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
        elif found[0][0] != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema version {found[0][0]}; this coinseason reads version {SCHEMA_VERSION}"
            )

    # -- writes ---------------------------------------------------------------------------------------------

    def write_import(self, coins: pl.DataFrame, observations: pl.DataFrame, record: ImportRecord) -> WriteCounts:
        con = self._con
        incoming_obs = observations.select(list(OBSERVATION_SCHEMA)).to_arrow()  # noqa: F841 - used by SQL
        incoming_coins = coins.select(list(COIN_SCHEMA)).to_arrow()  # noqa: F841 - used by SQL
        changed = " OR ".join(f"o.{c} IS DISTINCT FROM i.{c}" for c in _VALUE_COLUMNS)
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE staged AS
                SELECT i.*, o.coin_id IS NULL AS is_new, ({changed}) AS is_changed
                FROM incoming_obs i
                LEFT JOIN observations o
                  ON o.source = i.source AND o.coin_id = i.coin_id AND o.date = i.date
                """  # noqa: S608 - column names are constants
            )
            counts = con.execute(
                "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new AND is_changed),"
                " count(*) FILTER (WHERE NOT is_new AND NOT is_changed) FROM staged"
            ).fetchall()[0]
            updates = ", ".join(f"{c} = excluded.{c}" for c in _VALUE_COLUMNS)
            con.execute(
                f"""
                INSERT INTO observations ({_OBS_COLUMNS})
                SELECT {_OBS_COLUMNS} FROM staged WHERE is_new OR is_changed
                ON CONFLICT (source, coin_id, date) DO UPDATE SET {updates}
                """  # noqa: S608 - column names are constants
            )
            con.execute(
                """
                INSERT INTO coins (source, coin_id, symbol, name, categories)
                SELECT source, coin_id, symbol, name, categories FROM incoming_coins
                ON CONFLICT (source, coin_id) DO UPDATE SET
                    symbol = coalesce(excluded.symbol, coins.symbol),
                    name = coalesce(excluded.name, coins.name),
                    categories = coalesce(excluded.categories, coins.categories)
                """
            )
            con.execute(
                "INSERT INTO imports (source, path, format, sha256, imported_at, added, updated, unchanged,"
                " rejected, rejections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
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
                ],
            )
            con.execute("DROP TABLE staged")
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"import into {self.path} failed, nothing was written: {exc}") from exc
            raise
        return WriteCounts(added=int(counts[0]), updated=int(counts[1]), unchanged=int(counts[2]))

    def write_classification(self, source: str, classes: pl.DataFrame) -> None:
        frame = classes.select("coin_id", "token_class", "class_basis", "class_source").to_arrow()  # noqa: F841
        try:
            self._con.execute("BEGIN TRANSACTION")
            self._con.execute(
                """
                UPDATE coins SET token_class = f.token_class, class_basis = f.class_basis,
                                 class_source = f.class_source
                FROM frame f WHERE coins.source = ? AND coins.coin_id = f.coin_id
                """,
                [source],
            )
            self._con.execute("COMMIT")
        except BaseException as exc:
            self._con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise StoreError(f"classification of {source} not written: {exc}") from exc
            raise

    # -- reads ----------------------------------------------------------------------------------------------

    def _frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        try:
            table = self._con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        frame = pl.from_arrow(table)
        if not isinstance(frame, pl.DataFrame):
            raise StoreError("the store returned a column where a table was expected")
        return frame

    def observations(
        self, source: str, *, columns: tuple[str, ...] = ("coin_id", "date", "price", "market_cap", "flags")
    ) -> pl.DataFrame:
        unknown = set(columns) - set(OBSERVATION_SCHEMA)
        if unknown:
            raise StoreError(f"unknown observation columns: {sorted(unknown)}")
        cols = ", ".join(columns)
        return self._frame(f"SELECT {cols} FROM observations WHERE source = ?", [source])  # noqa: S608

    def coins(self, source: str) -> pl.DataFrame:
        return self._frame(
            """
            SELECT c.coin_id, c.symbol, c.name, c.categories, c.token_class, c.class_basis, c.class_source,
                   s.first_seen, s.last_seen, s.n_days
            FROM coins c
            LEFT JOIN (SELECT coin_id, min(date) AS first_seen, max(date) AS last_seen, count(*) AS n_days
                       FROM observations WHERE source = ? GROUP BY coin_id) s USING (coin_id)
            WHERE c.source = ?
            ORDER BY c.coin_id
            """,
            [source, source],
        )

    def last_observations(self, source: str, *, before: dt.date | None = None) -> pl.DataFrame:
        return self._frame(
            """
            SELECT o.coin_id, c.symbol, o.date, o.price, o.market_cap, o.circulating_supply
            FROM observations o JOIN coins c ON c.source = o.source AND c.coin_id = o.coin_id
            WHERE o.source = ? AND o.date < ?
            QUALIFY row_number() OVER (PARTITION BY o.coin_id ORDER BY o.date DESC) = 1
            ORDER BY o.coin_id
            """,
            [source, before or dt.date.max],
        )

    def coin_observations(
        self, source: str, coin_id: str, *, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        return self._frame(
            "SELECT date, price, market_cap, volume, rank, circulating_supply FROM observations"
            " WHERE source = ? AND coin_id = ? AND date BETWEEN ? AND ? ORDER BY date",
            [source, coin_id, start or dt.date.min, end or dt.date.max],
        )

    def sources(self) -> list[SourceSummary]:
        rows = self._con.execute(
            "SELECT source, count(DISTINCT coin_id), count(*), min(date), max(date) FROM observations"
            " GROUP BY source ORDER BY source"
        ).fetchall()
        return [SourceSummary(r[0], int(r[1]), int(r[2]), r[3], r[4]) for r in rows]

    def imports(self) -> pl.DataFrame:
        return self._frame("SELECT * FROM imports ORDER BY id")

    # -- API keys -------------------------------------------------------------------------------------------

    def add_api_key(self, prefix: str, name: str, secret_hash: str, created_at: dt.datetime) -> None:
        try:
            self._con.execute(
                "INSERT INTO api_keys (prefix, name, secret_hash, created_at) VALUES (?, ?, ?, ?)",
                [prefix, name, secret_hash, utc(created_at)],
            )
        except duckdb.ConstraintException as exc:
            raise StoreError(f"an API key with prefix {prefix!r} exists already") from exc
        except duckdb.Error as exc:
            raise StoreError(f"API key not written to {self.path}: {exc}") from exc

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        rows = self._key_rows(f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE prefix = ?", [prefix])  # noqa: S608
        return rows[0] if rows else None

    def api_keys(self) -> list[ApiKeyRecord]:
        return self._key_rows(f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, prefix")  # noqa: S608

    def revoke_api_key(self, prefix: str, at: dt.datetime) -> bool:
        try:
            done = self._con.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL RETURNING prefix",
                [utc(at), prefix],
            ).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"API key {prefix!r} not revoked in {self.path}: {exc}") from exc
        return bool(done)

    def _key_rows(self, sql: str, params: list[Any] | None = None) -> list[ApiKeyRecord]:
        try:
            rows = self._con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"reading API keys from {self.path} failed: {exc}") from exc
        return [api_key_record(row) for row in rows]

    def close(self) -> None:
        self._con.close()
