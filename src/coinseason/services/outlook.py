"""Early warning of season transitions: training (walk-forward validated, model card, artifact in the store), the
outlook of the stored model, and the sentiment, on-chain and correlation series behind it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl

from coinseason.clock import Clock, utc_now
from coinseason.core.feature_math import rolling_corr
from coinseason.core.labels import TARGETS
from coinseason.core.season import SEASON_NAMES, classify_season
from coinseason.core.universe import NO_COIN
from coinseason.errors import ConfigError, NoDataError
from coinseason.features.dataset import CORRELATION_ASSETS, ExternalSeries, FeaturePanel, build_panel, span_changes
from coinseason.features.market import MarketSeries, market_series
from coinseason.model.artifact import load_models, make_artifact, unpack
from coinseason.model.card import write_model_card
from coinseason.model.config import TrainConfig
from coinseason.model.estimators import one_thread
from coinseason.model.train import Evaluation, FinalModels, fit_final, make_labels, walk_forward, with_oos
from coinseason.services.analytics import AnalyticsService
from coinseason.store.protocols import FeatureStore, MarketData, ModelStore
from coinseason.store.records import ModelArtifact

SENTIMENT_SERIES = ("fng.value", "news.vader_mean", "news.dataset_score_mean", "news.count")
ONCHAIN_SERIES = (
    "btc_cm.adr_act_cnt",
    "btc_cm.tx_tfr_cnt",
    "btc_cm.cap_mvrv_cur",
    "btc_cm.flow_in_ex_usd",
    "btc_bc.n_unique_addresses",
    "btc_bc.n_transactions",
    "btc_bc.hash_rate_ths",
    "eth_cm.flow_in_ex_usd",
)
TOP_FEATURES = 5
DEFAULT_SERIES_DAYS = 365
"""Days /v1/sentiment and /v1/onchain answer when no ``from`` is given."""
NEWEST_TTL_SECONDS = 5.0
"""How long the newest model version found in the store is trusted before it is looked up again."""


class OutlookStore(MarketData, FeatureStore, ModelStore, Protocol):
    """What the outlook needs of a store: market data (for the engine series), feature rows and model artifacts."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    artifact: ModelArtifact
    evaluation: Evaluation
    card: Path | None


def load_market_series(
    analytics: AnalyticsService, source: str | None = None, *, top: int = 50, label_window: int = 90
) -> MarketSeries:
    """Every engine series of ``source`` (:func:`~coinseason.features.market.market_series`), default exclusions;
    read from the analytics' engine and store."""
    loaded = analytics.loaded(source)
    excluded = analytics.exclusion(loaded.source, "default").exclusion
    return market_series(
        loaded.engine,
        excluded=excluded,
        volumes=analytics.store.observations(loaded.source, columns=("coin_id", "date", "volume")),
        top=top,
        label_window=label_window,
        meta={"source": loaded.source},
    )


def _changepoint(panel: FeaturePanel, row: int) -> dict[str, Any] | None:
    """The change-point alert on the day: on while the last change point of BTC dominance is at most 30 days
    old, its age and the shift of the mean (points); None when the model has no change-point features."""
    if "cp_alert" not in panel.names:
        return None
    on, since, shift = (float(panel.column(n)[row]) for n in ("cp_alert", "cp_days_since", "cp_shift"))
    return {
        "on": on == 1.0,
        "days_since": None if np.isnan(since) else int(since),
        "shift": None if np.isnan(shift) else shift,
    }


def next_snapshot(x: np.ndarray) -> np.ndarray:
    """``x`` moved one day earlier: on day D the value dated D+1 (00:00 UTC of D+1); NaN on the last day."""
    out = np.full(x.size, np.nan)
    out[:-1] = x[1:]
    return out


