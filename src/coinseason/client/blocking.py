"""The blocking client: :class:`Client`, over one ``httpx.Client`` (connection pooling, HTTP keep-alive)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

import httpx
import polars as pl
from pydantic import BaseModel

from coinseason.api.consensus_models import ConsensusDay, ConsensusHistory, MarginDay, MarginHistory
from coinseason.api.models import (
    Breakdown,
    Coin,
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
from coinseason.client import calls
from coinseason.client.calls import (
    BreakdownArgs,
    CoinArgs,
    CoinHistoryArgs,
    ConsensusHistoryArgs,
    CorrelationArgs,
    Day,
    DayArgs,
    DominanceArgs,
    DominanceHistoryArgs,
    EventArgs,
    MarginArgs,
    MarginHistoryArgs,
    OutlookArgs,
    RangeArgs,
    RiskArgs,
    SeasonArgs,
    SeasonHistoryArgs,
    SeasonPeriodArgs,
    SignalArgs,
)
from coinseason.client.errors import Unreachable
from coinseason.client.exchange import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WAIT,
    Call,
    Done,
    ETagCache,
    Exchange,
    RetryPolicy,
)

if TYPE_CHECKING:
    from coinseason.api.routes.alerts import AlertCreated, AlertOut, EventOut, TestOut
    from coinseason.api.routes.outlook import Correlations, Outlook, SeriesResponse
    from coinseason.api.routes.trading import BacktestResponse, RebalanceRequest, RebalanceResponse

__all__ = ["DEFAULT_TIMEOUT", "Client"]

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0
"""Seconds to connect, and between bytes of an answer (a long backtest answers within the server's own bound)."""


class Client:
    """A coinseason server's ``/v1`` API as typed methods returning the API's own response models.

    ``Client("http://127.0.0.1:8000", api_key="cs_...")``; use it as a context manager, or call :meth:`close`.
    GET answers are kept with their ETag and reused on ``304``; a ``429`` is waited out (``Retry-After``) for at most
    ``max_wait`` seconds and ``max_retries`` tries per call; failures raise :mod:`coinseason.client.errors`.
    ``transport`` and ``sleep`` are for tests and special set-ups (an in-process app, a proxy).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_wait: float = DEFAULT_MAX_WAIT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        etag_entries: int = 256,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self._exchange = Exchange(
            api_key=api_key,
            retry=RetryPolicy(max_wait=max_wait, max_retries=max_retries),
            etags=ETagCache(max_entries=etag_entries),
        )
        self._sleep = sleep

    @property
    def etags(self) -> ETagCache:
        """The kept GET answers (``hits`` counts the 304s answered from them)."""
        return self._exchange.etags

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def run(self, call: Call[T]) -> T:
        """Send ``call`` (again after each ``Retry-After`` wait within the bound) and return its value."""
        waited, tries = 0.0, 0
        while True:
            request = self._http.build_request(call.method, call.path, params=call.params, content=call.body)
            if call.body is not None:
                request.headers["Content-Type"] = "application/json"
            self._exchange.headers(request)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}", instance=call.path) from exc
            step = self._exchange.settle(call, response, waited=waited, tries=tries)
            if isinstance(step, Done):
                return step.value
            self._sleep(step.seconds)
            waited, tries = waited + step.seconds, tries + 1

    # season
    def season_latest(self, **args: Unpack[SeasonArgs]) -> SeasonLatest:
        """The latest Altcoin/Bitcoin Season Index, its season and since when, with its method."""
        return self.run(calls.season_latest(args))

    def season_history(self, **args: Unpack[SeasonHistoryArgs]) -> SeasonHistory:
        """The index per day, week or month."""
        return self.run(calls.season_history(args))

    def season_history_frame(self, **args: Unpack[SeasonHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_history` as a polars frame (the API's CSV)."""
        return self.run(calls.season_history_frame(args))

    def breakdown(self, **args: Unpack[BreakdownArgs]) -> Breakdown:
        """Every coin of the universe on one day (default: the last): its return, BTC's, whether it beat BTC."""
        return self.run(calls.breakdown(args))

    def seasons(self, **args: Unpack[SeasonPeriodArgs]) -> SeasonPeriods:
        """Season periods: start, end, length, peak."""
        return self.run(calls.seasons(args))

    def season_consensus(self, **args: Unpack[DayArgs]) -> ConsensusDay:
        """How sure the call is on one day (default: the last): the index over a grid of definitions, the shares
        of them in each season, median and 10-90 % band, the headline's agreement, the cap-weighted index."""
        return self.run(calls.consensus(args))

    def season_consensus_history(self, **args: Unpack[ConsensusHistoryArgs]) -> ConsensusHistory:
        """:meth:`season_consensus` per day, without the variants."""
        return self.run(calls.consensus_history(args))

    def season_consensus_history_frame(self, **args: Unpack[ConsensusHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_consensus_history` as a polars frame (the API's CSV)."""
        return self.run(calls.consensus_history_frame(args))

    def season_margin(self, **args: Unpack[MarginArgs]) -> MarginDay:
        """How many coins would have to change sides for the season to change on one day, and the close coins
        (W-day return within ``band`` percentage points of BTC's)."""
        return self.run(calls.margin(args))

    def season_margin_history(self, **args: Unpack[MarginHistoryArgs]) -> MarginHistory:
        """:meth:`season_margin` per day, with the close coins' counts."""
        return self.run(calls.margin_history(args))

    def season_margin_history_frame(self, **args: Unpack[MarginHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_margin_history` as a polars frame (the API's CSV)."""
        return self.run(calls.margin_history_frame(args))

    # dominance
    def dominance_latest(self, **args: Unpack[DominanceArgs]) -> DominanceLatest:
        return self.run(calls.dominance_latest(args))

    def dominance_history(self, **args: Unpack[DominanceHistoryArgs]) -> DominanceHistory:
        return self.run(calls.dominance_history(args))

    def dominance_history_frame(self, **args: Unpack[DominanceHistoryArgs]) -> pl.DataFrame:
        return self.run(calls.dominance_history_frame(args))

    # coins
    def coin_page(self, cursor: str | None = None, **args: Unpack[CoinArgs]) -> CoinPage:
        """One page of coins; pass its ``next_cursor`` back for the next."""
        return self.run(calls.coin_page(args, cursor))

    def coins(self, **args: Unpack[CoinArgs]) -> Iterator[Coin]:
        """Every coin matching ``args``, page after page (``limit`` is the page size), lazily."""
        cursor: str | None = None
        while True:
            page = self.coin_page(cursor, **args)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def coin_history(self, coin_id: str, **args: Unpack[CoinHistoryArgs]) -> CoinHistory:
        return self.run(calls.coin_history(coin_id, args))

    def coin_history_frame(self, coin_id: str, **args: Unpack[CoinHistoryArgs]) -> pl.DataFrame:
        return self.run(calls.coin_history_frame(coin_id, args))

    # methodology, outlook and the series behind it
    def methodology(self) -> Methodology:
        return self.run(calls.methodology())

    def outlook(self, **args: Unpack[OutlookArgs]) -> Outlook:
        """Probability of each season transition within the model's horizon, as of a day."""
        return self.run(calls.outlook(args))

    def sentiment(self, **args: Unpack[RangeArgs]) -> SeriesResponse:
        return self.run(calls.sentiment(args))

    def onchain(self, **args: Unpack[RangeArgs]) -> SeriesResponse:
        return self.run(calls.onchain(args))

    def correlations(self, **args: Unpack[CorrelationArgs]) -> Correlations:
        return self.run(calls.correlations(args))

    # trading analytics (analysis, not advice)
    def signals(self, **args: Unpack[SignalArgs]) -> dict[str, Any]:
        return self.run(calls.signals(args))

    def risk(self, **args: Unpack[RiskArgs]) -> dict[str, Any]:
        return self.run(calls.risk(args))

    def backtest(
        self,
        params: Mapping[str, Any] | BaseModel | None = None,
        *,
        start: Day | None = None,
        end: Day | None = None,
        source: str | None = None,
        daily: bool = True,
        sweep: list[Mapping[str, Any]] | None = None,
    ) -> BacktestResponse:
        """A bounded backtest of one strategy (``params``: the API's ``StrategyParams`` or its fields)."""
        request = calls.backtest_request(params, start=start, end=end, source=source, daily=daily, sweep=sweep)
        return self.run(calls.backtest(request))

    def rebalance(self, request: RebalanceRequest) -> RebalanceResponse:
        return self.run(calls.rebalance(request))

    # alerts (every call needs an API key: a key sees and changes only its own rules and events)
    def add_alert(
        self,
        name: str,
        kind: str,
        url: str,
        params: Mapping[str, str | int | float | None] | None = None,
        *,
        format: str = "json",
    ) -> AlertCreated:
        """A new alert rule sending its events to the webhook ``url``; ``secret`` of the answer is the endpoint's
        signing secret, shown once when the endpoint is new."""
        return self.run(calls.add_alert(name, kind, url, params, format))

    def alerts(self) -> list[AlertOut]:
        """The key's alert rules."""
        return self.run(calls.alerts())

    def alert(self, rule_id: str) -> AlertOut:
        return self.run(calls.alert(rule_id))

    def remove_alert(self, rule_id: str) -> None:
        """Remove a rule (its pending events are still sent)."""
        self.run(calls.remove_alert(rule_id))

    def test_alert(self, rule_id: str) -> TestOut:
        """Send a signed test event to the rule's endpoint now, and say how it went."""
        return self.run(calls.test_alert(rule_id))

    def alert_events(self, **args: Unpack[EventArgs]) -> list[EventOut]:
        """The key's alert events and their delivery, newest first."""
        return self.run(calls.alert_events(args))

    def dead_letters(self, limit: int | None = None) -> list[EventOut]:
        """The key's events that could not be delivered."""
        return self.run(calls.dead_letters(limit))

    def replay_dead_letter(self, event_id: str) -> EventOut:
        """Send a dead letter again, with new retries."""
        return self.run(calls.replay_dead_letter(event_id))

    # health
    def healthz(self) -> Health:
        return self.run(calls.healthz())

    def readyz(self) -> Ready:
        """Readiness, also when the server is not ready (503 carries the same answer)."""
        return self.run(calls.readyz())
