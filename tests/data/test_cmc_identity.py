"""Coin identities for symbol-only CMC snapshots: hand-made cases, invariants, and the real 2013-2024 file."""

from __future__ import annotations

import datetime
import math
import random
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinseason.data.cmc_identity import TrackSeed, resolve_cmc_identities
from coinseason.errors import DataError
from tests.support.requirements import shared_file

DAY0 = datetime.date(2021, 1, 1)
CMC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cmc"
CMC_FILE = CMC_DIR / "cmc_daily_top200_2013-04-28_2024-12-11.parquet"

Row = tuple[int, str, float, float, int]  # (day offset, symbol, price, supply, rank)


def frame(rows: list[Row], *, pct: list[float | None] | None = None) -> pl.DataFrame:
    """Input rows; market cap = price × supply; ``pct``: an optional 24 h change column."""
    data: dict[str, list[object]] = {
        "date": [DAY0 + datetime.timedelta(days=d) for d, *_ in rows],
        "rank": [r for *_, r in rows],
        "symbol": [s for _, s, *_ in rows],
        "price": [p for _, _, p, _, _ in rows],
        "market_cap": [p * q for _, _, p, q, _ in rows],
        "circulating_supply": [q for _, _, _, q, _ in rows],
    }
    schema = {
        "date": pl.Date,
        "rank": pl.Int32,
        "symbol": pl.String,
        "price": pl.Float64,
        "market_cap": pl.Float64,
        "circulating_supply": pl.Float64,
    }
    if pct is not None:
        data["pct_change_24h"] = list(pct)
        schema["pct_change_24h"] = pl.Float64
    return pl.DataFrame(data, schema=schema)


def series(symbol: str, days: range, price: float, supply: float, rank: int = 10) -> list[Row]:
    """A coin seen on ``days``, its price wobbling by ±3 %."""
    return [(d, symbol, price * (1.03 if d % 2 else 0.97), supply, rank) for d in days]


def ids_by_day(out: pl.DataFrame, symbol: str) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for row in out.filter(pl.col("symbol") == symbol).iter_rows(named=True):
        result.setdefault((row["date"] - DAY0).days, []).append(row["coin_id"])
    return result


def coin_of(out: pl.DataFrame, day: int, symbol: str) -> str:
    [coin] = out.filter((pl.col("date") == DAY0 + datetime.timedelta(days=day)) & (pl.col("symbol") == symbol))[
        "coin_id"
    ].to_list()
    return str(coin)


def coin_of_rank(out: pl.DataFrame, day: int, rank: int) -> str:
    [coin] = out.filter((pl.col("date") == DAY0 + datetime.timedelta(days=day)) & (pl.col("rank") == rank))[
        "coin_id"
    ].to_list()
    return str(coin)


def step_violations(out: pl.DataFrame) -> pl.DataFrame:
    """Consecutive rows of one coin_id that break the documented guarantee (re-derived here on purpose)."""
    price = pl.col("price").cast(pl.Float64)
    cap = pl.col("market_cap").cast(pl.Float64)
    supply = pl.col("circulating_supply").cast(pl.Float64)
    price = pl.when(price > 0).then(price).otherwise(cap / supply)
    supply = pl.when(supply > 0).then(supply).otherwise(cap / price)
    pct = pl.col("pct_change_24h") if "pct_change_24h" in out.columns else pl.lit(None, dtype=pl.Float64)
    steps = (
        out.drop_nulls("coin_id")
        .with_columns(lp=price.log(), ls=pl.when(supply > 0).then(supply.log()), lc=(1 + pct / 100).log())
        .sort("coin_id", "date")
        .with_columns(
            gap=(pl.col("date") - pl.col("date").shift().over("coin_id")).dt.total_days(),
            dlp=pl.col("lp") - pl.col("lp").shift().over("coin_id"),
            ds=(pl.col("ls") - pl.col("ls").shift().over("coin_id")).abs(),
            renamed=pl.col("symbol").str.to_uppercase() != pl.col("symbol").str.to_uppercase().shift().over("coin_id"),
        )
        .drop_nulls("gap")
    )
    dp = pl.col("dlp").abs()
    gap = pl.col("gap")
    known = pl.col("ds").is_not_null() & pl.col("ds").is_not_nan()
    confirmed = (gap == 1) & ((pl.col("lc") - pl.col("dlp")).abs() <= 0.1).fill_null(False)
    short_ok = ~(known & (dp > math.log(3)) & (pl.col("ds") > math.log(3)))
    long_ok = known & (pl.col("ds") <= math.log(1.25))
    supply_ok = pl.when(gap <= 7).then(short_ok).otherwise(long_ok)
    step_ok = (gap >= 1) & (gap <= 730) & (confirmed | ((dp <= math.log(20)) & supply_ok))
    rename_ok = (gap <= 2) & (dp <= math.log(1.1)) & (pl.col("ds") <= math.log(1.0005)).fill_null(False)
    return steps.filter(~step_ok | (pl.col("renamed") & ~rename_ok))


