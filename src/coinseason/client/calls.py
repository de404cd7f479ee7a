"""Every ``/v1`` endpoint as a :class:`~coinseason.client.exchange.Call`: its path, its query parameters under
their Python names, and the API's own response model that reads the answer. Both clients run these calls; the
parameters are typed once here (``TypedDict`` s, so ``Client.season_history(top=50, start="2024-01-01")`` is
checked by a type checker).

Python names differ from the query's where the query's is a keyword or reads badly: ``start``/``end`` are
``from``/``to``, ``token_class`` is ``class``, ``asset`` is ``with``. Days are ``datetime.date`` or
``YYYY-MM-DD`` strings.

Answers are read leniently: a field the client does not know is left out rather than refused, so a client older
than its server keeps working when the server adds fields (the API itself still refuses unknown request fields).
:data:`ENDPOINTS` names the client method of every API operation; a test holds it to the app's OpenAPI.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, TypeVar

import orjson
import polars as pl
from pydantic import BaseModel, TypeAdapter, ValidationError

from coinseason.api.consensus_models import ConsensusDay, ConsensusHistory, MarginDay, MarginHistory
from coinseason.api.models import (
    Breakdown,
    CoinHistory,
    CoinPage,
    DominanceHistory,
    DominanceLatest,
    Health,
    Methodology,
    Ready,
    SeasonHistory,
    SeasonLatest,
    SeasonPeriods,
)
from coinseason.client.errors import InvalidRequest, ParameterProblem
from coinseason.client.exchange import Call

if TYPE_CHECKING:  # the alerts, outlook and trading models live beside their routes, which load the services
    from coinseason.api.routes.alerts import AlertCreated, AlertOut, EventOut, TestOut
    from coinseason.api.routes.outlook import Correlations, Outlook, SeriesResponse
    from coinseason.api.routes.trading import (
        BacktestRequest,
        BacktestResponse,
        RebalanceRequest,
        RebalanceResponse,
    )

M = TypeVar("M", bound=BaseModel)
Day = dt.date | str
Exclude = Literal["default", "none"]
Interval = Literal["day", "week", "month"]


class SeasonArgs(TypedDict, total=False):
    """The parameters that choose a season index series."""

    top: int
    window: int
    exclude: Exclude
    source: str
    fill: bool
    btc_inside: bool


class RangeArgs(TypedDict, total=False):
    start: Day
    end: Day


class SeasonHistoryArgs(SeasonArgs, RangeArgs, total=False):
    interval: Interval


class BreakdownArgs(SeasonArgs, total=False):
    date: Day


class SeasonPeriodArgs(SeasonArgs, RangeArgs, total=False):
    min_days: int
    neutral: bool
    altcoin_at: float
    bitcoin_at: float


class DayArgs(SeasonArgs, total=False):
    date: Day


class ConsensusHistoryArgs(SeasonArgs, RangeArgs, total=False):
    pass


class MarginArgs(DayArgs, total=False):
    band: float
    """Close coins: W-day return within this many percentage points of BTC's."""


class MarginHistoryArgs(SeasonArgs, RangeArgs, total=False):
    band: float


class EventArgs(TypedDict, total=False):
    rule_id: str
    status: Literal["pending", "delivered", "dead"]
    limit: int


class DominanceArgs(TypedDict, total=False):
    universe: str
    exclude: Exclude
    source: str


class DominanceHistoryArgs(DominanceArgs, RangeArgs, total=False):
    interval: Interval


class CoinArgs(TypedDict, total=False):
    source: str
    token_class: Literal["excluded", "stablecoin", "wrapped", "liquid_staking", "tokenized_asset"]
    q: str
    limit: int


class CoinHistoryArgs(RangeArgs, total=False):
    source: str


class OutlookArgs(TypedDict, total=False):
    date: Day
    version: str


class CorrelationArgs(RangeArgs, total=False):
    asset: Literal["sp500", "dxy", "gold", "us10y", "us2y"]
    window: int
    source: str


class SignalArgs(RangeArgs, total=False):
    top: int
    window: int
    exclude: Exclude
    confirm_days: int
    source: str


class RiskArgs(TypedDict, total=False):
    top: int
    exclude: Exclude
    weighting: Literal["equal", "cap"]
    days: int
    order_usd: float
    coin: list[str]
    end: Day
    source: str


