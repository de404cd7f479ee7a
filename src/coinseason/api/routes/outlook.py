"""Early warning of season transitions, and the sentiment, on-chain and cross-market series behind it."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal
from weakref import WeakKeyDictionary

import orjson
import polars as pl
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from coinseason.api.deps import NOT_MODIFIED, Day, FromDay, Source, StateDep, ToDay, cached, check_range
from coinseason.api.models import Model
from coinseason.api.state import ApiState
from coinseason.api.views import JSON
from coinseason.services.analytics import AnalyticsService
from coinseason.services.outlook import ONCHAIN_SERIES, SENTIMENT_SERIES, OutlookService
from coinseason.vocab import DEFAULT_WINDOW, MAX_WINDOW, MIN_OUTLOOK_WINDOW

router = APIRouter(prefix="/v1", tags=["outlook"], responses=NOT_MODIFIED)

_services: WeakKeyDictionary[AnalyticsService, OutlookService] = WeakKeyDictionary()


def service(state: ApiState) -> OutlookService:
    """One outlook service per loaded analytics service: new data (a new analytics service) starts it afresh."""
    found = _services.get(state.analytics)
    if found is None:
        found = _services[state.analytics] = OutlookService(state.store, state.analytics)
    return found


class Contribution(Model):
    feature: str
    value: float | None
    contribution: float
    """Change of the probability from the feature's training median to its value today."""


class Transition(Model):
    target: Literal["altcoin_season_entry", "bitcoin_season_entry", "dominance_move"]
    possible: bool
    """False on a day already in that season: an entry is not possible (and the probability is null)."""
    probability: float | None
    """From the served model (``model``), as of the day."""
    model: str
    """The candidate served: climatology, logistic, or a gradient boosting on a feature family (see the card)."""
    logistic_probability: float | None
    climatology: float | None
    entry_gap_days: int | None
    """k: an entry into a season counts only after at least k days outside it (null for the dominance move)."""
    trained_through: dt.date | None
    """Last day whose label this target's model used (at least H days before the day)."""
    skill: bool
    """False when the served model has no out-of-sample skill (see ``skill_note``): not a forecast."""
    skill_note: str
    top_features: list[Contribution]


class TrainingWindow(Model):
    start: dt.date
    end: dt.date


class ChangepointAlert(Model):
    on: bool
    """On while the last change point of BTC dominance (PELT on the trailing year) is at most 30 days old."""
    days_since: int | None
    shift: float | None
    """Shift of mean BTC dominance at that change point, percentage points."""


class PredictedBy(Model):
    kind: Literal["final model", "walk-forward fold"]
    fold: int | None
    """0-based walk-forward fold whose test block holds the day (null for the final model)."""
    trained_through: dt.date
    """Last day whose label the answering models used: always at least H days before the day."""
    test_start: dt.date | None = None


class Outlook(Model):
    date: dt.date
    source: str
    season: str
    altcoin_season_index: float | None
    horizon_days: int
    dominance_points: float
    model_version: str
    trained_at: dt.datetime
    training_window: TrainingWindow
    in_sample: bool
    """Whether the answering models were trained on the day (never: past days are answered as of the day)."""
    predicted_by: PredictedBy
    changepoint_alert: ChangepointAlert | None
    transitions: list[Transition]
    missing_features: list[str]
    """Features without a value on the day (left out of the top features)."""
    out_of_sample: dict[str, Any]
    """Per target: the served model, its skill verdict, test days, events, base rate, and AUC and Brier skill (with
    event-bootstrap 95 % intervals) of the served model and the logistic baseline."""


class SeriesPoint(Model):
    date: dt.date
    values: dict[str, float | None]


class SeriesResponse(Model):
    series: list[str]
    values: list[SeriesPoint]


class CorrelationPoint(Model):
    date: dt.date
    value: float | None
    """Correlation of BTC returns with the asset's returns."""
    btc_dominance_corr: float | None
    """Correlation of BTC dominance changes with the asset's returns."""


class Correlations(Model):
    asset: str
    window: int
    method: dict[str, Any]
    values: list[CorrelationPoint]


def _json(payload: Any) -> tuple[bytes, str]:
    return orjson.dumps(payload), JSON


def _wide(frame: pl.DataFrame, names: tuple[str, ...]) -> dict[str, Any]:
    points = [
        {
            "date": row["date"].isoformat(),
            "values": {n: (None if row[n] is None or math.isnan(row[n]) else row[n]) for n in names},
        }
        for row in frame.iter_rows(named=True)
    ]
    return {"series": list(names), "values": points}


@router.get("/outlook", response_model=Outlook, summary="Probability of each season transition within H days")
def outlook(
    request: Request,
    state: StateDep,
    date: Annotated[
        Day,
        Query(
            description="day [default: the last day of data]; a day before the models' last training day is"
            " answered from the walk-forward forecast made as of that day (422 before the first test block)"
        ),
    ] = None,
    version: Annotated[
        str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z_-]+$", description="model version [default: newest]")
    ] = None,
) -> Response:
    svc = service(state)
    model = version or svc.newest_version()  # a model trained while serving is picked up (and not cached over)
    return cached(request, state, lambda: _json(svc.outlook(day=date, version=model)), key_extra=f"#model={model}")


@router.get(
    "/sentiment",
    response_model=SeriesResponse,
    summary="Fear & Greed Index and news sentiment per day (default: the last 365 days)",
)
def sentiment(request: Request, state: StateDep, start: FromDay = None, end: ToDay = None) -> Response:
    check_range(state, start, end)
    return cached(
        request,
        state,
        lambda: _json(_wide(service(state).series(SENTIMENT_SERIES, start=start, end=end), SENTIMENT_SERIES)),
    )


@router.get(
    "/onchain",
    response_model=SeriesResponse,
    summary="Bitcoin and Ether on-chain metrics per day (default: the last 365 days)",
)
def onchain(request: Request, state: StateDep, start: FromDay = None, end: ToDay = None) -> Response:
    check_range(state, start, end)
    return cached(
        request,
        state,
        lambda: _json(_wide(service(state).series(ONCHAIN_SERIES, start=start, end=end), ONCHAIN_SERIES)),
    )


@router.get(
    "/correlations", response_model=Correlations, summary="Rolling correlations of BTC and BTC dominance with a market"
)
def correlations(
    request: Request,
    state: StateDep,
    with_: Annotated[
        Literal["sp500", "dxy", "gold", "us10y", "us2y"], Query(alias="with", description="the other market")
    ] = "sp500",
    window: Annotated[
        int, Query(ge=MIN_OUTLOOK_WINDOW, le=MAX_WINDOW, description="rolling window, days")
    ] = DEFAULT_WINDOW,
    start: FromDay = None,
    end: ToDay = None,
    source: Source = None,
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        frame = service(state).correlations(with_, window=window, source=source, start=start, end=end)
        return _json(
            {
                "asset": with_,
                "window": window,
                "method": {
                    "returns": "log returns (yields: changes) between the asset's consecutive observations; BTC and"
                    " BTC dominance measured over the same spans",
                    "alignment": "an asset observation dated D (a US close, ~21:00 UTC) is paired with BTC and BTC"
                    " dominance at 00:00 UTC of D+1, as in the model's correlation features",
                },
                "values": [
                    {"date": r["date"].isoformat(), "value": r["value"], "btc_dominance_corr": r["btc_dominance_corr"]}
                    for r in frame.iter_rows(named=True)
                ],
            }
        )

    return cached(request, state, build)
