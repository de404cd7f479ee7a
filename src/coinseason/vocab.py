"""The shared vocabulary: every name a user can choose, spelled once, used directly by the CLI (typer), the API
(FastAPI, pydantic) and the services. StrEnum members compare equal to their strings, so a service may take either.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from coinseason.core.engine import MAX_WINDOW
from coinseason.core.universe import MAX_TOP

__all__ = [
    "DEFAULT_TOP",
    "DEFAULT_WINDOW",
    "MAX_TOP",
    "MAX_WINDOW",
    "MIN_OUTLOOK_WINDOW",
    "Interval",
    "NeutralRule",
    "ProviderName",
    "Strategy",
    "Weighting",
]

DEFAULT_TOP: Final = 50
"""Universe size N of the standard Altcoin Season Index (blockchaincenter's)."""
DEFAULT_WINDOW: Final = 90
"""Return window W, days, of the standard index."""
MIN_OUTLOOK_WINDOW: Final = 10
"""Shortest rolling window of the outlook's correlations, days."""


class Interval(StrEnum):
    """Averaging interval of a history."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Strategy(StrEnum):
    """Backtest strategies (see :mod:`coinseason.services.trading`)."""

    SEASON_ROTATION = "season-rotation"
    MOMENTUM = "momentum"
    CONTRARIAN = "contrarian"


class NeutralRule(StrEnum):
    """What a strategy holds on a neutral day."""

    SPLIT = "split"
    BTC = "btc"
    CASH = "cash"
    HOLD = "hold"


class Weighting(StrEnum):
    """Weights of the alt basket."""

    EQUAL = "equal"
    CAP = "cap"


class ProviderName(StrEnum):
    """Live market-data providers."""

    COINGECKO = "coingecko"
    CMC = "cmc"
