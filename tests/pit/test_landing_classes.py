"""New data that gives a coin a class from one of its new days: the loaded engine is brought up to date (the class
from that day on, nothing before it changed) and answers as a fresh load; a class that changes on days already
loaded (a provider category imported) makes the source load afresh."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

START = dt.date(2024, 1, 1)
QUERY = SeasonQuery(top=3, window=2)


def rows(days: range) -> str:
    """BTC +1 %/day, "fast" +3 %/day, "slow" −1 %/day; "ndol" at 1.00 from day 10 with the largest cap after BTC."""
    out = []
    for i in days:
        day = START + dt.timedelta(days=i)
        out.append(f"bitcoin,btc,Bitcoin,{day},{100 * 1.01**i},{1e9 * 1.01**i}")
        out.append(f"fast,fst,Fast,{day},{10 * 1.03**i},{1e8 * 1.03**i}")
        out.append(f"slow,slw,Slow,{day},{5 * 0.99**i},{5e7 * 0.99**i}")
        if i >= 10:
            out.append(f"ndol,ndol,New Dollar,{day},1.0,5e8")
    return "coin_id,symbol,name,date,price,market_cap\n" + "\n".join(out) + "\n"


SOURCE = "custom"
"""Where a tidy file lands without a source column."""


def land(store: DuckDBStore, path: Path, text: str, fmt: FileFormat = FileFormat.TIDY) -> None:
    path.write_text(text)
    ImportService(store, clock=fixed_clock).import_file(path, fmt, source=SOURCE)


def answers(service: AnalyticsService) -> tuple[pl.DataFrame, ...]:
    return (
        service.season_history(QUERY),
        service.dominance_history(),
        service.dominance_history(exclude="none"),
        service.coins(None).sort("coin_id"),
    )


def test_a_class_from_a_new_day_extends_the_engine(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "landing.duckdb")
    land(store, tmp_path / "first.csv", rows(range(36)))  # ndol priced on 26 days: no peg yet
    service = AnalyticsService(store)
    answers(service)  # series cached, to be extended
    assert service.coins(None).filter(pl.col("coin_id") == "ndol")["token_class"].to_list() == [None]
    land(store, tmp_path / "second.csv", rows(range(34, 42)))  # days 34-35 again, 36-41 new
    fresh = service.refreshed()
    assert fresh.extended == {SOURCE}  # brought up to date, not reloaded
    got = answers(fresh)
    expected = answers(AnalyticsService(store))
    for a, b in zip(got, expected, strict=True):
        assert a.equals(b)
    ndol = got[3].filter(pl.col("coin_id") == "ndol").row(0, named=True)
    # priced from day 10: its 30th priced day, day 39, is the first the trailing test passes
    assert (ndol["token_class"], ndol["class_since"]) == ("stablecoin", START + dt.timedelta(days=39))
    stable = got[2]["stablecoin_dominance"].to_numpy()
    assert (stable[:39] == 0).all() and (stable[39:] > 0).all()  # a stablecoin from that day, not before
    btc = got[1]["value"].to_numpy()
    caps = 1e9 * 1.01 ** np.arange(42), 1e8 * 1.03 ** np.arange(42), 5e7 * 0.99 ** np.arange(42)
    with_ndol = caps[0] / (caps[0] + caps[1] + caps[2] + np.where(np.arange(42) >= 10, 5e8, 0.0))
    without = caps[0] / (caps[0] + caps[1] + caps[2])
    np.testing.assert_allclose(btc, 100 * np.where(np.arange(42) >= 39, without, with_ndol), rtol=1e-12)
    store.close()


def test_a_class_changed_on_loaded_days_reloads(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "landing.duckdb")
    land(store, tmp_path / "first.csv", rows(range(36)))
    service = AnalyticsService(store)
    answers(service)
    land(store, tmp_path / "categories.csv", "coin_id,categories\nfast,Wrapped-Tokens\n", FileFormat.COIN_CATEGORIES)
    fresh = service.refreshed()
    assert fresh.extended == set()  # fast is wrapped from its first day: loaded days change
    fast = fresh.coins(None).filter(pl.col("coin_id") == "fast").row(0, named=True)
    assert (fast["token_class"], fast["class_since"]) == ("wrapped", START)
    for a, b in zip(answers(fresh), answers(AnalyticsService(store)), strict=True):
        assert a.equals(b)
    store.close()
