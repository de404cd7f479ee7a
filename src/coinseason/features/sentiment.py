"""Headline sentiment: VADER's lexicon model (``vaderSentiment``, shipped in the package) with crypto terms added.

VADER scores each word from a human-rated lexicon and combines them with rules for negation, intensifiers and
punctuation into a ``compound`` score in [-1, 1] (Hutto & Gilbert, ICWSM 2014). Market slang it does not know
("bullish", "rekt", "hack") is added with valences on VADER's -4..+4 scale. Nothing is downloaded at run time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final, Protocol, cast

import polars as pl

CRYPTO_LEXICON: Final[dict[str, float]] = {
    "bullish": 2.2,
    "bull": 1.5,
    "rally": 1.8,
    "rallies": 1.8,
    "surge": 1.8,
    "surges": 1.8,
    "soar": 2.0,
    "soars": 2.0,
    "moon": 1.5,
    "mooning": 2.0,
    "ath": 1.8,
    "breakout": 1.5,
    "adoption": 1.2,
    "approval": 1.5,
    "approved": 1.5,
    "hodl": 1.0,
    "accumulate": 0.8,
    "accumulation": 0.8,
    "inflows": 0.8,
    "bearish": -2.2,
    "bear": -1.5,
    "crash": -2.5,
    "crashes": -2.5,
    "plunge": -2.2,
    "plunges": -2.2,
    "slump": -1.8,
    "dump": -1.8,
    "dumps": -1.8,
    "selloff": -1.8,
    "sell-off": -1.8,
    "liquidation": -1.5,
    "liquidations": -1.5,
    "liquidated": -1.8,
    "rekt": -2.5,
    "hack": -2.5,
    "hacked": -2.8,
    "exploit": -2.2,
    "exploited": -2.5,
    "rug": -2.5,
    "rugpull": -3.0,
    "ponzi": -2.8,
    "bankrupt": -3.0,
    "bankruptcy": -3.0,
    "insolvent": -2.8,
    "outflows": -0.8,
    "crackdown": -1.8,
    "ban": -1.8,
    "banned": -2.0,
    "delisted": -1.8,
    "delisting": -1.5,
    "capitulation": -2.0,
}


class _Analyzer(Protocol):
    lexicon: dict[str, float]

    def polarity_scores(self, text: str) -> dict[str, float]: ...


@lru_cache(maxsize=1)
def analyzer() -> _Analyzer:
    """VADER with the crypto terms (built once: reading the lexicon takes a few tens of milliseconds)."""
    # imported here: VADER loads only when news is scored, not at every start
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # type: ignore[import-untyped]

    model = cast(_Analyzer, SentimentIntensityAnalyzer())
    model.lexicon.update(CRYPTO_LEXICON)
    return model


def compound(text: str) -> float:
    """VADER compound score of one headline, in [-1, 1]."""
    return float(analyzer().polarity_scores(text)["compound"])


def daily_sentiment(frame: pl.DataFrame) -> pl.DataFrame:
    """Per UTC day: ``vader_mean`` (mean compound), ``count`` and, when given, ``dataset_score_mean``.
    ``frame`` has ``date`` and ``text`` and optionally ``sentiment_score``."""
    scores = [compound(t) if isinstance(t, str) else float("nan") for t in frame["text"].to_list()]
    scored = frame.with_columns(pl.Series("vader", scores, dtype=pl.Float64).fill_nan(None))
    aggs = [pl.col("vader").mean().alias("vader_mean"), pl.len().cast(pl.Float64).alias("count")]
    if "sentiment_score" in frame.columns:
        aggs.append(pl.col("sentiment_score").cast(pl.Float64).mean().alias("dataset_score_mean"))
    else:
        aggs.append(pl.lit(None, dtype=pl.Float64).alias("dataset_score_mean"))
    return scored.group_by("date").agg(aggs).sort("date")
