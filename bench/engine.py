"""Benchmark of the season engine: real CoinGecko history, the store, appends and a synthetic scale set.

Run ``python bench/engine.py`` (``--quick`` for a smoke run). Each figure is printed with its target and a
ratio against a baseline measured in the same run; the exit status is 1 when any target is missed.

Exclusions are point in time (``--exclusions pit``, the default): the coins of the four excluded classes, each
from the first day it holds its class, as the classification of the data set decides it (not timed). With
``--exclusions csv`` the shared data's exclusion list is left out on every day, as earlier versions measured.

Figures
-------
1. the six standard series over the full CoinGecko set, matrices in memory, cold caches (median of runs)
2. store → memory: ``load_engine`` from a DuckDB file (the one-off import is reported too)
3. a custom (N, W) season query on a warm engine (rankings cached): p50 / p90 / p99
4. appending one day and extending every standard series, checked against a rebuild from scratch
5. an independent pandas implementation of the same series: speed ratio and day-by-day agreement
6. a synthetic 20,000-coin × 4,500-day set, run in a child process for an honest peak memory
7. consensus across definitions: the 64-variant grid's history and its consensus from a cold engine, against the
   six standard series of figure 1 (same run), and one day's consensus on a warm engine: p50 / p90
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from coinseason.core.dominance import Dominance
from coinseason.core.engine import CoinClasses, SeasonEngine
from coinseason.core.panel import FloatMatrix
from coinseason.core.season import SeasonIndex
from coinseason.core.universe import Exclusion
from report import Figure, Report, section  # bench/report.py, beside this script

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PARQUET = Path("coingecko") / "coingecko_daily_2013-04-28_2025-07-19.parquet"
EXCLUSIONS = Path("coingecko") / "exclusion_list_stablecoins_wrapped_staked.csv"
CLASSIFICATION = Path("coingecko") / "coin_classification.csv"
EXCLUDED_CLASSES = frozenset({"stablecoin", "wrapped", "liquid_staking", "tokenized_asset"})
BTC_ID, ETH_ID = "bitcoin", "ethereum"

SEASONS = ((50, 90), (100, 90), (50, 30), (50, 365))
"""The standard (N, W) season series."""
DOMINANCES: tuple[int | None, ...] = (None, 125)
"""The standard dominance universes: all coins and the top 125."""
RANK_DEPTH = 200

BASELINE_GAP_DAYS = 3
"""The pandas baseline's gap tolerance, written out rather than imported: it must not share engine code."""


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def percentiles(values: list[float], qs: tuple[float, ...] = (50, 90, 99)) -> list[float]:
    return [float(v) for v in np.percentile(values, qs)]


# -- real data ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RealData:
    """The CoinGecko set as long observations and as raw (not gap-filled) day × coin matrices."""

    frame: pl.DataFrame
    """date, coin_id, price, market_cap (float64, NaN when missing; one-day market-cap spikes masked)."""
    start: dt.date
    coin_ids: list[str]
    price: FloatMatrix
    market_cap: FloatMatrix
    excluded: Exclusion
    classes: CoinClasses
    """Coin id → class and the first day it holds (None: every day)."""

    @property
    def excluded_since(self) -> dict[str, dt.date]:
        """Each excluded coin's first excluded day (the first day of the data for a coin excluded every day)."""
        return {c: day or self.start for c, (k, day) in self.classes.items() if k in self.excluded.classes}

    @property
    def n_days(self) -> int:
        return int(self.price.shape[0])


def read_frame(data_dir: Path) -> pl.DataFrame:
    """The parquet as the engine sees it through the store: market caps of ``mcap_spike`` rows masked."""
    import polars as pl

    raw = pl.read_parquet(data_dir / PARQUET, columns=["date", "coin_id", "price_usd", "market_cap_usd", "mcap_spike"])
    spike = pl.col("mcap_spike").fill_null(False)
    return raw.select(
        "date",
        "coin_id",
        pl.col("price_usd").cast(pl.Float64).fill_null(np.nan).alias("price"),
        pl.when(spike)
        .then(None)
        .otherwise(pl.col("market_cap_usd"))
        .cast(pl.Float64)
        .fill_null(np.nan)
        .alias("market_cap"),
    )


def build_matrices(frame: pl.DataFrame) -> tuple[dt.date, list[str], FloatMatrix, FloatMatrix]:
    """Raw day × coin matrices, columns in coin-id order (as ``load_engine`` builds them)."""
    import polars as pl

    from coinseason.core.panel import pivot_daily

    ids = frame["coin_id"].unique().sort()
    start: dt.date = frame["date"].min()  # type: ignore[assignment]
    end: dt.date = frame["date"].max()  # type: ignore[assignment]
    index = pl.DataFrame({"coin_id": ids, "col": np.arange(ids.len(), dtype=np.int32)})
    cells = frame.join(index, on="coin_id", how="left").select(
        "col", (pl.col("date") - pl.lit(start)).dt.total_days().cast(pl.Int32).alias("row")
    )
    row, col = cells["row"].to_numpy(), cells["col"].to_numpy()
    shape = {"n_days": (end - start).days + 1, "n_coins": ids.len()}
    price = pivot_daily(row, col, frame["price"].to_numpy(), **shape)
    mcap = pivot_daily(row, col, frame["market_cap"].to_numpy(), **shape)
    return start, ids.to_list(), price, mcap


