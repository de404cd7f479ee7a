"""The glance beside a current value (changes against 1, 7 and 30 days before; 52-week high and low) and the names
of dominance figures, on hand-made series whose answers are read off by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from coinseason.services.dominance_basis import dominance_basis, is_whole_market
from coinseason.services.glance import glance_of

LAST = dt.date(2025, 7, 19)


def series(values: dict[dt.date, float | None]) -> pl.DataFrame:
    days = sorted(values)
    return pl.DataFrame({"date": days, "v": [values[d] for d in days]}, schema={"date": pl.Date, "v": pl.Float64})


def days_before(n: int) -> dt.date:
    return LAST - dt.timedelta(days=n)


def test_changes_are_against_the_same_calendar_day_before() -> None:
    # a flat 40 for 400 days, with hand-placed values on the days compared with
    values: dict[dt.date, float | None] = {days_before(n): 40.0 for n in range(400)}
    values[LAST] = 52.5
    values[days_before(1)] = 50.0
    values[days_before(7)] = 60.25
    values[days_before(30)] = None  # no value that day: no change, not the day before's
    g = glance_of(series(values), "v", LAST)
    assert g.value == 52.5
    assert [(c.days, c.date, c.value, c.change) for c in g.changes] == [
        (1, dt.date(2025, 7, 18), 50.0, 2.5),
        (7, dt.date(2025, 7, 12), 60.25, -7.75),
        (30, dt.date(2025, 6, 19), None, None),
    ]


def test_a_missing_row_is_no_value_and_so_is_a_missing_current_value() -> None:
    values: dict[dt.date, float | None] = {days_before(n): 10.0 for n in (0, 2, 30)}
    g = glance_of(series(values), "v", LAST)
    assert [c.change for c in g.changes] == [None, None, 0.0]  # 1 and 7 days before have no row
    empty_now = glance_of(series({days_before(1): 3.0}), "v", LAST)
    assert empty_now.value is None and empty_now.changes[0].value == 3.0 and empty_now.changes[0].change is None


def test_the_52_week_range_holds_the_day_and_the_364_days_before_it() -> None:
    values: dict[dt.date, float | None] = {days_before(n): 50.0 for n in range(500)}
    values[days_before(364)] = 90.0  # the first day of the range (2024-07-20): counts
    values[days_before(365)] = 99.0  # one day earlier: outside
    values[days_before(100)] = 5.0
    values[days_before(20)] = 5.0  # the low twice: the most recent day is named
    values[days_before(400)] = 1.0  # outside
    g = glance_of(series(values), "v", LAST)
    assert g.since == dt.date(2024, 7, 20)
    assert (g.high, g.high_date) == (90.0, dt.date(2024, 7, 20))
    assert (g.low, g.low_date) == (5.0, dt.date(2025, 6, 29))


def test_a_history_shorter_than_a_year_and_one_without_values() -> None:
    g = glance_of(series({days_before(2): 7.0, LAST: 3.0}), "v", LAST)
    assert (g.high, g.high_date, g.low, g.low_date) == (7.0, days_before(2), 3.0, LAST)
    none = glance_of(series({LAST: None}), "v", LAST)
    assert (none.value, none.high, none.low, none.high_date) == (None, None, None, None)


@pytest.mark.parametrize(
    ("universe", "classes", "words", "whole"),
    [
        ("all", (), "whole market: every coin of the source, nothing excluded", True),
        ("top:125", (), "the top 125 coins by market cap each day, nothing excluded", False),
        (
            "all",
            ("stablecoin", "wrapped", "liquid_staking", "tokenized_asset"),
            "every coin of the source except stablecoins, wrapped and bridged tokens, liquid staking tokens and "
            "tokenized assets",
            False,
        ),
        ("top:50", ("stablecoin",), "the top 50 coins by market cap each day except stablecoins", False),
    ],
)
def test_every_dominance_figure_is_named(universe: str, classes: tuple[str, ...], words: str, whole: bool) -> None:
    assert dominance_basis(universe, classes) == words
    assert is_whole_market(universe, classes) is whole
