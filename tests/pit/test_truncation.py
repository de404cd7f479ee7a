"""Point in time, everywhere: the data up to day D and all the data give the same values on every day up to D.

For the CoinGecko daily set and the CMC snapshots, at several cut days D, two analytics services are compared —
one over everything the store holds, one over the same store's data up to D (:meth:`FrameMarket.up_to`: what a
store that only received the days up to D would hold) — on every day up to D: the Altcoin and Bitcoin Season
Index of the standard series, season periods, BTC / ETH / stablecoin dominance (with and without exclusions, over
every coin and the top 125), the engine series the early-warning features read, and the daily weights of the
backtests (each strategy's BTC / alt / cash weights and its alt basket's coins and weights). Exclusions are where
the future used to leak in (a peg test over each coin's whole history): a coin excluded in 2023 changed
dominance back to 2020. One case does it through a real store: the CoinGecko file cut at D and imported.

Values agree to 1e-9 (percent, index points and weights); totals in USD to a relative 1e-12 (a sum over more
coins columns, zeros on the days compared, may round differently in the last bit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from coinseason.features.market import MarketSeries, market_series
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportService
from coinseason.services.trading import TradingService
from coinseason.services.trading.params import BacktestParams
from coinseason.store import DuckDBStore
from coinseason.store.protocols import MarketData
from coinseason.vocab import Strategy
from tests.conftest import CMC_SNAPSHOTS, COINGECKO_DAILY, DATA_DIR, fixed_clock, shared_file
from tests.pit.frames import FrameMarket

pytestmark = pytest.mark.slow

CATEGORIES = DATA_DIR / "coingecko" / "coin_classification.csv"
CUTS = (dt.date(2018, 6, 30), dt.date(2020, 12, 31), dt.date(2022, 12, 31))
SEASONS = ((50, 90), (100, 90), (50, 30), (50, 365))
"""The standard (N, W) season series."""
STRATEGIES = (Strategy.SEASON_ROTATION, Strategy.MOMENTUM, Strategy.CONTRARIAN)
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrameMarket]:
    """Both real data sets as imported into a store, held as frames."""
    for path in (COINGECKO_DAILY, CMC_SNAPSHOTS, CATEGORIES):
        shared_file(path)
    store = DuckDBStore(tmp_path_factory.mktemp("pit") / "full.duckdb")
    importer = ImportService(store, clock=fixed_clock)
    importer.import_file(CATEGORIES, FileFormat.COIN_CATEGORIES)
    importer.import_file(COINGECKO_DAILY, FileFormat.COINGECKO_DAILY)
    importer.import_file(CMC_SNAPSHOTS, FileFormat.CMC_SNAPSHOTS)
    yield FrameMarket.of(store, ("coingecko", "cmc"))
    store.close()


@pytest.fixture(scope="module")
def everything(market: FrameMarket) -> AnalyticsService:
    return AnalyticsService(market)


def same(name: str, part: np.ndarray, full: np.ndarray, n: int, *, rel: bool = False) -> None:
    """``part`` equals the first ``n`` values of ``full`` (NaN where NaN), to :data:`TOLERANCE`."""
    a, b = np.asarray(part, dtype=np.float64), np.asarray(full, dtype=np.float64)[:n]
    assert a.shape == b.shape, (name, a.shape, b.shape)
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{name}: NaN on different days"
    ok = ~np.isnan(a)
    limit = TOLERANCE * np.maximum(np.abs(b[ok]), 1.0) if rel else TOLERANCE
    worst = np.abs(a[ok] - b[ok]) - limit
    assert not (worst > 0).any(), f"{name}: differs on {int((worst > 0).sum())} days, first row {np.argmax(worst > 0)}"


def same_frame(name: str, part: pl.DataFrame, full: pl.DataFrame, cut: dt.date) -> None:
    """Frames with a ``date`` column: equal on every day up to ``cut`` (floats to :data:`TOLERANCE`)."""
    full = full.filter(pl.col("date") <= cut)
    assert part["date"].to_list() == full["date"].to_list(), f"{name}: other days"
    for column in part.columns:
        if column == "date":
            continue
        if part[column].dtype.is_float():
            same(
                f"{name} {column}",
                part[column].fill_null(np.nan).to_numpy(),
                full[column].fill_null(np.nan).to_numpy(),
                full.height,
                rel=column.startswith("total"),
            )
        else:
            assert part[column].to_list() == full[column].to_list(), f"{name} {column}"


def check_series(part: AnalyticsService, full: AnalyticsService, source: str, cut: dt.date) -> int:
    """Every compared series of ``source``; returns the number of days compared."""
    n_days = (cut - part.loaded(source).engine.start).days + 1
    assert part.loaded(source).engine.end == cut
    for top, window in SEASONS:
        query = SeasonQuery(top=top, window=window)
        same_frame(
            f"season {top}/{window}",
            part.season_history(query, source=source),
            full.season_history(query, source=source),
            cut,
        )
        periods = part.season_periods(query, source=source, include_neutral=True)
        assert periods.equals(full.season_periods(query, source=source, include_neutral=True, end=cut)), (top, window)
    for universe in ("all", "top:125"):
        for exclude in ("default", "none"):
            same_frame(
                f"dominance {universe} {exclude}",
                part.dominance_history(universe=universe, exclude=exclude, source=source),
                full.dominance_history(universe=universe, exclude=exclude, source=source),
                cut,
            )
    return n_days


def engine_series(analytics: AnalyticsService, source: str) -> MarketSeries:
    """What the early-warning features read (as the outlook service loads it)."""
    loaded = analytics.loaded(source)
    return market_series(
        loaded.engine,
        excluded=analytics.exclusion(source, "default").exclusion,
        volumes=analytics.store.observations(source, columns=("coin_id", "date", "volume")),
    )


def check_features(part: AnalyticsService, full: AnalyticsService, source: str, n_days: int) -> None:
    a, b = engine_series(part, source), engine_series(full, source)
    assert a.start == b.start and a.n_days == n_days
    for window, values in a.asi.items():
        same(f"feature asi {window}", values, b.asi[window], n_days)
    for name in (
        "btc_dominance",
        "eth_dominance",
        "stable_dominance",
        "breadth",
        "btc_price",
        "alt_basket_return",
        "btc_volume_share",
    ):
        same(f"feature {name}", getattr(a, name), getattr(b, name), n_days)


def check_backtests(part: AnalyticsService, full: AnalyticsService, source: str, cut: dt.date) -> None:
    trading = TradingService(part), TradingService(full)
    for strategy in STRATEGIES:
        params = BacktestParams(strategy=strategy)
        a, b = (t.backtest(params, source=source) for t in trading)
        weights = pl.col("date"), pl.col("state"), pl.col("^weight_.*$")
        same_frame(f"backtest {strategy}", a.daily.select(weights), b.daily.select(weights), cut)
    n_days = (cut - part.loaded(source).engine.start).days + 1
    baskets = [t.inputs.basket(t.inputs.loaded(source), "default", 50, params.weighting) for t in trading]
    ids = [t.inputs.loaded(source).engine.coin_ids for t in trading]
    held = [
        np.where(basket.members >= 0, names[np.maximum(basket.members, 0)], "")
        for basket, names in zip(baskets, ids, strict=True)
    ]
    assert np.array_equal(held[0], held[1][:n_days]), "basket coins"
    same("basket weights", baskets[0].weights, baskets[1].weights, n_days)


@pytest.mark.parametrize("source", ["coingecko", "cmc"])
@pytest.mark.parametrize("cut", CUTS, ids=str)
def test_the_data_up_to_a_day_gives_every_value_of_all_the_data_up_to_that_day(
    market: FrameMarket, everything: AnalyticsService, source: str, cut: dt.date
) -> None:
    part = AnalyticsService(market.up_to(cut))
    n_days = check_series(part, everything, source, cut)
    check_features(part, everything, source, n_days)
    check_backtests(part, everything, source, cut)
    # the case the audit found: exclusions decided later changed earlier dominance; now nothing of later days does
    assert n_days > 1800


def test_a_store_that_received_the_data_up_to_a_day_agrees(
    market: FrameMarket, everything: AnalyticsService, tmp_path: Path
) -> None:
    cut = CUTS[0]
    cut_file = tmp_path / "coingecko_daily_cut.parquet"
    pl.read_parquet(COINGECKO_DAILY).filter(pl.col("date") <= cut).write_parquet(cut_file)
    store: MarketData = DuckDBStore(tmp_path / "cut.duckdb")
    importer = ImportService(store, clock=fixed_clock)
    importer.import_file(CATEGORIES, FileFormat.COIN_CATEGORIES)
    importer.import_file(cut_file, FileFormat.COINGECKO_DAILY)
    part = AnalyticsService(store)
    n_days = check_series(part, everything, "coingecko", cut)
    check_features(part, everything, "coingecko", n_days)
    check_backtests(part, everything, "coingecko", cut)
