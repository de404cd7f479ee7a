"""Evidence from a price peg (:mod:`coinseason.core.peg`), point in time: decided day by day from the trailing
:data:`~coinseason.core.peg.TRAILING_DAYS` days, so a coin is pegged *from* the first day whose trailing window
passes the test, and stays so on every later day (a stablecoin that later loses its peg is still a stablecoin; a
wrapped token's bad data days do not put it back into the indices).

The test (:func:`coinseason.core.peg.trailing_peg`) on the 180 days to d, at least 30 priced: to the US dollar
(70 % of the prices in [0.95, 1.05], median in [0.98, 1.02]) → stablecoin; else to a reference coin given in
``references`` (70 % of the ratios to its price of the same day in [0.9, 1.35], median in [0.95, 1.25]) → wrapped,
or liquid staking by the rules of :func:`pegged_asset_class`; in both cases the ratio must move with the reference
(median day-to-day move at most 1 %, over at least 20 moves), which tells a peg from two coins that merely trade
close for a while (Filecoin and BNB in late 2020). On the first day both the dollar and a reference pass, the
dollar wins; between references, the larger share in band. A coin pegged to a reference that is itself a
stablecoin or tokenized asset takes that class (a coin pegged to EURC is a stablecoin).

The reference of an asset on day d is, among its candidate coins priced that day, the one priced on the most days
up to d (a CoinGecko source names one coin per asset; on CoinMarketCap's symbols ``SOL`` was another coin in
2014): chosen from what is known on d, like everything else. Candidate reference coins are never peg-tested
(bitcoin is not pegged to bitcoin).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
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
    TRAILING_DAYS,
    USD_BAND,
    USD_MEDIAN_BAND,
    Band,
    median_move,
    peg_stats,
    trailing_peg,
)
from coinseason.data.classification.names import mentions_staking, says_bridged_or_wrapped
from coinseason.data.classification.records import SOURCE_PRICE_PEG, Classification
from coinseason.data.tidy import TokenClass
from coinseason.errors import DataError

NO_NATIVE_STAKING: Final[frozenset[str]] = frozenset({"BTC", "LTC", "DOGE", "BCH", "XMR", "ZEC", "ETC"})
"""Reference assets without native staking: a token pegged to them is wrapped unless its name says staked."""

CHUNK_ROWS: Final = 128
"""Days counted together when screening columns (speed and memory only: the result does not depend on it)."""

_NOT_YET: Final = np.iinfo(np.int32).max


@dataclass(frozen=True, slots=True)
class PriceMatrix:
    """Daily prices as a day × coin matrix: ``price[d, c]`` is coin ``coin_ids[c]``'s price on ``start + d``
    (NaN: no price that day)."""

    start: dt.date
    coin_ids: tuple[str, ...]
    price: NDArray[np.float64]

    def day(self, row: int) -> dt.date:
        return self.start + dt.timedelta(days=int(row))

    def first_days(self, coin_ids: Collection[str]) -> dict[str, dt.date]:
        """The first priced day of each of ``coin_ids`` that has one."""
        column = {c: i for i, c in enumerate(self.coin_ids)}
        cols = np.array(sorted(column[c] for c in coin_ids if c in column), dtype=np.intp)
        if cols.size == 0:
            return {}
        priced = np.isfinite(self.price[:, cols])
        first = priced.argmax(axis=0)
        return {self.coin_ids[c]: self.day(first[j]) for j, c in enumerate(cols) if priced[first[j], j]}


def price_matrix(prices: pl.DataFrame) -> PriceMatrix:
    """The long frame ``coin_id, date, price`` as a :class:`PriceMatrix` (coins in id order; the first row of a
    repeated (coin, day) counts; prices ≤ 0 are no price)."""
    missing = [c for c in ("coin_id", "date", "price") if c not in prices.columns]
    if missing:
        raise DataError(f"prices: missing column(s) {', '.join(missing)}")
    price = pl.col("price").cast(pl.Float64)
    frame = prices.select(
        pl.col("coin_id").cast(pl.String), pl.col("date"), pl.when(price > 0).then(price).fill_null(np.nan).alias("p")
    ).filter(pl.col("coin_id").is_not_null() & pl.col("date").is_not_null())
    if frame.height == 0:
        return PriceMatrix(dt.date(1970, 1, 1), (), np.empty((0, 0)))
    ids = frame["coin_id"].unique().sort()
    start: dt.date = frame["date"].min()  # type: ignore[assignment]
    end: dt.date = frame["date"].max()  # type: ignore[assignment]
    index = pl.DataFrame({"coin_id": ids, "_col": np.arange(ids.len(), dtype=np.int64)})
    cells = frame.join(index, on="coin_id", how="left", maintain_order="left").select(
        "_col", (pl.col("date") - pl.lit(start)).dt.total_days().alias("_row"), "p"
    )
    matrix = np.full(((end - start).days + 1, ids.len()), np.nan)
    # written last to first, so the first row of a repeated (coin, day) is the one that stays
    matrix[cells["_row"].to_numpy()[::-1], cells["_col"].to_numpy()[::-1]] = cells["p"].to_numpy()[::-1]
    return PriceMatrix(start, tuple(ids.to_list()), matrix)


def pegged_asset_class(asset: str, symbol: str | None, name: str | None) -> tuple[TokenClass, str]:
    """Wrapped or liquid staking, for a token pegged to ``asset``.

    Liquid staking when the name mentions staking (Staked, Restaked, StakeStone…), the symbol is ``st``/``wst`` +
    the asset (stETH, wstETH, stSOL), or, for a proof-of-stake asset, the symbol is a prefix + the asset (+ ``x``):
    rETH, cbETH, weETH, mSOL, JitoSOL, ETHx, BNBx — unless the name says bridged or wrapped, or the prefix ends in
    ``w`` (a vault or copy of the wrapped asset: re7WETH). Bitcoin and other assets without native staking get no
    symbol rule: a BTC-pegged token is wrapped unless its name mentions staking.
    """
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
class _Reference:
    """One asset's reference price on each day, and which coin gave it (-1: none priced that day)."""

    asset: str
    price: NDArray[np.float64]
    column: NDArray[np.intp]