def pit_classes(data_dir: Path, frame: pl.DataFrame) -> CoinClasses:
    """The point-in-time classification of the data set, as the service makes it (coins from the shared
    classification file's ids, names and provider categories)."""
    import polars as pl

    from coinseason.data.classification import classify_coins, load_curated

    coins = pl.read_csv(data_dir / CLASSIFICATION, infer_schema_length=10_000).select(
        "coin_id", "symbol", "name", pl.col("coingecko_categories").alias("categories")
    )
    refs = {"BTC": BTC_ID, "ETH": ETH_ID, "SOL": "solana", "BNB": "binancecoin"}
    classified = classify_coins(
        coins, frame.select("coin_id", "date", "price"), curated=load_curated(), references=refs, coingecko_ids=True
    )
    held = classified.filter(pl.col("token_class").is_not_null())
    return {c: (k, d) for c, k, d in zip(held["coin_id"], held["token_class"], held["class_since"], strict=True)}


def load_real(data_dir: Path, exclusions: str = "pit") -> RealData:
    import polars as pl

    frame = read_frame(data_dir)
    start, ids, price, mcap = build_matrices(frame)
    if exclusions == "pit":
        classes = pit_classes(data_dir, frame)
        return RealData(frame, start, ids, price, mcap, Exclusion(classes=EXCLUDED_CLASSES), classes)
    excl = pl.read_csv(data_dir / EXCLUSIONS, columns=["coin_id", "exclusion_class"])
    listed = dict(zip(excl["coin_id"], excl["exclusion_class"], strict=True))
    classes = {c: (str(k), None) for c, k in listed.items()}
    return RealData(frame, start, ids, price, mcap, Exclusion.always(frozenset(listed)), classes)


# -- the engine's standard series -----------------------------------------------------------------------------


def make_engine(data: RealData, *, stop: int | None = None) -> SeasonEngine:
    """A fresh engine on copies of the raw matrices (the engine fills its inputs in place)."""
    return SeasonEngine(
        start=data.start,
        coin_ids=data.coin_ids,
        price=data.price[:stop].copy(),
        market_cap=data.market_cap[:stop].copy(),
        btc_id=BTC_ID,
        eth_id=ETH_ID,
        classes=data.classes,
    )


def standard_steps(engine: SeasonEngine, excluded: Exclusion) -> dict[str, float]:
    """Rank, then compute the six standard series; seconds per step."""
    steps = {"rank": timed(lambda: engine.order(excluded, RANK_DEPTH))[0]}
    for top in DOMINANCES:
        steps[f"dominance {top or 'all'}"] = timed(partial(engine.dominance, excluded, top=top))[0]
    for n, w in SEASONS:
        steps[f"season {n}/{w}"] = timed(partial(engine.season_index, excluded, top=n, window=w))[0]
    return steps


def cold_run(data: RealData) -> tuple[dict[str, float], SeasonEngine]:
    """Gap filling (engine construction), ranking and the six series from cold caches."""
    price, mcap = data.price.copy(), data.market_cap.copy()
    ctor, engine = timed(
        lambda: SeasonEngine(
            start=data.start,
            coin_ids=data.coin_ids,
            price=price,
            market_cap=mcap,
            btc_id=BTC_ID,
            eth_id=ETH_ID,
            classes=data.classes,
        )
    )
    return {"construct (gap fill)": ctor, **standard_steps(engine, data.excluded)}, engine


def series_of(engine: SeasonEngine, excluded: Exclusion) -> Iterator[tuple[str, SeasonIndex | Dominance]]:
    for top in DOMINANCES:
        yield f"dominance {top or 'all'}", engine.dominance(excluded, top=top)
    for n, w in SEASONS:
        yield f"season {n}/{w}", engine.season_index(excluded, top=n, window=w)


def same_series(a: SeasonIndex | Dominance, b: SeasonIndex | Dominance) -> bool:
    if isinstance(a, SeasonIndex) and isinstance(b, SeasonIndex):
        floats = [(a.value, b.value), (a.btc_return, b.btc_return)]
        ints = [(a.n_eligible, b.n_eligible), (a.n_outperforming, b.n_outperforming)]
    elif isinstance(a, Dominance) and isinstance(b, Dominance):
        floats = [(a.total, b.total), (a.btc_cap, b.btc_cap), (a.eth_cap, b.eth_cap), (a.stable_cap, b.stable_cap)]
        ints = [(a.n_coins, b.n_coins)]
    else:
        return False
    return all(x.shape == y.shape and np.allclose(x, y, equal_nan=True) for x, y in floats) and all(
        np.array_equal(x, y) for x, y in ints
    )


# -- figure 1: all standard series, in memory ------------------------------------------------------------------


