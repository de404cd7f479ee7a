"""The in-memory engine: cached series, appending days, breakdown agreeing with the index."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from coinseason.core.engine import CoinClasses, RankDepths, SeasonEngine
from coinseason.core.universe import NEVER, NO_EXCLUSION, Exclusion

START = dt.date(2020, 1, 1)
GAP_DAYS = 3
"""A missing day takes the coin's last observation at most this many days earlier."""


def market(n_days: int = 120, n_coins: int = 40, seed: int = 3) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    price = np.exp(np.cumsum(rng.normal(0, 0.05, size=(n_days, n_coins)), axis=0))
    supply = rng.lognormal(10, 2, size=n_coins)
    mcap = price * supply
    listed = rng.integers(0, n_days // 2, size=n_coins)
    listed[[0, 3, 4]] = 0  # coins 3 and 4 carry the long gaps below
    for c, day in enumerate(listed):
        price[:day, c] = np.nan
        mcap[:day, c] = np.nan
    holes = rng.random((n_days, n_coins)) < 0.03
    if n_days >= 60:  # a gap the fill bridges (GAP_DAYS days) and one it does not (a day more)
        holes[40 : 40 + GAP_DAYS, 3] = True
        holes[50 : 51 + GAP_DAYS, 4] = True
    price[holes] = np.nan
    mcap[holes] = np.nan
    ids = ["bitcoin", *[f"coin{i}" for i in range(1, n_coins)]]
    return ids, price, mcap


STABLE: CoinClasses = {"coin2": ("stablecoin", None)}


def engine(
    ids: list[str],
    price: np.ndarray,
    mcap: np.ndarray,
    depths: RankDepths | None = None,
    classes: CoinClasses = STABLE,
) -> SeasonEngine:
    return SeasonEngine(
        start=START,
        coin_ids=ids,
        price=price.copy(),
        market_cap=mcap.copy(),
        btc_id="bitcoin",
        eth_id="coin1",
        classes=classes,
        gap_days=GAP_DAYS,
        **({"depths": depths} if depths else {}),
    )


Filled = list[list[float]]
"""day × coin values as plain floats (NaN: no value)."""


def filled_by_hand(ids: list[str], price: np.ndarray, mcap: np.ndarray) -> tuple[Filled, Filled]:
    """Price and market cap of every coin and day from the raw observations (the tidy rows a store holds: a
    coin's missing day has no row), each missing day taking the coin's last observation at most GAP_DAYS days
    earlier: the engine's gap fill, written out independently of it."""
    n_days = price.shape[0]
    rows = [
        (coin, day, float(price[day, c]), float(mcap[day, c]))
        for c, coin in enumerate(ids)
        for day in range(n_days)
        if np.isfinite(price[day, c])
    ]
    seen: dict[str, dict[int, tuple[float, float]]] = {coin: {} for coin in ids}
    for coin, day, p, m in rows:
        seen[coin][day] = (p, m)
    nan = float("nan")
    out_price = [[nan] * len(ids) for _ in range(n_days)]
    out_mcap = [[nan] * len(ids) for _ in range(n_days)]
    for c, coin in enumerate(ids):
        last_day, last = -1, (nan, nan)
        for day in range(n_days):
            if day in seen[coin]:
                last_day, last = day, seen[coin][day]
            if last_day >= 0 and day - last_day <= GAP_DAYS:
                out_price[day][c], out_mcap[day][c] = last
    return out_price, out_mcap


EXCLUDED_IDS = frozenset({"coin2", "coin5"})
EXCLUDED = Exclusion.always(EXCLUDED_IDS)


def test_appending_days_equals_computing_from_scratch() -> None:
    ids, price, mcap = market()
    held = 10
    full = engine(ids, price, mcap)
    grow = engine(ids, price[:-held], mcap[:-held])
    keys = [(10, 30, True), (5, 7, False), (20, 60, True)]
    for top, window, inside in keys:
        grow.season_index(EXCLUDED, top=top, window=window, btc_inside=inside)
    grow.dominance(EXCLUDED)
    grow.dominance(NO_EXCLUSION, top=8)
    for k in range(held):
        row = price.shape[0] - held + k
        present = np.isfinite(price[row])
        grow.append_day(
            START + dt.timedelta(days=row),
            [i for i, p in zip(ids, present, strict=True) if p],
            price[row][present],
            mcap[row][present],
        )
    assert grow.n_days == full.n_days
    for top, window, inside in keys:
        a = grow.season_index(EXCLUDED, top=top, window=window, btc_inside=inside)
        b = full.season_index(EXCLUDED, top=top, window=window, btc_inside=inside)
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.n_eligible, b.n_eligible)
    for excl, top in [(EXCLUDED, None), (NO_EXCLUSION, 8)]:
        np.testing.assert_allclose(grow.dominance(excl, top=top).btc, full.dominance(excl, top=top).btc)
        np.testing.assert_allclose(grow.dominance(excl, top=top).total, full.dominance(excl, top=top).total)


