"""Model artifacts: the fitted models with what they are, versioned in the store (never in git).

The payload is a pickle of :class:`~coinseason.model.final.FinalModels`; it is only ever read back from the
operator's own store, which holds nothing an outsider wrote. The version is the training time plus the first
12 hex digits of the payload's SHA-256, so two runs with the same data and seed give the same digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import pickle
from typing import Any

from coinseason.errors import NoDataError, StoreError
from coinseason.model.final import FinalModels
from coinseason.model.report import Delta, Score, TargetReport
from coinseason.model.train import Walk
from coinseason.store.protocols import ModelStore
from coinseason.store.records import ModelArtifact


def _clean(value: Any) -> Any:
    """JSON-able: NaN and inf as null, floats rounded, tuples as lists."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, tuple | list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


def _score(s: Score) -> dict[str, Any]:
    return _clean(dataclasses.asdict(s))  # type: ignore[no-any-return]


def _delta(d: Delta) -> dict[str, Any]:
    return _clean(dataclasses.asdict(d))  # type: ignore[no-any-return]


def oos_summary(reports: dict[str, TargetReport]) -> dict[str, Any]:
    """Out-of-sample figures per target, JSON-able (NaN as null)."""
    out: dict[str, Any] = {}
    for target, rep in reports.items():
        final = rep.final
        out[target] = _clean(
            {
                "test_days": rep.n_test_days,
                "positives": rep.n_positive,
                "base_rate": rep.base_rate,
                "events": rep.n_events,
                "served": final.served if final else None,
                "skill": rep.skill,
                "skill_note": rep.skill_note,
                "entry_gap": final.gap if final and final.gap else None,
                "trees": final.sizes.get(final.served) if final else None,
                "models": {name: _score(s) for name, s in rep.scores.items()},
                "baselines": [_delta(d) for d in rep.baselines],
                "ablation": [_delta(d) for d in rep.ablation],
                "served_choice": [c.as_dict() for c in final.comparisons] if final else [],
                "chosen": {
                    "entry_gap": rep.chosen_gaps,
                    "served": rep.chosen_served,
                    "trees": rep.chosen_sizes,
                },
                "transitions": rep.transitions,
                "transitions_warned": rep.warned,
                "lead_time_median_days": rep.lead_time_median,
                "changepoint_alert": rep.changepoint_alert,
                **({"reentries": rep.reentries} if rep.reentries else {}),
                **({"checks": rep.checks} if rep.checks else {}),
            }
        )
    return out


def make_artifact(
    final: FinalModels, walk: Walk, reports: dict[str, TargetReport], *, source: str, created_at: dt.datetime
) -> ModelArtifact:
    payload = pickle.dumps(final, protocol=5)
    digest = hashlib.sha256(payload).hexdigest()[:12]
    version = f"{created_at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{digest}"
    reported = [b for b in final.blocks if b.reported]
    meta: dict[str, Any] = {
        "version": version,
        "sha256_12": digest,
        "source": source,
        "config": walk.config.as_dict(),
        "features": list(final.names),
        "training_window": {
            "start": (final.start + dt.timedelta(days=walk.first)).isoformat(),
            "end": final.trained_through.isoformat(),
        },
        "validation": {
            "folds": len(reported),
            "warmup_folds": len(final.blocks) - len(reported),
            "first_test_day": reported[0].test_start.isoformat(),
            "first_forecast_day": final.blocks[0].test_start.isoformat(),
            "purge_days": walk.config.horizon,
            "embargo_days": walk.config.embargo_days,
        },
        "out_of_sample": oos_summary(reports),
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
    try:
        final = pickle.loads(artifact.payload)  # noqa: S301 - the operator's own store, written by model train
    except (AttributeError, ModuleNotFoundError) as exc:  # a class of an older coinseason
        raise StoreError(f"model {artifact.version} was trained by an older coinseason: train it again") from exc
    if not isinstance(final, FinalModels):
        raise StoreError(
            f"model {artifact.version} is not a model artifact of this coinseason (an older format?): train it again"
        )
    return final