def bench_full(data: RealData, reps: int, report: Report) -> tuple[float, float, SeasonEngine]:
    """Median seconds of a cold run, seconds to build the raw matrices, and a warm engine."""
    section(
        f"1. six standard series, full CoinGecko set ({data.n_days:,} days × {len(data.coin_ids):,} coins, "
        f"{data.frame.height:,} rows), cold caches, {reps} runs"
    )
    runs = [cold_run(data) for _ in range(reps)]
    totals = [sum(steps.values()) for steps, _ in runs]
    report.note("runs (s): " + ", ".join(f"{t:.3f}" for t in totals))
    steps = {name: statistics.median(s[name] for s, _ in runs) for name in runs[0][0]}
    report.note("median per step (s): " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()))
    pivot, _ = timed(lambda: build_matrices(data.frame))
    report.note(f"(not timed above) raw matrices from the long frame: {pivot:.3f} s")
    return statistics.median(totals), pivot, runs[-1][1]


# -- figure 2: store → memory ---------------------------------------------------------------------------------


def bench_store(data_dir: Path, data: RealData, reps: int, report: Report) -> float:
    section(f"2. store → memory: load_engine from a DuckDB file, {reps} runs")
    from coinseason.errors import CoinseasonError

    try:
        with tempfile.TemporaryDirectory(prefix="coinseason-bench-") as tmp:
            return store_runs(data_dir, Path(tmp) / "bench.duckdb", data, reps, report)
    except (ImportError, CoinseasonError) as exc:
        report.note(f"the store benchmark failed: {type(exc).__name__}: {exc}")
        return math.nan


def store_runs(data_dir: Path, path: Path, data: RealData, reps: int, report: Report) -> float:
    """Import the parquet once into ``path``, then time ``load_engine`` with a fresh store each run."""
    from coinseason.providers.files import FileFormat
    from coinseason.services.analytics import load_engine
    from coinseason.services.importing import ImportService
    from coinseason.store.duckdb import DuckDBStore

    store = DuckDBStore(path)
    service = ImportService(store, clock=lambda: dt.datetime.now(dt.UTC))
    seconds, imported = timed(lambda: service.import_file(data_dir / PARQUET, FileFormat.COINGECKO_DAILY))
    store.close()
    report.add(Figure("import parquet → DuckDB (once)", seconds, "s"))
    report.note(
        f"added {imported.added:,} rows, {imported.coins:,} coins, rejected {imported.rejected:,} {imported.rejections}"
    )
    times = []
    for _ in range(reps):
        store = DuckDBStore(path)
        try:
            elapsed, loaded = timed(partial(load_engine, store, "coingecko"))
        finally:
            store.close()
        times.append(elapsed)
    report.note("runs (s): " + ", ".join(f"{t:.3f}" for t in times))
    report.note(store_agreement(loaded.engine, data))
    return statistics.median(times)


def store_agreement(engine: SeasonEngine, data: RealData) -> str:
    """How the store-loaded matrices compare with the ones this benchmark builds from the parquet."""
    if engine.price.shape != data.price.shape or list(engine.coin_ids) != data.coin_ids:
        return f"store engine shape {engine.price.shape} differs from the parquet's {data.price.shape}"
    reference = make_engine(data)
    differ = [
        int((~np.isclose(a, b, equal_nan=True)).sum())
        for a, b in ((engine.price, reference.price), (engine.market_cap, reference.market_cap))
    ]
    return f"store-loaded matrices vs parquet-built: {differ[0]} price, {differ[1]} market-cap cells differ"


# -- figure 3: custom queries on a warm engine ----------------------------------------------------------------


def bench_queries(engine: SeasonEngine, excluded: Exclusion, n_queries: int, *, fill: bool) -> list[float]:
    """Seconds per random (N, W) query; the same queries for either universe rule (same seed)."""
    engine.order(excluded, RANK_DEPTH)  # rankings cached once, as in a serving process
    rng = np.random.default_rng(3)
    times = []
    for n, w in zip(rng.integers(1, 201, n_queries), rng.integers(1, 366, n_queries), strict=True):
        engine._seasons.clear()  # the (N, W) being timed must not be cached
        times.append(timed(partial(engine.season_index, excluded, top=int(n), window=int(w), fill=fill))[0])
    return times


# -- figure 4: appending days ---------------------------------------------------------------------------------


Payload = tuple[dt.date, list[str], NDArray[np.float64], NDArray[np.float64]]


def day_payloads(data: RealData, first: dt.date) -> list[Payload]:
    """The real observations of each day from ``first`` on: coins present that day and their values."""
    import polars as pl

    tail = data.frame.filter(pl.col("date") >= first).sort("date", "coin_id")
    out = []
    for part in tail.partition_by("date", maintain_order=True):
        out.append(
            (part["date"][0], part["coin_id"].to_list(), part["price"].to_numpy(), part["market_cap"].to_numpy())
        )
    return out


