"""Evidence from a price peg (:mod:`coinseason.core.peg`) over a coin's whole daily history.

To the US dollar (band [0.95, 1.05], median [0.98, 1.02]) → stablecoin; else to a reference coin given in
``references`` (band [0.9, 1.35], median [0.95, 1.25]) → wrapped, or liquid staking when the name mentions
staking (Staked, Restaked, StakeStone…), the symbol is ``st``/``wst`` + the asset (stETH, wstETH, stSOL), or, for
a proof-of-stake asset, the symbol is a prefix + the asset (+ ``x``): rETH, cbETH, weETH, mSOL, JitoSOL, ETHx,
BNBx — unless the name says bridged or wrapped, or the prefix ends in ``w`` (a vault or copy of the wrapped asset:
re7WETH). Bitcoin and other assets without native staking get no symbol rule: a BTC-pegged token is wrapped
unless its name mentions staking. A coin pegged to a reference that is itself a stablecoin or tokenized asset
takes that class (a coin pegged to EURC is a stablecoin). The reference coins themselves are never peg-tested
(bitcoin is not pegged to bitcoin); with fewer than 30 priced days there is no peg.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.peg import (
    ASSET_BAND,
    ASSET_MEDIAN_BAND,
    MIN_OBS,
    MIN_SHARE,
    USD_BAND,
    USD_MEDIAN_BAND,
    Band,
    PegStats,
    is_pegged_stats,
    peg_stats,
)
from coinseason.data.classification.names import mentions_staking, says_bridged_or_wrapped
from coinseason.data.classification.records import SOURCE_PRICE_PEG, Classification
from coinseason.data.tidy import TokenClass
from coinseason.errors import DataError

NO_NATIVE_STAKING: Final[frozenset[str]] = frozenset({"BTC", "LTC", "DOGE", "BCH", "XMR", "ZEC", "ETC"})
"""Reference assets without native staking: a token pegged to them is wrapped unless its name says staked."""


def _fmt_band(band: Band) -> str:
    return f"[{band[0]:g},{band[1]:g}]"


def _peg_basis(target: str, stats: PegStats, band: Band) -> str:
    return (
        f"price peg to {target}: {stats.share:.0%} of {stats.n_obs:,} days in {_fmt_band(band)}, "
        f"median {stats.median:.3f}"
    )


def pegged_asset_class(asset: str, symbol: str | None, name: str | None) -> tuple[TokenClass, str]:
    """Wrapped or liquid staking, for a token pegged to ``asset`` (rules in the module docstring)."""
    a = asset.lower()
    s = (symbol or "").lower()
    if mentions_staking(name):
        return TokenClass.LIQUID_STAKING, "name mentions staking"
    if s in (f"st{a}", f"wst{a}"):
        return TokenClass.LIQUID_STAKING, f"symbol {symbol}: st- staking token"
    if says_bridged_or_wrapped(name):
        return TokenClass.WRAPPED, "name says bridged/wrapped"
    if s.endswith(f"w{a}"):
        return TokenClass.WRAPPED, f"symbol {symbol}: a copy or vault of w{asset}"
    if asset.upper() not in NO_NATIVE_STAKING and s != a and s.endswith((a, f"{a}x")):
        return TokenClass.LIQUID_STAKING, f"symbol {symbol}: -{asset} staking token"
    return TokenClass.WRAPPED, "wrapped"


@dataclass(frozen=True, slots=True)
class PegTable:
    """Per-coin slices of the ratio columns: ``usd`` and one column per reference."""

    starts: Mapping[str, tuple[int, int]]
    usd: NDArray[np.float64]
    refs: tuple[NDArray[np.float64], ...]


def peg_table(prices: pl.DataFrame, ids: Collection[str], references: Mapping[str, str]) -> PegTable:
    """The ratio columns of the coins ``ids``: USD price, and price over each reference's on the same day."""
    missing = [c for c in ("coin_id", "date", "price") if c not in prices.columns]
    if missing:
        raise DataError(f"prices: missing column(s) {', '.join(missing)}")
    price = pl.col("price")
    base = prices.lazy().select(
        pl.col("coin_id").cast(pl.String),
        pl.col("date"),
        pl.when(price.cast(pl.Float64) > 0).then(price.cast(pl.Float64)).alias("price"),
    )
    table = base.filter(pl.col("coin_id").is_in(list(ids))).unique(
        subset=["coin_id", "date"], keep="first", maintain_order=True
    )
    ref_cols: list[str] = []
    for i, ref_id in enumerate(references.values()):
        name = f"_ref{i}"
        ref = (
            base.filter((pl.col("coin_id") == ref_id) & pl.col("price").is_not_null())
            .group_by("date")
            .agg(pl.col("price").first().alias(name))
        )
        table = table.join(ref, on="date", how="left")
        ref_cols.append(name)
    frame = (
        table.select(
            "coin_id",
            pl.col("price").alias("_usd"),
            *[(pl.col("price") / pl.col(col)).alias(col) for col in ref_cols],
        )
        .sort("coin_id", maintain_order=True)
        .collect()
    )
    counts = frame.group_by("coin_id", maintain_order=True).len()
    starts: dict[str, tuple[int, int]] = {}
    offset = 0
    for coin, n in counts.iter_rows():
        starts[coin] = (offset, offset + n)
        offset += n
    return PegTable(
        starts=starts,
        usd=frame["_usd"].fill_null(np.nan).to_numpy(),
        refs=tuple(frame[col].fill_null(np.nan).to_numpy() for col in ref_cols),
    )


def peg_class(
    coin_id: str,
    symbol: str | None,
    name: str | None,
    table: PegTable,
    references: Mapping[str, str],
    ref_classes: Mapping[str, TokenClass | None],
) -> Classification | None:
    """The class a price peg gives the coin (USD first, then the reference it tracks best), or None."""
    span = table.starts.get(coin_id)
    if span is None:
        return None
    lo, hi = span
    usd = peg_stats(table.usd[lo:hi], band=USD_BAND)
    if is_pegged_stats(usd, median_band=USD_MEDIAN_BAND, min_share=MIN_SHARE, min_obs=MIN_OBS):
        return Classification(coin_id, TokenClass.STABLECOIN, _peg_basis("USD", usd, USD_BAND), SOURCE_PRICE_PEG)
    best: tuple[str, str, PegStats] | None = None
    for (asset, ref_id), ratios in zip(references.items(), table.refs, strict=True):
        stats = peg_stats(ratios[lo:hi], band=ASSET_BAND)
        pegged = is_pegged_stats(stats, median_band=ASSET_MEDIAN_BAND, min_share=MIN_SHARE, min_obs=MIN_OBS)
        if pegged and (best is None or stats.share > best[2].share):
            best = (asset, ref_id, stats)
    if best is None:
        return None
    asset, ref_id, stats = best
    basis = _peg_basis(asset, stats, ASSET_BAND)
    ref_class = ref_classes.get(ref_id)
    if ref_class in (TokenClass.STABLECOIN, TokenClass.TOKENIZED_ASSET):
        return Classification(coin_id, ref_class, f"{basis} ({ref_id} is a {ref_class})", SOURCE_PRICE_PEG)
    token_class, why = pegged_asset_class(asset, symbol, name)
    return Classification(coin_id, token_class, f"{basis}; {why}", SOURCE_PRICE_PEG)
