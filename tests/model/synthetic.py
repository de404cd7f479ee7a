"""A small synthetic market whose altcoins swing against BTC (so the season index crosses both thresholds) and
feature rows with publication lags, for pipeline tests that must run in seconds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from coinseason.features.catalog import FEATURE_SCHEMA, end_of_day, next_day_noon

START = dt.date(2020, 1, 1)
N_ALTS = 11


def market_prices(days: int, seed: int = 7) -> np.ndarray:
    """days x (1 + N_ALTS) prices: BTC first; altcoins share a 120-day cycle against BTC plus their own noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    btc = np.cumsum(rng.normal(0.0005, 0.02, days))
    cycle = 0.6 * np.sin(2 * np.pi * t / 120.0)
    alts = btc[:, None] + cycle[:, None] + np.cumsum(rng.normal(0, 0.01, (days, N_ALTS)), axis=0)
    return np.exp(np.column_stack([btc + np.log(20_000.0), alts + np.log(np.linspace(50, 5, N_ALTS))]))


def market_csv(path: Path, prices: np.ndarray) -> Path:
    days, n = prices.shape
    supply = np.concatenate([[19e6], np.linspace(4e8, 1e8, n - 1)])
    ids = ["bitcoin"] + [f"alt{i:02d}" for i in range(1, n)]
    rows = ["coin_id,symbol,name,date,price,market_cap,volume"]
    for d in range(days):
        day = START + dt.timedelta(days=d)
        for c in range(n):
            p = float(prices[d, c])
            rows.append(
                f"{ids[c]},{ids[c][:4]},{ids[c]},{day},{p!r},{p * float(supply[c])!r},{p * float(supply[c]) * 0.05!r}"
            )
    path.write_text("\n".join(rows) + "\n")
    return path


def feature_rows(days: int, seed: int = 11) -> pl.DataFrame:
    """A daily fear-and-greed-like series (known at the end of its day) and a weekday market close known at noon
    the next day."""
    rng = np.random.default_rng(seed)
    dates = [START + dt.timedelta(days=d) for d in range(days)]
    fng = np.clip(50 + np.cumsum(rng.normal(0, 3, days)), 0, 100)
    close = 3000 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
    weekdays = [i for i, d in enumerate(dates) if d.weekday() < 5]
    return pl.DataFrame(
        {
            "series": ["fng.value"] * days + ["yahoo.sp500_close"] * len(weekdays),
            "date": dates + [dates[i] for i in weekdays],
            "known_at": [end_of_day(d) for d in dates] + [next_day_noon(dates[i]) for i in weekdays],
            "value": np.concatenate([fng, close[weekdays]]),
        },
        schema=FEATURE_SCHEMA,
    )
