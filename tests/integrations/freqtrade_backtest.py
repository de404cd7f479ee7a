"""Run freqtrade's own ``backtesting`` command on local data, with the market catalogue given here instead of
downloaded: the one part of a backtest that needs the exchange. Started by ``test_freqtrade_backtest.py`` with the
interpreter of an environment holding freqtrade (kept apart from coinseason's locks: see that test).

Usage: ``python freqtrade_backtest.py CONFIG STRATEGY_DIR RESULTS_DIR PAIR...``; prints the trades as JSON lines.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def market(pair: str) -> dict[str, Any]:
    """A spot market in ccxt's shape (binance uses tick sizes for precision)."""
    base, quote = pair.split("/")
    return {
        "id": f"{base}{quote}",
        "symbol": pair,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "active": True,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "contractSize": None,
        "taker": 0.001,
        "maker": 0.001,
        "precision": {"amount": 0.0001, "price": 0.0001},
        "limits": {
            "amount": {"min": 0.0001, "max": 1e9},
            "cost": {"min": 1.0, "max": None},
            "price": {"min": None, "max": None},
            "leverage": {"min": None, "max": None},
        },
        "info": {},
    }


def main(argv: list[str]) -> None:
    from freqtrade.data.btanalysis import load_backtest_data
    from freqtrade.exchange.exchange import Exchange
    from freqtrade.main import main as freqtrade
    from freqtrade.util import dt_ts

    config, strategies, results, *pairs = argv
    markets = {pair: market(pair) for pair in pairs}

    def offline(self: Exchange, force: bool = False, *, load_leverage_tiers: bool = True) -> None:
        self._markets = markets
        self._api.set_markets(list(markets.values()))
        self._last_markets_refresh = dt_ts()

    Exchange.reload_markets = offline  # type: ignore[method-assign]
    command = ["backtesting", "-c", config, "--strategy", "CoinseasonSeasonStrategy", "--strategy-path", strategies]
    command += ["--export", "trades", "--backtest-directory", results, "--fee", "0.001"]
    try:
        freqtrade(command)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    trades = load_backtest_data(results)
    for row in trades.to_dict("records"):
        keep = ("pair", "open_date", "close_date", "exit_reason", "enter_tag", "open_rate", "close_rate")
        print(json.dumps({k: str(row[k]) for k in keep}))  # noqa: T201 - the caller reads these lines


if __name__ == "__main__":
    main(sys.argv[1:])
