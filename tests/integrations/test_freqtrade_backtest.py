"""The example strategy in freqtrade's own backtesting, on a market written here whose seasons are worked out by hand.

freqtrade is not in coinseason's main and dev locks: its dependency python-telegram-bot requires ``httpx<0.29``
while they pin ``httpx==0.29.0``. It has a lock of its own, ``requirements/freqtrade.lock``, from which ``.ci/run``
builds ``.venv-ft`` in the repository (see ``requirements/README.md``). The tests use that interpreter, or
``FREQTRADE_PYTHON``; without one they skip, saying how to build it, except under ``CI=true``, where they fail.
``test_freqtrade_merge.py`` covers the look-ahead rule without freqtrade.

The market: BTC +1 %/day; four altcoins +5 %/day on days 1-12 and 27-39, -3 %/day on days 13-26 (day 0 is
2024-01-01). With top=5 and window=3 an altcoin beats BTC over days d-3..d when the product of its three daily
factors exceeds 1.01³ = 1.0303, so the index is 100 (altcoin season) on days 3-13, 0 (Bitcoin season) on days
14-27 (day 13: 1.05² x 0.97 = 1.069 still beats BTC; day 27: 0.97² x 1.05 = 0.988 does not) and 100 again from day
28. A day's value is known when the next day starts; freqtrade acts on a candle's signal at the next candle's open.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pandas as pd

from tests.api.serve_helpers import clean_env, coinseason
from tests.support.requirements import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
DAY0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAYS = 40
ALTS = ("alpha", "beta", "gamma", "delta")


def alt_factor(day: int) -> float:
    return 0.97 if 13 <= day <= 26 else 1.05


def prices() -> tuple[list[float], list[float]]:
    btc, alt = [100.0], [1.0]
    for day in range(1, DAYS):
        btc.append(btc[-1] * 1.01)
        alt.append(alt[-1] * alt_factor(day))
    return btc, alt


BUILD_VENV_FT = (
    "python3 -m venv .venv-ft && .venv-ft/bin/pip install -q --require-hashes -r requirements/freqtrade.lock"
    " && .venv-ft/bin/pip install -q --no-deps --no-build-isolation -e ."
)


def freqtrade_python() -> str:
    """The interpreter of freqtrade's environment, able to import both freqtrade and coinseason."""
    found = os.environ.get("FREQTRADE_PYTHON") or str(ROOT / ".venv-ft" / "bin" / "python")
    if not Path(found).is_file():
        skip_or_fail(
            f"no interpreter with freqtrade at {found}: build it in the repository with `{BUILD_VENV_FT}` "
            "(as .ci/run does), or set FREQTRADE_PYTHON"
        )
    probe = subprocess.run([found, "-c", "import freqtrade, coinseason"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        skip_or_fail(
            f"{found} cannot import freqtrade and coinseason ({probe.stderr.strip()[-300:]}): "
            f"rebuild it with `rm -rf .venv-ft && {BUILD_VENV_FT}`"
        )
    return found


def write_market(path: Path) -> Path:
    btc, alt = prices()
    lines = ["coin_id,symbol,name,date,price,market_cap"]
    for day in range(DAYS):
        date = (DAY0 + dt.timedelta(days=day)).date()
        lines.append(f"bitcoin,btc,Bitcoin,{date},{btc[day]},{btc[day] * 1e7}")
        for rank, name in enumerate(ALTS):
            lines.append(f"{name},{name[:3]},{name.title()},{date},{alt[day]},{alt[day] * 1e8 / (rank + 1)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_candles(path: Path) -> None:
    """ALPHA/USDT hourly: the daily price moving geometrically to the next day's within each day."""
    _, alt = prices()
    rows = []
    for day in range(DAYS - 1):
        for hour in range(24):
            start = alt[day] * (alt[day + 1] / alt[day]) ** (hour / 24)
            end = alt[day] * (alt[day + 1] / alt[day]) ** ((hour + 1) / 24)
            when = DAY0 + dt.timedelta(days=day, hours=hour)
            rows.append((when, start, max(start, end) * 1.0001, min(start, end) * 0.9999, end, 1e6))
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"], utc=True)
    frame.to_feather(path)


def test_the_example_strategy_trades_the_seasons_in_freqtrade(tmp_path: Path) -> None:
    python = freqtrade_python()
    db = str(tmp_path / "seasons.duckdb")
    made = coinseason("import", str(write_market(tmp_path / "market.csv")), "--format", "tidy", "--db", db)
    assert made.returncode == 0, made.stderr
    data = tmp_path / "user_data" / "data" / "binance"  # freqtrade's own layout
    data.mkdir(parents=True)
    write_candles(data / "ALPHA_USDT-1h.feather")
    config = {
        "max_open_trades": 1,
        "stake_currency": "USDT",
        "stake_amount": 100,
        "dry_run": True,
        "dry_run_wallet": 1000,
        "timeframe": "1h",
        "trading_mode": "spot",
        "margin_mode": "",
        "exchange": {"name": "binance", "pair_whitelist": ["ALPHA/USDT"], "pair_blacklist": []},
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": False, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": False, "order_book_top": 1},
        "user_data_dir": str(tmp_path / "user_data"),
        "coinseason": {"db": db, "top": 5, "window": 3},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    results = tmp_path / "results"
    results.mkdir()
    run = subprocess.run(
        [
            python,
            str(Path(__file__).with_name("freqtrade_backtest.py")),
            str(tmp_path / "config.json"),
            str(ROOT / "examples" / "freqtrade"),
            str(results),
            "ALPHA/USDT",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    trades = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]

    def hour(day: int, at: int = 1) -> str:  # the candle after the signal's: day D 00:00 signal, D 01:00 trade
        return str(pd.Timestamp(DAY0 + dt.timedelta(days=day, hours=at)))

    assert [(t["open_date"], t["close_date"], t["exit_reason"]) for t in trades] == [
        (hour(4), hour(15), "bitcoin season"),  # exit tag; altcoin season from day 3 (known day 4), Bitcoin day 14
        (hour(29), hour(38, 23), "force_exit"),  # altcoin season again day 28; open at the last candle's close
    ], run.stderr[-2000:]
    assert {t["enter_tag"] for t in trades} == {"altcoin season"}


MERGE_SCRIPT = """
import datetime as dt, json
import pandas as pd, polars as pl
from freqtrade.strategy import merge_informative_pair
from coinseason.integrations.freqtrade import merge_coinseason

days = [dt.date(2024, 1, d) for d in (3, 4, 5, 6)]
values = [10.0, 20.0, 30.0, 40.0]
series = pl.DataFrame({"date": days, "altcoin_season_index": values})
informative = pd.DataFrame({"date": pd.to_datetime([str(d) for d in days], utc=True), "value": values})
out = {}
for tf, step in (("5m", "5min"), ("1h", "1h"), ("4h", "4h"), ("1d", "1D")):
    base = pd.DataFrame({"date": pd.date_range("2024-01-03", "2024-01-07 23:59", freq=step, tz="UTC"), "close": 1.0})
    theirs = merge_informative_pair(base, informative, tf, "1d", ffill=True)["value_1d"]
    close = merge_coinseason(base, series, timeframe=tf, at="close")["cs_altcoin_season_index"]
    opened = merge_coinseason(base, series, timeframe=tf)["cs_altcoin_season_index"]
    out[tf] = [s.fillna(-1).tolist() for s in (theirs, close, opened)]
print(json.dumps(out))
"""


def test_at_close_places_values_exactly_as_merge_informative_pair() -> None:
    """freqtrade's ``merge_informative_pair`` of the series as a 1d informative frame, against ``at="close"`` (the
    same placement) and the default ``at="open"`` (one candle later) on 5m, 1h, 4h and 1d candles."""
    python = freqtrade_python()
    run = subprocess.run([python, "-c", MERGE_SCRIPT], capture_output=True, text=True, env=clean_env(), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(found) == {"5m", "1h", "4h", "1d"}
    for timeframe, (theirs, close, opened) in found.items():
        assert close == theirs, timeframe
        assert opened == [-1, *theirs[:-1]], timeframe  # the same values, each one candle later
        assert set(theirs) >= {10, 20, 30, 40}, timeframe  # every day reached the candles


def test_the_build_named_when_skipping_is_the_one_ci_runs() -> None:
    assert BUILD_VENV_FT in (ROOT / ".ci" / "run").read_text()