# ---------------------------------------------------------------- hand-made cases


def test_same_symbol_collision_keeps_two_stable_ids() -> None:
    rows = series("BITS", range(10), 1.0, 4e6, rank=60) + series("BITS", range(10), 0.05, 1.6e7, rank=120)
    out = resolve_cmc_identities(frame(rows))
    by_day = ids_by_day(out, "BITS")
    assert all(len(set(ids)) == 2 for ids in by_day.values())
    dear = out.filter(pl.col("price") > 0.5)["coin_id"].unique().to_list()
    cheap = out.filter(pl.col("price") < 0.5)["coin_id"].unique().to_list()
    assert dear == ["bits@2021-01-01"]
    assert cheap == ["bits@2021-01-01~2"]


def test_collision_rows_follow_their_coin_when_rank_order_flips() -> None:
    rows = [(d, "DTC", p, 1.7e6, 83 if d < 3 else 100) for d, _, p, _, _ in series("DTC", range(6), 0.013, 0)]
    rows += [(d, "DTC", p, 1.12e6, 84 if d < 3 else 95) for d, _, p, _, _ in series("DTC", range(6), 0.0192, 0)]
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].n_unique() == 2
    for coin in out["coin_id"].unique():
        assert out.filter(pl.col("coin_id") == coin)["circulating_supply"].n_unique() == 1


def test_collision_coins_whose_prices_cross_are_kept_apart_by_supply() -> None:
    rows = [(0, "GLC", 1.0, 1e6, 20), (0, "GLC", 1.3, 5e6, 21), (1, "GLC", 1.25, 1e6, 20), (1, "GLC", 1.05, 5e6, 21)]
    out = resolve_cmc_identities(frame(rows))
    for coin in out["coin_id"].unique():
        assert out.filter(pl.col("coin_id") == coin)["circulating_supply"].n_unique() == 1


def test_collision_does_not_push_a_row_onto_the_other_coins_track() -> None:
    """Cheapest pair first: the row that fits X stays on X, the one that fits nothing else starts a track."""
    rows = [(0, "ONE", 1.0, 1e6, 20), (0, "ONE", 1.2, 5e6, 21), (1, "ONE", 1.01, 1e6, 20), (1, "ONE", 0.5, 1e6, 22)]
    out = resolve_cmc_identities(frame(rows))
    assert coin_of_rank(out, 1, 20) == coin_of_rank(out, 0, 20)
    assert coin_of_rank(out, 1, 22) not in {coin_of_rank(out, 0, 20), coin_of_rank(out, 0, 21)}


def test_symbol_reused_with_thousandfold_price_gets_new_id() -> None:
    rows = series("ARB", range(5), 0.002, 5e6) + series("ARB", range(40, 45), 2.0, 5e6)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 0, "ARB") == "arb@2021-01-01"
    assert coin_of(out, 40, "ARB") == "arb@2021-02-10"
    assert coin_of(out, 44, "ARB") == "arb@2021-02-10"


