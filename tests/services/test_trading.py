"""The trading service over a store: backtest reports, no look-ahead end to end, survivorship, rebalancing."""

from __future__ import annotations

import datetime as dt
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
from tests.conftest import fixed_clock

START = dt.date(2022, 1, 1)
N_DAYS = 160
DEAD_LAST_DAY = 99
"""``deadcoin`` is the largest altcoin until this day, on which it loses 90 %; it has no data afterwards."""


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


PARAMS = BacktestParams(top=5, window=10, altcoin_at=60.0, bitcoin_at=40.0, threshold=0.02)


def test_backtest_report(trading: TradingService) -> None:
    report = trading.backtest(PARAMS)
    daily = report.daily
    assert daily.height == N_DAYS
    assert daily["date"][0] == START
    assert daily.row(0, named=True)["weight_cash"] == 1.0  # starts in cash
    weights = daily.select("weight_btc", "weight_alt", "weight_cash").to_numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(daily["equity"].to_numpy(), np.cumprod(1 + daily["return"].to_numpy()))
    assert set(report.metrics) == {"strategy", "buy_hold_btc", "buy_hold_alt", "buy_hold_alt_before_costs"}
    assert report.metrics["strategy"]["trades"] >= 1
    assert set(daily["state"].unique()) <= {"none", "btc", "alt", "neutral"}
    # the window: from its own first day, in cash on that day
    part = trading.backtest(PARAMS, start=START + dt.timedelta(days=50), end=START + dt.timedelta(days=80))
    assert part.daily.height == 31
    assert part.daily.row(0, named=True)["weight_cash"] == 1.0


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


def test_a_coin_that_died_is_held_while_it_ranked(trading: TradingService) -> None:
    loaded = trading.loaded(None)
    eng = loaded.engine
    dead = int(np.flatnonzero(eng.coin_ids == "deadcoin")[0])
    basket = trading.basket(loaded, "default", 5, "equal")  # formed every 30 days: days 0, 30, 60, 90, 120, 150
    assert np.flatnonzero(basket.rebalanced).tolist() == [0, 30, 60, 90, 120, 150]
    held = (basket.members == dead).any(axis=1)
    gone = DEAD_LAST_DAY + 1 + eng.gap_days  # its first day without a price, after the gap fill
    assert held[:gone].all()  # the largest altcoin: bought on every rebalance day while it ranked
    assert not held[gone:].any()  # worth 0 from the day its price stops, and never bought again
    # the −90 % of its last day is in the basket's return, weighted as drifted the day before
    row = DEAD_LAST_DAY
    coins, weights = basket.members[row - 1], basket.weights[row - 1]
    coin_ret = eng.price[row, coins] / eng.price[row - 1, coins] - 1
    assert basket.returns[row] == pytest.approx(float((weights * coin_ret).sum()))
    # then what was left of it is lost on the first day without a price: its drifted weight of the day before
    share = float(basket.weights[gone - 1][basket.members[gone - 1] == dead][0])
    assert share > 0.01
    others = basket.members[gone - 1] != dead
    coins, weights = basket.members[gone - 1][others], basket.weights[gone - 1][others]
    moved = float((weights * (eng.price[gone, coins] / eng.price[gone - 1, coins] - 1)).sum())
    assert basket.returns[gone] == pytest.approx(moved - share)
    # the 120th day's rebalance does not buy it back, nor sell anything for it: its weight was already 0
    assert basket.turnover[120] == pytest.approx(np.abs(basket.weights[120] - basket.weights[119]).sum(), abs=0.5)


def test_buy_and_hold_benchmarks_pay_the_strategys_costs(trading: TradingService) -> None:
    """Buy-and-hold BTC buys on day 1 paying the fee (no spread, no impact here), then holds."""
    params = BacktestParams(top=5, window=10, fee_bps=10.0, spread_bps=0.0, impact=0.0)
    report = trading.backtest(params)
    eng = trading.loaded(None).engine
    btc = eng.price[:, eng.btc]
    assert report.metrics["buy_hold_btc"]["total_return"] == pytest.approx(0.999 * btc[-1] / btc[1] - 1)
    # without costs buy-and-hold earns the basket's returns from day 2 on (day 1's came before its purchase)
    gross = report.metrics["buy_hold_alt_before_costs"]["total_return"]
    day1 = trading.basket(trading.loaded(None), "default", 5, "equal").returns[1]
    held = (1 + gross) / (1 + day1) - 1
    free = trading.backtest(BacktestParams(top=5, window=10, fee_bps=0.0, spread_bps=0.0, impact=0.0))
    assert free.metrics["buy_hold_alt"]["total_return"] == pytest.approx(held)
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
    with pytest.raises(ConfigError, match="strategy"):
        BacktestParams(strategy="moon")
    with pytest.raises(ConfigError, match="outside the data"):
        trading.backtest(PARAMS, start=dt.date(2000, 1, 1))


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
    (tmp_path / "bad.csv").write_text("coin_id,quantity\nbitcoin,-1\n")
    refused = runner.invoke(app, ["rebalance", str(tmp_path / "bad.csv"), "--db", db])
    assert refused.exit_code == 2 and "invalid amount" in refused.output
