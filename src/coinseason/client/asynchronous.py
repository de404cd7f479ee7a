"""The asyncio client: :class:`AsyncClient`, over one ``httpx.AsyncClient``; the same methods as
:class:`~coinseason.client.blocking.Client`, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
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
from coinseason.client.blocking import DEFAULT_TIMEOUT
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
from coinseason.client.streaming import StreamMessage, Topic, messages

if TYPE_CHECKING:
    from coinseason.api.routes.alerts import AlertCreated, AlertOut, EventOut, TestOut
    from coinseason.api.routes.outlook import Correlations, Outlook, SeriesResponse
    from coinseason.api.routes.trading import BacktestResponse, RebalanceRequest, RebalanceResponse

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """:class:`~coinseason.client.blocking.Client` for asyncio: every method is awaited, :meth:`coins` is an async
    iterator. ``async with AsyncClient("http://127.0.0.1:8000", api_key="cs_...") as client: ...``, or await
    :meth:`close`.
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
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._base_url = base_url
        self._timeout = timeout
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

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    async def run(self, call: Call[T]) -> T:
        """Send ``call`` (again after each ``Retry-After`` wait within the bound) and return its value."""
        waited, tries = 0.0, 0
        while True:
            request = self._http.build_request(call.method, call.path, params=call.params, content=call.body)
            if call.body is not None:
                request.headers["Content-Type"] = "application/json"
            self._exchange.headers(request)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}", instance=call.path) from exc
            step = self._exchange.settle(call, response, waited=waited, tries=tries)
            if isinstance(step, Done):
                return step.value
            await self._sleep(step.seconds)
            waited, tries = waited + step.seconds, tries + 1

    # season
    async def season_latest(self, **args: Unpack[SeasonArgs]) -> SeasonLatest:
        """The latest Altcoin/Bitcoin Season Index, its season and since when, with its method."""
        return await self.run(calls.season_latest(args))

    async def season_history(self, **args: Unpack[SeasonHistoryArgs]) -> SeasonHistory:
        """The index per day, week or month."""
        return await self.run(calls.season_history(args))

    async def season_history_frame(self, **args: Unpack[SeasonHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_history` as a polars frame (the API's CSV)."""
        return await self.run(calls.season_history_frame(args))

    async def breakdown(self, **args: Unpack[BreakdownArgs]) -> Breakdown:
        """Every coin of the universe on one day (default: the last): its return, BTC's, whether it beat BTC."""
        return await self.run(calls.breakdown(args))

    async def seasons(self, **args: Unpack[SeasonPeriodArgs]) -> SeasonPeriods:
        """Season periods: start, end, length, peak."""
        return await self.run(calls.seasons(args))

    async def season_consensus(self, **args: Unpack[DayArgs]) -> ConsensusDay:
        """How sure the call is on one day (default: the last): the index over a grid of definitions, the shares
        of them in each season, median and 10-90 % band, the headline's agreement, the cap-weighted index."""
        return await self.run(calls.consensus(args))

    async def season_consensus_history(self, **args: Unpack[ConsensusHistoryArgs]) -> ConsensusHistory:
        """:meth:`season_consensus` per day, without the variants."""
        return await self.run(calls.consensus_history(args))

    async def season_consensus_history_frame(self, **args: Unpack[ConsensusHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_consensus_history` as a polars frame (the API's CSV)."""
        return await self.run(calls.consensus_history_frame(args))

    async def season_margin(self, **args: Unpack[MarginArgs]) -> MarginDay:
        """How many coins would have to change sides for the season to change on one day, and the close coins
        (W-day return within ``band`` percentage points of BTC's)."""
        return await self.run(calls.margin(args))

    async def season_margin_history(self, **args: Unpack[MarginHistoryArgs]) -> MarginHistory:
        """:meth:`season_margin` per day, with the close coins' counts."""
        return await self.run(calls.margin_history(args))

    async def season_margin_history_frame(self, **args: Unpack[MarginHistoryArgs]) -> pl.DataFrame:
        """:meth:`season_margin_history` as a polars frame (the API's CSV)."""
        return await self.run(calls.margin_history_frame(args))

    # dominance
    async def dominance_latest(self, **args: Unpack[DominanceArgs]) -> DominanceLatest:
        return await self.run(calls.dominance_latest(args))

    async def dominance_history(self, **args: Unpack[DominanceHistoryArgs]) -> DominanceHistory:
        return await self.run(calls.dominance_history(args))

    async def dominance_history_frame(self, **args: Unpack[DominanceHistoryArgs]) -> pl.DataFrame:
        return await self.run(calls.dominance_history_frame(args))

    # coins
    async def coin_page(self, cursor: str | None = None, **args: Unpack[CoinArgs]) -> CoinPage:
        """One page of coins; pass its ``next_cursor`` back for the next."""
        return await self.run(calls.coin_page(args, cursor))

    async def coins(self, **args: Unpack[CoinArgs]) -> AsyncIterator[Coin]:
        """Every coin matching ``args``, page after page (``limit`` is the page size), lazily."""
        cursor: str | None = None
        while True:
            page = await self.coin_page(cursor, **args)
            for coin in page.items:
                yield coin
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def coin_history(self, coin_id: str, **args: Unpack[CoinHistoryArgs]) -> CoinHistory:
        return await self.run(calls.coin_history(coin_id, args))

    async def coin_history_frame(self, coin_id: str, **args: Unpack[CoinHistoryArgs]) -> pl.DataFrame:
        return await self.run(calls.coin_history_frame(coin_id, args))

    # methodology, outlook and the series behind it
    async def methodology(self) -> Methodology:
        return await self.run(calls.methodology())

    async def outlook(self, **args: Unpack[OutlookArgs]) -> Outlook:
        """Probability of each season transition within the model's horizon, as of a day."""
        return await self.run(calls.outlook(args))

    async def sentiment(self, **args: Unpack[RangeArgs]) -> SeriesResponse:
        return await self.run(calls.sentiment(args))

    async def onchain(self, **args: Unpack[RangeArgs]) -> SeriesResponse:
        return await self.run(calls.onchain(args))

    async def correlations(self, **args: Unpack[CorrelationArgs]) -> Correlations:
        return await self.run(calls.correlations(args))

    # trading analytics (analysis, not advice)
    async def signals(self, **args: Unpack[SignalArgs]) -> dict[str, Any]:
        return await self.run(calls.signals(args))

    async def risk(self, **args: Unpack[RiskArgs]) -> dict[str, Any]:
        return await self.run(calls.risk(args))

    async def backtest(
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
        return await self.run(calls.backtest(request))

    async def rebalance(self, request: RebalanceRequest) -> RebalanceResponse:
        return await self.run(calls.rebalance(request))

    # alerts (every call needs an API key: a key sees and changes only its own rules and events)
    async def add_alert(
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
        return await self.run(calls.add_alert(name, kind, url, params, format))

    async def alerts(self) -> list[AlertOut]:
        """The key's alert rules."""
        return await self.run(calls.alerts())

    async def alert(self, rule_id: str) -> AlertOut:
        return await self.run(calls.alert(rule_id))

    async def remove_alert(self, rule_id: str) -> None:
        """Remove a rule (its pending events are still sent)."""
        await self.run(calls.remove_alert(rule_id))

    async def test_alert(self, rule_id: str) -> TestOut:
        """Send a signed test event to the rule's endpoint now, and say how it went."""
        return await self.run(calls.test_alert(rule_id))

    async def alert_events(self, **args: Unpack[EventArgs]) -> list[EventOut]:
        """The key's alert events and their delivery, newest first."""
        return await self.run(calls.alert_events(args))

    async def dead_letters(self, limit: int | None = None) -> list[EventOut]:
        """The key's events that could not be delivered."""
        return await self.run(calls.dead_letters(limit))

    async def replay_dead_letter(self, event_id: str) -> EventOut:
        """Send a dead letter again, with new retries."""
        return await self.run(calls.replay_dead_letter(event_id))

    # stream
    def stream(self, topics: Sequence[Topic] = ("season", "dominance")) -> AsyncGenerator[StreamMessage, None]:
        """``WS /v1/stream``: the updates of ``topics`` as the server pushes them (``async for message in ...``),
        until it closes the stream; a refused key raises :class:`~coinseason.client.errors.Unauthorized`."""
        return messages(self._base_url, topics, api_key=self._exchange.api_key, open_timeout=self._timeout)

    # health
    async def healthz(self) -> Health:
        return await self.run(calls.healthz())

    async def readyz(self) -> Ready:
        """Readiness, also when the server is not ready (503 carries the same answer)."""
        return await self.run(calls.readyz())
