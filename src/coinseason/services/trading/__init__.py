"""Trading analytics over the season engine: point-in-time signals, rotation backtests and risk figures.

:mod:`.params` (one parameter set, validated), :mod:`.inputs` (BTC, the alt basket, volumes, signal states from
the engine), :mod:`.runner` (many sets at once for :mod:`coinseason.core.backtest`), :mod:`.reports`,
:mod:`.signal_table`, :mod:`.risk_table` (the results), :mod:`.service` (the service over them).
Analysis of past data, not investment advice.
"""

from coinseason.services.trading.params import BacktestParams
from coinseason.services.trading.reports import DISCLAIMER, BacktestReport
from coinseason.services.trading.service import TradingService

__all__ = ["DISCLAIMER", "BacktestParams", "BacktestReport", "TradingService"]