def test_rename_with_same_price_and_supply_keeps_id() -> None:
    rows = series("MIOTA", range(5), 0.15, 2.7795e9, rank=75) + series("IOTA", range(5, 9), 0.15, 2.7795e9, rank=74)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].unique().to_list() == ["miota@2021-01-01"]


def test_redenomination_like_rename_gets_new_id() -> None:
    rows = series("VEN", range(5), 1.6, 5.5e8, rank=19) + series("VET", range(5, 9), 0.016, 5.5e10, rank=20)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 4, "VEN") == "ven@2021-01-01"
    assert coin_of(out, 5, "VET") == "vet@2021-01-06"


def test_rename_is_not_linked_when_two_new_symbols_fit() -> None:
    old = series("AAA", range(5), 1.0, 1e8, rank=50)
    new = series("BBB", range(5, 8), 1.0, 1e8, rank=50) + series("CCC", range(5, 8), 1.0, 1e8, rank=51)
    out = resolve_cmc_identities(frame(old + new))
    assert out["coin_id"].n_unique() == 3


def test_rename_is_not_linked_when_old_symbol_comes_back() -> None:
    rows = series("AAA", range(5), 1.0, 1e8) + series("BBB", range(5, 8), 1.0, 1e8) + series("AAA", [9], 1.0, 1e8)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 5, "BBB") == "bbb@2021-01-06"
    assert coin_of(out, 9, "AAA") == "aaa@2021-01-01"


@pytest.mark.parametrize(
    ("new", "why"),
    [
        (series("BBB", range(5, 8), 1.2, 1e8, rank=50), "price 20 % off"),
        (series("BBB", range(5, 8), 1.0, 1.01e8, rank=50), "supply 1 % off"),
        (series("BBB", range(5, 8), 1.0, 1e8, rank=75), "rank 25 places off"),
        (series("BBB", range(8, 11), 1.0, 1e8, rank=50), "three days later"),
        ([(-100, "BBB", 50.0, 1e6, 150), *series("BBB", range(5, 8), 1.0, 1e8, rank=50)], "BBB seen 105 days before"),
    ],
)
def test_rename_needs_a_close_match_and_a_new_symbol(new: list[Row], why: str) -> None:
    out = resolve_cmc_identities(frame(series("AAA", range(5), 1.0, 1e8, rank=50) + new))
    assert coin_of(out, 4, "AAA") != coin_of(out, new[-1][0], "BBB"), why


def test_rename_is_not_linked_to_a_symbol_a_seed_holds() -> None:
    rows = series("AAA", range(5), 1.0, 1e8, rank=50) + series("BBB", range(5, 8), 1.0, 1e8, rank=50)
    out = resolve_cmc_identities(frame(rows), [seed("bbb@2019-01-01", "BBB", -300, 50.0, 1e6)])
    assert coin_of(out, 4, "AAA") != coin_of(out, 5, "BBB")


def test_return_after_sixty_days_with_similar_price_keeps_id() -> None:
    rows = series("XEM", range(5), 0.037, 9e9) + series("XEM", range(65, 70), 0.045, 9e9)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].unique().to_list() == ["xem@2021-01-01"]


def test_return_after_sixty_days_with_other_supply_gets_new_id() -> None:
    rows = series("CVC", range(5), 0.06, 3.4e8) + series("CVC", range(65, 70), 0.05, 6.7e8)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].n_unique() == 2


def test_return_after_more_than_two_years_gets_new_id() -> None:
    rows = series("TIME", range(3), 22.0, 710_113) + series("TIME", range(3 + 731, 3 + 734), 22.0, 710_113)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].n_unique() == 2


def test_glitch_day_is_its_own_id_and_the_coin_resumes() -> None:
    rows = series("VOLT", range(10), 0.0001, 3e9)
    rows[5] = (5, "VOLT", 0.44, 3e9, 2)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 5, "VOLT") == "volt@2021-01-06"
    assert {coin_of(out, d, "VOLT") for d in (0, 4, 6, 9)} == {"volt@2021-01-01"}


