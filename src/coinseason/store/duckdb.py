"""The embedded default store: one DuckDB file."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from coinseason.data.tidy import COIN_SCHEMA, FEATURE_SCHEMA, OBSERVATION_SCHEMA
from coinseason.errors import StoreError
from coinseason.store import sql as schema
from coinseason.store.records import (
    SCHEMA_VERSION,
    ApiKeyRecord,
    ImportRecord,
    IngestCursor,
    ModelArtifact,
    SourceSummary,
    WriteCounts,
    api_key_record,
    utc,
)

_DDL = schema.ddl(
    key="VARCHAR",
    double="DOUBLE",
    blob="BLOB",
    import_id="id BIGINT PRIMARY KEY DEFAULT nextval('import_ids')",
    before_imports="CREATE SEQUENCE IF NOT EXISTS import_ids START 1;",
)
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
        self._writing = threading.RLock()
        """Held by each write on the connection: a write from another thread waits for it (DuckDB would refuse
        it, the connection busy), e.g. a lease released while a cancelled backfill's batch is still written."""
        self._migrate()

    def _migrate(self) -> None:
        try:
            self._con.execute(_DDL)
            found = self._con.execute(schema.READ_VERSION).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{self.path} is not a coinseason store: {exc}") from exc
        if not found:
            self._con.execute(schema.WRITE_VERSION, [SCHEMA_VERSION])
        schema.check_version(self.path, found)

    # -- writes ---------------------------------------------------------------------------------------------

    def write_import(
        self,
        coins: pl.DataFrame,
        observations: pl.DataFrame,
        record: ImportRecord,
        *,
        cursor: IngestCursor | None = None,
    ) -> WriteCounts:
        con = self._con
        incoming_obs = observations.select(list(OBSERVATION_SCHEMA)).to_arrow()  # noqa: F841 - used by SQL
        incoming_coins = coins.select(list(COIN_SCHEMA)).to_arrow()  # noqa: F841 - used by SQL
        changed = " OR ".join(f"o.{c} IS DISTINCT FROM i.{c}" for c in _VALUE_COLUMNS)
        with self._transaction(f"import into {self.path} failed, nothing was written"):
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
            con.execute(schema.UPSERT_COINS.format(staged="incoming_coins"))
            con.execute(schema.INSERT_IMPORT, schema.import_row(record, counts))
            con.execute("DROP TABLE staged")
            if cursor is not None:
                con.execute(schema.SAVE_CURSOR, [cursor.name, cursor.value, utc(record.imported_at)])
        return WriteCounts(added=int(counts[0]), updated=int(counts[1]), unchanged=int(counts[2]))

    def write_classification(self, source: str, classes: pl.DataFrame) -> None:
        frame = classes.select("coin_id", "token_class", "class_basis", "class_source").to_arrow()  # noqa: F841
        with self._transaction(f"classification of {source} not written"):
            self._con.execute(schema.CLASSIFY.format(staged="frame"), [source])

    @contextmanager
    def _transaction(self, failed: str) -> Iterator[None]:
        """One transaction: committed at the end, rolled back on any error; a DuckDB error reads ``failed: …``."""
        with self._writing:
            try:
                self._con.execute("BEGIN TRANSACTION")
                yield
                self._con.execute("COMMIT")
            except BaseException as exc:
                self._con.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise StoreError(f"{failed}: {exc}") from exc
                raise

    # -- reads ----------------------------------------------------------------------------------------------

    def _frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        try:
            with self._con.cursor() as cur:  # one cursor a call: the connection is shared by threads
                table = cur.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        frame = pl.from_arrow(table)
        if not isinstance(frame, pl.DataFrame):
            raise StoreError("the store returned a column where a table was expected")
        return frame

    def _fetch(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._con.cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    def observations(
        self, source: str, *, columns: tuple[str, ...] = ("coin_id", "date", "price", "market_cap", "flags")
    ) -> pl.DataFrame:
        unknown = set(columns) - set(OBSERVATION_SCHEMA)
        if unknown:
            raise StoreError(f"unknown observation columns: {sorted(unknown)}")
        cols = ", ".join(columns)
        return self._frame(f"SELECT {cols} FROM observations WHERE source = ?", [source])  # noqa: S608

    def coins(self, source: str) -> pl.DataFrame:
        return self._frame(schema.COINS, [source, source])

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
        return self._frame(schema.COIN_OBSERVATIONS, [source, coin_id, start or dt.date.min, end or dt.date.max])

    def sources(self) -> list[SourceSummary]:
        rows = self._fetch(
            "SELECT source, count(DISTINCT coin_id), count(*), min(date), max(date) FROM observations"
            " GROUP BY source ORDER BY source"
        )
        return [schema.source_summary(r) for r in rows]

    def imports(self) -> pl.DataFrame:
        return self._frame("SELECT * FROM imports ORDER BY id")

    # -- API keys -------------------------------------------------------------------------------------------

    def add_api_key(self, prefix: str, name: str, secret_hash: str, created_at: dt.datetime) -> None:
        try:
            with self._writing:
                self._con.execute(schema.ADD_API_KEY, [prefix, name, secret_hash, utc(created_at)])
        except duckdb.ConstraintException as exc:
            raise StoreError(f"an API key with prefix {prefix!r} exists already") from exc
        except duckdb.Error as exc:
            raise StoreError(f"API key not written to {self.path}: {exc}") from exc

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        rows = self._key_rows(schema.API_KEY, [prefix])
        return rows[0] if rows else None

    def api_keys(self) -> list[ApiKeyRecord]:
        return self._key_rows(schema.API_KEYS)

    def revoke_api_key(self, prefix: str, at: dt.datetime) -> bool:
        try:
            with self._writing:
                done = self._con.execute(schema.REVOKE_API_KEY, [utc(at), prefix]).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"API key {prefix!r} not revoked in {self.path}: {exc}") from exc
        return bool(done)

    def _key_rows(self, sql: str, params: list[Any] | None = None) -> list[ApiKeyRecord]:
        try:
            rows = self._fetch(sql, params or [])
        except duckdb.Error as exc:
            raise StoreError(f"reading API keys from {self.path} failed: {exc}") from exc
        return [api_key_record(row) for row in rows]

    # -- ingestion state ------------------------------------------------------------------------------------

    def observations_between(self, source: str, start: dt.date, end: dt.date) -> pl.DataFrame:
        frame = self._frame(
            f"SELECT {_OBS_COLUMNS} FROM observations WHERE source = ? AND date BETWEEN ? AND ?"  # noqa: S608
            " ORDER BY coin_id, date",
            [source, start, end],
        )
        return frame.cast(OBSERVATION_SCHEMA)  # type: ignore[arg-type]

    def ingest_cursor(self, name: str) -> str | None:
        rows = self._fetch(schema.INGEST_CURSOR, [name])
        return str(rows[0][0]) if rows else None

    def acquire_lease(
        self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta, *, dead: str | None = None
    ) -> bool:
        try:
            params = [name, owner, utc(now) + ttl, utc(now), dead or owner]
            with self._writing:
                got = self._con.execute(schema.TAKE_LEASE, params).fetchall()
        except duckdb.TransactionException:  # another connection took it in the same instant
            return False
        except duckdb.Error as exc:
            raise StoreError(f"lease {name!r} not taken in {self.path}: {exc}") from exc
        return bool(got)

    def lease_holder(self, name: str) -> str | None:
        rows = self._fetch(schema.LEASE_HOLDER, [name])
        return str(rows[0][0]) if rows else None

    def release_lease(self, name: str, owner: str) -> None:
        try:
            with self._writing:
                self._con.execute("DELETE FROM ingest_leases WHERE name = ? AND owner = ?", [name, owner])
        except duckdb.Error as exc:
            raise StoreError(f"lease {name!r} not released in {self.path}: {exc}") from exc

    # -- features and models --------------------------------------------------------------------------------

    def write_features(self, rows: pl.DataFrame) -> WriteCounts:
        try:
            incoming = rows.select(pl.col(c).cast(k) for c, k in FEATURE_SCHEMA.items()).to_arrow()  # noqa: F841
        except pl.exceptions.PolarsError as exc:
            raise StoreError(f"feature rows not written to {self.path}: {exc}") from exc
        con = self._con
        with self._transaction(f"feature rows not written to {self.path}, nothing was"):
            counts = con.execute(schema.FEATURE_COUNTS.format(staged="incoming")).fetchall()[0]
            con.execute(schema.UPSERT_FEATURES.format(staged="incoming"))
        return WriteCounts(added=int(counts[0]), updated=int(counts[1]), unchanged=int(counts[2]))

    def features(self, series: tuple[str, ...] | None = None, *, known_by: dt.datetime | None = None) -> pl.DataFrame:
        where = ["known_at <= ?"]
        params: list[Any] = [schema.known_by_bound(known_by)]
        if series is not None:
            where.append("list_contains(?, series)")
            params.append(list(series))
        frame = self._frame(schema.FEATURES.format(where=" AND ".join(where)), params)
        return frame.with_columns(pl.col("known_at").dt.convert_time_zone("UTC")).cast(FEATURE_SCHEMA)  # type: ignore[arg-type]

    def write_model(self, artifact: ModelArtifact) -> None:
        try:
            with self._writing:
                self._con.execute(schema.INSERT_MODEL, schema.model_row(artifact))
        except duckdb.ConstraintException as exc:
            raise StoreError(f"a model version {artifact.version!r} exists already") from exc
        except duckdb.Error as exc:
            raise StoreError(f"model {artifact.version!r} not written to {self.path}: {exc}") from exc

    def model(self, version: str | None = None) -> ModelArtifact | None:
        if version is not None:
            rows = self._fetch(schema.MODEL, [version])
        else:
            rows = self._fetch(schema.LATEST_MODEL)
        return schema.model_artifact(rows[0]) if rows else None

    def close(self) -> None:
        with self._writing:
            self._con.close()
