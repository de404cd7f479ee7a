"""The trading service over a store: backtest reports, no look-ahead end to end, survivorship, rebalancing."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from coinseason.errors import ConfigError, DataError
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.services.rebalance import holdings_frame, rebalance
from coinseason.services.trading import BacktestParams, TradingService
from coinseason.store import DuckDBStore
from coinseason.vocab import NeutralRule, Strategy, Weighting
from tests.conftest import fixed_clock

START = dt.date(2022, 1, 1)
N_DAYS = 160
DEAD_LAST_DAY = 99
"""``deadcoin`` is the largest altcoin until this day, on which it loses 90 %; it has no data afterwards."""
GAP_DAYS = 3
"""A coin's missing day takes its last price at most this many days earlier (the store's gap fill)."""


def market_frame(seed: int = 7, *, change_after: int | None = None) -> pl.DataFrame:
    """BTC, 12 altcoins, a stablecoin (tether) and deadcoin, with volumes; ``change_after`` d redraws every
    price after day d (and drops one coin from then on)."""
    rng = np.random.default_rng(seed)
    ids = ["bitcoin", *[f"alt{i:02d}" for i in range(12)]]
    steps = rng.normal(0.0, 0.04, size=(N_DAYS, len(ids)))
    if change_after is not None:
        steps[change_after + 1 :] = np.random.default_rng(seed + 1000).normal(
            0.01, 0.08, (N_DAYS - change_after - 1, len(ids))
        )
    price = 5.0 * np.exp(np.cumsum(steps, axis=0)) * np.linspace(1, 3, len(ids))
    price[:, 0] *= 10_000
    supply = np.r_[2e7, np.geomspace(5e8, 1e7, len(ids) - 1)]
    rows = []
    for d in range(N_DAYS):
        day = START + dt.timedelta(days=d)
        for c, coin in enumerate(ids):
            if change_after is not None and coin == "alt11" and d > change_after:
                continue
            cap = price[d, c] * supply[c]
            rows.append((coin, day, price[d, c], cap, cap * 0.05))
        rows.append(("tether", day, 1.0, 5e9, 1e9))
        if d <= DEAD_LAST_DAY:
            p = 40.0 if d < DEAD_LAST_DAY else 4.0
            rows.append(("deadcoin", day, p, p * 2e8, 1e8))
    return pl.DataFrame(rows, schema=["coin_id", "date", "price", "market_cap", "volume"], orient="row")


def service(tmp_path: Path, frame: pl.DataFrame, name: str = "m") -> TradingService:
    path = tmp_path / f"{name}.csv"
    frame.write_csv(path)
    store = DuckDBStore(tmp_path / f"{name}.duckdb")
    ImportService(store, clock=fixed_clock).import_file(path, FileFormat.TIDY, source="test")
    return TradingService(AnalyticsService(store))


@pytest.fixture
def trading(tmp_path: Path) -> TradingService:
    return service(tmp_path, market_frame())


Series = dict[str, list[float]]
"""coin id → one value per day (NaN: none)."""


def raw_series(frame: pl.DataFrame, column: str) -> Series:
    """``column`` of every coin and day from the raw rows, a missing day filled from the coin's last row at most
    GAP_DAYS days earlier."""
    out: Series = {}
    for coin, day, value in frame.select("coin_id", "date", column).iter_rows():
        out.setdefault(coin, [math.nan] * N_DAYS)[(day - START).days] = value
    for values in out.values():
        last = -(GAP_DAYS + 1)
        for d in range(N_DAYS):
            if not math.isnan(values[d]):
                last = d
            elif d - last <= GAP_DAYS:
                values[d] = values[last]
    return out


@dataclass
class ReferenceBasket:
    returns: list[float]
    turnover: list[float]
    members: dict[int, list[str]]
    """Coins bought on each rebalance day."""
    weights: list[dict[str, float]]
    """Each day's weights before that day's trades."""


def reference_basket(frame: pl.DataFrame, *, top: int, every: int, excluded: set[str]) -> ReferenceBasket:
    """The equal-weighted alt basket by its rules, in plain Python from the raw prices: on days 0, ``every``,
    2 ``every``… it buys the ``top`` largest coins by that day's market cap (no BTC, none of ``excluded``; every
    coin here trades far more than the volume filter asks and none trades as a stablecoin), each a share of
    1 / ``top``; in between each holding moves with its own price, and is worth 0 on a day without a price."""
    price, cap = raw_series(frame, "price"), raw_series(frame, "market_cap")
    alts = [c for c in price if c != "bitcoin" and c not in excluded]
    returns, turnover = [0.0] * N_DAYS, [0.0] * N_DAYS
    members: dict[int, list[str]] = {}
    weights: list[dict[str, float]] = [{} for _ in range(N_DAYS)]
    held: dict[str, float] = {}  # coin → units bought per unit of basket value on the last rebalance day

    def value(day: int) -> dict[str, float]:
        return {c: (0.0 if math.isnan(price[c][day]) else u * price[c][day]) for c, u in held.items()}

    for day in range(N_DAYS):
        if day > 0:
            before, now = sum(value(day - 1).values()), value(day)
            returns[day] = sum(now.values()) / before - 1.0
            weights[day] = {c: v / sum(now.values()) for c, v in now.items()}
        if day % every == 0:
            ranked = sorted((c for c in alts if cap[c][day] > 0), key=lambda c: -cap[c][day])[:top]
            new = {c: 1.0 / len(ranked) for c in ranked}
            old = weights[day]
            turnover[day] = sum(abs(new.get(c, 0.0) - old.get(c, 0.0)) for c in set(new) | set(old))
            members[day] = ranked
            held = {c: w / price[c][day] for c, w in new.items()}
    return ReferenceBasket(returns, turnover, members, weights)


PARAMS = BacktestParams(top=5, window=10, altcoin_at=60.0, bitcoin_at=40.0, threshold=0.02)


def test_backtest_report(trading: TradingService) -> None:
    report = trading.backtest(PARAMS)
    daily = report.daily
    assert daily.height == N_DAYS
    assert daily["date"][0] == START
    assert daily.row(0, named=True)["weight_cash"] == 1.0  # starts in cash
    weights = daily.select("weight_btc", "weight_alt", "weight_cash").to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    assert set(report.metrics) == {"strategy", "buy_hold_btc", "buy_hold_alt", "buy_hold_alt_before_costs"}
    assert report.metrics["strategy"]["trades"] >= 1
    assert set(daily["state"].unique()) <= {"none", "btc", "alt", "neutral"}
    # the window: from its own first day, in cash on that day
    part = trading.backtest(PARAMS, start=START + dt.timedelta(days=50), end=START + dt.timedelta(days=80))
    assert part.daily.height == 31
    assert part.daily.row(0, named=True)["weight_cash"] == 1.0


def small_market() -> pl.DataFrame:
    """Six days of BTC and two altcoins whose daily returns are round numbers:

    ======  =====  =====  =====  =====  =====
    day       1      2      3      4      5
    ======  =====  =====  =====  =====  =====
    BTC     +10 %  −10 %  +5 %   +10 %  −5 %
    alpha   +20 %  −20 %  +10 %  +20 %   0 %
    beta    +15 %  −20 %   0 %    0 %   +20 %
    ======  =====  =====  =====  =====  =====
    """
    moves = {
        "bitcoin": (100.0, [0.10, -0.10, 0.05, 0.10, -0.05], 1e6),
        "alpha": (10.0, [0.20, -0.20, 0.10, 0.20, 0.0], 1e6),
        "beta": (20.0, [0.15, -0.20, 0.0, 0.0, 0.20], 4e5),
    }
    rows = []
    for coin, (first, returns, supply) in moves.items():
        price = first
        for d in range(6):
            if d:
                price *= 1 + returns[d - 1]
            rows.append((coin, START + dt.timedelta(days=d), price, price * supply, 1e7))
    return pl.DataFrame(rows, schema=["coin_id", "date", "price", "market_cap", "volume"], orient="row")


def test_a_small_backtest_worked_by_hand(tmp_path: Path) -> None:
    """Season rotation on 1-day returns over BTC, alpha and beta, without costs, the basket re-formed daily.

    Index of day d (share of alpha and beta beating BTC's 1-day return): d0 none (no return yet), d1 100 (alt),
    d2 0 (btc), d3 50 (neutral: alpha +10 % beats +5 %, beta 0 % does not), d4 50 (neutral), d5 100 (alt).
    Day d's state trades on day d + 1 and earns from day d + 2; the basket earns the mean of alpha's and beta's
    returns. Holdings after each day's trades: d0, d1 cash; d2 alt (state of d1); d3 BTC; d4 split 50/50;
    d5 the split drifted (the target is unchanged and the threshold is never reached).
    Returns: d1, d2 0 (cash); d3 alt = (10 % + 0 %) / 2 = 5 %; d4 BTC = 10 %;
    d5 = 0.5 × (−5 %) + 0.5 × (0 % + 20 %) / 2 = 2.5 %.
    Equity: 1, 1, 1, 1.05, 1.05 × 1.1 = 1.155, 1.155 × 1.025 = 1.183875.
    """
    trading = service(tmp_path, small_market(), "small")
    params = BacktestParams(top=3, window=1, weighting=Weighting.EQUAL, rebalance_days=1, min_volume_usd=0.0,
                            altcoin_at=75.0, bitcoin_at=25.0, neutral=NeutralRule.SPLIT, threshold=1.0,
                            fee_bps=0.0, spread_bps=0.0, impact=0.0)  # fmt: skip
    daily = trading.backtest(params).daily
    assert daily["state"].to_list() == ["none", "alt", "btc", "neutral", "neutral", "alt"]
    np.testing.assert_allclose(daily["return"].to_numpy(), [0.0, 0.0, 0.0, 0.05, 0.10, 0.025], atol=1e-12)
    np.testing.assert_allclose(daily["equity"].to_numpy(), [1.0, 1.0, 1.0, 1.05, 1.155, 1.183875], rtol=1e-12)
    # d5 drifted: BTC 0.5 × 0.95 / 1.025, alt 0.5 × 1.10 / 1.025
    expected_weights = [
        (0.0, 0.0, 1.0),
        (0.0, 0.0, 1.0),
        (0.0, 1.0, 0.0),
        (1.0, 0.0, 0.0),
        (0.5, 0.5, 0.0),
        (0.475 / 1.025, 0.55 / 1.025, 0.0),
    ]
    weights = daily.select("weight_btc", "weight_alt", "weight_cash").to_numpy()
    np.testing.assert_allclose(weights, expected_weights, atol=1e-6)  # weights are kept as float32
    # buy and hold from day 1: BTC 110 → 99, 103.95, 114.345, 108.62775; the basket −20 %, +5 %, +10 %, +10 %
    np.testing.assert_allclose(daily["btc_equity"].to_numpy(), [1.0, 1.0, 0.9, 0.945, 1.0395, 0.987525], rtol=1e-12)
    np.testing.assert_allclose(daily["alt_equity"].to_numpy(), [1.0, 1.0, 0.8, 0.84, 0.924, 1.0164], rtol=1e-12)
    np.testing.assert_allclose(daily["drawdown"].to_numpy(), 0.0, atol=1e-12)  # the equity never fell


def test_no_look_ahead_end_to_end(tmp_path: Path) -> None:
    """Changing every price after day d (and dropping a coin) leaves each signal, weight and trade up to d
    unchanged."""
    d = 70
    a = service(tmp_path, market_frame(), "a")
    b = service(tmp_path, market_frame(change_after=d), "b")
    last = START + dt.timedelta(days=d)
    assert a.signals(top=5, window=10).head(d + 1).equals(b.signals(top=5, window=10).head(d + 1))
    for strategy in ("season-rotation", "momentum", "contrarian"):
        for weighting in ("equal", "cap"):
            params = BacktestParams(strategy=strategy, top=5, window=10, weighting=weighting, altcoin_at=60.0,
                                    bitcoin_at=40.0, confirm_days=2, threshold=0.02)  # fmt: skip
            da = a.backtest(params).daily.filter(pl.col("date") <= last)
            db = b.backtest(params).daily.filter(pl.col("date") <= last)
            assert da.equals(db), (strategy, weighting)
    # the whole history did change after d
    assert not a.backtest(PARAMS).daily.equals(b.backtest(PARAMS).daily)


def test_the_basket_follows_its_rules(trading: TradingService) -> None:
    """The equal-weighted top-5 basket against the plain-Python one computed from the raw prices."""
    loaded = trading.inputs.loaded(None)
    basket = trading.inputs.basket(loaded, "default", 5, Weighting.EQUAL)  # formed every 30 days
    ref = reference_basket(market_frame(), top=5, every=30, excluded={"tether"})
    assert np.flatnonzero(basket.rebalanced).tolist() == [0, 30, 60, 90, 120, 150]
    np.testing.assert_allclose(basket.returns, ref.returns, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(basket.turnover, ref.turnover, rtol=1e-9, atol=1e-12)
    eng = loaded.engine
    for day, coins in ref.members.items():
        assert sorted(eng.coin_ids[basket.members[day][basket.members[day] >= 0]]) == sorted(coins), day


def test_a_coin_that_died_is_held_while_it_ranked(trading: TradingService) -> None:
    loaded = trading.inputs.loaded(None)
    eng = loaded.engine
    dead = int(np.flatnonzero(eng.coin_ids == "deadcoin")[0])
    basket = trading.inputs.basket(loaded, "default", 5, Weighting.EQUAL)
    ref = reference_basket(market_frame(), top=5, every=30, excluded={"tether"})
    assert all("deadcoin" in ref.members[day] for day in (0, 30, 60, 90))  # the largest altcoin while it ranked
    held = (basket.members == dead).any(axis=1)
    gone = DEAD_LAST_DAY + 1 + GAP_DAYS  # its first day without a price, after the gap fill
    assert held[:gone].all()  # bought on every rebalance day while it ranked
    assert not held[gone:].any()  # worth 0 from the day its price stops, and never bought again
    # its −90 % on its last day and the loss of what was left on its first day without a price are in the returns
    share = ref.weights[gone - 1]["deadcoin"]
    assert share > 0.01
    assert basket.returns[DEAD_LAST_DAY] == pytest.approx(ref.returns[DEAD_LAST_DAY], rel=1e-9)
    assert basket.returns[gone] == pytest.approx(ref.returns[gone], rel=1e-9)
    # the 120th day's rebalance does not buy it back, nor sell anything for it: its weight was already 0
    assert ref.weights[120]["deadcoin"] == 0.0 and "deadcoin" not in ref.members[120]
    assert basket.turnover[120] == pytest.approx(ref.turnover[120], rel=1e-9)


def test_buy_and_hold_benchmarks_pay_the_strategys_costs(trading: TradingService) -> None:
    """Buy-and-hold BTC buys on day 1 paying the fee (no spread, no impact here), then holds."""
    params = BacktestParams(top=5, window=10, fee_bps=10.0, spread_bps=0.0, impact=0.0)
    report = trading.backtest(params)
    btc = market_frame().filter(pl.col("coin_id") == "bitcoin").sort("date")["price"].to_numpy()
    assert report.metrics["buy_hold_btc"]["total_return"] == pytest.approx(0.999 * btc[-1] / btc[1] - 1)
    # the basket's own returns, from the raw prices: before costs from day 1, held from day 2 (bought on day 1)
    ref = reference_basket(market_frame(), top=5, every=30, excluded={"tether"})
    gross = math.prod(1 + r for r in ref.returns[1:]) - 1
    held = math.prod(1 + r for r in ref.returns[2:]) - 1
    assert report.metrics["buy_hold_alt_before_costs"]["total_return"] == pytest.approx(gross, rel=1e-9)
    free = trading.backtest(BacktestParams(top=5, window=10, fee_bps=0.0, spread_bps=0.0, impact=0.0))
    assert free.metrics["buy_hold_alt"]["total_return"] == pytest.approx(held, rel=1e-9)
    # with fees: the purchase and every rebalance of the basket (days 30, 60, … re-weight) cost something more
    assert report.metrics["buy_hold_alt"]["total_return"] < (1 + held) * 0.999 - 1
    assert report.metrics["buy_hold_alt"]["trades"] == 1  # the purchase; the basket's own rebalancing is not a trade


def test_rebalance_plan(trading: TradingService) -> None:
    holdings = holdings_frame(
        [
            {"coin_id": "bitcoin", "quantity": 1.0},
            {"coin_id": "alt00", "value_usd": 5_000.0},
            {"coin_id": "tether", "quantity": 2_000.0},
        ]
    )
    plan = rebalance(trading, holdings, "balanced", top=5, window=10)
    trades = plan.trades
    assert trades["target_weight"].sum() == pytest.approx(1.0)
    assert trades["trade_value"].sum() == pytest.approx(0.0, abs=1e-6)  # the same total, re-spread
    assert trades["current_value"].sum() == pytest.approx(trades["target_value"].sum())
    cash = trades.filter(pl.col("coin_id") == "cash").row(0, named=True)
    assert cash["current_value"] == pytest.approx(2_000.0)  # the stablecoin counts as cash
    assert cash["cost"] == 0.0
    assert plan.total_cost > 0
    assert set(plan.before) == set(plan.after)
    assert "not investment advice" in plan.notes[0]
    target = rebalance(trading, holdings, "0.2", top=5, window=10)
    assert target.after["volatility"] == pytest.approx(0.2, rel=0.05)


def test_rebalance_refuses_bad_holdings(trading: TradingService) -> None:
    with pytest.raises(DataError, match="nosuchcoin"):
        rebalance(trading, holdings_frame([{"coin_id": "nosuchcoin", "quantity": 1.0}]), "balanced")
    with pytest.raises(DataError, match="exactly one"):
        holdings_frame([{"coin_id": "bitcoin", "quantity": 1.0, "value_usd": 3.0}])
    with pytest.raises(DataError, match="listed twice"):
        holdings_frame([{"coin_id": "bitcoin", "quantity": 1.0}, {"coin_id": "bitcoin", "quantity": 2.0}])
    with pytest.raises(ConfigError, match="profile"):
        rebalance(trading, holdings_frame([{"coin_id": "bitcoin", "quantity": 1.0}]), "reckless")


def test_risk_and_bad_parameters(trading: TradingService) -> None:
    frame = trading.risk(top=5, days=60, coins=["alt00"])
    assert frame["asset"].to_list() == ["btc", "alt_basket_top5_equal", "alt00"]
    assert (frame["volatility"] > 0).all()
    with pytest.raises(ConfigError, match="top"):
        BacktestParams(top=0)
    with pytest.raises(ConfigError, match="strategy is one of season-rotation, momentum, contrarian, not 'moon'"):
        BacktestParams(strategy="moon")
    with pytest.raises(ConfigError, match="weighting is equal or cap, not 'median'"):
        BacktestParams(weighting="median")
    with pytest.raises(ConfigError, match="neutral is one of split, btc, cash, hold, not 'never'"):
        BacktestParams(neutral="never")
    with pytest.raises(ConfigError, match="window must be between 1 and 730 days, not 731"):
        BacktestParams(window=731)
    with pytest.raises(ConfigError, match="outside the data"):
        trading.backtest(PARAMS, start=dt.date(2000, 1, 1))


def test_names_given_as_strings_are_held_as_the_vocabulary() -> None:
    """The API passes its validated body as strings."""
    params = BacktestParams(strategy="momentum", weighting="cap", neutral="hold")
    assert (params.strategy, params.weighting, params.neutral) == (Strategy.MOMENTUM, Weighting.CAP, NeutralRule.HOLD)
    assert params.strategy is Strategy.MOMENTUM and params.neutral is NeutralRule.HOLD


HOLDINGS = [{"coin_id": "bitcoin", "quantity": 1.0}]
LAST_DAY = START + dt.timedelta(days=N_DAYS - 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.signals(start=dt.date(2000, 1, 1)), "2000-01-01 is outside the data"),
        (lambda t: t.signals(end=LAST_DAY + dt.timedelta(days=1)), "is outside the data"),
        (lambda t: t.signals(confirm_days=0), "confirm_days"),
        (lambda t: t.signals(top=501), "top must be between 1 and 500"),
        (lambda t: t.signals(window=0), "window must be between 1 and 730"),
        (lambda t: t.risk(top=0), "top must be between 1 and 500"),
        (lambda t: t.risk(top=501), "top must be between 1 and 500"),
        (lambda t: t.risk(weighting="median"), "weighting is equal or cap"),
        (lambda t: t.risk(end=dt.date(2000, 1, 1)), "outside the data"),
        (lambda t: t.risk(days=1), "days must be between 2 and 20000"),
        (lambda t: t.backtest(PARAMS, end=LAST_DAY + dt.timedelta(days=1)), "outside the data"),
        (lambda t: t.backtest(PARAMS, start=LAST_DAY), "at least 2 days"),
        (lambda t: t.sweep([]), "no parameter set"),
        (lambda t: rebalance(t, holdings_frame(HOLDINGS), "balanced", top=0), "top must be between 1 and 500"),
        (lambda t: rebalance(t, holdings_frame(HOLDINGS), "balanced", window=731), "window must be between 1 and 730"),
    ],
)
def test_user_input_that_reaches_the_engine_is_a_config_error(
    trading: TradingService, call: Callable[[TradingService], object], message: str
) -> None:
    """Never a bare ValueError from the engine: the CLI says it in one line (exit 2), the API as a 422."""
    with pytest.raises(ConfigError, match=message):
        call(trading)


# -- the commands --------------------------------------------------------------------------------------------------


def cli_db(tmp_path: Path) -> str:
    service(tmp_path, market_frame(), "cli").analytics.store.close()
    return str(tmp_path / "cli.duckdb")


def test_commands(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from coinseason.cli import app

    db = cli_db(tmp_path)
    runner = CliRunner()
    common = ["--top", "5", "--window", "10", "--db", db]
    out = runner.invoke(app, ["backtest", "--strategy", "season-rotation", *common, "--format", "json",
                              "--from", "2022-02-01", "--to", "2022-03-01"])  # fmt: skip
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["daily"][0]["date"] == "2022-02-01" and len(body["daily"]) == 29
    assert {"weight_btc", "weight_alt", "weight_cash", "equity"} <= set(body["daily"][0])
    page = runner.invoke(app, ["backtest", *common, "--format", "html"])
    assert page.exit_code == 0, page.output
    assert page.stdout.startswith("<!doctype html>") and page.stdout.count("<svg") == 3
    assert "<script" not in page.stdout and "not investment advice" in page.stdout
    table = runner.invoke(app, ["backtest", "--strategy", "momentum", *common])
    assert table.exit_code == 0 and "buy_hold_btc" in table.stdout
    risk_csv = runner.invoke(app, ["risk", "--top", "5", "--days", "30", "--coin", "alt01", "--format", "csv",
                                   "--db", db])  # fmt: skip
    assert risk_csv.exit_code == 0, risk_csv.output
    assert risk_csv.stdout.startswith("asset,") and "alt01" in risk_csv.stdout
    holdings = tmp_path / "h.json"
    holdings.write_text(json.dumps({"holdings": [{"coin_id": "bitcoin", "quantity": 0.5}]}))
    plan = runner.invoke(app, ["rebalance", str(holdings), "--profile", "conservative", *common, "--format", "json"])
    assert plan.exit_code == 0, plan.output
    assert json.loads(plan.stdout)["risk_after"]["cash_weight"] >= 0.3
    bad = runner.invoke(app, ["backtest", "--neutral", "hold", "--altcoin-at", "20", *common])
    assert bad.exit_code == 2 and "bitcoin_at" in bad.output
    too_many = runner.invoke(app, ["risk", "--top", "501", "--db", db])
    assert too_many.exit_code == 2 and "'--top': Input should be less than or equal to 500" in too_many.output
    no_window = runner.invoke(app, ["rebalance", str(holdings), "--window", "0", "--db", db])
    assert no_window.exit_code == 2 and "'--window': Input should be greater than or equal to 1" in no_window.output
    (tmp_path / "bad.csv").write_text("coin_id,quantity\nbitcoin,-1\n")
    refused = runner.invoke(app, ["rebalance", str(tmp_path / "bad.csv"), "--db", db])
    assert refused.exit_code == 2 and "invalid amount" in refused.output
