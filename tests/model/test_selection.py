"""The choices made inside a training window, on hand-made records: the served model is the simplest one no richer
candidate beats significantly; thin records choose nothing; the feature families and the ablation order."""

from __future__ import annotations

import numpy as np
import pytest

from coinseason.model.families import FLAGS, candidates, family
from coinseason.model.selection import (
    MIN_RECORD_DAYS,
    alert_threshold,
    choose_gap,
    choose_size,
    n_events,
    simplest_adequate,
)

PANEL_NAMES = (
    *("asi_30", "asi_60", "asi_90", "asi_90_slope_7", "asi_90_slope_30", "asi_90_chg_30", "asi_30_slope_7"),
    *("season", "btc_dom", "btc_dom_chg_30", "breadth_200", "btc_vol_30", "cp_alert"),
    *("fng", "fng_chg_7", "news_vader_7", "funding_7"),
    *("btc_active_addr_chg_30", "btc_exchange_inflow_ratio", "btc_mvrv", "stable_mcap_chg_30"),
    *("sp500_ret_30", "vix", "us10y_chg_30", "usd_broad_chg_30", "corr_btc_gold_90"),
    *FLAGS,
)


def record(n_events: int, days: int = 60) -> np.ndarray:
    y = np.zeros(n_events * days)
    for e in range(n_events):
        y[e * days + days - 15 : e * days + days - 5] = 1
    return y


def test_a_richer_model_is_served_only_when_it_wins_significantly() -> None:
    y = record(20)
    rng = np.random.default_rng(0)
    clim = np.full(y.size, y.mean())
    simple = np.clip(0.15 + 0.45 * y + rng.normal(0, 0.1, y.size), 0.01, 0.99)
    same = np.clip(simple + rng.normal(0, 0.01, y.size), 0.01, 0.99)  # no better than the simple one
    better = np.clip(0.05 + 0.85 * y + rng.normal(0, 0.05, y.size), 0.01, 0.99)
    kwargs = {"n_boot": 400, "seed": 1, "min_events": 2, "default": "logistic"}
    served, log = simplest_adequate(y, {"climatology": clim, "logistic": simple, "gbm": same}, **kwargs)
    assert served == "logistic"
    assert [(c.challenger, c.incumbent, c.adopted) for c in log] == [
        ("logistic", "climatology", True),
        ("gbm", "logistic", False),
    ]
    assert log[1].low < 0 < log[1].high
    served, log = simplest_adequate(y, {"climatology": clim, "logistic": simple, "gbm": better}, **kwargs)
    assert served == "gbm" and log[1].high < 0
    # nothing beats climatology: climatology is served (no skill)
    noise = np.clip(y.mean() + rng.normal(0, 0.02, y.size), 0.01, 0.99)
    served, _ = simplest_adequate(y, {"climatology": clim, "logistic": noise}, **kwargs)
    assert served == "climatology"
    # a record with a single transition chooses nothing: the default, without comparisons
    assert simplest_adequate(record(1), {"climatology": clim[:60], "logistic": simple[:60]}, **kwargs) == (
        "logistic",
        [],
    )


def test_k_and_size_come_from_the_record_or_the_defaults() -> None:
    y = record(6)
    clim = np.full(y.size, y.mean())
    good = np.where(y == 1, 0.7, 0.05)
    poor = np.where(y == 1, 0.3, 0.15)
    # k = 7's label is forecast better (relative to its climatology) than k = 14's
    assert choose_gap({7: (y, good, clim), 14: (y, poor, clim)}, default=14, min_events=2) == 7
    # one k's record too thin: the default
    thin = record(1)
    assert choose_gap({7: (y, good, clim), 14: (thin, thin * 0.5, thin * 0 + 0.1)}, default=14, min_events=2) == 14
    assert choose_gap({30: (thin, thin, thin)}, default=14, min_events=2) == 30  # a grid of one is no choice
    assert choose_size(y, {25: poor, 50: good, 100: good}, min_events=2) == 50  # lowest Brier, fewest on a tie
    assert choose_size(thin, {25: thin * 0.2, 50: thin}, min_events=2) == 25


def test_alert_threshold_from_the_record() -> None:
    assert alert_threshold(np.linspace(0, 1, 101), 0.1) == pytest.approx(0.9)
    assert alert_threshold(np.linspace(0, 1, MIN_RECORD_DAYS - 1), 0.1) == np.inf
    assert n_events(np.array([0, 1, 1, 0, 1, 0.0])) == 2


def test_families_and_the_ablation_order() -> None:
    fams = {n: family(n) for n in PANEL_NAMES}
    assert {n for n, f in fams.items() if f == "sentiment"} == {"fng", "fng_chg_7", "news_vader_7", "funding_7"}
    assert {n for n, f in fams.items() if f == "onchain"} == {
        "btc_active_addr_chg_30",
        "btc_exchange_inflow_ratio",
        "btc_mvrv",
        "stable_mcap_chg_30",
    }
    assert {n for n, f in fams.items() if f == "macro"} == {
        "sp500_ret_30",
        "vix",
        "us10y_chg_30",
        "usd_broad_chg_30",
        "corr_btc_gold_90",
    }
    found = candidates(PANEL_NAMES, 90)
    assert [c.name for c in found] == [
        "climatology",
        "logistic",
        "gbm_asi",
        "gbm_engine",
        "gbm_engine_sentiment",
        "gbm_engine_sentiment_onchain",
        "gbm_all",
    ]
    by = {c.name: set(c.features) for c in found}
    assert by["logistic"] == {"asi_90", "asi_90_slope_30", *FLAGS}
    assert by["gbm_asi"] == {n for n in PANEL_NAMES if n.startswith("asi_")} | {"season"}
    assert by["gbm_asi"] < by["gbm_engine"] < by["gbm_engine_sentiment"] < by["gbm_engine_sentiment_onchain"]
    assert by["gbm_all"] == set(PANEL_NAMES) - set(FLAGS)
    # a family without features is left out of the ablation
    assert "gbm_engine_sentiment_onchain" not in {c.name for c in candidates(("asi_90", "asi_90_slope_30", "fng"), 90)}
