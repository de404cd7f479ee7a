"""Trading analytics: signals, bounded backtests, risk figures and rebalancing (analysis, not advice)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import orjson
import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from coinseason.api.deps import (
    NOT_MODIFIED,
    Day,
    Exclude,
    FromDay,
    Source,
    StateDep,
    ToDay,
    Top,
    Window,
    cached,
    check_range,
)
from coinseason.api.http.problems import problem
from coinseason.api.state import ApiState
from coinseason.api.sweep_worker import SweepBounds, SweepJob, run_bounded_sweep, run_sweep_here
from coinseason.services.rebalance import holdings_frame, rebalance
from coinseason.services.trading import DISCLAIMER, BacktestParams, TradingService
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW

router = APIRouter(prefix="/v1", tags=["trading"])

MAX_SWEEP = 64
"""Parameter sets one POST /v1/backtests may run together (its time grows with sets × days)."""
SWEEP_CHUNK = 8
"""Sets a sweep's worker simulates together and sends back at once (fewer: more is kept of a stopped sweep)."""


def get_trading(request: Request) -> TradingService:
    """The app's :class:`TradingService`, made on first use over the app's analytics (and its engines)."""
    state: ApiState = request.app.state.api
    service = getattr(request.app.state, "trading", None)
    if not isinstance(service, TradingService) or service.analytics is not state.analytics:
        service = TradingService(state.analytics)
        request.app.state.trading = service
    return service


TradingDep = Annotated[TradingService, Depends(get_trading)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StrategyParams(Model):
    """Integers are strict: JSON ``true`` is not a number of days (the schema says integer)."""

    strategy: Literal["season-rotation", "momentum", "contrarian"] = "season-rotation"
    top: StrictInt = Field(DEFAULT_TOP, ge=1, le=MAX_TOP)
    window: StrictInt = Field(DEFAULT_WINDOW, ge=1, le=MAX_WINDOW)
    weighting: Literal["equal", "cap"] = "equal"
    exclude: Literal["default", "none"] = "default"
    altcoin_at: float = Field(75.0, ge=0, le=100)
    bitcoin_at: float = Field(25.0, ge=0, le=100)
    neutral: Literal["split", "btc", "cash", "hold"] = "split"
    confirm_days: StrictInt = Field(1, ge=1, le=365)
    lookback: StrictInt = Field(30, ge=1, le=MAX_WINDOW)
    band: float = Field(1.0, ge=0, le=100)
    index_low: float = Field(10.0, ge=0, le=100)
    dominance_high: float = Field(65.0, ge=0, le=100)
    index_high: float = Field(90.0, ge=0, le=100)
    threshold: float = Field(0.05, ge=0, le=1)
    rebalance_days: StrictInt = Field(30, ge=1, le=3650, description="days between the alt basket's rebalances")
    basket_drift: float = Field(0.0, ge=0, le=1, description="also rebalance the basket at this drift (0: off)")
    min_volume_usd: float = Field(100_000.0, ge=0, le=1e12, description="least volume of a coin bought, USD/day")
    fee_bps: float = Field(10.0, ge=0, le=1000)
    spread_bps: float = Field(10.0, ge=0, le=1000)
    impact: float = Field(0.1, ge=0, le=10)
    capital: float = Field(100_000.0, gt=0, le=1e12)


class BacktestRequest(Model):
    params: StrategyParams = Field(default_factory=StrategyParams)
    sweep: list[StrategyParams] = Field(
        default_factory=list, max_length=MAX_SWEEP, description=f"up to {MAX_SWEEP} more sets: metrics only"
    )
    start: Day = Field(None, alias="from")
    end: Day = Field(None, alias="to")
    source: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    daily: bool = Field(True, description="include the daily weights and equity, as records with a date")


class BacktestResponse(Model):
    disclaimer: str
    source: str
    params: dict[str, Any]
    metrics: dict[str, dict[str, float | None]]
    notes: list[str]
    daily: list[dict[str, Any]] | None = None
    sweep: list[dict[str, Any]] | None = None


class Holding(Model):
    coin_id: str = Field(min_length=1, max_length=200)
    quantity: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)
    value_usd: float | None = Field(None, ge=0, le=1e15, allow_inf_nan=False)