_QUERY_NAMES = {"start": "from", "end": "to", "token_class": "class", "asset": "with"}


def query(args: Mapping[str, Any], **fixed: str) -> tuple[tuple[str, str], ...]:
    """Query pairs of ``args`` under the API's names: days as ISO text, booleans as ``true``/``false``, a list as
    the name repeated; ``None`` left out."""
    pairs: list[tuple[str, str]] = []
    for name, value in {**args, **fixed}.items():
        if value is None:
            continue
        key = _QUERY_NAMES.get(name, name)
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, _text(item)))
    return tuple(pairs)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


LENIENT: Final = "ignore"
"""How answers treat fields the client's models do not have: left out (the models themselves forbid them, for the
API's own answers and requests)."""


def model(kind: type[M]) -> Callable[[bytes], M]:
    """Read a JSON answer into the response model ``kind``: validated (a missing or wrong field raises), fields
    unknown to this client left out."""

    def read(body: bytes) -> M:
        return kind.model_validate_json(body, extra=LENIENT)

    return read


def models(kind: type[M]) -> Callable[[bytes], list[M]]:
    """Read a JSON array answer into a list of ``kind``, as :func:`model` does."""
    adapter = TypeAdapter(list[kind])  # type: ignore[valid-type]  # kind is a class, known at run time

    def read(body: bytes) -> list[M]:
        found: list[M] = adapter.validate_json(body, extra=LENIENT)
        return found

    return read


def nothing(body: bytes) -> None:
    """A ``204 No Content`` answer."""
    return None


def frame(body: bytes) -> pl.DataFrame:
    """A CSV answer as a polars frame, ISO days read as dates."""
    return pl.read_csv(io.BytesIO(body), try_parse_dates=True)


def mapping(body: bytes) -> dict[str, Any]:
    """A JSON object answer of a route without a response model."""
    value = orjson.loads(body)
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _lazy(module: str, name: str, *, many: bool = False) -> Callable[[bytes], Any]:
    """A model reader whose module loads on first use (the alerts, outlook and trading models sit beside their
    routes); ``many``: the answer is a JSON array of them."""

    def read(body: bytes) -> Any:
        import importlib

        kind: type[BaseModel] = getattr(importlib.import_module(module), name)
        return models(kind)(body) if many else model(kind)(body)

    return read


def season_latest(args: SeasonArgs) -> Call[SeasonLatest]:
    return Call("GET", "/v1/season/latest", model(SeasonLatest), query(args))


def season_history(args: SeasonHistoryArgs) -> Call[SeasonHistory]:
    return Call("GET", "/v1/season/history", model(SeasonHistory), query(args))


def season_history_frame(args: SeasonHistoryArgs) -> Call[pl.DataFrame]:
    return Call("GET", "/v1/season/history", frame, query(args, format="csv"))


def breakdown(args: BreakdownArgs) -> Call[Breakdown]:
    return Call("GET", "/v1/season/breakdown", model(Breakdown), query(args))


def seasons(args: SeasonPeriodArgs) -> Call[SeasonPeriods]:
    return Call("GET", "/v1/seasons", model(SeasonPeriods), query(args))


def consensus(args: DayArgs) -> Call[ConsensusDay]:
    return Call("GET", "/v1/season/consensus", model(ConsensusDay), query(args))


def consensus_history(args: ConsensusHistoryArgs) -> Call[ConsensusHistory]:
    return Call("GET", "/v1/season/consensus/history", model(ConsensusHistory), query(args))


def consensus_history_frame(args: ConsensusHistoryArgs) -> Call[pl.DataFrame]:
    return Call("GET", "/v1/season/consensus/history", frame, query(args, format="csv"))


def margin(args: MarginArgs) -> Call[MarginDay]:
    return Call("GET", "/v1/season/margin", model(MarginDay), query(args))


def margin_history(args: MarginHistoryArgs) -> Call[MarginHistory]:
    return Call("GET", "/v1/season/margin/history", model(MarginHistory), query(args))


def margin_history_frame(args: MarginHistoryArgs) -> Call[pl.DataFrame]:
    return Call("GET", "/v1/season/margin/history", frame, query(args, format="csv"))


def dominance_latest(args: DominanceArgs) -> Call[DominanceLatest]:
    return Call("GET", "/v1/dominance/latest", model(DominanceLatest), query(args))


