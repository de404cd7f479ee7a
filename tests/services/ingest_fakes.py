"""An in-memory MarketProvider over a daily table (real CoinGecko rows or a hand-made market), for ingestion tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl

from coinseason.errors import RetryableProviderError
from coinseason.providers.base import (
    HISTORY_SCHEMA,
    SNAPSHOT_SCHEMA,
    CoinHistory,
    GlobalSnapshot,
    MarketSnapshot,
    Plan,
)
from tests.conftest import COINGECKO_DAILY, SMALL_MARKET_DAYS

REAL_START, REAL_END = dt.date(2024, 1, 1), dt.date(2024, 3, 31)
REAL_COINS = ("bitcoin", "ethereum", "solana", "ripple", "cardano", "dogecoin", "tether", "chainlink", "litecoin")


def real_daily(path: Path = COINGECKO_DAILY) -> pl.DataFrame:
    """Real CoinGecko daily rows of a few large coins over the first quarter of 2024."""
    return (
        pl.scan_parquet(path)
        .filter(pl.col("coin_id").is_in(REAL_COINS), pl.col("date").is_between(REAL_START, REAL_END))
        .select(
            pl.col("date").cast(pl.Date),
            "coin_id",
            pl.col("symbol").cast(pl.String),
            pl.col("name").cast(pl.String),
            pl.col("price_usd").cast(pl.Float64).alias("price"),
            pl.col("market_cap_usd").cast(pl.Float64).alias("market_cap"),
            pl.col("volume_usd").cast(pl.Float64).alias("volume"),
        )
        .collect()
    )


def small_daily(spike: tuple[str, dt.date, float] | None = None) -> pl.DataFrame:
    """The hand-computable market of ``tests.conftest.small_market_csv`` (BTC +10 %/day, "fast" +20 %/day, "slow"
    flat, "tether" pegged) over 10 days; ``spike`` multiplies one coin's market cap on one day."""
    rows = []
    for i, day in enumerate(SMALL_MARKET_DAYS):
        rows += [
            (day, "bitcoin", "btc", "Bitcoin", 100 * 1.1**i, 1e9 * 1.1**i),
            (day, "fast", "fst", "Fast", 10 * 1.2**i, 1e8 * 1.2**i),
            (day, "slow", "slw", "Slow", 5.0, 5e7),
            (day, "tether", "usdt", "Tether", 1.0, 9e8),
        ]
    frame = pl.DataFrame(
        rows, schema=["date", "coin_id", "symbol", "name", "price", "market_cap"], orient="row"
    ).with_columns(pl.lit(1e6).alias("volume"))
    if spike is not None:
        coin, day, factor = spike
        hit = (pl.col("coin_id") == coin) & (pl.col("date") == day)
        frame = frame.with_columns(pl.when(hit).then(pl.col("market_cap") * factor).otherwise("market_cap"))
    return frame


class FakeProvider:
    """Serves ``daily`` as a provider would on the day ``clock`` says; ``fail_after`` history calls it fails."""

    def __init__(
        self,
        daily: pl.DataFrame,
        *,
        clock: Callable[[], dt.datetime],
        source: str = "coingecko",
        fail_after: int | None = None,
        history_days: int | None = None,
    ) -> None:
        self.daily = daily
        self.clock = clock
        self._source = source
        self.fail_after = fail_after
        self.history_days = history_days
        self.calls: list[str] = []

    @property
    def source(self) -> str:
        return self._source

    @property
    def plan(self) -> Plan:
        return Plan("fake", calls_per_minute=600, history_days=self.history_days, base_url="memory://fake")

    async def top(self, n: int) -> MarketSnapshot:
        self.calls.append("top")
        now = self.clock()
        day = self.daily.filter(pl.col("date") == now.date()).sort("market_cap", descending=True).head(n)
        rows = day.select(
            "coin_id",
            "symbol",
            "name",
            "price",
            "market_cap",
            "volume",
            pl.int_range(1, pl.len() + 1).cast(pl.Int32).alias("rank"),
            (pl.col("market_cap") / pl.col("price")).alias("circulating_supply"),
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("last_updated"),
        ).cast(SNAPSHOT_SCHEMA)  # type: ignore[arg-type]
        return MarketSnapshot(self._source, now, rows)

    async def history(self, coin_id: str, start: dt.date, end: dt.date) -> CoinHistory:
        self.calls.append(f"history:{coin_id}")
        if self.fail_after is not None and sum(c.startswith("history") for c in self.calls) > self.fail_after:
            raise RetryableProviderError(f"fake: history of {coin_id} failed (HTTP 503)")
        days = (
            self.daily.filter(pl.col("coin_id") == coin_id, pl.col("date").is_between(start, end))
            .sort("date")
            .select(list(HISTORY_SCHEMA))
            .cast(HISTORY_SCHEMA)  # type: ignore[arg-type]
        )
        return CoinHistory(self._source, coin_id, days)

    async def global_snapshot(self) -> GlobalSnapshot:
        """The whole market of the day (every coin of ``daily``): total market cap and BTC dominance."""
        self.calls.append("global")
        now = self.clock()
        day = self.daily.filter(pl.col("date") == now.date())
        total = float(day["market_cap"].sum())
        btc = day.filter(pl.col("symbol").str.to_lowercase() == "btc")["market_cap"].max()
        share = 100.0 * float(btc) / total if isinstance(btc, int | float) and total > 0 else 0.0
        return GlobalSnapshot(self._source, now, total, share)

    async def aclose(self) -> None:
        return None