def test_append_refuses_a_wrong_day_or_unknown_coin() -> None:
    ids, price, mcap = market(n_days=20)
    eng = engine(ids, price, mcap)
    with pytest.raises(ValueError, match="next day to append is 2020-01-21"):
        eng.append_day(dt.date(2020, 1, 25), ["bitcoin"], np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="unknown coins"):
        eng.append_day(dt.date(2020, 1, 21), ["nope"], np.array([1.0]), np.array([1.0]))


def test_gap_fill_takes_the_last_observation_at_most_gap_days_back() -> None:
    ids, price, mcap = market()
    eng = engine(ids, price, mcap)
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    np.testing.assert_array_equal(eng.price, np.array(filled_price))
    np.testing.assert_array_equal(eng.market_cap, np.array(filled_mcap))
    assert np.isfinite(eng.price[40 : 40 + GAP_DAYS, 3]).all()  # bridged
    assert np.isnan(eng.price[50 + GAP_DAYS, 4])  # one day too far


@pytest.mark.parametrize("fill", [True, False])
def test_breakdown_agrees_with_the_index_every_day(fill: bool) -> None:
    ids, price, mcap = market()
    eng = engine(ids, price, mcap)
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    index = eng.season_index(EXCLUDED, top=15, window=20, fill=fill)
    for row in range(20, eng.n_days, 7):
        b = eng.breakdown(EXCLUDED, START + dt.timedelta(days=row), top=15, window=20, fill=fill)
        assert b.eligible.sum() == index.n_eligible[row]
        assert b.beats.sum() == index.n_outperforming[row]
        assert not set(eng.coin_ids[b.coins]) & EXCLUDED_IDS
        caps = filled_mcap[row]
        ranked = [c for c in range(len(ids)) if ids[c] not in EXCLUDED_IDS and caps[c] > 0]
        ranked.sort(key=lambda c: -caps[c])
        alts_with_history = [c for c in ranked if c != 0 and filled_price[row][c] > 0 and filled_price[row - 20][c] > 0]
        btc = [0] if 0 in ranked else []
        expected = btc + alts_with_history[: 15 - len(btc)] if fill else ranked[:15]
        assert sorted(b.coins.tolist()) == sorted(expected)
        assert (np.diff(b.rank[b.coins != 0]) > 0).all()  # BTC first, then the altcoins by rank


@pytest.mark.parametrize(("top", "window"), [(0, 10), (501, 10), (10, 0), (10, 731)])
def test_bounds(top: int, window: int) -> None:
    ids, price, mcap = market(n_days=20)
    with pytest.raises(ValueError, match="must be between"):
        engine(ids, price, mcap).season_index(EXCLUDED, top=top, window=window)


def test_day_outside_data() -> None:
    ids, price, mcap = market(n_days=20)
    with pytest.raises(ValueError, match="outside the data"):
        engine(ids, price, mcap).breakdown(EXCLUDED, dt.date(2019, 1, 1), top=5, window=3)


