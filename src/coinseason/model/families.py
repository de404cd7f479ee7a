"""The design matrix and the candidate forecasters, from the simplest to the richest.

The features fall into families: the Altcoin Season Index itself (its levels, slopes and the season), the rest
of the engine's market series (dominance, breadth, returns, volatility, volume, change points), sentiment (Fear &
Greed, news, funding), on-chain (Coin Metrics, blockchain.com, stablecoin supply) and macro (US markets, rates,
the dollar, gold, and BTC's correlations with them). The candidates, in the order the served model is chosen:

* ``climatology`` — the share of training days followed by a transition;
* ``logistic`` — logistic regression on the index level, its 30-day slope and the in-season flags;
* ``gbm_asi`` — gradient boosting on the index family;
* ``gbm_engine`` → ``gbm_engine_sentiment`` → ``gbm_engine_sentiment_onchain`` → ``gbm_all``: the ablation, one
  family added at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from coinseason.features.dataset import FeaturePanel

FAMILIES = ("engine", "sentiment", "onchain", "macro")
_PREFIXES = {
    "sentiment": ("fng", "news_", "funding_"),
    "onchain": (
        "btc_active_addr",
        "btc_transfers",
        "btc_tx_count",
        "btc_hashrate",
        "btc_exchange",
        "eth_exchange",
        "btc_mvrv",
        "stable_mcap",
    ),
    "macro": ("sp500", "dxy", "vix", "gold", "us10y", "us2y", "usd_broad", "corr_"),
}
FLAGS = ("in_altcoin_season", "in_bitcoin_season")
"""Derived columns: 1 on days in that season, 0 on other known days."""
REFERENCE = "persistence"
"""The no-change forecast (probability 0 of any transition): a reference row of the card, never served."""


def family(name: str) -> str:
    """The family of feature ``name``: engine unless it is an external series of a known kind."""
    for fam, prefixes in _PREFIXES.items():
        if name.startswith(prefixes):
            return fam
    return "engine"


def in_asi_family(name: str) -> bool:
    return name.startswith("asi_") or name == "season" or name in FLAGS


@dataclass(frozen=True, slots=True)
class Design:
    """The model's feature matrix: the panel's columns and the derived flags."""

    names: tuple[str, ...]
    values: NDArray[np.float64]

    def columns(self, names: tuple[str, ...]) -> tuple[int, ...]:
        return tuple(self.names.index(n) for n in names)


def design(panel: FeaturePanel) -> Design:
    season = panel.column("season")
    known = np.isfinite(season)
    flags = [np.where(known, (season == code).astype(np.float64), np.nan) for code in (1.0, -1.0)]
    return Design(panel.names + FLAGS, np.column_stack([panel.values, *flags]))


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    kind: str
    """``constant`` (persistence), ``climatology``, ``logistic`` or ``gbm``."""
    features: tuple[str, ...]
    summary: str


def logistic_features(window: int) -> tuple[str, ...]:
    return (f"asi_{window}", f"asi_{window}_slope_30", *FLAGS)


def candidates(names: tuple[str, ...], window: int) -> list[Candidate]:
    """The candidates over ``names``, simplest first; an ablation step whose family has no feature is left out."""
    engine = tuple(n for n in names if family(n) == "engine" and n not in FLAGS)
    out = [
        Candidate("climatology", "climatology", (), "the share of training days followed by a transition"),
        Candidate(
            "logistic",
            "logistic",
            logistic_features(window),
            f"logistic regression on the index level, its 30-day slope and the in-season flags ({window}-day index)",
        ),
        Candidate(
            "gbm_asi",
            "gbm",
            tuple(n for n in engine if in_asi_family(n)),
            "gradient boosting on the Altcoin Season Index family",
        ),
        Candidate("gbm_engine", "gbm", engine, "gradient boosting on every engine feature (market data only)"),
    ]
    steps = (("sentiment", "gbm_engine_sentiment"), ("onchain", "gbm_engine_sentiment_onchain"), ("macro", "gbm_all"))
    current = engine
    for fam, name in steps:
        added = tuple(n for n in names if family(n) == fam)
        if added:
            current = current + added
            out.append(Candidate(name, "gbm", current, f"{out[-1].name} + the {fam} features"))
    return out


def reference() -> Candidate:
    return Candidate(REFERENCE, "constant", (), "the season stays: probability 0 of any transition")