def test_crash_confirmed_by_own_24h_change_keeps_id() -> None:
    rows = [(0, "LUNA", 17.5, 3.8e8, 19), (1, "LUNA", 1.075, 1.46e9, 40), (2, "LUNA", 0.003559, 1.9e11, 69)]
    confirmed = resolve_cmc_identities(frame(rows, pct=[None, -93.86, -99.67]))
    assert confirmed["coin_id"].n_unique() == 1
    unconfirmed = resolve_cmc_identities(frame(rows))
    assert unconfirmed["coin_id"].n_unique() == 3


def test_redenomination_under_same_symbol_gets_new_id() -> None:
    rows = series("BTT", range(5), 0.0024, 9.9e11) + series("BTT", range(5, 9), 0.0000024, 9.9e14)
    out = resolve_cmc_identities(frame(rows, pct=[-3.0] * 9))
    assert coin_of(out, 4, "BTT") != coin_of(out, 5, "BTT")


def test_price_and_supply_both_tripled_next_day_gets_new_id() -> None:
    rows = series("PTS", range(3), 0.3, 1.7e6) + series("PTS", range(3, 6), 0.03, 1e9)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].n_unique() == 2


def test_price_move_with_a_supply_jump_next_day_gets_new_id() -> None:
    rows = series("FLDC", range(4), 1.0, 1e6) + series("FLDC", range(4, 7), 0.6, 5e6)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 3, "FLDC") != coin_of(out, 4, "FLDC")


def test_supply_correction_at_steady_price_keeps_id() -> None:
    rows = series("SOL", range(3), 2.0, 4.6e7) + series("SOL", range(3, 6), 2.1, 2.6e8)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].n_unique() == 1


def test_symbols_match_without_case() -> None:
    rows = (
        series("XAUt", range(3), 1930.0, 246_524)
        + series("XAUT", range(3, 6), 1930.0, 246_524)
        + series("XAUt", range(6, 9), 1930.0, 246_524)
    )
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].unique().to_list() == ["xaut@2021-01-01"]


def test_a_recent_track_is_not_left_for_an_old_one_that_fits_as_well() -> None:
    """A coin back near an old track's last price stays on the track seen yesterday (no flip-flop)."""
    rows = [(0, "INJ", 1.0, 7.5e7, 116)]  # an old track, 30x off the coin seen from day 40
    rows += [(40 + d, "INJ", 30.0 * math.exp(-0.17 * d), 7.5e7, 150) for d in range(21)]  # down to ~1.0
    rows += series("INJ", range(61, 80), 1.0, 7.5e7, rank=150)
    out = resolve_cmc_identities(frame(rows))
    assert coin_of(out, 0, "INJ") == "inj@2021-01-01"
    later = out.filter(pl.col("date") >= DAY0 + datetime.timedelta(days=40))
    assert later["coin_id"].unique().to_list() == ["inj@2021-02-10"]


def test_exact_supply_beats_a_closer_price_with_a_supply_jump() -> None:
    """VIP, April 2016: the row with the first coin's supply goes to that coin, not to the other's track."""
    x = [(0, "VIP", 2.6e-5, 1.2565e9, 139), (1, "VIP", 1.3e-5, 1.2565e9, 147), (6, "VIP", 1.4e-4, 1.2568e9, 183)]
    y = [(0, "VIP", 2.5e-4, 7.88e7, 143), (1, "VIP", 2.2e-4, 8.345e7, 145), (3, "VIP", 2.16e-4, 8.345e7, 157)]
    out = resolve_cmc_identities(frame(x + y))
    for coin in out["coin_id"].unique():
        supplies = out.filter(pl.col("coin_id") == coin)["circulating_supply"]
        assert supplies.max() / supplies.min() < 1.1


