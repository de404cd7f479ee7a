"""The embedded default store: one DuckDB file, open only while an operation runs (read-only for reads), so that
``coinseason serve`` and every CLI command can use it at the same time (:mod:`coinseason.store.duckdb_file`)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, TypeVar

import duckdb
import polars as pl

from coinseason.data.tidy import COIN_SCHEMA, FEATURE_SCHEMA, OBSERVATION_SCHEMA
from coinseason.errors import StoreBusy, StoreError
from coinseason.store import sql as schema
from coinseason.store.alert_tables import AlertTables, Statement
from coinseason.store.duckdb_file import BRIEF_WAIT_SECONDS, BUSY_TIMEOUT_SECONDS, DuckDBFile, MemoryFile, Patience
from coinseason.store.records import (
    SCHEMA_VERSION,
    ApiKeyRecord,
    DataVersion,
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
T = TypeVar("T")

_TABLES: Final = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", _DDL))
_VALUE_COLUMNS = ("price", "market_cap", "volume", "rank", "circulating_supply", "flags")
_OBS_COLUMNS = ", ".join(OBSERVATION_SCHEMA)


class DuckDBStore(AlertTables):
    """Market store in one DuckDB file (``:memory:`` for a throw-away store).

    The file is open only while operations of this process run, and a moment after (less when another process
    waits for it); reads open it read-only, so readers of several processes share it. An operation that finds the
    file held by another process (a write there, or reads while it writes) waits up to ``busy_timeout`` seconds,
    retrying with back-off, then raises :class:`~coinseason.errors.StoreBusy` naming that process. ``sleep`` and
    ``monotonic`` pace the retries.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = str(path)
        self.url = f"duckdb:///{self.path}" if self.path != ":memory:" else "duckdb://:memory:"
        self._patience = Patience(timeout=busy_timeout, sleep=sleep, monotonic=monotonic)
        self._file: DuckDBFile | MemoryFile
        if self.path == ":memory:":
            self._file = MemoryFile()
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._file = DuckDBFile.shared(self.path)
        self._closed = False
        self._migrate()

    @property
    def opens(self) -> int:
        """How many times this process opened the file (for tests and benchmarks)."""
        return self._file.opens

    @property
    def operations(self) -> int:
        """How many reads and writes of the file this process made (for tests)."""
        return self._file.operations

    @contextmanager
    def _read(self, patience: Patience | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        with self._file.connection(write=False, patience=patience or self._patience) as con:
            yield con

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one write; this process's kept reads are dropped after it."""
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        try:
            with self._file.writing, self._file.connection(write=True, patience=self._patience) as con:
                yield con
        finally:
            self._file.forget()

    def _migrate(self) -> None:
        if self.path != ":memory:" and Path(self.path).exists():
            try:
                with self._read() as con:
                    tables = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
                    found = con.execute(schema.READ_VERSION).fetchall() if "meta" in tables else []
            except duckdb.Error as exc:
                raise StoreError(f"{self.path} is not a coinseason store: {exc}") from exc
            if found and tables >= _TABLES:
                schema.check_version(self.path, found)
                return  # up to date: nothing to write, the file stays free for other readers
        try:
            with self._write() as con:
                con.execute(_DDL)
                found = con.execute(schema.READ_VERSION).fetchall()
                if not found:
                    con.execute(schema.WRITE_VERSION, [SCHEMA_VERSION])
        except duckdb.Error as exc:
            raise StoreError(f"{self.path} is not a coinseason store: {exc}") from exc
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
        incoming_obs = observations.select(list(OBSERVATION_SCHEMA)).to_arrow()
        incoming_coins = coins.select(list(COIN_SCHEMA)).to_arrow()
        changed = " OR ".join(f"o.{c} IS DISTINCT FROM i.{c}" for c in _VALUE_COLUMNS)
        with self._transaction(f"import into {self.path} failed, nothing was written") as con:
            con.register("incoming_obs", incoming_obs)
            con.register("incoming_coins", incoming_coins)
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
        frame = classes.select("coin_id", "token_class", "class_basis", "class_source").to_arrow()
        with self._transaction(f"classification of {source} not written") as con:
            con.register("frame", frame)
            con.execute(schema.CLASSIFY.format(staged="frame"), [source])

    @contextmanager
    def _transaction(self, failed: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: committed at the end, rolled back on any error; a DuckDB error reads ``failed: …``."""
        with self._write() as con:
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
            except BaseException as exc:
                con.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise StoreError(f"{failed}: {exc}") from exc
                raise

    def _change(self, sql: str, params: list[Any], failed: str) -> list[tuple[Any, ...]]:
        """One statement that writes, its rows (``RETURNING``); a DuckDB error reads ``failed: …``."""
        try:
            with self._write() as con:
                return con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{failed}: {exc}") from exc

    # -- reads ----------------------------------------------------------------------------------------------

    def _frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        try:
            with self._read() as con:
                table = con.sql(sql, params=params or None).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc
        frame = pl.from_arrow(table)
        if not isinstance(frame, pl.DataFrame):
            raise StoreError("the store returned a column where a table was expected")
        return frame

    def _fetch(
        self, sql: str, params: list[Any] | None = None, *, patience: Patience | None = None
    ) -> list[tuple[Any, ...]]:
        try:
            with self._read(patience) as con:
                return con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"reading {self.path} failed: {exc}") from exc

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
        """Kept until a write; while another process holds the file (a long import), the summary last read is
        answered after a brief wait, so that ``/readyz`` answers quickly then too."""
        last: list[SourceSummary] | None = self._file.last("sources")
        patience = self._patience if last is None else replace(self._patience, timeout=BRIEF_WAIT_SECONDS)

        def load() -> list[SourceSummary]:
            rows = self._fetch(
                "SELECT source, count(DISTINCT coin_id), count(*), min(date), max(date) FROM observations"
                " GROUP BY source ORDER BY source",
                patience=patience,
            )
            return [schema.source_summary(r) for r in rows]

        try:
            return list(self._kept("sources", load))
        except StoreBusy:
            if last is None:
                raise
            return list(last)

    def imports(self) -> pl.DataFrame:
        return self._frame("SELECT * FROM imports ORDER BY id")

    def data_version(self) -> DataVersion:
        """Read again only when the file changed: polling it costs a ``stat`` of the file and its log."""
        return self._kept("data_version", lambda: schema.data_version(self._fetch(schema.DATA_VERSION)[0]))

    def _kept(self, name: str, load: Callable[[], T]) -> T:
        """``load()``, kept while no process writes the file (see :meth:`DuckDBFile.cached`)."""
        return self._file.cached(name, load, monotonic=self._patience.monotonic)

    # -- API keys -------------------------------------------------------------------------------------------

    def add_api_key(self, prefix: str, name: str, secret_hash: str, created_at: dt.datetime) -> None:
        try:
            with self._write() as con:
                con.execute(schema.ADD_API_KEY, [prefix, name, secret_hash, utc(created_at)])
        except duckdb.ConstraintException as exc:
            raise StoreError(f"an API key with prefix {prefix!r} exists already") from exc
        except duckdb.Error as exc:
            raise StoreError(f"API key not written to {self.path}: {exc}") from exc

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        """The key with ``prefix``: looked up in the whole key table, which is read again only after a write (a
        server checks keys often, and other processes create and revoke them)."""
        return self._key_table().get(prefix)

    def api_keys(self) -> list[ApiKeyRecord]:
        return list(self._key_table().values())

    def _key_table(self) -> dict[str, ApiKeyRecord]:
        def load() -> dict[str, ApiKeyRecord]:
            try:
                rows = self._fetch(schema.API_KEYS)
            except StoreError as exc:
                raise StoreError(f"reading API keys from {self.path} failed: {exc}") from exc
            return {record.prefix: record for record in map(api_key_record, rows)}  # oldest first

        return self._kept("api_keys", load)

    def revoke_api_key(self, prefix: str, at: dt.datetime) -> bool:
        done = self._change(schema.REVOKE_API_KEY, [utc(at), prefix], f"API key {prefix!r} not revoked in {self.path}")
        return bool(done)

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
        params = [name, owner, utc(now) + ttl, utc(now), dead or owner]
        try:
            with self._write() as con:
                got = con.execute(schema.TAKE_LEASE, params).fetchall()
        except duckdb.TransactionException:  # another connection took it in the same instant
            return False
        except duckdb.Error as exc:
            raise StoreError(f"lease {name!r} not taken in {self.path}: {exc}") from exc
        return bool(got)

    def lease_holder(self, name: str) -> str | None:
        rows = self._fetch(schema.LEASE_HOLDER, [name])
        return str(rows[0][0]) if rows else None

    def release_lease(self, name: str, owner: str) -> None:
        self._change(
            "DELETE FROM ingest_leases WHERE name = ? AND owner = ? RETURNING name",
            [name, owner],
            f"lease {name!r} not released in {self.path}",
        )

    # -- features and models --------------------------------------------------------------------------------

    def write_features(self, rows: pl.DataFrame) -> WriteCounts:
        try:
            incoming = rows.select(pl.col(c).cast(k) for c, k in FEATURE_SCHEMA.items()).to_arrow()
        except pl.exceptions.PolarsError as exc:
            raise StoreError(f"feature rows not written to {self.path}: {exc}") from exc
        with self._transaction(f"feature rows not written to {self.path}, nothing was") as con:
            con.register("incoming", incoming)
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
            with self._write() as con:
                con.execute(schema.INSERT_MODEL, schema.model_row(artifact))
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

    # -- alerts (the rest is AlertTables) --------------------------------------------------------------------

    def _alert_rows(self, query: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        try:
            return self._fetch(query, list(params))
        except StoreError as exc:
            raise StoreError(f"{doing} in {self.path} failed: {exc}") from exc

    def alert_rules_version(self) -> tuple[int, str]:
        """Read again only when the file changed (a server asks every second)."""
        return self._kept("alert_rules_version", lambda: AlertTables.alert_rules_version(self))

    def next_alert_due(self) -> dt.datetime | None:
        """Read again only when the file changed (a server asks every second)."""
        return self._kept("next_alert_due", lambda: AlertTables.next_alert_due(self))

    def _alert_write(self, statements: Sequence[Statement], doing: str) -> list[list[tuple[Any, ...]]]:
        with self._transaction(f"{doing} in {self.path}") as con:
            return [con.execute(query, list(params)).fetchall() for query, params in statements]

    def let_go(self) -> None:
        """Close the file now if no operation of this process uses it; it stays open a moment after the last one
        otherwise (``LINGER_SECONDS``, less when another process waits for it)."""
        self._file.let_go()

    def close(self) -> None:
        """No further operation; the file is closed, or, while other operations of this process still use it, when
        they end."""
        self._closed = True
        if isinstance(self._file, MemoryFile):
            with self._file.writing:
                self._file.close()
        else:
            self._file.let_go()