def bench_append(data: RealData, held_out: int, report: Report) -> list[float]:
    section(f"4. append one day and extend every standard series: the last {held_out} days appended one by one")
    stop = data.n_days - held_out
    engine = make_engine(data, stop=stop)  # every coin column known, also coins first listed later
    list(series_of(engine, data.excluded))
    payloads = day_payloads(data, data.start + dt.timedelta(days=stop))
    times = [timed(partial(engine.append_day, *p))[0] for p in payloads]
    report.note("appends (ms): " + ", ".join(f"{1e3 * t:.1f}" for t in times))
    scratch = make_engine(data)
    different = [
        name
        for (name, a), (_, b) in zip(series_of(engine, data.excluded), series_of(scratch, data.excluded), strict=True)
        if not same_series(a, b)
    ]
    if not np.array_equal(engine.order(data.excluded), scratch.order(data.excluded)):
        different.append("ranking")
    report.note(f"after appending vs from scratch: {', '.join(different) or 'every series identical'}")
    report.add(Figure("appended series differing from a rebuild", len(different), "series", limit=0))
    return times


# -- figure 5: an independent pandas implementation -----------------------------------------------------------
#
# Two universe rules, as the engine has them (``season_index(..., fill=...)``):
#   strict: the top N by market cap (BTC inside the N); coins without a W-day return are not eligible.
#   fill (the engine's default): BTC, when ranked that day, takes one place; the other N - 1 places go, in rank
#         order, to the altcoins that have a W-day return.


@dataclass(frozen=True, slots=True)
class PandasSeries:
    value: NDArray[np.float64]
    n_eligible: NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class PandasInputs:
    days: pd.DatetimeIndex
    ranked: pd.DataFrame
    """date, coin_id, mcap, rank: every ranked coin of every day, in (date, rank) order."""
    prices: pd.DataFrame
    """obs_date, coin_id, price: the observed prices, by date."""


def pandas_frame(frame: pl.DataFrame) -> pd.DataFrame:
    """The long observations as pandas, dates as nanosecond timestamps."""
    long = frame.to_pandas()
    long["date"] = long["date"].astype("datetime64[ns]")
    return long


def pandas_ranked(long: pd.DataFrame, excluded: dict[str, dt.date], days: pd.DatetimeIndex) -> pd.DataFrame:
    """Each day's coins ranked by market cap (gap-filled ≤ 3 days), excluded coins removed from their first
    excluded day on; ties by coin id."""
    import pandas as pd

    wide = long.pivot(index="date", columns="coin_id", values="market_cap").reindex(days)
    wide = wide.ffill(limit=BASELINE_GAP_DAYS)
    for coin in wide.columns.intersection(sorted(excluded)):
        wide.loc[wide.index >= pd.Timestamp(excluded[coin]), coin] = np.nan
    ranked = wide.stack().rename("mcap").rename_axis(["date", "coin_id"]).reset_index()
    ranked = ranked[ranked["mcap"] > 0].copy()
    ranked["rank"] = ranked.groupby("date")["mcap"].rank(method="first", ascending=False)
    return ranked.sort_values(["date", "rank"], kind="stable").reset_index(drop=True)


def pandas_inputs(long: pd.DataFrame, excluded: dict[str, dt.date]) -> PandasInputs:
    import pandas as pd

    days = pd.date_range(long["date"].min(), long["date"].max(), freq="D")
    prices = long.loc[long["price"].notna(), ["date", "coin_id", "price"]].rename(columns={"date": "obs_date"})
    return PandasInputs(days, pandas_ranked(long, excluded, days), prices.sort_values("obs_date", kind="stable"))


def pandas_dominance(ranked: pd.DataFrame, days: pd.DatetimeIndex, top: int | None) -> NDArray[np.float64]:
    """BTC's share of the universe's summed market cap, percent."""
    members = ranked if top is None else ranked[ranked["rank"] <= top]
    total = members.groupby("date")["mcap"].sum().reindex(days, fill_value=0.0).to_numpy()
    btc = members[members["coin_id"] == BTC_ID].set_index("date")["mcap"].reindex(days, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 100.0 * btc.to_numpy() / total, np.nan)


def asof_price(left: pd.DataFrame, prices: pd.DataFrame, on: str) -> NDArray[np.float64]:
    """Each row's price on day ``left[on]``, or the last one up to 3 days before it (NaN otherwise)."""
    import pandas as pd

    merged = pd.merge_asof(
        left,
        prices,
        left_on=on,
        right_on="obs_date",
        by="coin_id",
        tolerance=pd.Timedelta(days=BASELINE_GAP_DAYS),
        direction="backward",
    )
    prices_at: NDArray[np.float64] = merged["price"].to_numpy(dtype=np.float64)
    return prices_at


def pandas_returns(left: pd.DataFrame, prices: pd.DataFrame, window: int) -> NDArray[np.float64]:
    """W-day simple returns of ``left``'s (date, coin_id) rows; NaN unless both prices are positive."""
    import pandas as pd

    now = asof_price(left, prices, "date")
    then = asof_price(left.assign(lag=left["date"] - pd.Timedelta(days=window)), prices, "lag")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((now > 0) & (then > 0), now / then - 1.0, np.nan)


