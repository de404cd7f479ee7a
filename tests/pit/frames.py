"""Market data held as frames, for the truncation tests: what the analytics read of a store, and the same store
as it would be had it only received the data up to a day (imported, then classified as every import ends)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from coinseason.services.classify import ClassificationService
from coinseason.store.protocols import MarketData
from coinseason.store.records import SourceSummary

OBSERVATION_COLUMNS = ("coin_id", "date", "price", "market_cap", "volume", "flags")


class FrameMarket:
    """Read-only market data over frames: each source's observations and coins, as a store returns them."""

    def __init__(self, observations: dict[str, pl.DataFrame], coins: dict[str, pl.DataFrame]) -> None:
        self._observations = observations
        self._coins = coins

    @classmethod
    def of(cls, store: MarketData, sources: tuple[str, ...]) -> FrameMarket:
        """Everything ``store`` holds of ``sources``."""
        return cls(
            {s: store.observations(s, columns=OBSERVATION_COLUMNS) for s in sources},
            {s: store.coins(s) for s in sources},
        )

    def up_to(self, day: dt.date) -> FrameMarket:
        """The data as a store holding only the days up to ``day`` would hold it: its observations, the coins seen
        by then with their first and last day and day count over those observations, and their classes as the
        import classifies them from those observations."""
        observations = {s: obs.filter(pl.col("date") <= day) for s, obs in self._observations.items()}
        coins = {}
        for source, frame in self._coins.items():
            seen = (
                observations[source]
                .group_by("coin_id")
                .agg(
                    pl.col("date").min().alias("first_seen"),
                    pl.col("date").max().alias("last_seen"),
                    pl.len().cast(pl.Int64).alias("n_days"),
                )
            )
            kept = frame.drop("first_seen", "last_seen", "n_days").join(seen, on="coin_id", how="inner")
            coins[source] = kept.select(frame.columns).sort("coin_id")
        market = FrameMarket(observations, coins)
        for source in coins:
            ClassificationService(market).reclassify(source)
        return market

    def write_classification(self, source: str, classes: pl.DataFrame) -> None:
        """Replace the token class, basis and evidence source of ``source``'s coins (as a store does)."""
        columns = ["token_class", "class_basis", "class_source"]
        frame = self._coins[source]
        new = classes.select("coin_id", *[pl.col(c).alias(f"_{c}") for c in columns])
        joined = frame.join(new, on="coin_id", how="left", maintain_order="left")
        hit = pl.col("_class_source").is_not_null()
        self._coins[source] = joined.with_columns(
            *[pl.when(hit).then(pl.col(f"_{c}")).otherwise(pl.col(c)).alias(c) for c in columns]
        ).select(frame.columns)

    def observations(
        self, source: str, *, columns: tuple[str, ...] = ("coin_id", "date", "price", "market_cap", "flags")
    ) -> pl.DataFrame:
        return self._observations[source].select(columns)

    def coins(self, source: str) -> pl.DataFrame:
        return self._coins[source]

    def sources(self) -> list[SourceSummary]:
        return [
            SourceSummary(
                source,
                obs["coin_id"].n_unique(),
                obs.height,
                obs["date"].min(),  # type: ignore[arg-type]
                obs["date"].max(),  # type: ignore[arg-type]
            )
            for source, obs in sorted(self._observations.items())
            if obs.height
        ]