def _reference(asset: str, price: NDArray[np.float64], candidates: Sequence[int]) -> _Reference:
    """Among ``candidates`` (columns), each day the one priced that day on the most days so far (ties: the first
    listed)."""
    n_days = price.shape[0]
    if not candidates:
        return _Reference(asset, np.full(n_days, np.nan), np.full(n_days, -1, dtype=np.intp))
    cols = np.asarray(candidates, dtype=np.intp)
    priced = np.isfinite(price[:, cols])
    score = np.where(priced, np.cumsum(priced, axis=0), 0)
    best = score.argmax(axis=1)
    column = np.where(score.max(axis=1) > 0, cols[best], -1)
    ref_price = np.where(column >= 0, price[np.arange(n_days), np.maximum(column, 0)], np.nan)
    return _Reference(asset, ref_price, column)


@dataclass(frozen=True, slots=True)
class _Hit:
    """The first row each tested column passes a test (:data:`_NOT_YET`: never), and its share in band then."""

    row: NDArray[np.int64]
    share: NDArray[np.float64]


def _days_in_band(price: NDArray[np.float64], reference: NDArray[np.float64] | None, band: Band) -> NDArray[np.int64]:
    """Per column of ``price``, the days its ratio to ``reference`` (None: its price) lies in ``band`` (or a hair
    outside), a few rows at a time (the matrix is day-major; no copy of it is made): a screen, at least the count
    of the test itself."""
    n_days, n_cols = price.shape
    counts = np.zeros(n_cols, dtype=np.int64)
    rows = np.arange(n_days) if reference is None else np.flatnonzero(np.isfinite(reference))
    if rows.size == 0 or n_cols == 0:
        return counts
    above, below = np.empty((CHUNK_ROWS, n_cols), bool), np.empty((CHUNK_ROWS, n_cols), bool)
    low, high = band[0] * (1 - 1e-9), band[1] * (1 + 1e-9)  # a hair wide: a product rounds unlike a ratio
    for lo in range(int(rows[0]), int(rows[-1]) + 1, CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, int(rows[-1]) + 1)
        h = hi - lo
        scale = np.ones((h, 1)) if reference is None else reference[lo:hi, None]
        with np.errstate(invalid="ignore"):
            np.greater_equal(price[lo:hi], low * scale, out=above[:h])
            np.less_equal(price[lo:hi], high * scale, out=below[:h])
        np.logical_and(above[:h], below[:h], out=above[:h])
        counts += np.count_nonzero(above[:h], axis=0)
    return counts


def _first_pass(
    prices: NDArray[np.float64], reference: NDArray[np.float64] | None, band: Band, median_band: Band
) -> _Hit:
    """The first row each column of ``prices`` passes the test against ``reference`` (None: the US dollar)."""
    n_cols = prices.shape[1]
    row = np.full(n_cols, _NOT_YET, dtype=np.int64)
    share = np.full(n_cols, np.nan)
    if n_cols:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = prices if reference is None else prices / reference[:, None]
        test = trailing_peg(ratio, band=band, median_band=median_band)
        hit = np.flatnonzero(test.pegged.any(axis=0))
        first = test.pegged.argmax(axis=0)[hit]
        row[hit] = first
        share[hit] = test.share[first, hit]
    return _Hit(row, share)


@dataclass(frozen=True, slots=True)
class _Decision:
    row: int
    asset: str | None
    """None: the US dollar."""


