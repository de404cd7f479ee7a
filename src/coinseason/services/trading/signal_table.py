"""Each day's signal states side by side: the season, momentum and contrarian strategies' states with their
default parameters, and the confirmed season."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core.signals import STATE_NAMES, confirmed
from coinseason.services.trading.inputs import StrategyInputs
from coinseason.services.trading.params import BacktestParams
from coinseason.vocab import Strategy


def signals_frame(
    inputs: StrategyInputs,
    *,
    source: str | None,
    exclude: str,
    top: int,
    window: int,
    start: dt.date | None,
    end: dt.date | None,
    confirm_days: int,
) -> pl.DataFrame:
    """date, altcoin_season_index, btc_dominance, season, season_confirmed, momentum, contrarian."""
    base = BacktestParams(top=top, window=window, exclude=exclude, confirm_days=confirm_days)  # checks them all
    loaded = inputs.loaded(source)
    days = inputs.rows(loaded, start, end) if (start or end) else slice(0, loaded.engine.n_days)
    season = inputs.raw_state(loaded, base)
    mom = inputs.raw_state(loaded, BacktestParams(strategy=Strategy.MOMENTUM, exclude=exclude))
    contra = inputs.raw_state(
        loaded, BacktestParams(strategy=Strategy.CONTRARIAN, top=top, window=window, exclude=exclude)
    )
    steady = confirmed(season, days=confirm_days)
    value = inputs.season_value(loaded, exclude, top, window)
    dom = inputs.btc_dominance(loaded, exclude)

    def names(s: NDArray[np.int8]) -> list[str]:
        return [STATE_NAMES[int(x)] for x in s[days]]

    return pl.DataFrame(
        {
            "date": loaded.engine.dates[days],
            "altcoin_season_index": value[days],
            "btc_dominance": dom[days],
            "season": names(season),
            "season_confirmed": names(steady),
            "momentum": names(mom),
            "contrarian": names(contra),
        }
    ).with_columns(pl.col("date").cast(pl.Date), pl.col(pl.Float64).fill_nan(None))
