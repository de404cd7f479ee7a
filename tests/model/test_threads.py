"""Training honours the one-thread limit for every native library it uses: the OpenMP runtime of scikit-learn's
gradient boosting and the BLAS of NumPy and SciPy (logistic regression).

Runs in a fresh interpreter, as a training run does: the thread pools must be found after scikit-learn has loaded
them, or the limit silently misses them. Each library defaults to three threads there (environment), so a missed
limit shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import datetime as dt, json, sys
    import numpy as np
    from threadpoolctl import threadpool_info
    from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NEUTRAL
    from coinseason.features.dataset import FeaturePanel
    from coinseason.model import train
    from coinseason.model.config import TrainConfig

    assert "sklearn" not in sys.modules  # as in a training run: scikit-learn loads with the first fit

    seen = []
    def recording(fit):
        def wrapper(*args, **kwargs):
            model = fit(*args, **kwargs)  # the libraries a fit uses are loaded once it ran
            seen.append([(i["user_api"], i["internal_api"], i["num_threads"]) for i in threadpool_info()])
            return model
        return wrapper
    train.fit_gbm = recording(train.fit_gbm)
    train.fit_logistic = recording(train.fit_logistic)

    rng = np.random.default_rng(0)
    n = 700
    asi = 50 + 40 * np.sin(np.arange(n) / 30)
    code = np.where(asi >= 75, ALTCOIN_SEASON, np.where(asi <= 25, BITCOIN_SEASON, NEUTRAL)).astype(np.int8)
    values = np.column_stack([asi, np.gradient(asi), code.astype(float), rng.normal(size=n), rng.normal(size=n)])
    panel = FeaturePanel(dt.date(2020, 1, 1), ("asi_30", "asi_30_slope_30", "season", "btc_dom", "fng"), values)
    y = (rng.random(n) < 0.2).astype(float)
    y[-10:] = np.nan
    targets = ("altcoin_season_entry", "bitcoin_season_entry", "dominance_move")
    labels = train.Labels(
        code,
        {t: {5 if t != "dominance_move" else 0: y} for t in targets},
        {t: {5 if t != "dominance_move" else 0: np.zeros(n, bool)} for t in targets},
        {t: np.ones(n, bool) for t in targets},
    )
    config = TrainConfig(horizon=10, entry_gaps=(5,), window=30, min_train_days=200, test_days=100, trees=(5,),
                         min_samples_leaf=10, bootstrap=100, selection_bootstrap=100, importance_folds=1)
    train.walk_forward(panel, labels, config)
    after = [(i["user_api"], i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    print(json.dumps({"seen": seen, "after": after}))
    """
)


def test_every_native_thread_pool_is_limited_while_training(tmp_path: Path) -> None:
    script = tmp_path / "train_threads.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    done = subprocess.run(  # noqa: S603 - this interpreter, a script of this test
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    seen = found["seen"]
    assert len(seen) > 10  # fits of both kinds happened
    apis = {api for fit in seen for api, _, _ in fit}
    assert {"openmp", "blas"} <= apis  # scikit-learn's OpenMP runtime was loaded and seen
    for fit in seen:
        assert all(threads == 1 for _, _, threads in fit), fit
    # outside training OpenMP runs the three threads the environment asks for: the limit is lifted afterwards
    assert ["openmp", "openmp", 3] in found["after"]