def test_any_row_order_gives_the_same_ids() -> None:
    rows = (
        series("BITS", range(20), 1.0, 4e6, rank=60)
        + series("BITS", range(3, 20), 0.05, 1.6e7, rank=120)
        + series("ARB", range(5), 0.002, 5e6)
        + series("ARB", range(12, 20), 2.0, 5e6)
        + series("GNT", range(10), 0.1, 1e9, rank=100)
        + series("GLM", range(10, 20), 0.1, 1e9, rank=100)
    )
    expected = resolve_cmc_identities(frame(rows))
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)
    assert resolve_cmc_identities(frame(shuffled)).equals(expected)
    assert resolve_cmc_identities(frame(rows[::-1])).equals(expected)


def test_output_keeps_rows_and_columns_sorted_by_date_and_rank() -> None:
    rows = series("AAA", range(3), 1.0, 1e6, rank=2) + series("BBB", range(3), 5.0, 1e6, rank=1)
    extra = frame(rows).with_columns(volume=pl.Series([float(i) for i in range(6)]))
    out = resolve_cmc_identities(extra.reverse())
    assert out.columns == [*extra.columns, "coin_id"]
    assert out.select("date", "rank").equals(out.select("date", "rank").sort("date", "rank"))
    assert out.drop("coin_id").sort("volume").equals(extra.sort("volume"))


def test_rows_without_symbol_or_price_get_null_id() -> None:
    rows = frame(series("AAA", range(4), 1.0, 1e6))
    holes = rows.with_columns(
        symbol=pl.when(pl.col("date") == DAY0).then(None).otherwise(pl.col("symbol")),
        price=pl.when(pl.col("date") == DAY0 + datetime.timedelta(days=1)).then(None).otherwise(pl.col("price")),
        market_cap=pl.when(pl.col("date") == DAY0 + datetime.timedelta(days=1))
        .then(None)
        .otherwise(pl.col("market_cap")),
    )
    out = resolve_cmc_identities(holes)
    assert out["coin_id"].to_list() == [None, None, "aaa@2021-01-03", "aaa@2021-01-03"]


def test_missing_price_is_taken_from_market_cap_and_supply() -> None:
    rows = frame(series("BABYDOGE", range(4), 1.5e-9, 1.44e17))
    out = resolve_cmc_identities(rows.with_columns(price=pl.lit(None, dtype=pl.Float64)))
    assert out["coin_id"].unique().to_list() == ["babydoge@2021-01-01"]


def test_empty_rows_give_an_empty_frame_with_coin_id() -> None:
    out = resolve_cmc_identities(frame([]), [TrackSeed("btc@2013-04-28", "BTC", DAY0, 1.0, None, None)])
    assert out.height == 0
    assert out.schema["coin_id"] == pl.String


def test_missing_column_is_refused() -> None:
    with pytest.raises(DataError, match="circulating_supply"):
        resolve_cmc_identities(frame(series("AAA", range(2), 1.0, 1.0)).drop("circulating_supply"))


# ---------------------------------------------------------------- seeds


def seed(coin_id: str, symbol: str, day: int, price: float, supply: float | None) -> TrackSeed:
    cap = None if supply is None else price * supply
    return TrackSeed(coin_id, symbol, DAY0 + datetime.timedelta(days=day), price, cap, supply)


def test_seeds_continue_their_ids() -> None:
    rows = series("BTC", range(1, 4), 30_000.0, 1.9e7) + series("ETH", range(1, 4), 2_000.0, 1.2e8)
    seeds = [seed("btc@2013-04-28", "BTC", 0, 29_500.0, 1.9e7), seed("eth@2015-08-07", "ETH", 0, 2_050.0, None)]
    out = resolve_cmc_identities(frame(rows), seeds)
    assert sorted(out["coin_id"].unique().to_list()) == ["btc@2013-04-28", "eth@2015-08-07"]


