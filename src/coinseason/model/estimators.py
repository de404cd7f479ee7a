"""The forecasters: persistence, climatology, a logistic regression and gradient boosting over a subset of the
design's columns.

Each maps a design matrix (days x columns) to the probability of a transition within H days.
* persistence: "the season stays" — probability 0 of any transition;
* climatology: the share of training days followed by a transition;
* logistic: median imputation, standardisation, L2 logistic regression (C = 1, not tuned);
* gbm: scikit-learn's HistGradientBoostingClassifier (missing values handled natively), its size chosen from a grid
  by reading one fit of the largest size at each smaller size (boosting is sequential).
A learner falls back to climatology when its training outcomes are all one class or it has no usable column.
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


@contextmanager
def one_thread() -> Iterator[None]:
    """Run every native thread pool training and prediction use on one thread: scikit-learn's OpenMP loops
    (HistGradientBoosting) and the BLAS of NumPy and SciPy (the logistic regression). On a shared, loaded machine
    their threads spin-wait on each other and a fit takes many times longer (two trainings at once: 24 s → 167 s);
    the models here are small enough that one thread is fastest."""
    with _threadpools().limit(limits=1):
        yield


@lru_cache(maxsize=1)
def _threadpools() -> Any:
    """The process's thread pools, found once (finding them takes milliseconds; limiting them, microseconds).

    A controller sees, and limits, only the native libraries loaded when it is made. scikit-learn's OpenMP runtime
    and SciPy's BLAS load with their compiled modules, on the first import of scikit-learn, so those modules are
    imported first: a controller made before them would leave both at one thread per core."""
    # imported here: scikit-learn takes about a second to load; only training and the outlook need it
    import sklearn.ensemble  # type: ignore[import-untyped]  # noqa: F401 - loads the OpenMP runtime
    import sklearn.linear_model  # type: ignore[import-untyped]  # noqa: F401 - loads SciPy's BLAS
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


@dataclass(frozen=True, slots=True)
class Boosted:
    """A fitted HistGradientBoostingClassifier over the columns ``columns`` of the design."""

    estimator: Any
    columns: tuple[int, ...]

    @property
    def trees(self) -> int:
        return int(self.estimator.n_iter_)

    def predict(self, x: FloatArray) -> FloatArray:
        return np.asarray(self.estimator.predict_proba(x[:, list(self.columns)])[:, 1], dtype=np.float64)

    def staged(self, x: FloatArray, sizes: tuple[int, ...]) -> dict[int, FloatArray]:
        """The probability after each number of trees in ``sizes`` (capped at the trees fitted)."""
        want = {min(s, self.trees): s for s in sizes}
        out: dict[int, FloatArray] = {}
        for i, proba in enumerate(self.estimator.staged_predict_proba(x[:, list(self.columns)]), start=1):
            if i in want:
                out[want[i]] = np.asarray(proba[:, 1], dtype=np.float64)
        return out


def _base(y: FloatArray) -> float:
    return float(y.mean()) if y.size else 0.0


def fit_climatology(y: FloatArray) -> Constant:
    return Constant(_base(y))


def fit_logistic(x: FloatArray, y: FloatArray, columns: tuple[int, ...]) -> Linear | Constant:
    """Logistic regression of ``y`` on the design columns ``columns`` of the rows ``x``."""
    base = _base(y)
    sub = x[:, list(columns)]
    if base in (0.0, 1.0) or not np.isfinite(sub).any(axis=0).all():
        return Constant(base)
    # imported here: scikit-learn takes about a second to load; only training needs it
    from sklearn.impute import SimpleImputer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
    from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

    pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=1.0))
    pipe.fit(sub, y.astype(int))
    imputer, scaler, logit = pipe.steps[0][1], pipe.steps[1][1], pipe.steps[2][1]
    return Linear(
        columns=columns,
        fill=np.asarray(imputer.statistics_, dtype=np.float64),
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        coef=np.asarray(logit.coef_[0], dtype=np.float64),
        intercept=float(logit.intercept_[0]),
    )


def usable_columns(x: FloatArray, columns: tuple[int, ...]) -> tuple[int, ...]:
    """The columns among ``columns`` with at least two distinct values in the rows ``x`` (the others carry
    nothing, and trip the binning of gradient boosting)."""
    return tuple(j for j in columns if np.unique(x[np.isfinite(x[:, j]), j]).size >= 2)


def fit_gbm(
    x: FloatArray, y: FloatArray, columns: tuple[int, ...], config: TrainConfig, trees: int
) -> Boosted | Constant:
    """Gradient boosting of ``y`` on the usable design columns among ``columns`` (:func:`usable_columns`)."""
    base = _base(y)
    usable = usable_columns(x, columns)
    if base in (0.0, 1.0) or not usable:
        return Constant(base)
    # imported here: scikit-learn takes about a second to load; only training needs it
    from sklearn.ensemble import HistGradientBoostingClassifier

    gbm = HistGradientBoostingClassifier(
        max_iter=trees,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=config.seed,
    )
    gbm.fit(x[:, list(usable)], y.astype(int))
    return Boosted(gbm, usable)