class OutlookService:
    """Models over one store: train them, and answer outlooks with the newest (cached until data changes)."""

    def __init__(
        self,
        store: OutlookStore,
        analytics: AnalyticsService | None = None,
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        newest_ttl: float | None = None,
    ) -> None:
        self._store = store
        self._analytics = analytics or AnalyticsService(store)
        self._clock = clock
        self._monotonic = monotonic
        self._newest_ttl = newest_ttl
        self._newest: tuple[float, str] | None = None
        self._inputs: dict[tuple[str | None, int, int, bool], tuple[MarketSeries, FeaturePanel]] = {}
        self._models: dict[str, tuple[ModelArtifact, FinalModels]] = {}

    def invalidate(self) -> None:
        """Forget cached inputs and models: new data or a new model landed."""
        self._inputs.clear()
        self._models.clear()
        self._newest = None

    def newest_version(self) -> str:
        """The newest model version in the store, looked up again once the last look-up is older than the TTL
        (a model trained meanwhile is served within that time)."""
        now = self._monotonic()
        ttl = NEWEST_TTL_SECONDS if self._newest_ttl is None else self._newest_ttl
        if self._newest is None or now - self._newest[0] >= ttl:
            artifact = self._store.model(None)
            if artifact is None:
                raise NoDataError("the store holds no trained model: run `coinseason model train` first")
            if artifact.version not in self._models:
                self._models[artifact.version] = (artifact, unpack(artifact))
            self._newest = (now, artifact.version)
        return self._newest[1]

    def inputs(
        self, *, source: str | None, top: int, window: int, change_points: bool = True
    ) -> tuple[MarketSeries, FeaturePanel]:
        key = (source, top, window, change_points)
        if key not in self._inputs:
            market = load_market_series(self._analytics, source, top=top, label_window=window)
            panel = build_panel(market, self._store.features(), change_points=change_points)
            self._inputs[key] = (market, panel)
        return self._inputs[key]

    # -- training -------------------------------------------------------------------------------------------

    def train(self, config: TrainConfig, *, source: str | None = None, card_dir: Path | None = None) -> TrainResult:
        """Walk-forward validation, final fit, artifact stored, model card written to ``card_dir``."""
        market, panel = self.inputs(
            source=source, top=config.top, window=config.window, change_points=config.change_points
        )
        labels = make_labels(market, config)
        evaluation = walk_forward(panel, labels, config)
        final = with_oos(fit_final(panel, labels, config, evaluation.first_row), evaluation, panel.start, panel.n_days)
        name = str(market.meta.get("source", source))
        artifact = make_artifact(final, evaluation, source=name, created_at=self._clock())
        self._store.write_model(artifact)
        self._models.clear()
        self._newest = None
        card = write_model_card(evaluation, panel, labels, artifact.meta, card_dir) if card_dir else None
        return TrainResult(artifact, evaluation, card)

    # -- outlook --------------------------------------------------------------------------------------------

    def model(self, version: str | None = None) -> tuple[ModelArtifact, FinalModels]:
        """Model ``version`` (default: the newest), unpickled once."""
        version = version or self.newest_version()
        if version not in self._models:
            self._models[version] = load_models(self._store, version)
        return self._models[version]

    def outlook(self, *, day: dt.date | None = None, version: str | None = None) -> dict[str, Any]:
        """Probability of each transition within H days of ``day`` (default: the last day of data).

        A day on or before the end of the model's training window is answered from the stored walk-forward
        out-of-sample predictions (the final model was fitted on it); a day without one is refused."""
        artifact, final = self.model(version)
        cfg = artifact.meta["config"]
        market, panel = self.inputs(
            source=artifact.meta["source"],
            top=int(cfg["top"]),
            window=int(cfg["window"]),
            change_points=bool(cfg.get("change_points", True)),
        )
        if panel.names != final.names:
            raise ConfigError(f"model {artifact.version} was trained on other features: train it again")
        row = panel.n_days - 1 if day is None else (day - panel.start).days
        if not 0 <= row < panel.n_days:
            raise ConfigError(f"date {day} is outside the data ({panel.start} to {market.dates[-1]})")
        the_day = panel.start + dt.timedelta(days=row)
        asi = float(market.asi[int(cfg["window"])][row])
        season = classify_season(np.array([asi]), altcoin_at=cfg["altcoin_at"], bitcoin_at=cfg["bitcoin_at"])[0]
        head = {
            "date": the_day.isoformat(),
            "source": artifact.meta["source"],
            "season": SEASON_NAMES[int(season)],
            "altcoin_season_index": None if np.isnan(asi) else asi,
            "horizon_days": int(cfg["horizon"]),
            "dominance_points": float(cfg["dominance_points"]),
            "entry_gap_days": int(cfg.get("entry_gap", 1)),
            "model_version": artifact.version,
            "trained_at": artifact.created_at.isoformat(),
            "training_window": artifact.meta["training_window"],
            "changepoint_alert": _changepoint(panel, row),
        }
        if the_day <= final.train_end:
            transitions, fold = self._stored_oos(artifact, final, the_day)
            return {
                **head,
                "in_sample": False,
                "predicted_by": {"kind": "walk-forward fold", "fold": fold, **self._fold_span(artifact, fold)},
                "transitions": transitions,
                "missing_features": [],
                "out_of_sample": artifact.meta["out_of_sample"],
            }
        x = panel.values[row]
        # contributions: how far each feature moves the probability from its value at the training median
        probe = np.repeat(x[None, :], x.size + 1, axis=0)
        probe[np.arange(1, x.size + 1), np.arange(x.size)] = final.medians
        missing = np.isnan(x)
        transitions = []
        with one_thread():
            for target in TARGETS:
                models = final.models[target]
                p = models["gbm"].predict(probe)
                delta = p[0] - p[1:]
                # a missing feature has no value to contribute: left out of the ranking (listed apart)
                order = [j for j in np.argsort(-np.abs(delta)) if not missing[j]][:TOP_FEATURES]
                transitions.append(
                    {
                        "target": target,
                        "probability": float(p[0]),
                        "logistic_probability": float(models["logistic"].predict(probe[:1])[0]),
                        "climatology": float(models["climatology"].predict(probe[:1])[0]),
                        "top_features": [
                            {"feature": final.names[j], "value": float(x[j]), "contribution": float(delta[j])}
                            for j in order
                        ],
                    }
                )
        return {
            **head,
            "in_sample": False,
            "predicted_by": {"kind": "final model", "fold": None, "trained_through": final.train_end.isoformat()},
            "transitions": transitions,
            "missing_features": [final.names[j] for j in np.flatnonzero(missing)],
            "out_of_sample": artifact.meta["out_of_sample"],
        }

    @staticmethod
    def _stored_oos(artifact: ModelArtifact, final: FinalModels, day: dt.date) -> tuple[list[dict[str, Any]], int]:
        """The walk-forward out-of-sample probabilities stored with the model for ``day``, and their fold."""
        train_end = artifact.meta["training_window"]["end"]
        start: dt.date | None = getattr(final, "start", None)  # models stored before OOS predictions were kept
        if start is None or not getattr(final, "oos", None):
            raise ConfigError(
                f"date {day} is on or before the end of model {artifact.version}'s training window ({train_end}) and"
                " the model stores no out-of-sample predictions: train it again, or ask for a later date"
            )
        i = (day - start).days
        fold = int(final.oos_fold[i]) if 0 <= i < final.oos_fold.size else -1
        if fold < 0:
            first = artifact.meta["validation"]["first_test_day"]
            raise ConfigError(
                f"date {day} has no out-of-sample prediction: it is on or before the end of the training window"
                f" ({train_end}) and before the first walk-forward test day ({first})"
            )
        transitions = [
            {
                "target": target,
                "probability": float(final.oos[target]["gbm"][i]),
                "logistic_probability": float(final.oos[target]["logistic"][i]),
                "climatology": float(final.oos[target]["climatology"][i]),
                "top_features": [],
            }
            for target in TARGETS
        ]
        return transitions, fold

    @staticmethod
    def _fold_span(artifact: ModelArtifact, fold: int) -> dict[str, Any]:
        cfg = artifact.meta["config"]
        first = dt.date.fromisoformat(artifact.meta["validation"]["first_test_day"])
        test_start = first + dt.timedelta(days=fold * int(cfg["test_days"]))
        gap = int(cfg["horizon"]) + int(cfg.get("embargo") or cfg["horizon"])
        return {
            "test_start": test_start.isoformat(),
            "trained_through": (test_start - dt.timedelta(days=gap + 1)).isoformat(),
        }

    # -- series ---------------------------------------------------------------------------------------------

    def series(
        self, names: tuple[str, ...], *, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """Stored rows of ``names`` as they are known now (latest revision per day), wide by date; without
        ``start``, the DEFAULT_SERIES_DAYS days up to ``end`` (default: the last stored day)."""
        rows = self._store.features(names)
        if rows.height == 0:
            raise NoDataError(
                f"the store holds none of {', '.join(names)}: run `coinseason features import PATH --format F`"
            )
        latest = rows.sort("known_at").group_by("series", "date").last()
        if start is None:  # bounded by default: the last DEFAULT_SERIES_DAYS days
            last: dt.date = end if end is not None else latest["date"].max()  # type: ignore[assignment]
            start = last - dt.timedelta(days=DEFAULT_SERIES_DAYS - 1)
        latest = latest.filter(pl.col("date") >= start)
        if end is not None:
            latest = latest.filter(pl.col("date") <= end)
        wide = latest.pivot(on="series", index="date", values="value").sort("date")
        missing = [n for n in names if n not in wide.columns]
        wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(n) for n in missing)
        return wide.select("date", *names)

    def correlations(
        self,
        asset: str,
        *,
        window: int = 90,
        source: str | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """Rolling correlations of BTC returns and BTC dominance changes with ``asset``'s returns, by the date D of
        the asset's observation (a US close, ~21:00 UTC of D). The BTC side is measured at 00:00 UTC of D+1 (the
        market snapshot dated D+1), the first snapshot after that close: the alignment of the model's features."""
        if asset not in CORRELATION_ASSETS:
            raise ConfigError(f"with= takes one of {', '.join(CORRELATION_ASSETS)}, not {asset!r}")
        if not 10 <= window <= 730:
            raise ConfigError(f"window must be between 10 and 730 days, not {window}")
        loaded = self._analytics.loaded(source)
        eng = loaded.engine
        btc_price = eng.price[:, eng.btc] if eng.btc != NO_COIN else np.full(eng.n_days, np.nan)
        btc_dominance = eng.dominance(self._analytics.exclusion(loaded.source, "default").exclusion).btc
        ext = ExternalSeries(self._store.features((CORRELATION_ASSETS[asset],)), eng.start, eng.n_days)
        values, fresh = ext.aligned(CORRELATION_ASSETS[asset], point_in_time=False)
        if not fresh.any():
            raise NoDataError(f"the store holds no {CORRELATION_ASSETS[asset]}: import it first")
        change = span_changes(values, fresh, log=asset not in ("us10y", "us2y"))
        fresh = np.isfinite(change)
        btc = span_changes(next_snapshot(btc_price), fresh, log=True)
        dom = span_changes(next_snapshot(btc_dominance), fresh, log=False)
        frame = pl.DataFrame(
            {
                "date": eng.dates,
                "value": rolling_corr(btc, change, window),
                "btc_dominance_corr": rolling_corr(dom, change, window),
            }
        ).filter(pl.col("value").is_not_nan() | pl.col("btc_dominance_corr").is_not_nan())
        if start is not None:
            frame = frame.filter(pl.col("date") >= start)
        if end is not None:
            frame = frame.filter(pl.col("date") <= end)
        return frame.with_columns(pl.col(pl.Float64).fill_nan(None))