def naive_index(
    ids: list[str],
    price: Filled,
    mcap: Filled,
    excluded: frozenset[str] | dict[str, int],
    top: int,
    window: int,
    *,
    fill: bool,
) -> list[float]:
    """The Altcoin Season Index of every day from a plain sort of each day's hand-filled market caps (BTC is
    column 0); ``excluded``: coin ids left out on every day, or coin id → the first row it is left out."""
    first_out = dict.fromkeys(excluded, 0) if isinstance(excluded, frozenset) else excluded
    out = []
    for row in range(len(price)):
        caps = mcap[row]
        ranked = [c for c in range(len(ids)) if first_out.get(ids[c], NEVER) > row and caps[c] > 0]
        ranked.sort(key=lambda c: -caps[c])  # stable: ties in column order

        def ret(c: int, row: int = row) -> float:
            if row < window or not (price[row][c] > 0 and price[row - window][c] > 0):
                return np.nan
            return price[row][c] / price[row - window][c] - 1.0

        if fill:
            alts = [c for c in ranked if c != 0 and np.isfinite(ret(c))]
            alts = alts[: top - (0 in ranked)]
        else:
            alts = [c for c in ranked[:top] if c != 0 and np.isfinite(ret(c))]
        btc = ret(0)
        beating = sum(ret(c) > btc + 1e-12 * max(abs(btc), 1.0) for c in alts)
        out.append(100.0 * beating / len(alts) if alts and np.isfinite(btc) else np.nan)
    return out


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_young_coins_crowding_the_cached_ranks_are_passed_over(seed: int) -> None:
    """With a tiny cached depth and deep ranking, the fill rule reaches past both (the deep ranking's days are
    cached, the last block ranks every coin) and still gives the plain result."""
    ids, price, mcap = market(n_days=90, seed=seed)
    eng = engine(ids, price, mcap, RankDepths(cached=3, fill_margin=1, deep=12))
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    for top, window in [(4, 30), (8, 60), (2, 5), (15, 80)]:
        for fill in (True, False):
            got = eng.season_index(EXCLUDED, top=top, window=window, fill=fill).value
            expected = naive_index(ids, filled_price, filled_mcap, EXCLUDED_IDS, top, window, fill=fill)
            np.testing.assert_array_equal(got, expected)
    assert eng._deep[EXCLUDED][1].any()  # the deep ranking was used and kept


def test_series_do_not_depend_on_what_was_ranked_before() -> None:
    ids, price, mcap = market(n_days=80)
    fresh = engine(ids, price, mcap)
    used = engine(ids, price, mcap)
    used.order(EXCLUDED, 30)  # deeper than the default, and the coin-major prices rebuilt after it
    used.season_index(NO_EXCLUSION, top=5, window=10)
    for top, window in [(5, 10), (12, 40)]:
        for fill in (True, False):
            a = fresh.season_index(EXCLUDED, top=top, window=window, fill=fill)
            b = used.season_index(EXCLUDED, top=top, window=window, fill=fill)
            np.testing.assert_array_equal(a.value, b.value)
            np.testing.assert_array_equal(a.n_eligible, b.n_eligible)


def _append_rows(eng: SeasonEngine, ids: list[str], price: np.ndarray, mcap: np.ndarray, rows: range) -> None:
    for row in rows:
        present = np.isfinite(price[row])
        names = [i for i, p in zip(ids, present, strict=True) if p]
        eng.append_day(START + dt.timedelta(days=row), names, price[row][present], mcap[row][present])


def test_rewritten_last_days_taken_back_and_appended_equal_a_rebuild_and_leave_the_original_alone() -> None:
    ids, price, mcap = market()
    n = price.shape[0]
    rewritten_price, rewritten_mcap = price.copy(), mcap.copy()
    rewritten_price[n - 6 : n - 3] *= 1.5  # the last 3 loaded days as they were first written (intraday values)...
    rewritten_mcap[n - 6 : n - 3] *= 0.5
    rewritten_price[n - 5, 7] = np.nan  # ...one coin missing then, and one seen only then
    rewritten_mcap[n - 5, 7] = np.nan
    price[n - 4, 9] = mcap[n - 4, 9] = np.nan
    first = engine(ids, rewritten_price[: n - 3], rewritten_mcap[: n - 3])
    keys = [(10, 30, True, True), (5, 7, False, False), (20, 60, True, True)]
    for top, window, inside, fill in keys:
        first.season_index(EXCLUDED, top=top, window=window, btc_inside=inside, fill=fill)
    first.dominance(EXCLUDED)
    first.dominance(NO_EXCLUSION, top=8)
    before = first.season_index(EXCLUDED, top=10, window=30).value.copy()
    grown = first.copy()
    assert grown.rollback_days == 7
    grown.drop_last(3)
    _append_rows(grown, ids, price, mcap, range(n - 6, n))  # the 3 days as finally written, and 3 new ones
    rebuilt = engine(ids, price, mcap)
    assert grown.n_days == rebuilt.n_days == n
    for top, window, inside, fill in keys:
        a = grown.season_index(EXCLUDED, top=top, window=window, btc_inside=inside, fill=fill)
        b = rebuilt.season_index(EXCLUDED, top=top, window=window, btc_inside=inside, fill=fill)
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.n_eligible, b.n_eligible)
        np.testing.assert_array_equal(a.n_outperforming, b.n_outperforming)
    for excl, top in [(EXCLUDED, None), (NO_EXCLUSION, 8)]:
        # sums of a row alone and of the whole matrix may round differently in the last bit (as for append_day)
        np.testing.assert_allclose(grown.dominance(excl, top=top).total, rebuilt.dominance(excl, top=top).total)
        np.testing.assert_allclose(grown.dominance(excl, top=top).btc, rebuilt.dominance(excl, top=top).btc)
    np.testing.assert_array_equal(grown.price, rebuilt.price)
    day = START + dt.timedelta(days=n - 5)
    a_day, b_day = (
        grown.breakdown(EXCLUDED, day, top=10, window=30),
        rebuilt.breakdown(EXCLUDED, day, top=10, window=30),
    )
    np.testing.assert_array_equal(a_day.coins, b_day.coins)
    assert first.n_days == n - 3  # the engine copied from still answers as before
    np.testing.assert_array_equal(first.season_index(EXCLUDED, top=10, window=30).value, before)
    np.testing.assert_array_equal(first.price, engine(ids, rewritten_price[: n - 3], rewritten_mcap[: n - 3]).price)


