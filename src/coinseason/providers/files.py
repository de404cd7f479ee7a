"""File imports: each supported format read into the tidy schema, or refused whole with a clear message.

Formats
-------
``tidy``
    Parquet or CSV with columns ``coin_id, date, price`` and optionally ``market_cap, volume, rank,
    circulating_supply, symbol, name, categories, source``. ``date`` is a UTC day (``YYYY-MM-DD``).
``coingecko-daily``
    CoinGecko daily long table (``date, coin_id, price_usd, market_cap_usd, volume_usd`` and optionally
    ``symbol, name, mcap_spike``). Volume 0 is CoinGecko's "no data" and reads as unknown; ``mcap_spike`` marks
    the day a provider glitch, kept out of every index whatever the gates find.
``cmc-snapshots``
    CoinMarketCap daily ranking snapshots (``date, rank, symbol, market_cap_usd, price_usd`` and optionally
    ``volume_24h_usd, circulating_supply``). Rows carry symbols only: coin ids are resolved afterwards
    (:mod:`coinseason.data.cmc_identity`).
``coingecko-market-chart``
    A CoinGecko ``/coins/{id}/market_chart`` (or ``/range``) JSON response: ``{"prices": [[ms, v], ...],
    "market_caps": [...], "total_volumes": [...]}``; the coin id is given with the import. The first point of
    each UTC day is that day's observation. A market cap or volume of 0 is CoinGecko's "unknown".
``coin-categories``
    CSV with ``coin_id`` and ``categories`` (or ``coingecko_categories``), ``;``-separated provider categories:
    classification evidence only, no observation.
``crypto2-listings``
    CoinMarketCap's daily historical listings as the R package crypto2 exports them
    (``crypto_listings(which = "historical", quote = TRUE)`` written with ``write.csv`` or ``arrow``): one row per
    coin and day, the ranking as it was that day (point in time, dead coins included). Needs ``id`` (CMC's
    numeric id), ``date``, ``price``, ``market_cap`` and a rank (``cmc_rank`` or ``rank``); reads ``symbol``,
    ``name``, ``volume_24h`` and ``circulating_supply`` when present. The id is the identity (``cmc:<id>``, as
    the live CoinMarketCap provider names coins): no symbol is ever matched. With several quote currencies
    (``ref_cur_name`` or ``convert`` column), the USD rows are read.
``coingecko-csv``
    CoinGecko's per-coin CSV export (``snapped_at, price, market_cap, total_volume``; ``snapped_at`` like
    ``2024-01-01 00:00:00 UTC``). The coin id (CoinGecko's, e.g. ``bitcoin``) is given with ``--coin`` or is the
    file name (``bitcoin.csv``); CoinGecko names its downloads by ticker (``btc-usd-max.csv``), which is no
    identity, so such a name needs ``--coin``. A market cap or volume of 0 is CoinGecko's "unknown".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import polars as pl

from coinseason.data.tidy import (
    COIN_SCHEMA,
    FLAG_MCAP_SPIKE,
    FLAG_PROVIDER_GLITCH,
    conform_observations,
    empty_observations,
)
from coinseason.errors import FormatError


class FileFormat(StrEnum):
    TIDY = "tidy"
    COINGECKO_DAILY = "coingecko-daily"
    CMC_SNAPSHOTS = "cmc-snapshots"
    COINGECKO_MARKET_CHART = "coingecko-market-chart"
    COIN_CATEGORIES = "coin-categories"
    CRYPTO2_LISTINGS = "crypto2-listings"
    COINGECKO_CSV = "coingecko-csv"


DEFAULT_SOURCE = {
    FileFormat.TIDY: "custom",
    FileFormat.COINGECKO_DAILY: "coingecko",
    FileFormat.CMC_SNAPSHOTS: "cmc",
    FileFormat.COINGECKO_MARKET_CHART: "coingecko",
    FileFormat.COIN_CATEGORIES: "coingecko",
    FileFormat.CRYPTO2_LISTINGS: "cmc",
    FileFormat.COINGECKO_CSV: "coingecko",
}

CMC_ID_PREFIX = "cmc:"
"""How a coin named by CoinMarketCap's numeric id is written (``cmc:1`` is Bitcoin), by files and the provider."""

FREE_HISTORY_FORMATS = (FileFormat.CRYPTO2_LISTINGS, FileFormat.COINGECKO_CSV)
"""Formats of full-history files a user can obtain without a paid plan."""