def test_seed_is_not_continued_by_an_inconsistent_row() -> None:
    rows = series("ARB", range(1, 4), 2.0, 5e6)
    out = resolve_cmc_identities(frame(rows), [seed("arb@2017-01-18", "ARB", 0, 0.002, 5e6)])
    assert out["coin_id"].unique().to_list() == ["arb@2021-01-02"]


def test_seeded_collision_continues_both_coins() -> None:
    rows = series("GLC", range(1, 4), 0.0021, 2.5e7, rank=23) + series("GLC", range(1, 4), 0.00048, 1.39e7, rank=38)
    seeds = [seed("glc@2013-06-14", "GLC", 0, 0.0021, 2.5e7), seed("glc@2013-08-04", "GLC", 0, 0.00048, 1.39e7)]
    out = resolve_cmc_identities(frame(rows), seeds)
    assert out.filter(pl.col("rank") == 23)["coin_id"].unique().to_list() == ["glc@2013-06-14"]
    assert out.filter(pl.col("rank") == 38)["coin_id"].unique().to_list() == ["glc@2013-08-04"]


def test_new_id_never_takes_a_seed_id() -> None:
    rows = series("AAA", range(2), 1000.0, 1e6)
    out = resolve_cmc_identities(frame(rows), [seed("aaa@2021-01-01", "AAA", -1, 1.0, 1e6)])
    assert out["coin_id"].unique().to_list() == ["aaa@2021-01-01~2"]


def test_split_file_with_seeds_gives_the_same_ids_as_one_file() -> None:
    rows = (
        series("BITS", range(20), 1.0, 4e6, rank=60)
        + series("BITS", range(3, 20), 0.05, 1.6e7, rank=120)
        + series("XEM", range(8), 0.037, 9e9)
        + series("XEM", range(15, 20), 0.04, 9e9)
    )
    whole = resolve_cmc_identities(frame(rows))
    first = whole.filter(pl.col("date") < DAY0 + datetime.timedelta(days=10))
    seeds = [
        TrackSeed(r["coin_id"], r["symbol"], r["date"], r["price"], r["market_cap"], r["circulating_supply"])
        for r in first.sort("date").group_by("coin_id", maintain_order=True).last().iter_rows(named=True)
    ]
    later = resolve_cmc_identities(frame([r for r in rows if r[0] >= 10]), seeds)
    assert later.equals(whole.filter(pl.col("date") >= DAY0 + datetime.timedelta(days=10)))


# ---------------------------------------------------------------- invariants on random data

coins = st.tuples(
    st.sampled_from(["AAA", "BBB", "CCC"]),
    st.integers(0, 60),  # first day
    st.integers(1, 25),  # days seen
    st.floats(-6, 3),  # log10 price
    st.sampled_from([1e6, 3e6, 1e8, 1e9]),
    st.floats(0.0, 0.6),  # daily volatility
    st.integers(1, 4),  # seen every k days
)


def random_rows(draw_coins: list[tuple[str, int, int, float, float, float, int]], seed_value: int) -> list[Row]:
    rng = random.Random(seed_value)
    rows: list[Row] = []
    taken: set[tuple[int, str, int]] = set()
    for symbol, start, length, log_price, supply, vol, every in draw_coins:
        price = 10.0**log_price
        for d in range(start, start + length * every, every):
            price *= math.exp(rng.gauss(0.0, vol))
            rank = rng.randint(1, 200)
            if (d, symbol, rank) not in taken:
                taken.add((d, symbol, rank))
                rows.append((d, symbol, price, supply * (1 + rng.random() / 50), rank))
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(coins, min_size=1, max_size=6), st.integers(0, 1000))
def test_random_rows_keep_the_guarantee_and_do_not_depend_on_order(draw: list, seed_value: int) -> None:
    rows = random_rows(draw, seed_value)
    out = resolve_cmc_identities(frame(rows))
    assert out["coin_id"].null_count() == 0
    assert out.select("date", "coin_id").is_unique().all()
    assert step_violations(out).height == 0
    shuffled = list(rows)
    random.Random(seed_value).shuffle(shuffled)
    assert resolve_cmc_identities(frame(shuffled)).equals(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=40), st.lists(st.integers(1, 12), min_size=40, max_size=40))