def pandas_candidates(inputs: PandasInputs, window: int, depth: int | None) -> pd.DataFrame:
    """Ranked coins (all, or the top ``depth``) with their W-day return and BTC's on the same day."""
    import pandas as pd

    ranked = inputs.ranked if depth is None else inputs.ranked[inputs.ranked["rank"] <= depth]
    cands = ranked[["date", "coin_id", "rank"]].reset_index(drop=True)
    btc_days = pd.DataFrame({"date": inputs.days, "coin_id": BTC_ID})
    btc = pd.Series(pandas_returns(btc_days, inputs.prices, window), index=inputs.days)
    return cands.assign(ret=pandas_returns(cands, inputs.prices, window), btc_ret=btc.reindex(cands["date"]).to_numpy())


def pandas_season(cands: pd.DataFrame, days: pd.DatetimeIndex, top: int, *, fill: bool) -> PandasSeries:
    """Share of the universe's eligible altcoins whose W-day return beats BTC's (strictly greater)."""
    import pandas as pd

    is_btc = cands["coin_id"] == BTC_ID
    usable = ~is_btc & cands["ret"].notna()
    if fill:
        btc_place = is_btc.groupby(cands["date"]).transform("any").astype(int)
        taken = usable & (usable.groupby(cands["date"]).cumsum() <= top - btc_place)
    else:
        taken = usable & (cands["rank"] <= top)
    eligible = (taken & cands["btc_ret"].notna()).to_numpy()
    with np.errstate(invalid="ignore"):
        beats = eligible & (cands["ret"].to_numpy() > cands["btc_ret"].to_numpy())
    counts = pd.DataFrame({"date": cands["date"], "eligible": eligible, "beats": beats})
    counts = counts.groupby("date")[["eligible", "beats"]].sum().reindex(days, fill_value=0)
    n_eligible = counts["eligible"].to_numpy(dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(n_eligible > 0, 100.0 * counts["beats"].to_numpy() / n_eligible, np.nan)
    return PandasSeries(value, n_eligible)


def pandas_all(long: pd.DataFrame, excluded: dict[str, dt.date], *, fill: bool) -> dict[str, Any]:
    """The six standard series under one universe rule, pandas only (no coinseason code).

    Returns are merged for every ranked coin under ``fill`` (any rank may be needed), for the top N otherwise;
    once per window."""
    inputs = pandas_inputs(long, excluded)
    out: dict[str, Any] = {
        f"dominance {top or 'all'}": pandas_dominance(inputs.ranked, inputs.days, top) for top in DOMINANCES
    }
    depth = None if fill else max(n for n, _ in SEASONS)
    candidates = {w: pandas_candidates(inputs, w, depth) for w in sorted({w for _, w in SEASONS})}
    for n, w in SEASONS:
        out[f"season {n}/{w}"] = pandas_season(candidates[w], inputs.days, n, fill=fill)
    return out


def compare_pandas(engine: SeasonEngine, excluded: Exclusion, ours: dict[str, Any], *, fill: bool) -> dict[str, int]:
    """Days on which each pandas series disagrees with the engine's (value or number of eligible coins)."""
    differing = {}
    for top in DOMINANCES:
        name = f"dominance {top or 'all'}"
        differing[name] = int((~np.isclose(engine.dominance(excluded, top=top).btc, ours[name], equal_nan=True)).sum())
    for n, w in SEASONS:
        name = f"season {n}/{w}"
        series = engine.season_index(excluded, top=n, window=w, fill=fill)
        bad = ~np.isclose(series.value, ours[name].value, equal_nan=True)
        differing[name] = int((bad | (series.n_eligible != ours[name].n_eligible)).sum())
    return differing


def bench_pandas(data: RealData, engine: SeasonEngine, reps: int, report: Report) -> float:
    section(f"5. independent pandas implementation of the six series (rule: fill, the engine's default), {reps} runs")
    if engine.gap_days != BASELINE_GAP_DAYS:
        report.note(f"the engine fills gaps of {engine.gap_days} days, the baseline {BASELINE_GAP_DAYS}")
    long = pandas_frame(data.frame)
    runs = [timed(partial(pandas_all, long, data.excluded_since, fill=True)) for _ in range(reps)]
    report.note("runs (s): " + ", ".join(f"{t:.3f}" for t, _ in runs))
    total = 0
    for fill, ours in ((True, runs[-1][1]), (False, pandas_all(long, data.excluded_since, fill=False))):
        differing = compare_pandas(engine, data.excluded, ours, fill=fill)
        report.note(
            f"rule {'fill' if fill else 'strict'}: days differing from the engine: "
            + ", ".join(f"{k} {v}" for k, v in differing.items())
        )
        total += sum(differing.values())
    report.add(
        Figure(
            "pandas vs engine: days differing (6 series × 2 rules)",
            total,
            "days",
            limit=0,
            ratio=f"of {12 * engine.n_days:,} series-days",
        )
    )
    return statistics.median(t for t, _ in runs)


# -- figure 6: the synthetic scale set (child process) --------------------------------------------------------


def proc_mib(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB (Linux), else the peak from getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def listing_days(
    rng: np.random.Generator, n_days: int, n_coins: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Listing day (40 % uniform, 60 % skewed to later years), end day (30 % die) and whether each dies."""
    uniform = rng.integers(0, n_days, n_coins)
    late = (n_days * rng.beta(3.0, 1.0, n_coins)).astype(np.int64)
    listed = np.where(rng.random(n_coins) < 0.4, uniform, late)
    dies = rng.random(n_coins) < 0.3
    ends = np.where(dies, listed + 30 + rng.exponential(700.0, n_coins).astype(np.int64), n_days)
    listed[0], ends[0], dies[0] = 0, n_days, False  # Bitcoin
    return listed, ends, dies


def price_block(
    rng: np.random.Generator, n_days: int, listed: NDArray[np.int64], ends: NDArray[np.int64], dies: NDArray[np.bool_]
) -> FloatMatrix:
    """Log-normal random walks for one chunk of coins, NaN outside their life and on scattered missing days."""
    k = listed.size
    block = rng.standard_normal((n_days, k))
    block *= rng.uniform(0.015, 0.09, k)
    block += np.where(dies, -0.004, rng.normal(0.0003, 0.001, k))
    np.cumsum(block, axis=0, out=block)
    block += rng.normal(-1.0, 2.5, k)
    np.exp(block, out=block)
    days = np.arange(n_days)[:, None]
    block[(days < listed) | (days >= ends)] = np.nan
    gaps = int(0.004 * block.size)
    block[rng.integers(0, n_days, gaps), rng.integers(0, k, gaps)] = np.nan
    return block


def synthetic_matrices(n_days: int, n_coins: int, seed: int, chunk: int = 256) -> tuple[FloatMatrix, FloatMatrix]:
    """Prices and market caps (price × heavy-tailed supply), generated a chunk of columns at a time."""
    rng = np.random.default_rng(seed)
    listed, ends, dies = listing_days(rng, n_days, n_coins)
    supply = np.exp(rng.normal(17.0, 3.0, n_coins))
    supply[rng.random(n_coins) < 0.03] = np.nan  # supply unknown: never ranked
    supply[0] = np.nanmax(supply)
    price = np.empty((n_days, n_coins))
    mcap = np.empty((n_days, n_coins))
    for lo in range(0, n_coins, chunk):
        cols = slice(lo, min(lo + chunk, n_coins))
        block = price_block(rng, n_days, listed[cols], ends[cols], dies[cols])
        price[:, cols] = block
        block *= supply[cols]
        mcap[:, cols] = block
    return price, mcap


def top_turnover(engine: SeasonEngine, excluded: Exclusion, top: int = 50) -> float:
    """Mean share of the top N replaced from one day to the next (ranks do change)."""
    order = engine.order(excluded)[:, :top]
    stays = (order[1:, :, None] == order[:-1, None, :]).any(axis=2) & (order[1:] >= 0)
    held = (order[1:] >= 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nanmean(1.0 - stays.sum(axis=1) / held))


def synthetic_child(n_days: int, n_coins: int, seed: int) -> dict[str, Any]:
    """Runs in the child process: generate, then gap fill, rank and the six series; times and memory per step."""
    steps: list[dict[str, Any]] = []

    def step(name: str, fn: Callable[[], Any]) -> Any:
        rss = proc_mib("VmRSS")
        seconds, result = timed(fn)
        steps.append(
            {
                "step": name,
                "seconds": seconds,
                "rss_before": rss,
                "rss_after": proc_mib("VmRSS"),
                "peak_so_far": proc_mib("VmHWM"),
            }
        )
        return result

    price, mcap = step("generate", lambda: synthetic_matrices(n_days, n_coins, seed))
    ids = [BTC_ID, ETH_ID] + [f"coin-{i:05d}" for i in range(2, n_coins)]
    rng = np.random.default_rng(seed + 1)
    chosen = sorted(rng.choice(ids[2:], n_coins // 50, replace=False).tolist())
    start = dt.date(2013, 1, 1)
    # half stablecoins on every day, half wrapped from a day of their own (point-in-time exclusions)
    late = rng.integers(0, n_days, len(chosen) - len(chosen) // 2)
    classes: CoinClasses = dict.fromkeys(chosen[: len(chosen) // 2], ("stablecoin", None))
    classes |= {
        c: ("wrapped", start + dt.timedelta(days=int(d))) for c, d in zip(chosen[len(chosen) // 2 :], late, strict=True)
    }
    excluded = Exclusion(classes=EXCLUDED_CLASSES)
    engine = step(
        "construct (gap fill)",
        lambda: SeasonEngine(
            start=start,
            coin_ids=ids,
            price=price,
            market_cap=mcap,
            btc_id=BTC_ID,
            eth_id=ETH_ID,
            classes=classes,
        ),
    )
    step("rank", lambda: engine.order(excluded, RANK_DEPTH))
    for top in DOMINANCES:
        step(f"dominance {top or 'all'}", partial(engine.dominance, excluded, top=top))
    for n, w in SEASONS:
        step(f"season {n}/{w}", partial(engine.season_index, excluded, top=n, window=w))
    alive = engine.dominance(excluded).n_coins
    return {
        "steps": steps,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vmhwm_mib": proc_mib("VmHWM"),
        "turnover": top_turnover(engine, excluded),
        "ranked_last_day": int(alive[-1]),
        "ranked_max": int(alive.max()),
        "asi_50_90_mean": float(np.nanmean(engine.season_index(excluded, top=50, window=90).value)),
    }


def bench_synthetic(n_days: int, n_coins: int, report: Report) -> tuple[float, float]:
    section(f"6. synthetic set {n_coins:,} coins × {n_days:,} days (child; 2 % excluded, half from a day on)")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--synthetic-child",
        "--days",
        str(n_days),
        "--coins",
        str(n_coins),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - our own script
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        report.note(f"child failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        return math.nan, children_peak
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for s in result["steps"]:
        report.note(
            f"{s['step']:22} {s['seconds']:7.3f} s   RSS {s['rss_before']:7.0f} → {s['rss_after']:7.0f} MiB"
            f"   peak so far {s['peak_so_far']:7.0f} MiB"
        )
    report.note(
        f"ranked coins: max {result['ranked_max']:,}, last day {result['ranked_last_day']:,}; top-50 "
        f"turnover {100 * result['turnover']:.2f} %/day; mean ASI 50/90 {result['asi_50_90_mean']:.1f}"
    )
    report.note(
        f"peak RSS: child's ru_maxrss {result['maxrss_mib']:.0f} MiB, child's VmHWM "
        f"{result['vmhwm_mib']:.0f} MiB, RUSAGE_CHILDREN {children_peak:.0f} MiB (the largest is reported)"
    )
    seconds = sum(s["seconds"] for s in result["steps"] if s["step"] != "generate")
    return seconds, max(children_peak, result["maxrss_mib"], result["vmhwm_mib"])


# -- figure 7: consensus across definitions --------------------------------------------------------------------

CONSENSUS_MIN_ELIGIBLE = 20
"""The minimum universe the service applies by default (``COINSEASON_SEASON_MIN_ELIGIBLE``)."""


def consensus_run(data: RealData) -> tuple[float, SeasonEngine, Any]:
    """From a cold engine (gap fill, rankings): every variant of the grid over the whole history and the consensus
    of the headline top 50 / 90 days with them."""
    from coinseason.core.consensus import consensus
    from coinseason.core.grid import grid_values
    from coinseason.core.universe import NO_EXCLUSION

    t0 = time.perf_counter()
    engine = make_engine(data)
    engine.min_eligible = CONSENSUS_MIN_ELIGIBLE
    grid = grid_values(engine, {"default": data.excluded, "none": NO_EXCLUSION})
    headline = engine.season_index(data.excluded, top=50, window=90).value
    agreement = consensus(grid.values, headline)
    return time.perf_counter() - t0, engine, (grid, agreement)


def bench_consensus(data: RealData, reps: int, full: float, n_days: int, report: Report) -> None:
    from coinseason.core.consensus import consensus
    from coinseason.core.grid import Variant, grid_values
    from coinseason.core.universe import NO_EXCLUSION

    section(f"7. consensus across definitions: 64 variants over {data.n_days:,} days, cold engine, {reps} runs")
    runs = [consensus_run(data) for _ in range(reps)]
    seconds = statistics.median(r[0] for r in runs)
    _, engine, (grid, agreement) = runs[-1]
    report.note("runs (s): " + ", ".join(f"{r[0]:.3f}" for r in runs))
    same = []
    for n, w in SEASONS:
        variant = Variant(n, w, True, "default")
        if variant in grid.variants:
            series = engine.season_index(data.excluded, top=n, window=w).value
            equal = np.array_equal(grid.column(variant), series, equal_nan=True)
            same.append(f"{n}/{w} {'identical' if equal else 'DIFFERENT'}")
    report.note("grid columns vs the standard series: " + ", ".join(same))
    valued = agreement.n_valued > 0
    report.note(
        f"days with a consensus: {int(valued.sum()):,}; headline agrees with the majority on "
        f"{100 * float(agreement.agrees[valued].mean()):.1f} % of them; mean band width "
        f"{float(np.nanmean(agreement.high - agreement.low)):.1f} points"
    )
    report.add(
        Figure(
            "consensus history, 64 variants, cold (median)",
            seconds,
            "s",
            limit=5 * full,
            ratio=f"{seconds / full:.2f}× the six standard series (target ≤ 5×)",
        )
    )
    exclusions = {"default": data.excluded, "none": NO_EXCLUSION}
    rng = np.random.default_rng(7)
    times = []
    for row in rng.integers(0, engine.n_days, n_days):
        rows = np.array([row])
        t0 = time.perf_counter()
        values = grid_values(engine, exclusions, rows=rows).values
        consensus(values, engine.season_index(data.excluded, top=50, window=90).value[rows])
        times.append(time.perf_counter() - t0)
    p50, p90 = (1e3 * q for q in percentiles(times, (50, 90)))
    report.add(
        Figure(
            f"one day's consensus, warm engine, p50 ({n_days} days)",
            p50,
            "ms",
            limit=50,
            ratio=f"p90 {p90:.1f} ms; history/day {1e3 * seconds / p50:.0f}×",
        )
    )


# -- main -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    full_reps: int
    store_reps: int
    pandas_reps: int
    queries: int
    held_out: int
    synthetic: tuple[int, int]


PLANS = {
    False: Plan(full_reps=5, store_reps=3, pandas_reps=3, queries=300, held_out=30, synthetic=(4500, 20_000)),
    True: Plan(full_reps=1, store_reps=1, pandas_reps=1, queries=50, held_out=5, synthetic=(1500, 3000)),
}


def figures_synthetic(plan: Plan, report: Report) -> None:
    seconds, peak = bench_synthetic(*plan.synthetic, report)
    report.add(Figure("synthetic set, six series", seconds, "s", limit=10))
    report.add(Figure("synthetic set, peak RSS of the child", peak, "MiB", limit=2048))


def figures_speed(full: float, pivot: float, pandas_time: float, report: Report) -> None:
    report.add(Figure("pandas baseline, six series (median)", pandas_time, "s"))
    report.add(
        Figure(
            "six series, full set, in memory (median)",
            full,
            "s",
            limit=1.0,
            ratio=f"pandas/engine {pandas_time / full:.1f}×",
        )
    )
    report.add(
        Figure(
            "speed-up over pandas",
            pandas_time / full,
            "×",
            limit=20,
            at_least=True,
            ratio=f"{pandas_time / (full + pivot):.1f}× counting the matrix build",
        )
    )


def figures_queries(engine: SeasonEngine, data: RealData, plan: Plan, pandas_time: float, report: Report) -> None:
    section(f"3. custom season queries on a warm engine: {plan.queries} random (N ≤ 200, W ≤ 365)")
    queries = bench_queries(engine, data.excluded, plan.queries, fill=True)
    p50, p90, p99 = (1e3 * q for q in percentiles(queries))
    per_series = 1e3 * pandas_time / 6
    report.add(
        Figure(
            f"custom query p50 ({len(queries)} queries)",
            p50,
            "ms",
            limit=25,
            ratio=f"pandas per series / p50 {per_series / p50:.0f}×",
        )
    )
    report.add(Figure("custom query p90", p90, "ms"))
    report.add(Figure("custom query p99", p99, "ms"))
    strict = [1e3 * q for q in percentiles(bench_queries(engine, data.excluded, plan.queries, fill=False))]
    report.add(
        Figure(
            "custom query p50, strict rule (fill=False)",
            strict[0],
            "ms",
            ratio=f"p90 {strict[1]:.1f} ms, p99 {strict[2]:.1f} ms",
        )
    )


def figures_append(data: RealData, plan: Plan, full: float, report: Report) -> None:
    appends = bench_append(data, plan.held_out, report)
    a50, a_max = 1e3 * statistics.median(appends), 1e3 * max(appends)
    report.add(
        Figure(
            f"append one day, p50 ({len(appends)} appends)",
            a50,
            "ms",
            limit=10,
            ratio=f"rebuild/append {1e3 * full / a50:.0f}×",
        )
    )
    report.add(Figure("append one day, max (includes buffer growth)", a_max, "ms"))


def run(data_dir: Path, plan: Plan, report: Report, exclusions: str = "pit") -> None:
    # The synthetic child goes first: a child started by a large parent inherits the parent's peak in its
    # ru_maxrss (the kernel records the old address space's high-water mark at exec).
    figures_synthetic(plan, report)
    data = load_real(data_dir, exclusions)
    import polars as pl

    first = dict(data.frame.group_by("coin_id").agg(pl.col("date").min()).iter_rows())
    later = sum(1 for c, d in data.excluded_since.items() if c in first and d > first[c])
    report.note(
        f"exclusions: {exclusions}, {len(data.excluded_since):,} coins, {later:,} of them from a day after their first"
    )
    full, pivot, engine = bench_full(data, plan.full_reps, report)
    pandas_time = bench_pandas(data, engine, plan.pandas_reps, report)
    figures_speed(full, pivot, pandas_time, report)
    load = bench_store(data_dir, data, plan.store_reps, report)
    report.add(
        Figure(
            "store → memory, load_engine (median)",
            load,
            "s",
            limit=2.0,
            ratio=f"load/in-memory series {load / full:.1f}×",
        )
    )
    figures_queries(engine, data, plan, pandas_time, report)
    figures_append(data, plan, full, report)
    bench_consensus(data, plan.full_reps, full, plan.queries, report)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller synthetic set, fewer repetitions")
    parser.add_argument(
        "--exclusions",
        choices=("pit", "csv"),
        default="pit",
        help="point-in-time classes (default) or the shared exclusion list on every day",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the shared data directory")
    parser.add_argument("--synthetic-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=4500, help=argparse.SUPPRESS)
    parser.add_argument("--coins", type=int, default=20_000, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=20_250_719, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.synthetic_child:
        print(json.dumps(synthetic_child(args.days, args.coins, args.seed)))
        return 0
    plan = PLANS[bool(args.quick)]
    print(f"coinseason engine benchmark{' (quick)' if args.quick else ''}: data {args.data_dir}")
    print(f"{os.cpu_count()} CPUs, load average {load_average()} at the start")
    report = Report()
    run(args.data_dir, plan, report, args.exclusions)
    report.summary()
    print(f"load average {load_average()} at the end (other processes slow every figure)")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
