"""Live quality gates on hand-made series: each rule, its reason counted, and what is kept out of the indices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from coinseason.data.gates import (
    FLAG_PENDING,
    FLAG_SOURCE_DEVIATION,
    FLAG_SUPPLY_JUMP,
    REASON_ABOVE_MARKET,
    REASON_FIRST_DAY,
    REASON_MCAP_DEVIATION,
    REASON_PENDING,
    REASON_PRICE_DEVIATION,
    REASON_PRICE_DISPUTED,
    REASON_PRICE_SPIKE,
    REASON_PROVIDER_GLITCH,
    REASON_SPIKE,
    REASON_STALE,
    REASON_SUPPLY_JUMP,
    GateConfig,
    cross_check,
    gate_observations,
    jump_mask,
    lead_mask,
    median_deviation,
    reject_above_market,
    reject_stale,
    spike_mask,
)
from coinseason.data.quality import REASON_BAD_MCAP, REASON_BAD_PRICE, REASON_BAD_VOLUME
from coinseason.data.tidy import FLAG_MCAP_SPIKE, FLAG_PROVIDER_GLITCH, conform_observations
from tests.conftest import COINGECKO_DAILY, shared_file

DAY0 = dt.date(2024, 3, 1)
TODAY = dt.date(2024, 3, 31)
CONFIG = GateConfig(spike_factor=10.0, supply_factor=5.0)


def series(coin: str, caps: list[float], *, prices: list[float] | None = None, start: dt.date = DAY0) -> pl.DataFrame:
    prices = prices or [2.0] * len(caps)
    return conform_observations(
        pl.DataFrame(
            {
                "source": "s",
                "coin_id": coin,
                "date": [start + dt.timedelta(days=i) for i in range(len(caps))],
                "price": prices,
                "market_cap": caps,
            }
        )
    )


def flags_of(frame: pl.DataFrame) -> list[int]:
    return frame.sort("coin_id", "date")["flags"].to_list()


# -- arrays -----------------------------------------------------------------------------------------------------


def test_spike_mask_over_or_under_k_times_both_neighbours() -> None:
    assert spike_mask(np.array([1.0, 1, 1000, 1, 1]), factor=10).tolist() == [False, False, True, False, False]
    assert spike_mask(np.array([1.0, 1, 0.001, 1]), factor=10).tolist() == [False, False, True, False]
    assert spike_mask(np.array([1.0, 11, 1]), factor=10).tolist() == [False, True, False]
    assert spike_mask(np.array([1.0, 10, 1]), factor=10).tolist() == [False, False, False]  # not over 10x
    assert spike_mask(np.array([1.0, 11, 2]), factor=10).tolist() == [False, False, False]  # only one side
    assert spike_mask(np.array([np.nan, 1000, 1]), factor=10).tolist() == [False, False, False]


def test_spike_mask_last_day_is_pending_when_over_k_times_the_day_before() -> None:
    assert spike_mask(np.array([1.0, 1, 20]), factor=10).tolist() == [False, False, True]
    assert spike_mask(np.array([1.0, 1, 20]), factor=10, pending_last=False).tolist() == [False, False, False]
    assert spike_mask(np.array([1.0, 1, 0.01]), factor=10).tolist() == [False, False, False]  # falls are not held
    assert spike_mask(np.array([5.0]), factor=10).tolist() == [False]


def test_jump_mask_compares_with_the_last_day_not_skipped() -> None:
    assert jump_mask(np.array([10.0, 10, 60, 60]), np.zeros(4, bool), factor=5).tolist() == [False, False, True, False]
    assert jump_mask(np.array([10.0, 10, 1.9]), np.zeros(3, bool), factor=5).tolist() == [False, False, True]
    skip = np.array([False, True, False])
    assert jump_mask(np.array([10.0, 1000, 10]), skip, factor=5).tolist() == [False, True, False]
    assert jump_mask(np.array([np.nan, 10, 100]), np.zeros(3, bool), factor=5).tolist() == [False, False, True]


def test_median_deviation_of_each_source() -> None:
    got = median_deviation(np.array([[100.0, 100.0, 110.0], [50.0, np.nan, 100.0], [7.0, np.nan, np.nan]]))
    assert got[0].tolist() == pytest.approx([0.0, 0.0, 0.1])
    assert got[1, 0] == pytest.approx(1 / 3)  # median of 50 and 100 is 75: |50 - 75| / 75
    assert np.isnan(got[2]).all()  # one source alone: nothing to compare with


# -- frames -------------------------------------------------------------------------------------------------------


def test_invalid_rows_are_rejected_and_counted_by_reason() -> None:
    frame = series("a", [10.0, 10.0, 10.0, 10.0], prices=[2.0, 0.0, 2.0, float("nan")]).with_columns(
        pl.Series("volume", [1.0, 1.0, -5.0, 1.0])
    )
    frame = pl.concat([frame, series("b", [float("nan")])])
    report = gate_observations(frame, today=TODAY, config=CONFIG)
    assert report.rejections == {REASON_BAD_PRICE: 2, REASON_BAD_VOLUME: 1, REASON_BAD_MCAP: 1}
    assert report.good["date"].to_list() == [DAY0]
    assert report.rejected == 4


def test_a_one_day_spike_is_flagged_and_kept_out_of_the_indices() -> None:
    report = gate_observations(series("a", [10.0, 10.0, 10_000.0, 10.0, 10.0]), today=TODAY, config=CONFIG)
    assert flags_of(report.good) == [0, 0, FLAG_MCAP_SPIKE, 0, 0]
    assert report.flagged == {REASON_SPIKE: 1}
    assert report.rejections == {}


def test_the_newest_day_over_k_times_is_pending_and_judged_again_with_the_next() -> None:
    first = gate_observations(series("a", [10.0, 10.0, 10_000.0]), today=TODAY, config=CONFIG)
    assert flags_of(first.good) == [0, 0, FLAG_MCAP_SPIKE | FLAG_PENDING]
    assert first.flagged == {REASON_PENDING: 1}
    # the next day falls back: the stored pending day comes back as a confirmed spike
    back = series("a", [10.0], start=DAY0 + dt.timedelta(days=3))
    second = gate_observations(back, today=TODAY, config=CONFIG, stored=first.good)
    assert second.good.select("date", "flags").rows() == [
        (DAY0 + dt.timedelta(days=2), FLAG_MCAP_SPIKE),
        (DAY0 + dt.timedelta(days=3), 0),
    ]
    # or it holds, with the price: a real move, the flag is lifted
    held = series("a", [10_000.0], prices=[2000.0], start=DAY0 + dt.timedelta(days=3))
    first_real = gate_observations(
        series("a", [10.0, 10.0, 10_000.0], prices=[2.0, 2.0, 2000.0]), today=TODAY, config=CONFIG
    )
    third = gate_observations(held, today=TODAY, config=CONFIG, stored=first_real.good)
    assert third.good.select("date", "flags").rows() == [
        (DAY0 + dt.timedelta(days=2), 0),
        (DAY0 + dt.timedelta(days=3), 0),
    ]


def test_stored_days_away_from_the_new_ones_keep_their_flags() -> None:
    stored = gate_observations(series("a", [10.0, 10_000.0, 10.0, 10.0, 10.0]), today=TODAY, config=CONFIG).good
    later = series("a", [10.0], start=DAY0 + dt.timedelta(days=5))
    # only days 2..4 are given as neighbours: the spike on day 1 has lost its left neighbour but stays flagged
    report = gate_observations(
        later, today=TODAY, config=CONFIG, stored=stored.filter(pl.col("date") >= DAY0 + dt.timedelta(days=1))
    )
    assert report.good.select("date", "flags").rows() == [(DAY0 + dt.timedelta(days=5), 0)]
    assert report.flagged == {}


def test_a_supply_jump_is_flagged_once_and_the_new_level_then_stands() -> None:
    # price flat, market cap (so supply) x8 from day 2 on: a jump on day 2 only
    report = gate_observations(series("a", [10.0, 10.0, 80.0, 80.0, 80.0]), today=TODAY, config=CONFIG)
    assert flags_of(report.good) == [0, 0, FLAG_MCAP_SPIKE | FLAG_SUPPLY_JUMP, 0, 0]
    assert report.flagged == {REASON_SUPPLY_JUMP: 1}
    given = series("b", [10.0, 10.0, 10.0]).with_columns(pl.Series("circulating_supply", [5.0, 5.0, 50.0]))
    assert flags_of(gate_observations(given, today=TODAY, config=CONFIG).good) == [0, 0, 3]


def test_stale_snapshot_rows_are_rejected() -> None:
    now = dt.datetime(2024, 3, 2, 0, 5, tzinfo=dt.UTC)
    rows = pl.DataFrame(
        {
            "coin_id": ["a", "b", "c"],
            "last_updated": [now - dt.timedelta(minutes=5), now - dt.timedelta(hours=2), None],
        }
    )
    kept, counts = reject_stale(rows, observed_at=now, heartbeat=dt.timedelta(hours=1))
    assert kept["coin_id"].to_list() == ["a", "c"]
    assert counts == {REASON_STALE: 1}


def test_cross_check_rejects_off_prices_flags_off_caps_and_skips_ambiguous_keys() -> None:
    primary = pl.DataFrame(
        {
            "_key": ["btc", "eth", "sol", "dup"],
            "price": [100.0, 150.0, 10.0, 1.0],
            "market_cap": [1000.0, 500.0, 300.0, 9.0],
        }
    )
    ref1 = pl.DataFrame(
        {
            "_key": ["btc", "eth", "sol", "dup", "dup"],
            "price": [101.0, 100.0, 10.0, 5.0, 6.0],
            "market_cap": [1000.0, 500.0, 100.0, 1.0, 2.0],
        }
    )
    ref2 = pl.DataFrame({"_key": ["btc", "eth"], "price": [99.0, 100.0], "market_cap": [1001.0, 500.0]})
    kept, rejections, flagged = cross_check(primary, [ref1, ref2], key="_key", threshold=0.05)
    twice = pl.concat([primary, pl.DataFrame({"_key": ["btc"], "price": [3.0], "market_cap": [3.0]})])
    assert cross_check(twice, [ref1, ref2], key="_key", threshold=0.05)[1] == {REASON_PRICE_DEVIATION: 1}  # eth
    assert kept["_key"].to_list() == ["btc", "sol", "dup"]  # eth's price is 50 % over the others
    assert rejections == {REASON_PRICE_DEVIATION: 1}
    assert flagged == {REASON_MCAP_DEVIATION: 1}  # sol: 300 against 100 (median of two: 200, off by 50 %)
    assert kept["flags"].to_list() == [0, FLAG_SOURCE_DEVIATION | FLAG_MCAP_SPIKE, 0]  # dup is not matched


def test_gate_config_refuses_meaningless_factors() -> None:
    with pytest.raises(ValueError, match="factors"):
        GateConfig(spike_factor=1.0)


def test_upward_spikes_at_k5_are_exactly_the_rows_the_coingecko_set_flags() -> None:
    """The shared CoinGecko set flags ``mcap_spike`` where a market cap is over 5x both neighbours (97 rows): the
    gate, with K = 5, finds the same rows among its upward spikes (its other flags are one-day dips)."""
    path = shared_file(COINGECKO_DAILY)
    raw = pl.read_parquet(path, columns=["coin_id", "date", "market_cap_usd", "mcap_spike"]).sort("coin_id", "date")
    caps = raw["market_cap_usd"].cast(pl.Float64).to_numpy()
    ids = raw["coin_id"].to_numpy()
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    up = np.zeros(caps.size, dtype=bool)
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, caps.size], strict=True):
        v = caps[start:stop]
        rising = np.zeros(v.size, dtype=bool)
        rising[1:] = v[1:] > v[:-1]
        up[start:stop] = spike_mask(v, factor=5.0, pending_last=False) & rising
    flagged = raw["mcap_spike"].to_numpy()
    assert int(flagged.sum()) == 97
    assert np.array_equal(up, flagged)


def test_two_sources_that_disagree_flag_the_row_and_delete_nothing() -> None:
    primary = pl.DataFrame({"_key": ["xrp"], "price": [100.0], "market_cap": [1e9]})
    other = pl.DataFrame({"_key": ["xrp"], "price": [111.0], "market_cap": [1e9]})
    kept, rejections, flagged = cross_check(primary, [other], key="_key", threshold=0.05)
    # the median of two is their midpoint, 105.5: each is 5.2 % off it, and nothing says which one is wrong
    assert kept.height == 1
    assert rejections == {}
    assert flagged == {REASON_PRICE_DISPUTED: 1}
    assert kept["flags"][0] & FLAG_MCAP_SPIKE  # out of the indices: price and market cap
    third = pl.DataFrame({"_key": ["xrp"], "price": [110.0], "market_cap": [1e9]})
    kept, rejections, flagged = cross_check(primary, [other, third], key="_key", threshold=0.05)
    assert kept.height == 0  # three sources: the median is 110, the primary is the outlier (9.1 % off)
    assert rejections == {REASON_PRICE_DEVIATION: 1}


def test_a_one_day_price_spike_is_flagged_even_with_a_steady_market_cap() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(5)]
    frame = pl.DataFrame(
        {
            "source": "coingecko",
            "coin_id": "fast",
            "date": days,
            "price": [10.0, 11.0, 12_000.0, 13.0, 14.0],
            "market_cap": [1e9, 1.1e9, 1.2e9, 1.3e9, 1.4e9],
            "circulating_supply": [1e8] * 5,
        }
    )
    report = gate_observations(frame, today=days[-1], config=GateConfig())
    flags = report.good.sort("date")["flags"].to_list()
    assert [bool(f & FLAG_MCAP_SPIKE) for f in flags] == [False, False, True, False, False]
    assert report.flagged == {REASON_PRICE_SPIKE: 1}


def test_lead_mask_flags_a_first_day_off_the_next_unless_the_next_is_a_spike() -> None:
    none = np.zeros(4, dtype=bool)
    assert lead_mask(np.array([1000.0, 10, 10, 10]), none, factor=10).tolist() == [True, False, False, False]
    assert lead_mask(np.array([0.5, 10, 10]), none[:3], factor=10).tolist() == [True, False, False]
    assert lead_mask(np.array([100.0, 10, 10]), none[:3], factor=10).tolist() == [False, False, False]  # not over
    spiked = np.array([False, True, False, False])
    assert lead_mask(np.array([10.0, 1000, 10, 10]), spiked, factor=10).tolist() == [False] * 4
    assert lead_mask(np.array([5.0]), none[:1], factor=10).tolist() == [False]


def test_a_first_day_off_the_rest_is_flagged_with_its_reason() -> None:
    report = gate_observations(series("a", [10_000.0, 10.0, 10.0, 10.0]), today=TODAY, config=CONFIG)
    assert flags_of(report.good) == [FLAG_MCAP_SPIKE, 0, 0, 0]
    assert report.flagged == {REASON_FIRST_DAY: 1}
    # a spike on the second day is the spike, not the first day
    report = gate_observations(series("a", [10.0, 10_000.0, 10.0, 10.0]), today=TODAY, config=CONFIG)
    assert flags_of(report.good) == [0, FLAG_MCAP_SPIKE, 0, 0]
    assert report.flagged == {REASON_SPIKE: 1}


def test_a_day_the_provider_marked_stays_out_whatever_the_gates_find() -> None:
    marked = series("a", [10.0, 30.0, 10.0]).with_columns(
        pl.Series("flags", [0, FLAG_MCAP_SPIKE | FLAG_PROVIDER_GLITCH, 0], dtype=pl.Int16)
    )
    report = gate_observations(marked, today=TODAY, config=CONFIG)  # 3x is no spike for K = 10
    assert flags_of(report.good) == [0, FLAG_MCAP_SPIKE | FLAG_PROVIDER_GLITCH, 0]
    assert report.flagged == {REASON_PROVIDER_GLITCH: 1}


def test_stored_rows_are_the_market_new_rows_are_judged_by() -> None:
    day1 = DAY0 + dt.timedelta(days=1)
    stored = pl.concat([series(f"c{n}", [1e9], start=DAY0) for n in range(10)])
    new = series("c0", [4e10], start=day1)
    frame = pl.concat(
        [new.with_columns(pl.lit(value=True).alias("_new")), stored.with_columns(pl.lit(value=False).alias("_new"))]
    )
    kept, counts = reject_above_market(frame)
    assert counts == {REASON_ABOVE_MARKET: 1}  # 4e10 over 3x the whole market of the day before (1e10)
    assert kept.height == 10
    kept, counts = reject_above_market(frame, min_coins=11)
    assert counts == {} and kept.height == 11  # ten coins are no market at 11