def test_vectorised_and_day_by_day_paths_agree(moves: list[float], gaps: list[int]) -> None:
    """A seed too old to continue sends the symbol down the day-by-day path; ids must not change."""
    rows: list[Row] = []
    day, log_price = 0, 0.0
    for move, gap in zip(moves, gaps, strict=False):
        log_price += move
        rows.append((day, "AAA", math.exp(log_price), 1e6, 5))
        day += gap
    fast = resolve_cmc_identities(frame(rows))
    slow = resolve_cmc_identities(frame(rows), [seed("old", "AAA", -1000, 1.0, 1e6)])
    assert slow.equals(fast)


# ---------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def cmc() -> pl.DataFrame:
    raw = pl.read_parquet(shared_file(CMC_FILE)).rename({"price_usd": "price", "market_cap_usd": "market_cap"})
    return resolve_cmc_identities(raw)


def ids_of(out: pl.DataFrame, symbol: str) -> list[str]:
    return out.filter(pl.col("symbol") == symbol)["coin_id"].unique().sort().to_list()


@pytest.mark.slow
def test_real_btc_and_eth_are_one_id_each(cmc: pl.DataFrame) -> None:
    assert ids_of(cmc, "BTC") == ["btc@2013-04-28"]
    assert ids_of(cmc, "ETH") == ["eth@2015-08-07"]
    btc = cmc.filter(pl.col("coin_id") == "btc@2013-04-28")
    assert btc.height == cmc.filter(pl.col("symbol") == "BTC").height
    assert btc["date"].max() == datetime.date(2024, 12, 11)


@pytest.mark.slow
def test_real_collisions_split_and_no_id_has_two_rows_a_day(cmc: pl.DataFrame) -> None:
    for symbol in ("BITS", "GLC"):
        assert len(ids_of(cmc, symbol)) >= 2
    assert cmc.drop_nulls("coin_id").select("date", "coin_id").is_unique().all()
    unnamed = cmc.filter(pl.col("coin_id").is_null())
    assert unnamed.height == unnamed["symbol"].null_count() == 12  # only the 12 empty snapshot days


@pytest.mark.slow
def test_real_day_to_day_moves_stay_within_bound_unless_confirmed(cmc: pl.DataFrame) -> None:
    steps = (
        cmc.drop_nulls("coin_id")
        .sort("coin_id", "date")
        .with_columns(
            gap=(pl.col("date") - pl.col("date").shift().over("coin_id")).dt.total_days(),
            move=(pl.col("price") / pl.col("price").shift().over("coin_id")).log(),
        )
        .filter(pl.col("gap") <= 3)
    )
    confirmed = (pl.col("gap") == 1) & (((1 + pl.col("pct_change_24h") / 100).log() - pl.col("move")).abs() <= 0.1)
    jumps = steps.filter((pl.col("move").abs() > math.log(20)) & ~confirmed.fill_null(False))
    assert jumps.height == 0, jumps.head(10)


@pytest.mark.slow
def test_real_ids_keep_the_full_guarantee(cmc: pl.DataFrame) -> None:
    bad = step_violations(cmc)
    assert bad.height == 0, bad.head(10)


@pytest.mark.slow
def test_real_renames(cmc: pl.DataFrame) -> None:
    assert ids_of(cmc, "IOTA") == ids_of(cmc, "MIOTA") == ["miota@2017-06-13"]
    assert set(ids_of(cmc, "VET")).isdisjoint(ids_of(cmc, "VEN"))  # 1:100 redenomination, not a rename
    luna_crash = cmc.filter(
        (pl.col("symbol") == "LUNA") & pl.col("date").is_between(datetime.date(2022, 5, 10), datetime.date(2022, 5, 12))
    )
    assert luna_crash["coin_id"].n_unique() == 1  # confirmed by CMC's own 24 h change