def _decide(matrix: PriceMatrix, tested: NDArray[np.bool_], refs: Sequence[_Reference]) -> dict[int, _Decision]:
    """The first day each ``tested`` column is pegged, and to what (module docstring), for the pegged ones.

    A column with fewer than ``MIN_SHARE × MIN_OBS`` days in a test's band cannot pass it on any day: only the
    others are tested day by day.
    """
    least = math.ceil(MIN_SHARE * MIN_OBS)
    tests: list[tuple[NDArray[np.float64] | None, Band, Band]] = [(None, USD_BAND, USD_MEDIAN_BAND)]
    tests += [(ref.price, ASSET_BAND, ASSET_MEDIAN_BAND) for ref in refs]
    chosen = [np.flatnonzero(tested & (_days_in_band(matrix.price, ref, band) >= least)) for ref, band, _ in tests]
    union = np.unique(np.concatenate([np.empty(0, np.intp), *chosen]))
    if union.size == 0:
        return {}
    prices = matrix.price[:, union]
    hits = []
    for cols, (ref, band, median_band) in zip(chosen, tests, strict=True):
        local = np.searchsorted(union, cols)
        found = _first_pass(prices[:, local], ref, band, median_band)
        rows = np.full(union.size, _NOT_YET, dtype=np.int64)
        share = np.full(union.size, np.nan)
        rows[local], share[local] = found.row, found.share
        hits.append(_Hit(rows, share))
    usd, by_asset = hits[0], hits[1:]
    first = np.minimum.reduce([hit.row for hit in hits])
    out: dict[int, _Decision] = {}
    for j in np.flatnonzero(first < _NOT_YET):
        row = int(first[j])
        if usd.row[j] == row:
            out[int(union[j])] = _Decision(row, None)
            continue
        best = max((k for k, hit in enumerate(by_asset) if hit.row[j] == row), key=lambda k: (by_asset[k].share[j], -k))
        out[int(union[j])] = _Decision(row, refs[best].asset)
    return out


def _fmt_band(band: Band) -> str:
    return f"[{band[0]:g},{band[1]:g}]"


def _basis(target: str, ratio: NDArray[np.float64], row: int, band: Band, day: dt.date) -> str:
    window = ratio[max(row - TRAILING_DAYS + 1, 0) : row + 1]
    stats = peg_stats(window, band=band)
    return (
        f"price peg to {target} from {day.isoformat()} (the {TRAILING_DAYS} days to then): {stats.share:.0%} of "
        f"{stats.n_obs:,} priced days in {_fmt_band(band)}, median {stats.median:.3f}, median daily move "
        f"{median_move(window):.2%}"
    )


def peg_classes(
    matrix: PriceMatrix,
    coins: Sequence[Mapping[str, str | None]],
    references: Mapping[str, Sequence[str]],
    ref_classes: Mapping[str, TokenClass | None],
) -> dict[str, Classification]:
    """The class and first day a price peg gives each of ``coins`` (rows with coin_id, symbol, name), for those
    pegged on some day of ``matrix``.

    ``references``: asset → candidate coin ids (module docstring); ``ref_classes``: the class other evidence gave
    those coins (a coin pegged to a stablecoin reference is a stablecoin).
    """
    column = {c: i for i, c in enumerate(matrix.coin_ids)}
    refs = [
        _reference(asset, matrix.price, [column[c] for c in ids if c in column]) for asset, ids in references.items()
    ]
    rows = {column[str(row["coin_id"])]: row for row in coins if str(row["coin_id"]) in column}
    tested = np.zeros(len(matrix.coin_ids), dtype=bool)
    tested[list(rows)] = True
    decided = _decide(matrix, tested, refs)
    by_asset = {ref.asset: ref for ref in refs}
    out: dict[str, Classification] = {}
    for col, decision in decided.items():
        row = rows[col]
        coin_id = str(row["coin_id"])
        day = matrix.day(decision.row)
        prices = matrix.price[:, col]
        if decision.asset is None:
            basis = _basis("USD", prices, decision.row, USD_BAND, day)
            out[coin_id] = Classification(coin_id, TokenClass.STABLECOIN, basis, SOURCE_PRICE_PEG, day)
            continue
        ref = by_asset[decision.asset]
        with np.errstate(invalid="ignore", divide="ignore"):
            basis = _basis(decision.asset, prices / ref.price, decision.row, ASSET_BAND, day)
        ref_id = matrix.coin_ids[int(ref.column[decision.row])]
        ref_class = ref_classes.get(ref_id)
        if ref_class in (TokenClass.STABLECOIN, TokenClass.TOKENIZED_ASSET):
            out[coin_id] = Classification(
                coin_id, ref_class, f"{basis} ({ref_id} is a {ref_class})", SOURCE_PRICE_PEG, day
            )
            continue
        token_class, why = pegged_asset_class(decision.asset, row.get("symbol"), row.get("name"))
        out[coin_id] = Classification(coin_id, token_class, f"{basis}; {why}", SOURCE_PRICE_PEG, day)
    return out
