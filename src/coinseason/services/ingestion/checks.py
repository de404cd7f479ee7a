"""Checks of a snapshot against other sources: each coin's price and market cap against other providers and the
exchange median (:class:`CrossCheck`: a row off the others is rejected or flagged), and the BTC dominance of the
whole snapshot against each provider's own figure (:class:`DominanceCheck`: logged, counted, kept for the status;
a check, not a gate)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import polars as pl

from coinseason.data.gates import cross_check
from coinseason.data.tidy import FLAG_MCAP_SPIKE
from coinseason.errors import ProviderError
from coinseason.providers.base import MarketProvider

log = logging.getLogger("coinseason.ingest")


class PriceReference(Protocol):
    """A cross-check source that gives prices only, keyed by symbol (the exchange's median:
    :class:`coinseason.live.reference.ExchangeReference`)."""

    @property
    def source(self) -> str: ...

    def prices(self) -> pl.DataFrame:
        """``symbol`` (lower case) and ``price`` of the coins it has a fresh price of now."""
        ...


def _symbol() -> pl.Expr:
    return pl.col("symbol").str.to_lowercase()


def match_keys(frames: Sequence[pl.DataFrame]) -> list[pl.DataFrame]:
    """``frames`` (sources with their own coin ids: CoinGecko's slugs, ``cmc:<id>``) with ``_key``, what matches a
    coin across them: the lower-case symbol, the only name vendors share; where several coins of one frame share a
    symbol, the symbol and the name (lower case, letters and digits only) for that symbol in every frame, so coins
    are told apart by name where it is unique. A key still shared in a frame matches nothing (see
    :func:`~coinseason.data.gates.cross_check`)."""
    shared: set[str] = set()
    for frame in frames:
        counts = frame.group_by(_symbol().alias("s")).len().filter(pl.col("len") > 1)
        shared |= {s for s in counts["s"].to_list() if s is not None}
    name = pl.col("name").str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")
    return [
        f.with_columns(
            pl.when(_symbol().is_in(list(shared)))
            .then(pl.concat_str([_symbol(), pl.lit("|"), name]))
            .otherwise(_symbol())
            .alias("_key")
        )
        for f in frames
    ]


def _exchange_keyed(prices: pl.DataFrame, primary: pl.DataFrame) -> pl.DataFrame:
    """The exchange's ``coin_id, symbol, price`` keyed as ``primary`` is: by the primary's key of the same coin id
    (the exchange's ids are the store's, so a CoinGecko snapshot matches by id), else by the symbol."""
    ids = primary.select("coin_id", pl.col("_key").alias("_by_id"))
    return prices.join(ids, on="coin_id", how="left").select(
        pl.coalesce("_by_id", _symbol()).alias("_key"),
        "price",
        pl.lit(None, pl.Float64).alias("market_cap"),
    )


class CrossCheck:
    """Each row of a snapshot against the same coin's top-``top`` rows of the ``references`` and the ``exchange``
    median price: beyond ``threshold`` off their median it is rejected, or flagged where the sources cannot say
    which one is wrong (see :func:`~coinseason.data.gates.cross_check`)."""

    def __init__(
        self,
        references: Sequence[MarketProvider],
        exchange: PriceReference | None,
        *,
        top: int,
        threshold: float,
    ) -> None:
        self._references = tuple(references)
        self._exchange = exchange
        self._top = top
        self._threshold = threshold

    async def __call__(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, Counter[str], Counter[str]]:
        """The rows kept, then the rejections and flags by reason."""
        if not self._references and self._exchange is None:
            return rows, Counter(), Counter()
        others: list[pl.DataFrame] = []
        for ref in self._references:
            try:
                others.append((await ref.top(self._top)).rows)
            except ProviderError as exc:  # a reference that fails leaves the check to the others
                log.warning("cross-check source %s unavailable: %s", ref.source, exc)
        primary, *others = match_keys([rows, *others])
        if self._exchange is not None:
            prices = self._exchange.prices()
            if prices.height:  # no fresh exchange price (feed down): the check is left to the others
                others.append(_exchange_keyed(prices, primary))
            else:
                log.warning("cross-check source %s has no fresh price", self._exchange.source)
        kept, rejections, flagged = cross_check(primary, others, key="_key", threshold=self._threshold)
        return kept.drop("_key"), rejections, flagged


class DominanceCheck:
    """The BTC dominance of a daily snapshot of ``source`` against each of ``providers``' own figure (CoinGecko's
    ``/global``, CoinMarketCap's ``global-metrics``): a difference beyond ``threshold`` points is logged and
    counted; the last result per provider is kept in :attr:`results`."""

    def __init__(self, source: str, providers: Sequence[MarketProvider], *, threshold: float) -> None:
        self._source = source
        self._providers = tuple(providers)
        self._threshold = threshold
        self.results: dict[str, dict[str, Any]] = {}
        self.off = 0
        """Daily snapshots whose BTC dominance was off a provider's figure beyond the threshold."""

    async def __call__(self, landed: pl.DataFrame, rows: pl.DataFrame) -> None:
        """Compare the BTC dominance of ``landed`` (today's rows that passed; ``rows`` give the symbols) with each
        provider's own figure."""
        btc_ids = rows.filter(pl.col("symbol").str.to_lowercase() == "btc").sort("market_cap", descending=True)
        usable = landed.filter((pl.col("flags") & FLAG_MCAP_SPIKE) == 0)
        total = usable["market_cap"].sum()
        btc = usable.filter(pl.col("coin_id") == (btc_ids["coin_id"][0] if btc_ids.height else None))
        if not btc.height or not total > 0:
            log.warning("BTC dominance cross-check of %s skipped: Bitcoin is not in the snapshot", self._source)
            return
        ours = 100.0 * float(btc["market_cap"][0]) / float(total)
        for provider in self._providers:
            try:
                theirs = await provider.global_snapshot()
            except ProviderError as exc:
                log.warning("BTC dominance cross-check with %s unavailable: %s", provider.source, exc)
                continue
            apart = abs(ours - theirs.btc_dominance)
            off = apart > self._threshold
            self.results[provider.source] = {
                "ours": ours,
                "theirs": theirs.btc_dominance,
                "points_apart": apart,
                "off": off,
                "at": theirs.observed_at.isoformat(),
            }
            if off:
                self.off += 1
                log.warning(
                    "BTC dominance of the %s snapshot (%.2f %%, its top %d) is %.2f points off %s's own figure"
                    " (%.2f %%), beyond %.2f",
                    self._source,
                    ours,
                    usable.height,
                    apart,
                    provider.source,
                    theirs.btc_dominance,
                    self._threshold,
                )
