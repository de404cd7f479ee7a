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
from coinseason.core.season import SEASON_NAMES, classify_season
from coinseason.core.universe import NO_COIN
from coinseason.errors import ConfigError, NoDataError
from coinseason.features.dataset import CORRELATION_ASSETS, ExternalSeries, FeaturePanel, build_panel, span_changes
from coinseason.features.market import MarketSeries, market_series
from coinseason.model.answer import answer
from coinseason.model.artifact import load_models, make_artifact, unpack
from coinseason.model.card import write_model_card
from coinseason.model.checks import run_checks
from coinseason.model.config import TrainConfig
from coinseason.model.families import Design, design
from coinseason.model.final import FinalModels, fit_final
from coinseason.model.report import TargetReport, report
from coinseason.model.train import Walk, make_labels, walk_forward
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
DEFAULT_SERIES_DAYS = 365
"""Days /v1/sentiment and /v1/onchain answer when no ``from`` is given."""
NEWEST_TTL_SECONDS = 5.0
"""How long the newest model version found in the store is trusted before it is looked up again."""


class OutlookStore(MarketData, FeatureStore, ModelStore, Protocol):
    """What the outlook needs of a store: market data (for the engine series), feature rows and model artifacts."""


@dataclass(frozen=True, slots=True)
class TrainResult:
    artifact: ModelArtifact
    walk: Walk
    reports: dict[str, TargetReport]
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


def compact_oos(summary: dict[str, Any]) -> dict[str, Any]:
    """Per target, the served model, its skill verdict and its figures beside the logistic baseline's (the full
    tables are in the model card and the artifact's metadata)."""
    out = {}
    for target, rep in summary.items():
        models = rep["models"]
        out[target] = {
            "served": rep["served"],
            "skill": rep["skill"],
            "skill_note": rep["skill_note"],
            "test_days": rep["test_days"],
            "events": rep["events"],
            "base_rate": rep["base_rate"],
            "models": {name: models[name] for name in dict.fromkeys((rep["served"], "logistic")) if name in models},
        }
    return out


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
        self._designs: dict[tuple[str | None, int, int, bool], Design] = {}
        self._models: dict[str, tuple[ModelArtifact, FinalModels]] = {}

    def invalidate(self) -> None:
        """Forget cached inputs and models: new data or a new model landed."""
        self._inputs.clear()
        self._designs.clear()
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

    def train(
        self,
        config: TrainConfig,
        *,
        source: str | None = None,
        card_dir: Path | None = None,
        check: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> TrainResult:
        """Nested walk-forward validation, figures with event-bootstrap intervals, (with ``check``) the permutation
        null and the leak canary, final fit, artifact stored, model card written to ``card_dir``. ``progress`` is
        told the name of each step as it starts (training takes minutes)."""
        step = progress or (lambda _name: None)
        step("reading the market and the features")
        market, panel = self.inputs(
            source=source, top=config.top, window=config.window, change_points=config.change_points
        )
        step("labelling the transitions")
        labels = make_labels(market, config)
        step("walk-forward validation")
        walk = walk_forward(panel, labels, config)
        step("out-of-sample figures")
        reports = report(walk, changepoint=panel.column("cp_alert") if "cp_alert" in panel.names else None)
        if check:
            step("permutation null and leak canary")
            run_checks(walk, reports)
        step("final fit")
        final = fit_final(walk, reports, panel)
        name = str(market.meta.get("source", source))
        artifact = make_artifact(final, walk, reports, source=name, created_at=self._clock())
        self._store.write_model(artifact)
        self._models.clear()
        self._newest = None
        if card_dir:
            step("model card")
        card = write_model_card(walk, reports, panel, artifact.meta, card_dir) if card_dir else None
        return TrainResult(artifact, walk, reports, card)

    # -- outlook --------------------------------------------------------------------------------------------

    def model(self, version: str | None = None) -> tuple[ModelArtifact, FinalModels]:
        """Model ``version`` (default: the newest), unpickled once."""
        version = version or self.newest_version()
        if version not in self._models:
            self._models[version] = load_models(self._store, version)
        return self._models[version]

    def outlook(self, *, day: dt.date | None = None, version: str | None = None) -> dict[str, Any]:
        """Probability of each transition within H days of ``day`` (default: the last day of data), as of that day:
        from the final models on their last training day and later, from the stored walk-forward forecast of the
        day before that (:func:`coinseason.model.answer.answer`); a day before the first test block is refused."""
        artifact, final = self.model(version)
        cfg = artifact.meta["config"]
        key = (artifact.meta["source"], int(cfg["top"]), int(cfg["window"]), bool(cfg.get("change_points", True)))
        market, panel = self.inputs(source=key[0], top=key[1], window=key[2], change_points=key[3])
        if key not in self._designs:
            self._designs[key] = design(panel)
        d = self._designs[key]
        if d.names != final.names:
            raise ConfigError(f"model {artifact.version} was trained on other features: train it again")
        row = panel.n_days - 1 if day is None else (day - panel.start).days
        if not 0 <= row < panel.n_days:
            raise ConfigError(f"date {day} is outside the data ({panel.start} to {market.dates[-1]})")
        the_day = panel.start + dt.timedelta(days=row)
        asi = float(market.asi[int(cfg["window"])][row])
        code = int(classify_season(np.array([asi]), altcoin_at=cfg["altcoin_at"], bitcoin_at=cfg["bitcoin_at"])[0])
        said = answer(final, d.values[row], the_day, code)
        return {
            "date": the_day.isoformat(),
            "source": artifact.meta["source"],
            "season": SEASON_NAMES[code],
            "altcoin_season_index": None if np.isnan(asi) else asi,
            "horizon_days": int(cfg["horizon"]),
            "dominance_points": float(cfg["dominance_points"]),
            "model_version": artifact.version,
            "trained_at": artifact.created_at.isoformat(),
            "training_window": artifact.meta["training_window"],
            "changepoint_alert": _changepoint(panel, row),
            **said,
            "out_of_sample": compact_oos(artifact.meta["out_of_sample"]),
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
