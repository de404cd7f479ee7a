"""A freqtrade strategy that holds an altcoin during altcoin season and leaves it in Bitcoin season.

The season comes from coinseason, merged point in time into the candles by
:func:`coinseason.integrations.freqtrade.merge_coinseason` (a day's value reaches only candles that open after the
day closed). Where it comes from is the ``"coinseason"`` section of freqtrade's configuration::

    "coinseason": {"url": "http://127.0.0.1:8000", "api_key": "cs_...", "top": 50, "window": 90}
    "coinseason": {"db": "/path/to/coinseason.duckdb"}

(without the section: ``COINSEASON_URL`` and ``COINSEASON_API_KEY``, or ``COINSEASON_DB``). Copy this file into
``user_data/strategies/`` and run ``freqtrade backtesting --strategy CoinseasonSeasonStrategy``.

An example of using the data, not advice: it ignores everything but the season.
"""

from __future__ import annotations

from typing import Any

from freqtrade.strategy import IStrategy
from pandas import DataFrame

from coinseason.integrations.freqtrade import CoinseasonFeed


class CoinseasonSeasonStrategy(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "1h"
    can_short = False
    minimal_roi = {"0": 100.0}  # no take-profit: the season decides the exit
    stoploss = -0.25
    startup_candle_count = 0
    process_only_new_candles = True

    feed: CoinseasonFeed

    def bot_start(self, **kwargs: Any) -> None:
        self.feed = CoinseasonFeed.from_config(self.config.get("coinseason", {}))

    def populate_indicators(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        # cs_season, cs_altcoin_season_index, cs_btc_dominance, ... and cs_date (the day they describe)
        return self.feed.merge(dataframe, self.timeframe)

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        dataframe.loc[dataframe["cs_season"] == "altcoin", ["enter_long", "enter_tag"]] = (1, "altcoin season")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict[str, Any]) -> DataFrame:
        dataframe.loc[dataframe["cs_season"] == "bitcoin", ["exit_long", "exit_tag"]] = (1, "bitcoin season")
        return dataframe
