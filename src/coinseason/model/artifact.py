"""Model artifacts: the fitted models with what they are, versioned in the store (never in git).

The payload is a pickle of :class:`~coinseason.model.train.FinalModels`; it is only ever read back from the
operator's own store, which holds nothing an outsider wrote. The version is the training time plus the first
12 hex digits of the payload's SHA-256, so two runs with the same data and seed give the same digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import pickle
from typing import Any

from coinseason.errors import NoDataError, StoreError
from coinseason.model.train import Evaluation, FinalModels
from coinseason.store.protocols import ModelStore
from coinseason.store.records import ModelArtifact


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def oos_summary(evaluation: Evaluation) -> dict[str, Any]:
    """Out-of-sample figures per target, JSON-able (NaN as null)."""
    out: dict[str, Any] = {}
    for target, rep in evaluation.reports.items():
        out[target] = {
            "test_days": rep.n_test_days,
            "positives": rep.n_positive,
            "base_rate": _clean(rep.base_rate),
            "models": {m: {k: _clean(v) for k, v in mm.items()} for m, mm in rep.metrics.items()},
            "events": rep.events,
            "events_warned": rep.events_warned,
            "lead_time_median_days": _clean(rep.lead_time_median),
            "changepoint_alert": {k: _clean(v) for k, v in rep.changepoint_alert.items()},
            **({"reentries": rep.reentries} if rep.reentries else {}),
        }
    return out


def make_artifact(final: FinalModels, evaluation: Evaluation, *, source: str, created_at: dt.datetime) -> ModelArtifact:
    payload = pickle.dumps(final, protocol=5)
    digest = hashlib.sha256(payload).hexdigest()[:12]
    version = f"{created_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{digest}"
    folds = evaluation.folds
    meta: dict[str, Any] = {
        "version": version,
        "sha256_12": digest,
        "source": source,
        "config": evaluation.config.as_dict(),
        "features": list(final.names),
        "training_window": {"start": final.train_start.isoformat(), "end": final.train_end.isoformat()},
        "validation": {
            "folds": len(folds),
            "first_test_day": (
                final.train_start + dt.timedelta(days=folds[0].test_start - evaluation.first_row)
            ).isoformat(),
            "purge_days": evaluation.config.horizon,
            "embargo_days": evaluation.config.embargo_days,
        },
        "out_of_sample": oos_summary(evaluation),
    }
    return ModelArtifact(version=version, created_at=created_at, meta=meta, payload=payload)


def load_models(store: ModelStore, version: str | None = None) -> tuple[ModelArtifact, FinalModels]:
    artifact = store.model(version)
    if artifact is None:
        what = f"model version {version!r}" if version else "trained model"
        raise NoDataError(f"the store holds no {what}: run `coinseason model train` first")
    return artifact, unpack(artifact)


def unpack(artifact: ModelArtifact) -> FinalModels:
    """The fitted models of a stored artifact."""
    final = pickle.loads(artifact.payload)  # noqa: S301 - the operator's own store, written by model train
    if not isinstance(final, FinalModels):
        raise StoreError(f"model {artifact.version} is not a coinseason model artifact")
    return final