def test_drop_last_refuses_more_days_than_it_kept() -> None:
    ids, price, mcap = market(n_days=20)
    eng = engine(ids, price, mcap)
    with pytest.raises(ValueError, match="can take back 0 to 7 days, not 8"):
        eng.drop_last(8)
    eng.drop_last(7)
    assert eng.n_days == 13 and eng.rollback_days == 0
    _append_rows(eng, ids, price, mcap, range(13, 15))
    assert eng.rollback_days == 2


# -- point-in-time exclusions: a coin is left out from the first day its class holds ------------------------

LATE = {"coin5": 60, "coin7": 75, "coin2": 0}
"""First row each coin holds its class (coin2: every day)."""
LATE_CLASSES: CoinClasses = {
    "coin5": ("wrapped", START + dt.timedelta(days=60)),
    "coin7": ("stablecoin", START + dt.timedelta(days=75)),
    "coin2": ("stablecoin", None),
}
BY_CLASS = Exclusion(classes=frozenset({"stablecoin", "wrapped"}))


def test_excluded_from_gives_each_coin_its_first_excluded_day() -> None:
    ids, price, mcap = market(n_days=90)
    eng = engine(ids, price, mcap, classes=LATE_CLASSES)
    col = {c: i for i, c in enumerate(ids)}
    until = eng.excluded_from(BY_CLASS)
    assert {c: int(until[col[c]]) for c in LATE} == LATE
    assert (np.delete(until, [col[c] for c in LATE]) == NEVER).all()
    wrapped_only = eng.excluded_from(Exclusion(classes=frozenset({"wrapped"}), add=frozenset({"coin9"})))
    assert (wrapped_only[col["coin5"]], wrapped_only[col["coin9"]], wrapped_only[col["coin7"]]) == (60, 0, NEVER)
    removed = eng.excluded_from(Exclusion(classes=BY_CLASS.classes, remove=frozenset({"coin5"})))
    assert removed[col["coin5"]] == NEVER and removed[col["coin7"]] == 75
    assert (eng.excluded_from(NO_EXCLUSION) == NEVER).all()


@pytest.mark.parametrize("depths", [None, RankDepths(cached=3, fill_margin=1, deep=12)])
def test_index_leaves_a_coin_out_only_from_the_day_its_class_holds(depths: RankDepths | None) -> None:
    ids, price, mcap = market(n_days=90, seed=4)
    eng = engine(ids, price, mcap, depths, classes=LATE_CLASSES)
    filled_price, filled_mcap = filled_by_hand(ids, price, mcap)
    for top, window in [(4, 30), (8, 20), (15, 40)]:
        for fill in (True, False):
            got = eng.season_index(BY_CLASS, top=top, window=window, fill=fill).value
            np.testing.assert_array_equal(
                got, naive_index(ids, filled_price, filled_mcap, LATE, top, window, fill=fill)
            )
    order = eng.order(BY_CLASS, len(ids))  # every coin ranked
    col = {c: i for i, c in enumerate(ids)}
    for coin, first in LATE.items():
        assert not (order[first:] == col[coin]).any()
    assert (order[:60] == col["coin5"]).any()  # ranked before its class held