class RebalanceRequest(Model):
    holdings: list[Holding] = Field(min_length=1, max_length=500)
    profile: str = Field("balanced", max_length=32, description="conservative, balanced, aggressive or 0.4 (vol)")
    top: StrictInt = Field(DEFAULT_TOP, ge=1, le=MAX_TOP)
    window: StrictInt = Field(DEFAULT_WINDOW, ge=1, le=MAX_WINDOW)
    fee_bps: float = Field(10.0, ge=0, le=1000)
    spread_bps: float = Field(10.0, ge=0, le=1000)
    impact: float = Field(0.1, ge=0, le=10)
    source: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class RebalanceResponse(Model):
    disclaimer: str
    date: str
    season: str
    altcoin_season_index: float | None
    profile: str
    allocation: dict[str, float]
    trades: list[dict[str, Any]]
    total_cost: float
    risk_before: dict[str, float | None]
    risk_after: dict[str, float | None]
    notes: list[str]


def _params(model: StrategyParams) -> BacktestParams:
    return BacktestParams(**model.model_dump())


def _json_with_values(head: dict[str, Any], frame: pl.DataFrame) -> tuple[bytes, str]:
    """A JSON object of ``head`` and ``"values"``: the rows of ``frame``, serialised by polars (the fast way)."""
    return orjson.dumps(head)[:-1] + b',"values":' + frame.write_json().encode() + b"}", "application/json"


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts, NaN as ``None`` (JSON has no NaN)."""
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).to_dicts()


def _clean(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


@router.get(
    "/signals",
    responses=NOT_MODIFIED,
    summary="Season, momentum and contrarian signal states per day (analysis, not advice)",
)
def signals(
    request: Request,
    state: StateDep,
    service: TradingDep,
    top: Top = DEFAULT_TOP,
    window: Window = DEFAULT_WINDOW,
    exclude: Exclude = "default",
    start: FromDay = None,
    end: ToDay = None,
    confirm_days: Annotated[int, Query(ge=1, le=365, description="days a new season must last")] = 3,
    source: Source = None,
) -> Response:
    check_range(state, start, end)

    def build() -> tuple[bytes, str]:
        frame = service.signals(
            source=state.source(source),
            exclude=exclude,
            top=top,
            window=window,
            start=start,
            end=end,
            confirm_days=confirm_days,
        )
        rules = {
            "season": "altcoin when the index ≥ 75, bitcoin when ≤ 25, neutral between",
            "season_confirmed": f"a season change counts after {confirm_days} consecutive days",
            "momentum": "BTC dominance up > 1 point over 30 days: btc; down > 1 point: alt",
            "contrarian": "index ≤ 10 or BTC dominance ≥ 65 %: alt (accumulate); index ≥ 90: btc",
        }
        return _json_with_values({"disclaimer": DISCLAIMER, "rules": rules}, frame)

    return cached(request, state, build)


def sweep_bounds(state: ApiState) -> SweepBounds:
    """The bounds of one sweep, from the settings (tests put smaller ones on ``app.state.sweep_bounds``)."""
    api = state.settings.api
    return SweepBounds(seconds=api.sweep_seconds, memory_bytes=api.sweep_memory_mb * 2**20, chunk=SWEEP_CHUNK)


@router.post(
    "/backtests",
    response_model=BacktestResponse,
    summary="Run a bounded backtest (analysis, not advice)",
    description="A sweep runs in a worker process bounded in time (COINSEASON_SWEEP_SECONDS) and memory "
    "(COINSEASON_SWEEP_MEMORY_MB); past either it is stopped and the answer is a 422 problem with the sets done "
    "(`sets_done`, `sets_total`, and their rows in `sweep`).",
)
def backtests(
    request: Request, body: BacktestRequest, state: StateDep, service: TradingDep
) -> BacktestResponse | Response:
    check_range(state, body.start, body.end)
    source = state.source(body.source)
    report = service.backtest(_params(body.params), source=source, start=body.start, end=body.end)
    sweep = None
    if body.sweep:
        bounds = getattr(request.app.state, "sweep_bounds", None)
        if not isinstance(bounds, SweepBounds):
            bounds = sweep_bounds(state)
        job = SweepJob(
            db=state.settings.db,
            pool=state.settings.pg,
            params=tuple(_params(p) for p in body.sweep),
            source=source,
            start=body.start,
            end=body.end,
        )
        if state.store.url.endswith(":memory:"):  # no other process can open it: swept here, deadline only
            outcome = run_sweep_here(service, job, bounds)
        else:
            outcome = run_bounded_sweep(job, bounds)
        if outcome.stopped is not None:
            bound = f"{bounds.seconds:g} s" if outcome.stopped == "time" else f"{bounds.memory_bytes / 2**20:g} MB"
            detail = (
                f"the sweep was stopped at its bound of {bound} ({'time' if outcome.stopped == 'time' else 'memory'})"
                f" with {outcome.done} of {outcome.total} sets done: ask for fewer sets or days"
            )
            extra = {"sets_done": outcome.done, "sets_total": outcome.total, "sweep": outcome.rows}
            return problem(422, detail, instance=request.url.path, extra=extra)
        sweep = outcome.rows
    daily = None
    if body.daily:
        daily = _records(report.daily)
    return BacktestResponse(
        disclaimer=DISCLAIMER,
        source=report.source,
        params=dataclasses.asdict(report.params),
        metrics={k: {n: _clean(v) for n, v in d.items()} for k, d in report.metrics.items()},
        notes=report.notes,
        daily=daily,
        sweep=sweep,
    )


@router.get(
    "/risk",
    responses=NOT_MODIFIED,
    summary="Risk and liquidity of BTC, the alt basket and chosen coins (analysis, not advice)",
)
def risk(
    request: Request,
    state: StateDep,
    service: TradingDep,
    top: Top = DEFAULT_TOP,
    exclude: Exclude = "default",
    weighting: Annotated[Literal["equal", "cap"], Query(description="alt basket weights")] = "equal",
    days: Annotated[int, Query(ge=2, le=20_000, description="days of history")] = 365,
    order_usd: Annotated[float, Query(gt=0, le=1e12, description="order size for the slippage")] = 100_000.0,
    coin: Annotated[list[str] | None, Query(max_length=20, description="also these coins")] = None,
    end: Annotated[Day, Query(alias="to", description="last UTC day")] = None,
    source: Source = None,
) -> Response:
    def build() -> tuple[bytes, str]:
        frame = service.risk(
            source=state.source(source),
            exclude=exclude,
            top=top,
            weighting=weighting,
            days=days,
            order_usd=order_usd,
            coins=coin or (),
            end=end,
        )
        return _json_with_values({"disclaimer": DISCLAIMER, "days": days, "order_usd": order_usd}, frame)

    return cached(request, state, build)


@router.post(
    "/portfolio/rebalance",
    response_model=RebalanceResponse,
    summary="Target weights for the current season and profile, trades, costs, risk before and after",
)
def portfolio_rebalance(body: RebalanceRequest, state: StateDep, service: TradingDep) -> RebalanceResponse:
    holdings = holdings_frame([h.model_dump() for h in body.holdings])
    plan = rebalance(
        service,
        holdings,
        body.profile,
        source=state.source(body.source),
        top=body.top,
        window=body.window,
        fee_bps=body.fee_bps,
        spread_bps=body.spread_bps,
        impact=body.impact,
    )
    return RebalanceResponse(
        disclaimer=DISCLAIMER,
        date=plan.date,
        season=plan.season,
        altcoin_season_index=_clean(plan.altcoin_season_index),
        profile=plan.profile,
        allocation=plan.allocation,
        trades=plan.trades.to_dicts(),
        total_cost=plan.total_cost,
        risk_before={k: _clean(v) for k, v in plan.before.items()},
        risk_after={k: _clean(v) for k, v in plan.after.items()},
        notes=plan.notes,
    )
