"""How sure the season call is: consensus across a grid of definitions, the margin to the next season and the
cap-weighted index, over the analytics service's engines.

The grid's history is computed once per engine (and minimum universe) and kept beside it (dropped with it); one
day asked before any history is computed on that day alone.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.consensus import Consensus, Ladder, consensus
from coinseason.core.engine import SeasonEngine
from coinseason.core.grid import (
    DEFAULT_GRID,
    GRID_BTC_INSIDE,
    GRID_EXCLUSIONS,
    GRID_TOPS,
    GRID_WINDOWS,
    GridValues,
    Variant,
    grid_values,
)
from coinseason.core.margin import Margin, close_calls, season_margin
from coinseason.core.season import SEASON_NAMES, classify_season
from coinseason.core.universe import Exclusion
from coinseason.errors import ConfigError
from coinseason.services.analytics import AnalyticsService, SeasonQuery, engine_row

BAND_QUANTILES = (0.10, 0.90)
"""The consensus band: the 10th to 90th percentile of the grid's values."""
DEFAULT_BAND_PCT = 5.0
"""Close calls: altcoins whose W-day return is within this many percentage points of BTC's."""
MAX_HEADLINES = 8
"""Headline histories kept per engine (oldest dropped first)."""

GRID_METHOD = (
    "Consensus: the Altcoin Season Index over a grid of definitions — N in {20, 50, 100, 200}, W in {30, 60, 90, 180}"
    " days, BTC inside the N or not, default exclusions and none: 64 variants, fill rule, thresholds 75/25, the"
    " minimum universe applied to each. Per day: the share of the variants with a value in altcoin season, neutral"
    " and Bitcoin season (summing to 1), their median and 10-90 % band (linear between order statistics), the"
    " season most of them hold (a tie: neutral) and whether the headline variant holds it."
)
MARGIN_METHOD = (
    "Margin: the fewest eligible altcoins that would have to change sides (from behind BTC's W-day return to"
    " ahead of it, or back) for the headline variant's season to change, per target season; close coins: the"
    " eligible altcoins whose W-day return is within the band (percentage points) of BTC's; a close call when"
    " the close coins on the side that must flip are at least the margin."
)
CAP_WEIGHTED_METHOD = (
    "Cap-weighted Altcoin Season Index: of the headline universe's eligible altcoins, the percentage of their"
    " market cap (each coin's cap on the day, point in time) held by those that beat BTC over W days; its season"
    " by the same thresholds (75 and 25); no value where the count-based index has none."
)


MINIMUM_UNIVERSE_METHOD = (
    "A day whose universe has fewer eligible altcoins than the minimum (COINSEASON_SEASON_MIN_ELIGIBLE, default 20;"
    " at most the universe's altcoin places, N less BTC's place when it is inside) has no index value: it has no"
    " season, season periods and summaries skip it and charts leave it empty. 20 because one coin then moves the"
    " index by at most 5 points; on the CoinGecko set the top 50 over 90 days has fewer than 20 eligible altcoins"
    " on every day of 2013 and 2014 (0 to 18) and on none after 2015-06-26."
)


def grid_description() -> dict[str, list[Any]]:
    return {
        "top": list(GRID_TOPS),
        "window": list(GRID_WINDOWS),
        "btc_inside": list(GRID_BTC_INSIDE),
        "exclude": list(GRID_EXCLUSIONS),
    }


@dataclass(frozen=True, slots=True)
class Headline:
    """The headline variant's series beside the grid's consensus, every day of the engine."""

    value: NDArray[np.float64]
    n_eligible: NDArray[np.int32]
    n_outperforming: NDArray[np.int32]
    cap_weighted: NDArray[np.float64]
    agreement: Consensus


