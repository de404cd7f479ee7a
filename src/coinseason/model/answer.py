"""The outlook of one day from stored models, as of that day.

The last day the models were trained on, and any later day, is answered by the final models (trained on labels
resolved by then). An earlier day is answered from the walk-forward forecast stored for it, made by a model
trained only on labels resolved before its block began; a day before the first block is refused. Either way the
answer says which model spoke, the last day whose label it used (``trained_through``, always at least H days
before the day), and whether the day was in its training data (``in_sample``: never, by construction).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from numpy.typing import NDArray

from coinseason.core.season import ALTCOIN_SEASON, BITCOIN_SEASON, NO_VALUE
from coinseason.errors import ConfigError
from coinseason.model.estimators import one_thread
from coinseason.model.final import BlockInfo, FinalModels

FloatArray = NDArray[np.float64]
TOP_FEATURES = 5
SEASON_OF = {"altcoin_season_entry": ALTCOIN_SEASON, "bitcoin_season_entry": BITCOIN_SEASON}


def _possible(target: str, code: int) -> bool:
    season = SEASON_OF.get(target)
    return season is None or (code != season and code != NO_VALUE)


def _number(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def answer(final: FinalModels, x: FloatArray, day: dt.date, code: int) -> dict[str, Any]:
    """``transitions``, ``predicted_by``, ``in_sample`` and ``missing_features`` of the outlook of ``day``, whose
    design row is ``x`` and season code ``code``."""
    if day >= final.last_day:
        out = _from_final(final, x, code)
        through = final.trained_through
    else:
        i = (day - final.start).days
        block = int(final.block_of_day[i]) if 0 <= i < final.block_of_day.size else -1
        if block < 0:
            raise ConfigError(
                f"date {day} has no out-of-sample forecast: it is before the first walk-forward test day"
                f" ({final.blocks[0].test_start}) and the model that answers later days was trained on it"
            )
        out = _from_block(final, i, block, code)
        days = [t for t in final.blocks[block].trained_through.values() if t is not None]
        through = max(days) if days else day - dt.timedelta(days=final.horizon)
    out["in_sample"] = day <= through
    out["predicted_by"]["trained_through"] = through.isoformat()
    if through + dt.timedelta(days=final.horizon) > day:  # never: the models are chosen for this
        raise ConfigError(f"no model trained only on labels resolved by {day} is stored: train the model again")
    return out


def _transition(target: str, code: int, **fields: Any) -> dict[str, Any]:
    possible = _possible(target, code)
    if not possible:
        fields["probability"] = None
    return {"target": target, "possible": possible, **fields}


def _block_skill(info: BlockInfo, target: str) -> tuple[bool, str]:
    """The skill verdict as of a block: what its own record said when it chose the served model."""
    skill, served, since = info.skill[target], info.served[target], info.test_start.isoformat()
    if skill is None:
        return False, f"as of {since}: too few transitions in the record to judge; {served} served by default"
    if not skill:
        return False, f"as of {since}: no candidate beat climatology on the record: no out-of-sample skill"
    return True, f"as of {since}: {served} beat the simpler candidates on the record"


def _from_block(final: FinalModels, i: int, block: int, code: int) -> dict[str, Any]:
    info = final.blocks[block]
    transitions = []
    for target in final.targets:
        stored = final.oos[target]
        through = info.trained_through[target]
        skill, note = _block_skill(info, target)
        transitions.append(
            _transition(
                target,
                code,
                probability=_number(float(stored["served"][i])),
                model=info.served[target],
                logistic_probability=_number(float(stored["logistic"][i])),
                climatology=_number(float(stored["climatology"][i])),
                entry_gap_days=info.entry_gap[target],
                trained_through=None if through is None else through.isoformat(),
                skill=skill,
                skill_note=note,
                top_features=[],
            )
        )
    return {
        "predicted_by": {"kind": "walk-forward fold", "fold": info.fold, "test_start": info.test_start.isoformat()},
        "transitions": transitions,
        "missing_features": [],
    }


def _from_final(final: FinalModels, x: FloatArray, code: int) -> dict[str, Any]:
    missing = np.isnan(x)
    transitions = []
    used: set[str] = set()
    with one_thread():
        for target, model in final.targets.items():
            columns = [final.names.index(n) for n in model.features]
            used |= set(model.features)
            # contributions: how far each feature moves the probability from its value at the training median
            probe = np.repeat(x[None, :], len(columns) + 1, axis=0)
            for r, j in enumerate(columns, start=1):
                probe[r, j] = final.medians[j]
            p = model.models["served"].predict(probe)
            delta = p[0] - p[1:]
            # a missing feature has no value to contribute: left out of the ranking (listed apart)
            order = [r for r in np.argsort(-np.abs(delta)) if not missing[columns[r]]][:TOP_FEATURES]
            transitions.append(
                _transition(
                    target,
                    code,
                    probability=float(p[0]),
                    model=model.served,
                    logistic_probability=float(model.models["logistic"].predict(x[None, :])[0]),
                    climatology=float(model.models["climatology"].predict(x[None, :])[0]),
                    entry_gap_days=model.entry_gap,
                    trained_through=model.trained_through.isoformat(),
                    skill=model.skill,
                    skill_note=model.skill_note,
                    top_features=[
                        {
                            "feature": final.names[columns[r]],
                            "value": float(x[columns[r]]),
                            "contribution": float(delta[r]),
                        }
                        for r in order
                    ],
                )
            )
    return {
        "predicted_by": {"kind": "final model", "fold": None},
        "transitions": transitions,
        "missing_features": [n for j, n in enumerate(final.names) if missing[j] and n in used],
    }
