"""Consensus, margin and the minimum universe on the real CoinGecko set, through import, store and services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from coinseason.core.grid import DEFAULT_GRID, Variant
from coinseason.core.margin import season_margin
from coinseason.core.season import NO_VALUE, classify_season
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.consensus import ConsensusService
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import COINGECKO_DAILY, DATA_DIR, fixed_clock, shared_file

pytestmark = pytest.mark.slow

CATEGORIES = DATA_DIR / "coingecko" / "coin_classification.csv"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("consensus") / "real.duckdb"
    store = DuckDBStore(path)
    importer = ImportService(store, clock=fixed_clock)
    importer.import_file(shared_file(CATEGORIES), FileFormat.COIN_CATEGORIES)
    importer.import_file(shared_file(COINGECKO_DAILY), FileFormat.COINGECKO_DAILY)
    store.close()
    yield path


@pytest.fixture(scope="module")
def analytics(db: Path) -> Iterator[AnalyticsService]:
    store = DuckDBStore(db)
    yield AnalyticsService(store, min_eligible=20)
    store.close()


def nan_values(frame: pl.DataFrame, column: str = "value") -> np.ndarray:
    return frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()


@pytest.mark.parametrize("top", [50, 100])
def test_the_grid_holds_the_standard_series_day_for_day(analytics: AnalyticsService, top: int) -> None:
    grid = ConsensusService(analytics).grid("coingecko")
    standard = nan_values(analytics.season_history(SeasonQuery(top=top, window=90), source="coingecko"))
    np.testing.assert_array_equal(grid.column(Variant(top, 90, True, "default")), standard)


def test_consensus_invariants_on_every_day(analytics: AnalyticsService) -> None:
    frame = ConsensusService(analytics).history(SeasonQuery(), source="coingecko")
    valued = frame.filter(pl.col("n_valued") > 0)
    assert valued.height > 3500
    total = valued["share_altcoin"] + valued["share_neutral"] + valued["share_bitcoin"]
    assert ((total - 1.0).abs() < 1e-12).all()
    assert (valued["p10"] <= valued["median"]).all() and (valued["median"] <= valued["p90"]).all()
    empty = frame.filter(pl.col("n_valued") == 0)
    assert empty["share_altcoin"].is_null().all() and (empty["majority"] == "none").all()
    # the headline agrees with the majority exactly when its season is the majority's
    assert ((frame["season"] == frame["majority"]) & (frame["season"] != "none") == frame["agrees"]).all()


def test_one_day_computed_alone_equals_its_row_of_the_history(db: Path, analytics: AnalyticsService) -> None:
    history = ConsensusService(analytics).history(SeasonQuery(top=100, window=90), source="coingecko")
    store = DuckDBStore(db)
    try:
        fresh = ConsensusService(AnalyticsService(store, min_eligible=20))  # a new engine: no history cached
        for day in (dt.date(2017, 4, 3), dt.date(2021, 5, 1), dt.date(2024, 12, 4), dt.date(2025, 7, 19)):
            got = fresh.day(SeasonQuery(top=100, window=90), day, source="coingecko")
            got.pop("variants"), got.pop("n_variants")
            assert got == history.filter(pl.col("date") == day).row(0, named=True), day
    finally:
        store.close()


def test_no_index_on_days_short_of_the_minimum_universe(db: Path, analytics: AnalyticsService) -> None:
    # 2013 and 2014: the top 50 over 90 days rests on 0 to 18 eligible altcoins on every day; from 2015-06-27 on
    # at least 20 on every day (the README's justification of the default).
    frame = analytics.season_history(SeasonQuery(), source="coingecko")
    early = frame.filter(pl.col("date") < dt.date(2015, 1, 1))
    assert early["value"].is_null().all() and (early["season"] == "none").all()
    assert early["n_eligible"].max() == 18
    later = frame.filter(pl.col("date") >= dt.date(2015, 6, 27))
    assert later["value"].is_not_null().all()
    has_btc = frame.filter(pl.col("date") >= dt.date(2013, 7, 27))  # BTC has a 90-day return from then on
    assert ((has_btc["n_eligible"] < 20) == has_btc["value"].is_null()).all()
    periods = analytics.season_periods(SeasonQuery(), source="coingecko", include_neutral=True)
    assert periods["start"].min() >= dt.date(2015, 1, 1)
    store = DuckDBStore(db)
    try:  # without the rule (0) the 2014 days have values again, as before it
        unruled = AnalyticsService(store, min_eligible=0).season_history(
            SeasonQuery(), source="coingecko", start=dt.date(2014, 1, 1), end=dt.date(2014, 12, 31)
        )
        assert unruled["value"].is_not_null().all()
    finally:
        store.close()


def test_margin_is_at_least_one_for_every_variant_on_days_where_all_agree(analytics: AnalyticsService) -> None:
    service = ConsensusService(analytics)
    grid = service.grid("coingecko")
    codes = classify_season(grid.values)
    unanimous = np.flatnonzero((codes == codes[:, :1]).all(axis=1) & (codes[:, 0] != NO_VALUE))
    assert unanimous.size > 100
    engine = analytics.loaded("coingecko").engine
    exclusions = {name: analytics.exclusion("coingecko", name).exclusion for name in ("default", "none")}
    for v in DEFAULT_GRID:
        index = engine.season_index(exclusions[v.exclusion], top=v.top, window=v.window, btc_inside=v.btc_inside)
        m = season_margin(index.n_outperforming[unanimous], index.n_eligible[unanimous])
        assert (m.margin >= 1).all(), v
        assert (m.season == codes[unanimous, 0]).all(), v
    history = service.margin_history(SeasonQuery(), source="coingecko")
    valued = history.filter(pl.col("value").is_not_null())
    assert (valued["margin"] >= 1).all() and valued["next_season"].is_in(["altcoin", "neutral", "bitcoin"]).all()