EXPORT_NAME = re.compile(r"^(?P<ticker>.+)-usd-(max|\d+d?)$", re.IGNORECASE)
"""CoinGecko's own name for a CSV download (``btc-usd-max``): a ticker, not a coin id."""


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """A file read into the tidy schema; rows are not yet checked (the gates: :mod:`coinseason.data.gates`)."""

    source: str
    coins: pl.DataFrame
    observations: pl.DataFrame
    needs_identity: bool = False
    """True when ``coin_id`` is still to be resolved (CMC symbols)."""


def _read_table(path: Path, fmt: FileFormat) -> pl.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pl.read_parquet(path)
        if suffix in {".csv", ".txt"}:
            return pl.read_csv(path, infer_schema_length=10_000, try_parse_dates=False)
    except FileNotFoundError as exc:
        raise FormatError(f"{path}: no such file") from exc
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FormatError(f"{path} is not a readable {suffix.lstrip('.')} file for format {fmt}: {exc}") from exc
    raise FormatError(f"{path}: format {fmt} needs a .parquet or .csv file, not {suffix or 'no extension'}")


def _require(frame: pl.DataFrame, path: Path, fmt: FileFormat, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise FormatError(
            f"{path} is not a {fmt} file: missing column(s) {', '.join(missing)}"
            f" (found: {', '.join(frame.columns[:12])})"
        )


def _as_day(column: str) -> pl.Expr:
    """A Date column from a date, datetime or ``YYYY-MM-DD`` text column; unreadable values become null."""
    return pl.col(column).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _as_float(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def _coins(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    cols = [
        pl.lit(source).alias("source"),
        pl.col("coin_id").cast(pl.String),
        *[
            (pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, dtype=pl.String)).alias(c)
            for c in ("symbol", "name", "categories")
        ],
    ]
    coins = frame.select(cols).filter(pl.col("coin_id").is_not_null())
    return coins.unique(subset=["coin_id"], keep="last", maintain_order=True).select(list(COIN_SCHEMA))


def read_tidy(path: Path, *, source: str | None = None) -> ParsedFile:
    raw = _read_table(path, FileFormat.TIDY)
    _require(raw, path, FileFormat.TIDY, ("coin_id", "date", "price"))
    if source is None and "source" in raw.columns:
        names = raw["source"].drop_nulls().unique().to_list()
        if len(names) > 1:
            raise FormatError(f"{path} holds several sources ({', '.join(map(str, names))}): import one at a time")
        source = str(names[0]) if names else None
    src = source or DEFAULT_SOURCE[FileFormat.TIDY]
    numeric = [c for c in ("price", "market_cap", "volume", "circulating_supply") if c in raw.columns]
    frame = raw.with_columns(
        pl.lit(src).alias("source"),
        pl.col("coin_id").cast(pl.String),
        _as_day("date").alias("date"),
        *[_as_float(c) for c in numeric],
        *([pl.col("rank").cast(pl.Int32, strict=False)] if "rank" in raw.columns else []),
    )
    return ParsedFile(src, _coins(frame, src), conform_observations(frame))


def read_coingecko_daily(path: Path, *, source: str | None = None) -> ParsedFile:
    raw = _read_table(path, FileFormat.COINGECKO_DAILY)
    _require(raw, path, FileFormat.COINGECKO_DAILY, ("date", "coin_id", "price_usd", "market_cap_usd"))
    src = source or DEFAULT_SOURCE[FileFormat.COINGECKO_DAILY]
    spike = pl.col("mcap_spike").cast(pl.Boolean, strict=False) if "mcap_spike" in raw.columns else pl.lit(False)
    volume = _as_float("volume_usd") if "volume_usd" in raw.columns else pl.lit(None, dtype=pl.Float64)
    frame = raw.with_columns(
        pl.lit(src).alias("source"),
        pl.col("coin_id").cast(pl.String),
        _as_day("date").alias("date"),
        _as_float("price_usd").alias("price"),
        _as_float("market_cap_usd").alias("market_cap"),
        pl.when(volume == 0).then(None).otherwise(volume).alias("volume"),
        pl.when(spike.fill_null(value=False))
        .then(FLAG_MCAP_SPIKE | FLAG_PROVIDER_GLITCH)
        .otherwise(0)
        .cast(pl.Int16)
        .alias("flags"),
    )
    return ParsedFile(src, _coins(frame, src), conform_observations(frame))


def read_cmc_snapshots(path: Path, *, source: str | None = None) -> ParsedFile:
    raw = _read_table(path, FileFormat.CMC_SNAPSHOTS)
    _require(raw, path, FileFormat.CMC_SNAPSHOTS, ("date", "rank", "symbol", "market_cap_usd", "price_usd"))
    src = source or DEFAULT_SOURCE[FileFormat.CMC_SNAPSHOTS]
    # pct_change_24h is CMC's own day move: identity resolution uses it to confirm crashes (LUNA, May 2022)
    optional = {
        "volume_24h_usd": "volume",
        "circulating_supply": "circulating_supply",
        "pct_change_24h": "pct_change_24h",
    }
    frame = raw.select(
        pl.lit(src).alias("source"),
        _as_day("date").alias("date"),
        pl.col("rank").cast(pl.Int32, strict=False),
        pl.col("symbol").cast(pl.String).str.strip_chars(),
        _as_float("price_usd").alias("price"),
        _as_float("market_cap_usd").alias("market_cap"),
        *[
            (_as_float(c) if c in raw.columns else pl.lit(None, dtype=pl.Float64)).alias(name)
            for c, name in optional.items()
        ],
    )
    return ParsedFile(src, pl.DataFrame(schema=COIN_SCHEMA), frame, needs_identity=True)


def _points(payload: dict[str, Any], key: str, path: Path) -> pl.DataFrame:
    points = payload.get(key, [])
    if not isinstance(points, list) or any(
        not isinstance(p, list) or len(p) != 2 or not isinstance(p[0], int | float) for p in points
    ):
        raise FormatError(f"{path} is not a coingecko-market-chart response: {key!r} is not a list of [ms, value]")
    return pl.DataFrame(
        {"ms": [int(p[0]) for p in points], key: [None if p[1] is None else float(p[1]) for p in points]},
        schema={"ms": pl.Int64, key: pl.Float64},
    )


def read_coingecko_market_chart(path: Path, *, coin_id: str | None, source: str | None = None) -> ParsedFile:
    if not coin_id:
        raise FormatError(f"{path}: a coingecko-market-chart import needs the coin id (--coin ID)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FormatError(f"{path}: no such file") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path} is not a coingecko-market-chart response: invalid JSON ({exc})") from exc
    if not isinstance(payload, dict) or "prices" not in payload:
        raise FormatError(f"{path} is not a coingecko-market-chart response: no 'prices' key")
    src = source or DEFAULT_SOURCE[FileFormat.COINGECKO_MARKET_CHART]
    frame = _points(payload, "prices", path)
    for key in ("market_caps", "total_volumes"):
        frame = frame.join(_points(payload, key, path), on="ms", how="left")
    frame = (
        frame.with_columns(pl.from_epoch("ms", time_unit="ms").dt.date().alias("date"))
        .sort("ms")
        .unique(subset=["date"], keep="first", maintain_order=True)
        .select(
            pl.lit(src).alias("source"),
            pl.lit(coin_id).alias("coin_id"),
            "date",
            pl.col("prices").alias("price"),
            pl.when(pl.col("market_caps") == 0).then(None).otherwise(pl.col("market_caps")).alias("market_cap"),
            pl.when(pl.col("total_volumes") == 0).then(None).otherwise(pl.col("total_volumes")).alias("volume"),
        )
    )
    coins = pl.DataFrame({"coin_id": [coin_id]}).pipe(_coins, src)
    return ParsedFile(src, coins, conform_observations(frame))


def read_coin_categories(path: Path, *, source: str | None = None) -> ParsedFile:
    raw = _read_table(path, FileFormat.COIN_CATEGORIES)
    if "categories" not in raw.columns and "coingecko_categories" in raw.columns:
        raw = raw.rename({"coingecko_categories": "categories"})
    _require(raw, path, FileFormat.COIN_CATEGORIES, ("coin_id", "categories"))
    src = source or DEFAULT_SOURCE[FileFormat.COIN_CATEGORIES]
    return ParsedFile(src, _coins(raw, src), empty_observations())


def _unknown_if_zero(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr == 0).then(None).otherwise(expr)


def read_crypto2_listings(path: Path, *, source: str | None = None) -> ParsedFile:
    fmt = FileFormat.CRYPTO2_LISTINGS
    raw = _read_table(path, fmt)
    rank = "cmc_rank" if "cmc_rank" in raw.columns else "rank"
    _require(raw, path, fmt, ("id", "date", "price", "market_cap"))
    _require(raw, path, fmt, (rank,))
    for currency in ("ref_cur_name", "convert"):
        if currency in raw.columns:
            raw = raw.filter(pl.col(currency).cast(pl.String).str.to_uppercase() == "USD")
    src = source or DEFAULT_SOURCE[fmt]
    numeric_id = pl.col("id").cast(pl.Int64, strict=False)
    frame = raw.select(
        pl.lit(src).alias("source"),
        pl.when(numeric_id > 0).then(pl.format(CMC_ID_PREFIX + "{}", numeric_id)).alias("coin_id"),
        _as_day("date").alias("date"),
        _as_float("price").alias("price"),
        _unknown_if_zero(_as_float("market_cap")).alias("market_cap"),
        (_unknown_if_zero(_as_float("volume_24h")) if "volume_24h" in raw.columns else pl.lit(None, pl.Float64)).alias(
            "volume"
        ),
        pl.col(rank).cast(pl.Int32, strict=False).alias("rank"),
        (_as_float("circulating_supply") if "circulating_supply" in raw.columns else pl.lit(None, pl.Float64)).alias(
            "circulating_supply"
        ),
        *[
            (pl.col(c).cast(pl.String) if c in raw.columns else pl.lit(None, pl.String)).alias(c)
            for c in ("symbol", "name")
        ],
    )
    # the coin's symbol and name as it was last listed in the file (renames: the newest)
    coins = _coins(frame.sort("date", nulls_last=False), src)
    return ParsedFile(src, coins, conform_observations(frame))


def coingecko_csv_coin(path: Path, coin_id: str | None) -> str:
    """The CoinGecko id of a per-coin CSV: ``coin_id`` when given, else the file's name unless it is CoinGecko's
    ticker-based download name (:data:`EXPORT_NAME`)."""
    if coin_id:
        return coin_id
    stem = path.stem
    ticker = EXPORT_NAME.match(stem)
    if ticker:
        raise FormatError(
            f"{path.name} is named by ticker ({ticker['ticker']}), not by CoinGecko coin id: give the id with"
            " --coin ID (the last part of the coin's page address, e.g. --coin bitcoin), or rename the file ID.csv"
        )
    return stem


def read_coingecko_csv(path: Path, *, coin_id: str | None, source: str | None = None) -> ParsedFile:
    fmt = FileFormat.COINGECKO_CSV
    coin = coingecko_csv_coin(path, coin_id)
    raw = _read_table(path, fmt)
    _require(raw, path, fmt, ("snapped_at", "price"))
    src = source or DEFAULT_SOURCE[fmt]
    optional = {"market_cap": "market_cap", "total_volume": "volume"}
    frame = raw.select(
        pl.lit(src).alias("source"),
        pl.lit(coin).alias("coin_id"),
        _as_day("snapped_at").alias("date"),
        _as_float("price").alias("price"),
        *[
            (_unknown_if_zero(_as_float(c)) if c in raw.columns else pl.lit(None, pl.Float64)).alias(name)
            for c, name in optional.items()
        ],
    )
    coins = pl.DataFrame({"coin_id": [coin]}).pipe(_coins, src)
    return ParsedFile(src, coins, conform_observations(frame))


def read_file(path: Path, fmt: FileFormat, *, source: str | None = None, coin_id: str | None = None) -> ParsedFile:
    """Read ``path`` as ``fmt``; raises :class:`FormatError` when it is not of that format."""
    if fmt is FileFormat.TIDY:
        return read_tidy(path, source=source)
    if fmt is FileFormat.COINGECKO_DAILY:
        return read_coingecko_daily(path, source=source)
    if fmt is FileFormat.CMC_SNAPSHOTS:
        return read_cmc_snapshots(path, source=source)
    if fmt is FileFormat.COINGECKO_MARKET_CHART:
        return read_coingecko_market_chart(path, coin_id=coin_id, source=source)
    if fmt is FileFormat.CRYPTO2_LISTINGS:
        return read_crypto2_listings(path, source=source)
    if fmt is FileFormat.COINGECKO_CSV:
        return read_coingecko_csv(path, coin_id=coin_id, source=source)
    return read_coin_categories(path, source=source)