def dominance_history(args: DominanceHistoryArgs) -> Call[DominanceHistory]:
    return Call("GET", "/v1/dominance/history", model(DominanceHistory), query(args))


def dominance_history_frame(args: DominanceHistoryArgs) -> Call[pl.DataFrame]:
    return Call("GET", "/v1/dominance/history", frame, query(args, format="csv"))


def coin_page(args: CoinArgs, cursor: str | None) -> Call[CoinPage]:
    return Call("GET", "/v1/coins", model(CoinPage), query({**args, "cursor": cursor}))


def _coin_path(coin_id: str) -> str:
    from urllib.parse import quote

    return f"/v1/coins/{quote(coin_id, safe='')}/history"


def coin_history(coin_id: str, args: CoinHistoryArgs) -> Call[CoinHistory]:
    return Call("GET", _coin_path(coin_id), model(CoinHistory), query(args))


def coin_history_frame(coin_id: str, args: CoinHistoryArgs) -> Call[pl.DataFrame]:
    return Call("GET", _coin_path(coin_id), frame, query(args, format="csv"))


def methodology() -> Call[Methodology]:
    return Call("GET", "/v1/methodology", model(Methodology))


def outlook(args: OutlookArgs) -> Call[Outlook]:
    return Call("GET", "/v1/outlook", _lazy("coinseason.api.routes.outlook", "Outlook"), query(args))


def sentiment(args: RangeArgs) -> Call[SeriesResponse]:
    return Call("GET", "/v1/sentiment", _lazy("coinseason.api.routes.outlook", "SeriesResponse"), query(args))


def onchain(args: RangeArgs) -> Call[SeriesResponse]:
    return Call("GET", "/v1/onchain", _lazy("coinseason.api.routes.outlook", "SeriesResponse"), query(args))


def correlations(args: CorrelationArgs) -> Call[Correlations]:
    return Call("GET", "/v1/correlations", _lazy("coinseason.api.routes.outlook", "Correlations"), query(args))


def signals(args: SignalArgs) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/signals", mapping, query(args))


def risk(args: RiskArgs) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/risk", mapping, query(args))


def backtest(request: BacktestRequest) -> Call[BacktestResponse]:
    body = request.model_dump_json(by_alias=True, exclude_none=True).encode()
    return Call("POST", "/v1/backtests", _lazy("coinseason.api.routes.trading", "BacktestResponse"), body=body)


def rebalance(request: RebalanceRequest) -> Call[RebalanceResponse]:
    body = request.model_dump_json(exclude_none=True).encode()
    reader = _lazy("coinseason.api.routes.trading", "RebalanceResponse")
    return Call("POST", "/v1/portfolio/rebalance", reader, body=body)


_ALERTS = "coinseason.api.routes.alerts"


def _quoted(*parts: str) -> str:
    from urllib.parse import quote

    return "/".join(quote(part, safe="") for part in parts)


def add_alert(
    name: str, kind: str, url: str, params: Mapping[str, str | int | float | None] | None, fmt: str
) -> Call[AlertCreated]:
    """The body is checked by the server (its 422 names each bad field), so a server with new rule kinds or
    formats is usable from this client."""
    body = orjson.dumps({"name": name, "kind": kind, "params": dict(params or {}), "url": url, "format": fmt})
    return Call("POST", "/v1/alerts", _lazy(_ALERTS, "AlertCreated"), body=body, accept=frozenset({201}))


def alerts() -> Call[list[AlertOut]]:
    return Call("GET", "/v1/alerts", _lazy(_ALERTS, "AlertOut", many=True))


def alert(rule_id: str) -> Call[AlertOut]:
    return Call("GET", f"/v1/alerts/{_quoted(rule_id)}", _lazy(_ALERTS, "AlertOut"))


