"""Headline sentiment: VADER with crypto terms, aggregated per day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from coinseason.features.files import read_feature_file
from coinseason.features.sentiment import CRYPTO_LEXICON, compound, daily_sentiment


def test_crypto_terms_carry_sentiment() -> None:
    # plain VADER has no valence for these words; with the crypto terms they point the right way
    assert compound("Analysts turn bullish on bitcoin") > 0.3
    assert compound("Exchange hacked, traders rekt") < -0.5
    assert compound("Bitcoin is not bullish") < 0  # VADER's negation rule still applies
    assert compound("The network processed transactions") == 0.0
    assert all(-4 <= v <= 4 for v in CRYPTO_LEXICON.values())


def test_daily_mean_and_count() -> None:
    frame = pl.DataFrame(
        {
            "date": [dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 1, 2)],
            "text": ["bullish rally", "crash", "nothing here"],
            "sentiment_score": [0.5, -0.5, 0.25],
        }
    )
    out = daily_sentiment(frame)
    first = out.row(0, named=True)
    assert first["count"] == 2.0
    assert first["vader_mean"] == pytest.approx((compound("bullish rally") + compound("crash")) / 2)
    assert first["dataset_score_mean"] == 0.0
    assert out.row(1, named=True)["vader_mean"] == 0.0


def test_news_file_import(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text('date,datetime,text,sentiment_score\n2024-01-01,2024-01-01 10:00:00,"Bitcoin ETF approval",0.9\n')
    rows = read_feature_file(path, "news")
    assert set(rows["series"]) == {"news.vader_mean", "news.dataset_score_mean", "news.count"}
    assert (rows["known_at"] == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)).all()