def test_dominance_counts_a_coin_until_it_is_left_out_and_as_a_stablecoin_from_its_day() -> None:
    ids, price, mcap = market(n_days=90, seed=5)
    eng = engine(ids, price, mcap, classes=LATE_CLASSES)
    _, filled_mcap = filled_by_hand(ids, price, mcap)
    col = {c: i for i, c in enumerate(ids)}
    left_out = eng.dominance(BY_CLASS)
    kept = eng.dominance(NO_EXCLUSION)
    top = eng.dominance(NO_EXCLUSION, top=40)  # every coin: the same totals
    for row in range(90):
        caps = filled_mcap[row]

        def cap(c: int, caps: list[float] = caps) -> float:
            return caps[c] if caps[c] > 0 else 0.0

        every = sum(cap(c) for c in range(len(ids)))
        out = sum(cap(col[c]) for c, first in LATE.items() if row >= first)
        stable = cap(col["coin2"]) + (cap(col["coin7"]) if row >= 75 else 0.0)
        assert left_out.total[row] == pytest.approx(every - out, rel=1e-12)
        assert kept.total[row] == pytest.approx(every, rel=1e-12)
        assert kept.stable_cap[row] == pytest.approx(stable, rel=1e-12, abs=1e-9)
        assert top.stable_cap[row] == pytest.approx(stable, rel=1e-12, abs=1e-9)
        assert left_out.stable_cap[row] == 0.0


def test_values_up_to_a_day_do_not_depend_on_later_days() -> None:
    ids, price, mcap = market(n_days=120, seed=6)
    full = engine(ids, price, mcap, classes=LATE_CLASSES)
    for cut in (50, 70, 100):
        known = {c: (k, d) for c, (k, d) in LATE_CLASSES.items() if d is None or (d - START).days < cut}
        part = engine(ids, price[:cut], mcap[:cut], classes=known)
        for top, window in [(5, 10), (12, 30)]:
            a = part.season_index(BY_CLASS, top=top, window=window)
            b = full.season_index(BY_CLASS, top=top, window=window)
            np.testing.assert_array_equal(a.value, b.value[:cut])
        for universe in (None, 10):
            for excl in (BY_CLASS, NO_EXCLUSION):
                np.testing.assert_allclose(
                    part.dominance(excl, top=universe).btc, full.dominance(excl, top=universe).btc[:cut]
                )
                np.testing.assert_allclose(
                    part.dominance(excl, top=universe).stablecoin, full.dominance(excl, top=universe).stablecoin[:cut]
                )


def test_classes_that_hold_from_appended_days_extend_every_cached_series() -> None:
    ids, price, mcap = market(n_days=100, seed=7)
    cut = 70  # coin7's class holds from row 75: after the engine's last day
    known = {c: v for c, v in LATE_CLASSES.items() if c != "coin7"}
    grow = engine(ids, price[:cut], mcap[:cut], classes=known)
    for top, window in [(5, 10), (12, 30)]:
        grow.season_index(BY_CLASS, top=top, window=window)
    grow.dominance(BY_CLASS)
    grow.dominance(NO_EXCLUSION, top=10)
    grow.set_classes(LATE_CLASSES)
    _append_rows(grow, ids, price, mcap, range(cut, 100))
    full = engine(ids, price, mcap, classes=LATE_CLASSES)
    for top, window in [(5, 10), (12, 30)]:
        np.testing.assert_array_equal(
            grow.season_index(BY_CLASS, top=top, window=window).value,
            full.season_index(BY_CLASS, top=top, window=window).value,
        )
    for excl, universe in [(BY_CLASS, None), (NO_EXCLUSION, 10)]:
        np.testing.assert_allclose(grow.dominance(excl, top=universe).total, full.dominance(excl, top=universe).total)
        np.testing.assert_allclose(
            grow.dominance(excl, top=universe).stable_cap, full.dominance(excl, top=universe).stable_cap
        )


def test_classes_that_change_a_day_the_engine_holds_are_refused() -> None:
    ids, price, mcap = market(n_days=80, seed=8)
    eng = engine(ids, price, mcap, classes=LATE_CLASSES)
    moved = {**LATE_CLASSES, "coin5": ("wrapped", START + dt.timedelta(days=59))}
    with pytest.raises(ValueError, match=r"classes of \['coin5'\] changed"):
        eng.set_classes(moved)
    other = {**LATE_CLASSES, "coin2": ("wrapped", None)}
    with pytest.raises(ValueError, match=r"classes of \['coin2'\] changed"):
        eng.set_classes(other)
    eng.set_classes({**LATE_CLASSES, "coin9": ("wrapped", START + dt.timedelta(days=80))})  # from the next day: fine
