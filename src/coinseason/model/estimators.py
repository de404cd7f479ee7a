"""The forecasters: persistence, climatology, a three-feature logistic regression and gradient boosting.

Each maps a feature matrix to the probability of a transition within H days.
* persistence: "the season stays" — probability 0 of any transition;
* climatology: the share of training days followed by a transition;
* logistic: median imputation, standardisation, L2 logistic regression on three features;
* gbm: scikit-learn's HistGradientBoostingClassifier on every feature (missing values handled natively).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from coinseason.model.config import TrainConfig

FloatArray = NDArray[np.float64]
MODELS = ("persistence", "climatology", "logistic", "gbm")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run scikit-learn's OpenMP loops on one thread: on a shared, loaded machine its threads spin-wait on each
    other and a fit takes 30 times longer; the models here are small enough that one thread is fastest."""
    with _threadpools().limit(limits=1):
        yield


@lru_cache(maxsize=1)
def _threadpools() -> Any:
    """The process's thread pools, found once (finding them takes milliseconds; limiting them, microseconds)."""
    # imported here: threadpoolctl loads only when a model is fitted or applied, not at every start
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


class Forecaster(Protocol):
    def predict(self, x: FloatArray) -> FloatArray: ...


@dataclass(frozen=True, slots=True)
class Constant:
    p: float

    def predict(self, x: FloatArray) -> FloatArray:
        return np.full(x.shape[0], self.p)


@dataclass(frozen=True, slots=True)
class Fitted:
    """A fitted scikit-learn classifier over the columns ``columns`` of the feature matrix."""

    estimator: Any
    columns: tuple[int, ...] | None = None

    def predict(self, x: FloatArray) -> FloatArray:
        sub = x if self.columns is None else x[:, list(self.columns)]
        return np.asarray(self.estimator.predict_proba(sub)[:, 1], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Linear:
    """A fitted logistic regression with its median imputation and standardisation, evaluated in numpy:
    ``p = 1 / (1 + exp(-(((x or median) - mean) / scale) @ coef - intercept))`` (the same numbers scikit-learn's
    pipeline gives, without its per-call input checks)."""

    columns: tuple[int, ...]
    fill: FloatArray
    mean: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: float

    def predict(self, x: FloatArray) -> FloatArray:
        sub = x[:, list(self.columns)]
        sub = np.where(np.isnan(sub), self.fill, sub)
        z = ((sub - self.mean) / self.scale) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def fit(
    kind: str, x: FloatArray, y: FloatArray, config: TrainConfig, *, logistic_columns: tuple[int, ...]
) -> Forecaster:
    """Fit forecaster ``kind`` on rows ``x`` with outcomes ``y`` (0/1); a learner falls back to climatology when
    the training outcomes are all one class."""
    base = float(y.mean()) if y.size else 0.0
    if kind == "persistence":
        return Constant(0.0)
    if kind == "climatology" or y.size == 0 or base in (0.0, 1.0):
        return Constant(base)
    if kind == "logistic":
        # imported here: scikit-learn takes about a second to load; only training needs it
        from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
        from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
        from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

        sub = x[:, list(logistic_columns)]
        if not np.isfinite(sub).any(axis=0).all():
            return Constant(base)
        pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0))
        pipe.fit(sub, y.astype(int))
        imputer, scaler, logit = pipe.steps[0][1], pipe.steps[1][1], pipe.steps[2][1]
        return Linear(
            columns=logistic_columns,
            fill=np.asarray(imputer.statistics_, dtype=np.float64),
            mean=np.asarray(scaler.mean_, dtype=np.float64),
            scale=np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(logit.coef_[0], dtype=np.float64),
            intercept=float(logit.intercept_[0]),
        )
    if kind == "gbm":
        # imported here: scikit-learn takes about a second to load; only training needs it
        from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped]

        gbm = HistGradientBoostingClassifier(
            max_iter=config.trees,
            learning_rate=config.learning_rate,
            max_leaf_nodes=config.max_leaf_nodes,
            min_samples_leaf=config.min_samples_leaf,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=config.seed,
        )
        # columns without two distinct values in the training rows carry nothing (and trip the binning)
        usable = tuple(j for j in range(x.shape[1]) if np.unique(x[np.isfinite(x[:, j]), j]).size >= 2)
        gbm.fit(x[:, list(usable)], y.astype(int))
        return Fitted(gbm, usable)
    raise ValueError(f"unknown model {kind!r}")
