"""Risk and liquidity figures of BTC, the alt basket and chosen coins over a span of days: the performance
metrics, a capped Kelly fraction, a volatility-target exposure, turnover, Amihud illiquidity and the expected
slippage of an order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import NDArray

from coinseason.core import performance as m
from coinseason.core import risk
from coinseason.core.basket import asset_returns
from coinseason.errors import ConfigError, NoDataError
from coinseason.services.analytics import engine_row
from coinseason.services.trading.inputs import StrategyInputs
from coinseason.services.trading.params import check_top, choice
from coinseason.vocab import Weighting

MAX_RISK_DAYS = 20_000
Leg = tuple[str, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float | None]
"""name, daily returns, volume, market cap, and the slippage when fixed beforehand (the basket's)."""


def risk_frame(
    inputs: StrategyInputs,
    *,
    source: str | None,
    exclude: str,
    top: int,
    weighting: str,
    days: int,
    order_usd: float,
    spread_bps: float,
    impact: float,
    coins: Sequence[str],
    end: dt.date | None,
) -> pl.DataFrame:
    """One row per asset: the figures over the ``days`` days to ``end`` (default: the last day)."""
    if not 2 <= days <= MAX_RISK_DAYS:
        raise ConfigError(f"days must be between 2 and {MAX_RISK_DAYS}, not {days}")
    check_top(top)
    basket_weights = choice(Weighting, weighting, "weighting")
    loaded = inputs.loaded(source)
    eng = loaded.engine
    last = engine_row(eng, end) if end is not None else eng.n_days - 1
    span = slice(max(last - days + 1, 0), last + 1)
    vol = inputs.volume(loaded)
    basket = inputs.basket(loaded, exclude, top, basket_weights)
    legs: list[Leg] = [("btc", inputs.btc_returns(loaded), vol[:, eng.btc], eng.market_cap[:, eng.btc], None)]
    # a basket order splits over its coins by weight, each slipping against its own volume (at most 100 %)
    w, v_coins = basket.weights[last], basket.volume[last]
    held = (w > 0) & (v_coins > 0)  # a coin without weight costs nothing; one without volume is left out
    basket_slip = spread_bps * 1e-4 / 2 + float(
        (w[held] * np.minimum(1.0, impact * np.sqrt(w[held] * order_usd / v_coins[held]))).sum()
    )
    with np.errstate(divide="ignore"):
        basket_vol = np.where(basket.impact_factor > 0, 1.0 / basket.impact_factor**2, np.nan)
    legs.append((f"alt_basket_top{top}_{basket_weights}", basket.returns, basket_vol, np.full(eng.n_days, np.nan),
                 basket_slip))  # fmt: skip
    col = {c: i for i, c in enumerate(eng.coin_ids)}
    for coin in coins:
        if coin not in col:
            raise NoDataError(f"no coin {coin!r} in source {loaded.source!r}")
        c = col[coin]
        legs.append((coin, asset_returns(eng.price[:, c]), vol[:, c], eng.market_cap[:, c], None))
    rows: list[dict[str, object]] = []
    for name, r, v, cap, fixed in legs:
        window_r = r[span]
        if fixed is not None:
            slip = fixed
        else:
            slip = float(risk.expected_slippage(order_usd, v[last], spread_bps=spread_bps, impact=impact))
        rows.append(
            {
                "asset": name,
                **{k: float(x) for k, x in m.summary(window_r).items()},
                "kelly_capped": float(risk.kelly_fraction(window_r, cap=0.5)),
                "vol_target_50_exposure": float(risk.volatility_target(r[: last + 1], target=0.5, window=30)[-1]),
                "volume_turnover": _median(risk.volume_turnover(v[span], cap[span])),
                "amihud_per_musd": float(risk.amihud_illiquidity(window_r, v[span])),
                "slippage_bps": float(slip) * 1e4,
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col(pl.Float64).fill_nan(None))


def _median(values: NDArray[np.float64]) -> float | None:
    """Median of the finite values; None when there is none."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None