def remove_alert(rule_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/alerts/{_quoted(rule_id)}", nothing, accept=frozenset({204}))


def test_alert(rule_id: str) -> Call[TestOut]:
    return Call("POST", f"/v1/alerts/{_quoted(rule_id)}/test", _lazy(_ALERTS, "TestOut"))


def alert_events(args: EventArgs) -> Call[list[EventOut]]:
    return Call("GET", "/v1/alerts/events", _lazy(_ALERTS, "EventOut", many=True), query(args))


def dead_letters(limit: int | None) -> Call[list[EventOut]]:
    return Call("GET", "/v1/alerts/dead-letters", _lazy(_ALERTS, "EventOut", many=True), query({"limit": limit}))


def replay_dead_letter(event_id: str) -> Call[EventOut]:
    path = f"/v1/alerts/dead-letters/{_quoted(event_id)}/replay"
    return Call("POST", path, _lazy(_ALERTS, "EventOut"))


def healthz() -> Call[Health]:
    return Call("GET", "/healthz", model(Health))


def readyz() -> Call[Ready]:
    return Call("GET", "/readyz", model(Ready), accept=frozenset({200, 503}))


def backtest_request(
    params: Mapping[str, Any] | BaseModel | None,
    *,
    start: Day | None,
    end: Day | None,
    source: str | None,
    daily: bool,
    sweep: list[Mapping[str, Any]] | None,
) -> BacktestRequest:
    """The API's own request model of a backtest, validated here (a wrong parameter raises before any request)."""
    from coinseason.api.routes.trading import BacktestRequest

    def plain(value: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        return value.model_dump() if isinstance(value, BaseModel) else dict(value)

    body: dict[str, Any] = {"daily": daily, "from": _day(start), "to": _day(end), "source": source}
    if params is not None:
        body["params"] = plain(params)
    if sweep:
        body["sweep"] = [plain(p) for p in sweep]
    try:
        return BacktestRequest.model_validate(body)
    except ValidationError as exc:  # refused here as the server would refuse it, before any request
        errors = tuple(ParameterProblem(".".join(str(part) for part in e["loc"]), e["msg"]) for e in exc.errors())
        names = ", ".join(sorted({e.parameter for e in errors}))
        raise InvalidRequest(f"invalid parameter(s): {names}", instance="/v1/backtests", errors=errors) from exc


def _day(value: Day | None) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


ENDPOINTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/v1/season/latest"): ("season_latest",),
    ("GET", "/v1/season/history"): ("season_history", "season_history_frame"),
    ("GET", "/v1/season/breakdown"): ("breakdown",),
    ("GET", "/v1/seasons"): ("seasons",),
    ("GET", "/v1/season/consensus"): ("season_consensus",),
    ("GET", "/v1/season/consensus/history"): ("season_consensus_history", "season_consensus_history_frame"),
    ("GET", "/v1/season/margin"): ("season_margin",),
    ("GET", "/v1/season/margin/history"): ("season_margin_history", "season_margin_history_frame"),
    ("GET", "/v1/dominance/latest"): ("dominance_latest",),
    ("GET", "/v1/dominance/history"): ("dominance_history", "dominance_history_frame"),
    ("GET", "/v1/coins"): ("coin_page", "coins"),
    ("GET", "/v1/coins/{coin_id}/history"): ("coin_history", "coin_history_frame"),
    ("GET", "/v1/methodology"): ("methodology",),
    ("GET", "/v1/outlook"): ("outlook",),
    ("GET", "/v1/sentiment"): ("sentiment",),
    ("GET", "/v1/onchain"): ("onchain",),
    ("GET", "/v1/correlations"): ("correlations",),
    ("GET", "/v1/signals"): ("signals",),
    ("GET", "/v1/risk"): ("risk",),
    ("POST", "/v1/backtests"): ("backtest",),
    ("POST", "/v1/portfolio/rebalance"): ("rebalance",),
    ("POST", "/v1/alerts"): ("add_alert",),
    ("GET", "/v1/alerts"): ("alerts",),
    ("GET", "/v1/alerts/{rule_id}"): ("alert",),
    ("DELETE", "/v1/alerts/{rule_id}"): ("remove_alert",),
    ("POST", "/v1/alerts/{rule_id}/test"): ("test_alert",),
    ("GET", "/v1/alerts/events"): ("alert_events",),
    ("GET", "/v1/alerts/dead-letters"): ("dead_letters",),
    ("POST", "/v1/alerts/dead-letters/{event_id}/replay"): ("replay_dead_letter",),
    ("GET", "/healthz"): ("healthz",),
    ("GET", "/readyz"): ("readyz",),
}
"""Each API operation (method, OpenAPI path) and the methods of :class:`~coinseason.client.Client` and
:class:`~coinseason.client.AsyncClient` that call it (the ``/v1/stream`` WebSocket is ``stream``)."""