class _EngineCache:
    """What one engine's consensus needs, kept while the engine lives."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.grid: dict[tuple[int, int], GridValues] = {}
        self.headlines: OrderedDict[tuple[object, ...], Headline] = OrderedDict()


_CACHES: weakref.WeakKeyDictionary[SeasonEngine, _EngineCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(engine: SeasonEngine) -> _EngineCache:
    with _CACHES_LOCK:
        found = _CACHES.get(engine)
        if found is None:
            found = _CACHES[engine] = _EngineCache()
        return found


class ConsensusService:
    """Consensus, margin and cap-weighted index over an :class:`AnalyticsService`."""

    def __init__(self, analytics: AnalyticsService, *, variants: tuple[Variant, ...] = DEFAULT_GRID) -> None:
        self._analytics = analytics
        self._variants = variants

    @property
    def variants(self) -> tuple[Variant, ...]:
        return self._variants

    def _exclusions(self, source: str) -> dict[str, Exclusion]:
        return {name: self._analytics.exclusion(source, name).exclusion for name in GRID_EXCLUSIONS}

    def _check(self, query: SeasonQuery) -> None:
        if not query.fill:
            raise ConfigError("the consensus and the margin use the fill rule: leave out strict")

    # -- the grid ---------------------------------------------------------------------------------------------

    def grid(self, source: str) -> GridValues:
        """Every variant's index over the whole history (computed once per engine and minimum universe)."""
        engine = self._analytics.loaded(source).engine
        cache = _cache_of(engine)
        key = (engine.n_days, engine.min_eligible)
        with cache.lock:
            found = cache.grid.get(key)
            if found is None:
                found = grid_values(engine, self._exclusions(source), variants=self._variants, keep_ladders=False)
                cache.grid = {key: found}
            return found

    def headline(self, query: SeasonQuery, source: str) -> Headline:
        """The headline variant's index, cap-weighted index and agreement with the grid, every day."""
        self._check(query)
        loaded = self._analytics.loaded(source)
        engine = loaded.engine
        grid = self.grid(source)
        cache = _cache_of(engine)
        key = (engine.n_days, engine.min_eligible, query)
        with cache.lock:
            found = cache.headlines.get(key)
        if found is not None:
            return found
        excluded = self._analytics.exclusion(source, query.exclude).exclusion
        index = engine.season_index(excluded, top=query.top, window=query.window, btc_inside=query.btc_inside)
        ladder = engine.ladder(excluded, window=query.window, depth=query.top)
        cap = np.where(np.isfinite(index.value), ladder.cap_weighted(query.top, btc_inside=query.btc_inside), np.nan)
        agreement = consensus(
            grid.values,
            index.value,
            altcoin_at=query.altcoin_at,
            bitcoin_at=query.bitcoin_at,
            low_q=BAND_QUANTILES[0],
            high_q=BAND_QUANTILES[1],
        )
        found = Headline(index.value, index.n_eligible, index.n_outperforming, cap, agreement)
        if query.exclude not in GRID_EXCLUSIONS:  # an exclusion file is read again on each call: not kept
            return found
        with cache.lock:
            cache.headlines[key] = found
            while len(cache.headlines) > MAX_HEADLINES:
                cache.headlines.popitem(last=False)
        return found

    # -- consensus ----------------------------------------------------------------------------------------------

    def history(
        self, query: SeasonQuery, *, source: str | None = None, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """Per day: the headline's value and season, the grid's shares, median and band, majority, agreement and
        the cap-weighted index."""
        name = self._analytics.source(source)
        head = self.headline(query, name)
        dates = self._analytics.loaded(name).engine.dates
        keep = _between(dates, start, end)
        c = head.agreement
        return _consensus_frame(
            dates[keep],
            head.value[keep],
            head.cap_weighted[keep],
            c,
            keep,
            query,
        )

    def day(self, query: SeasonQuery, day: dt.date | None, *, source: str | None = None) -> dict[str, Any]:
        """One day's consensus with every variant's value; from the cached history when there is one, else
        computed on that day alone."""
        self._check(query)
        name = self._analytics.source(source)
        engine = self._analytics.loaded(name).engine
        day = day or engine.end
        row = engine_row(engine, day)
        cache = _cache_of(engine)
        with cache.lock:
            full = cache.grid.get((engine.n_days, engine.min_eligible))
        rows = np.array([row], dtype=np.intp)
        excluded = self._analytics.exclusion(name, query.exclude).exclusion
        if full is not None:
            values = full.values[rows]
        else:
            values = grid_values(engine, self._exclusions(name), variants=self._variants, rows=rows).values
        index = engine.season_index(excluded, top=query.top, window=query.window, btc_inside=query.btc_inside)
        headline = index.value[rows]
        ladder = engine.ladder(excluded, window=query.window, depth=query.top, rows=rows)
        cap = np.where(np.isfinite(headline), ladder.cap_weighted(query.top, btc_inside=query.btc_inside), np.nan)
        agreement = consensus(
            values,
            headline,
            altcoin_at=query.altcoin_at,
            bitcoin_at=query.bitcoin_at,
            low_q=BAND_QUANTILES[0],
            high_q=BAND_QUANTILES[1],
        )
        frame = _consensus_frame(np.array([np.datetime64(day, "D")]), headline, cap, agreement, np.ones(1, bool), query)
        out = frame.row(0, named=True)
        codes = classify_season(values[0], altcoin_at=query.altcoin_at, bitcoin_at=query.bitcoin_at)
        out["n_variants"] = len(self._variants)
        out["variants"] = [
            {
                "top": v.top,
                "window": v.window,
                "btc_inside": v.btc_inside,
                "exclude": v.exclusion,
                "value": _float(values[0, i]),
                "season": SEASON_NAMES[int(codes[i])],
            }
            for i, v in enumerate(self._variants)
        ]
        return out

    # -- margin ---------------------------------------------------------------------------------------------------

    def margin_history(
        self,
        query: SeasonQuery,
        *,
        band_pct: float = DEFAULT_BAND_PCT,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """Per day: the headline's value and season, the coins to flip to each other season, the margin and the
        close coins' counts."""
        _check_band(band_pct)
        self._check(query)
        name = self._analytics.source(source)
        loaded = self._analytics.loaded(name)
        engine = loaded.engine
        excluded = self._analytics.exclusion(name, query.exclude).exclusion
        index = engine.season_index(excluded, top=query.top, window=query.window, btc_inside=query.btc_inside)
        ladder = engine.ladder(excluded, window=query.window, depth=query.top)
        keep = _between(engine.dates, start, end)
        rows = np.flatnonzero(keep)
        return _margin_frame(
            engine.dates[rows],
            index.value[rows],
            index.n_eligible[rows],
            index.n_outperforming[rows],
            _ladder_rows(ladder, rows),
            query,
            band_pct,
        )[0]

    def margin_day(
        self,
        query: SeasonQuery,
        day: dt.date | None,
        *,
        band_pct: float = DEFAULT_BAND_PCT,
        source: str | None = None,
    ) -> tuple[dict[str, Any], pl.DataFrame]:
        """One day's margin (as a row of :meth:`margin_history`, with BTC's return) and its close coins, closest
        first: ``coin_id, symbol, rank, coin_return_pct, gap_pct, beats_btc``."""
        _check_band(band_pct)
        self._check(query)
        name = self._analytics.source(source)
        loaded = self._analytics.loaded(name)
        engine = loaded.engine
        day = day or engine.end
        rows = np.array([engine_row(engine, day)], dtype=np.intp)
        excluded = self._analytics.exclusion(name, query.exclude).exclusion
        index = engine.season_index(excluded, top=query.top, window=query.window, btc_inside=query.btc_inside)
        ladder = engine.ladder(excluded, window=query.window, depth=query.top, rows=rows)
        frame, close = _margin_frame(
            np.array([np.datetime64(day, "D")]),
            index.value[rows],
            index.n_eligible[rows],
            index.n_outperforming[rows],
            ladder,
            query,
            band_pct,
        )
        row = frame.row(0, named=True)
        btc_return = float(ladder.btc_return[0])
        row["btc_return_pct"] = _float(100.0 * btc_return)
        at = np.flatnonzero(close[0])
        coins = ladder.places[0, at]
        ids = engine.coin_ids[coins].astype(str)
        gaps = 100.0 * (ladder.returns[0, at] - btc_return)
        breakdown = self._analytics.breakdown(query, day, source=name)
        ranks = dict(zip(breakdown["coin_id"], breakdown["rank"], strict=True))
        symbols = dict(zip(loaded.coins["coin_id"], loaded.coins["symbol"], strict=True))
        coins_frame = pl.DataFrame(
            {
                "coin_id": ids,
                "symbol": [symbols.get(c) for c in ids],
                "rank": [ranks.get(c) for c in ids],
                "coin_return_pct": 100.0 * ladder.returns[0, at],
                "gap_pct": gaps,
                "beats_btc": ladder.beats[0, at],
            },
            schema_overrides={"rank": pl.Int64, "symbol": pl.String},
        )
        return row, coins_frame.sort(pl.col("gap_pct").abs(), "coin_id")


def _check_band(band_pct: float) -> None:
    if not 0 < band_pct <= 100:
        raise ConfigError(f"--band takes percentage points above 0 and at most 100, not {band_pct}")


def _float(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _between(dates: NDArray[np.datetime64], start: dt.date | None, end: dt.date | None) -> NDArray[np.bool_]:
    keep = np.ones(dates.size, bool)
    if start is not None:
        keep &= dates >= np.datetime64(start, "D")
    if end is not None:
        keep &= dates <= np.datetime64(end, "D")
    return keep


def _names(codes: NDArray[np.int8]) -> list[str]:
    return [SEASON_NAMES[int(c)] for c in codes]


def _consensus_frame(
    dates: NDArray[np.datetime64],
    value: NDArray[np.float64],
    cap_weighted: NDArray[np.float64],
    c: Consensus,
    keep: NDArray[np.bool_],
    query: SeasonQuery,
) -> pl.DataFrame:
    thresholds = {"altcoin_at": query.altcoin_at, "bitcoin_at": query.bitcoin_at}
    return pl.DataFrame(
        {
            "date": dates,
            "value": value,
            "season": _names(classify_season(value, **thresholds)),
            "n_valued": c.n_valued[keep],
            "share_altcoin": c.share_altcoin[keep],
            "share_neutral": c.share_neutral[keep],
            "share_bitcoin": c.share_bitcoin[keep],
            "majority": _names(c.majority[keep]),
            "agreement": c.agreement[keep],
            "agrees": c.agrees[keep],
            "median": c.median[keep],
            "p10": c.low[keep],
            "p90": c.high[keep],
            "cap_weighted": cap_weighted,
            "cap_weighted_season": _names(classify_season(cap_weighted, **thresholds)),
        },
        schema_overrides={"n_valued": pl.Int64},
    ).with_columns(pl.col("date").cast(pl.Date), pl.col(pl.Float64).fill_nan(None))


def _ladder_rows(ladder: Ladder, rows: NDArray[np.intp]) -> Ladder:
    return Ladder(
        places=ladder.places[rows],
        returns=ladder.returns[rows],
        caps=ladder.caps[rows],
        beats=ladder.beats[rows],
        n_alts=ladder.n_alts[rows],
        btc_ranked=ladder.btc_ranked[rows],
        btc_return=ladder.btc_return[rows],
    )


def _margin_frame(
    dates: NDArray[np.datetime64],
    value: NDArray[np.float64],
    n_eligible: NDArray[np.int32],
    n_beating: NDArray[np.int32],
    ladder: Ladder,
    query: SeasonQuery,
    band_pct: float,
) -> tuple[pl.DataFrame, NDArray[np.bool_]]:
    """The margin rows of the days of ``ladder`` (its rows are those days) and each day's close-coin mask."""
    thresholds = {"altcoin_at": query.altcoin_at, "bitcoin_at": query.bitcoin_at}
    valued = np.isfinite(value)
    margin: Margin = season_margin(n_beating, n_eligible, valued=valued, **thresholds)
    eligible = np.arange(ladder.depth)[None, :] < ladder.n_eligible(query.top, btc_inside=query.btc_inside)[:, None]
    close = close_calls(ladder.returns, eligible, ladder.beats, ladder.btc_return, band=band_pct / 100.0, margin=margin)
    frame = pl.DataFrame(
        {
            "date": dates,
            "value": value,
            "season": _names(margin.season),
            "n_eligible": n_eligible,
            "n_outperforming": n_beating,
            "to_altcoin": margin.to_altcoin,
            "to_bitcoin": margin.to_bitcoin,
            "to_neutral": margin.to_neutral,
            "margin": margin.margin,
            "next_season": _names(margin.next_season),
            "n_close_above": np.where(valued, close.n_above, 0),
            "n_close_below": np.where(valued, close.n_below, 0),
            "close_call": close.close_call & valued,
        },
        schema_overrides={
            "n_eligible": pl.Int64,
            "n_outperforming": pl.Int64,
            "to_altcoin": pl.Int64,
            "to_bitcoin": pl.Int64,
            "to_neutral": pl.Int64,
            "margin": pl.Int64,
            "n_close_above": pl.Int64,
            "n_close_below": pl.Int64,
        },
    ).with_columns(
        pl.col("date").cast(pl.Date),
        pl.col("value").fill_nan(None),
        *(pl.when(pl.col(c) >= 0).then(pl.col(c)) for c in ("to_altcoin", "to_bitcoin", "to_neutral", "margin")),
    )
    return frame, close.close & valued[:, None]
