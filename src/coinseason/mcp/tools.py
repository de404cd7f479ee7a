"""The coinseason tools an AI assistant calls over MCP, each a thin call of the v1 API.

Every tool answers with the same envelope (:class:`Answer`): ``answer`` is the API's own answer for the same
parameters (long series cut to their last points), ``method`` says how the numbers were made (source, universe
size, window, exclusion set and its version, thresholds, model version), ``data_time`` is the UTC time the data
describes, and ``request`` is the API request that gives the same answer, for the assistant to cite.

The tools reach the API through the ``httpx.AsyncClient`` they are given: the composition root
(:mod:`coinseason.server`) hands them the API app in this process, behind the front door that checked the MCP
request's key and rate limit, so a tool call answers exactly what the API answers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import httpx
import orjson
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from coinseason import __version__
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW, MAX_TOP, MAX_WINDOW

__all__ = ["MAX_POINTS", "Answer", "SeasonTools", "build_server"]

MAX_POINTS = 1000
"""Most points of a series one tool answer carries (an assistant's context is small; ask for weeks or months)."""
DEFAULT_POINTS = 120

INSTRUCTIONS = """coinseason says whether crypto is in Bitcoin season or altcoin season, from an open method over
point-in-time market data. The Altcoin Season Index is the share of the top-N altcoins (stablecoins, wrapped,
liquid-staking and tokenized assets excluded) whose W-day return beat Bitcoin's: altcoin season at 75 or more,
Bitcoin season at 25 or less. Start with current_season; quote each answer's method and data_time with its
numbers. Daily values describe the day's 00:00 UTC snapshot. Backtests and outlooks are analysis, not advice."""

Top = Annotated[int, Field(ge=1, le=MAX_TOP, description="universe size N: the top N coins by market cap")]
Window = Annotated[int, Field(ge=1, le=MAX_WINDOW, description="return window W in days (90 is the usual)")]
Exclude = Annotated[
    Literal["default", "none"],
    Field(description="default: leave stablecoins, wrapped, liquid-staking and tokenized assets out; none: keep all"),
]
Source = Annotated[str | None, Field(description="data source, e.g. coingecko [default: the server's default]")]
Fill = Annotated[bool, Field(description="young coins' places go to the next-ranked coins (blockchaincenter-style)")]
BtcInside = Annotated[bool, Field(description="BTC takes one of the N places")]
Start = Annotated[dt.date | None, Field(description="first UTC day, YYYY-MM-DD [default: the first day of data]")]
End = Annotated[dt.date | None, Field(description="last UTC day, YYYY-MM-DD [default: the last day of data]")]
Interval = Annotated[Literal["day", "week", "month"], Field(description="average per day, week or month")]
Points = Annotated[int, Field(ge=1, le=MAX_POINTS, description="keep only this many most recent points of the series")]
Universe = Annotated[str, Field(description="all, or top:N (N from 1 to 500) for the top N coins only")]
OneDay = Annotated[
    dt.date | None,
    Field(description="one UTC day, in full detail [default: the last day; leave out with start or end]"),
]
HistoryStart = Annotated[
    dt.date | None, Field(description="first UTC day of a daily history, YYYY-MM-DD (instead of one day)")
]
HistoryEnd = Annotated[dt.date | None, Field(description="last UTC day of a daily history, YYYY-MM-DD")]
Band = Annotated[
    float | None,
    Field(
        gt=0,
        le=100,
        description="close coins: W-day return within this many percentage points of BTC's [default: the API's, 5]",
    ),
]


class Answer(BaseModel):
    """What every coinseason tool returns."""

    answer: dict[str, Any] = Field(description="the API's answer for these parameters")
    method: dict[str, Any] = Field(description="how the numbers were made: quote it with them")
    data_time: dt.datetime | None = Field(description="UTC time the data describes (a day's 00:00 UTC snapshot)")
    request: str = Field(description="the API request giving the same answer")
    points_left_out: int = Field(0, description="earlier points of a long series not shown (see the tool's points)")


def _midnight(day: object) -> dt.datetime | None:
    """00:00 UTC of an ISO day (daily values are that snapshot), None when there is no day."""
    if not isinstance(day, str):
        return None
    return dt.datetime.combine(dt.date.fromisoformat(day[:10]), dt.time(), dt.UTC)


def _query(params: Mapping[str, object]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        pairs.append((name, text))
    return pairs


def _tail(answer: dict[str, Any], points: int) -> int:
    """Keep the last ``points`` of ``answer["values"]``; the number left out."""
    values = answer.get("values")
    if not isinstance(values, list) or len(values) <= points:
        return 0
    answer["values"] = values[-points:]
    return len(values) - points


class SeasonTools:
    """The tools, over the API reached through ``api`` (an ``httpx.AsyncClient`` whose base URL is the API's)."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api = api

    async def _call(
        self, method: Literal["GET", "POST"], path: str, params: Mapping[str, object], body: object = None
    ) -> tuple[dict[str, Any], str]:
        query = urlencode(_query(params))
        request = path + (f"?{query}" if query else "")
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        response = await self.api.request(method, path, params=query, content=content, headers=headers)
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            detail = payload.get("detail") if isinstance(payload, dict) else None
            raise ToolError(f"{response.status_code}: {detail or response.text[:300]}")
        return payload, f"{method} {request}"

    async def current_season(
        self,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
        fill: Fill = True,
        btc_inside: BtcInside = True,
    ) -> Answer:
        """Is it Bitcoin season or altcoin season now? The latest Altcoin Season Index (0-100), its season and the
        day it began, how many altcoins beat BTC over the window, and BTC dominance, for a universe of the top N
        coins and a W-day window."""
        params = {"top": top, "window": window, "exclude": exclude, "source": source}
        answer, request = await self._call(
            "GET", "/v1/season/latest", {**params, "fill": fill, "btc_inside": btc_inside}
        )
        return Answer(answer=answer, method=answer["method"], data_time=answer["as_of"], request=request)

    async def season_history(
        self,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
        start: Start = None,
        end: End = None,
        interval: Interval = "week",
        points: Points = DEFAULT_POINTS,
    ) -> Answer:
        """The Altcoin Season Index over time, per day, week or month between two days, with the season of each
        point: how long a season lasted, how high the index went, where it stands against its past."""
        params = {"top": top, "window": window, "exclude": exclude, "source": source}
        answer, request = await self._call(
            "GET", "/v1/season/history", {**params, "from": start, "to": end, "interval": interval}
        )
        left_out = _tail(answer, points)
        values = answer["values"]
        data_time = _midnight(values[-1]["date"]) if values else None
        return Answer(
            answer=answer, method=answer["method"], data_time=data_time, request=request, points_left_out=left_out
        )

    async def season_breakdown(
        self,
        date: Annotated[dt.date | None, Field(description="UTC day [default: the last day of data]")] = None,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
    ) -> Answer:
        """Why the index is what it is on one day: every coin of the universe with its rank, its W-day return, BTC's,
        and whether it beat BTC."""
        params = {"date": date, "top": top, "window": window, "exclude": exclude, "source": source}
        answer, request = await self._call("GET", "/v1/season/breakdown", params)
        return Answer(answer=answer, method=answer["method"], data_time=_midnight(answer["date"]), request=request)

    async def season_periods(
        self,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
        min_days: Annotated[int, Field(ge=1, le=3650, description="shortest run that counts as a season")] = 1,
        neutral: Annotated[bool, Field(description="list the neutral periods between seasons too")] = False,
        altcoin_at: Annotated[float, Field(gt=0, le=100, description="altcoin season at this index or above")] = 75.0,
        bitcoin_at: Annotated[float, Field(ge=0, lt=100, description="Bitcoin season at this index or below")] = 25.0,
        start: Start = None,
        end: End = None,
    ) -> Answer:
        """Every altcoin season and Bitcoin season in the data: start, end, length in days, peak and its day, and
        whether it is still going on."""
        params = {"top": top, "window": window, "exclude": exclude, "source": source, "min_days": min_days}
        thresholds = {"neutral": neutral, "altcoin_at": altcoin_at, "bitcoin_at": bitcoin_at}
        answer, request = await self._call("GET", "/v1/seasons", {**params, **thresholds, "from": start, "to": end})
        values = answer["values"]
        data_time = _midnight(max(v["end"] for v in values)) if values else None
        return Answer(answer=answer, method=answer["method"], data_time=data_time, request=request)

    async def _day_or_history(
        self,
        path: str,
        params: Mapping[str, object],
        *,
        date: dt.date | None,
        start: dt.date | None,
        end: dt.date | None,
        points: int,
    ) -> Answer:
        """One day from ``path``, or its daily history from ``path/history`` when a range is given."""
        if start is None and end is None:
            answer, request = await self._call("GET", path, {**params, "date": date})
            return Answer(answer=answer, method=answer["method"], data_time=answer["as_of"], request=request)
        if date is not None:
            raise ToolError("give either date (one day) or start/end (a daily history), not both")
        answer, request = await self._call("GET", f"{path}/history", {**params, "from": start, "to": end})
        left_out = _tail(answer, points)
        values = answer["values"]
        data_time = _midnight(values[-1]["date"]) if values else None
        return Answer(
            answer=answer, method=answer["method"], data_time=data_time, request=request, points_left_out=left_out
        )

    async def season_consensus(
        self,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
        fill: Fill = True,
        btc_inside: BtcInside = True,
        date: OneDay = None,
        start: HistoryStart = None,
        end: HistoryEnd = None,
        points: Points = DEFAULT_POINTS,
    ) -> Answer:
        """How sure is the season call? The Altcoin Season Index over a stated grid of reasonable definitions (top
        N, window W, BTC inside or not, exclusions): the share of them in altcoin, neutral and Bitcoin season, their
        median and 10-90 % band, whether the chosen definition agrees with the majority, and the cap-weighted index.
        One day lists every definition's value; start/end give the daily history instead."""
        params: dict[str, object] = {"top": top, "window": window, "exclude": exclude, "source": source}
        params |= {"fill": fill, "btc_inside": btc_inside}
        return await self._day_or_history(
            "/v1/season/consensus", params, date=date, start=start, end=end, points=points
        )

    async def season_margin(
        self,
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        source: Source = None,
        fill: Fill = True,
        btc_inside: BtcInside = True,
        band: Band = None,
        date: OneDay = None,
        start: HistoryStart = None,
        end: HistoryEnd = None,
        points: Points = DEFAULT_POINTS,
    ) -> Answer:
        """How close is the next season? How many coins would have to change sides (beat BTC or fall behind it)
        for the season to change, which season that leads to, and the close coins whose W-day return is within the
        band of BTC's. One day lists the close coins; start/end give the daily history of the counts instead."""
        params: dict[str, object] = {"top": top, "window": window, "exclude": exclude, "source": source}
        params |= {"fill": fill, "btc_inside": btc_inside, "band": band}
        return await self._day_or_history("/v1/season/margin", params, date=date, start=start, end=end, points=points)

    async def dominance_latest(
        self, universe: Universe = "all", exclude: Exclude = "default", source: Source = None
    ) -> Answer:
        """Current BTC, ETH and stablecoin dominance (percent of the universe's market cap) and TOTAL, TOTAL2 and
        TOTAL3 in USD."""
        params = {"universe": universe, "exclude": exclude, "source": source}
        answer, request = await self._call("GET", "/v1/dominance/latest", params)
        return Answer(answer=answer, method=answer["method"], data_time=answer["as_of"], request=request)

    async def dominance_history(
        self,
        universe: Universe = "all",
        exclude: Exclude = "default",
        source: Source = None,
        start: Start = None,
        end: End = None,
        interval: Interval = "week",
        points: Points = DEFAULT_POINTS,
    ) -> Answer:
        """BTC, ETH and stablecoin dominance and the TOTALs over time, per day, week or month."""
        params = {"universe": universe, "exclude": exclude, "source": source, "interval": interval}
        answer, request = await self._call("GET", "/v1/dominance/history", {**params, "from": start, "to": end})
        left_out = _tail(answer, points)
        values = answer["values"]
        data_time = _midnight(values[-1]["date"]) if values else None
        return Answer(
            answer=answer, method=answer["method"], data_time=data_time, request=request, points_left_out=left_out
        )

    async def methodology(
        self,
        members: Annotated[bool, Field(description="list every excluded coin (long); else count them")] = False,
    ) -> Answer:
        """How coinseason computes everything: definitions, season thresholds, gap filling, the excluded token
        classes and the version of the exclusion list, and the sources with data."""
        answer, request = await self._call("GET", "/v1/methodology", {})
        if not members:
            answer["exclusion_members"] = {name: len(coins) for name, coins in answer["exclusion_members"].items()}
        method = {
            key: answer[key] for key in ("methodology_version", "exclusion_list_version", "thresholds", "gap_days")
        }
        return Answer(answer=answer, method=method, data_time=None, request=request)

    async def outlook(
        self,
        date: Annotated[
            dt.date | None, Field(description="UTC day [default: the last day]; past days answer as of that day")
        ] = None,
    ) -> Answer:
        """The probability of each season transition (altcoin season entry, Bitcoin season entry, a dominance move)
        within the model's horizon, with whether the model has out-of-sample skill, the climatology base rate and
        the features that moved it most. Analysis, not advice."""
        answer, request = await self._call("GET", "/v1/outlook", {"date": date})
        method = {
            key: answer.get(key)
            for key in ("model_version", "trained_at", "training_window", "horizon_days", "predicted_by", "in_sample")
        }
        return Answer(answer=answer, method=method, data_time=_midnight(answer["date"]), request=request)

    async def backtest(
        self,
        strategy: Annotated[
            Literal["season-rotation", "momentum", "contrarian"],
            Field(description="season-rotation: alts in altcoin season, BTC in Bitcoin season"),
        ] = "season-rotation",
        top: Top = DEFAULT_TOP,
        window: Window = DEFAULT_WINDOW,
        exclude: Exclude = "default",
        weighting: Annotated[Literal["equal", "cap"], Field(description="alt basket weights")] = "equal",
        altcoin_at: Annotated[float, Field(ge=0, le=100)] = 75.0,
        bitcoin_at: Annotated[float, Field(ge=0, le=100)] = 25.0,
        neutral: Annotated[
            Literal["split", "btc", "cash", "hold"], Field(description="what to hold between seasons")
        ] = "split",
        confirm_days: Annotated[int, Field(ge=1, le=365, description="days a new season must last")] = 1,
        fee_bps: Annotated[float, Field(ge=0, le=1000, description="fee per trade, basis points")] = 10.0,
        start: Start = None,
        end: End = None,
        source: Source = None,
    ) -> Answer:
        """Backtest one season strategy on the past (bounded by the server: one parameter set, its time limit):
        return, CAGR, volatility, Sharpe, drawdown of the strategy against buy-and-hold BTC, with costs. Analysis
        of past data, not advice."""
        params = {
            "strategy": strategy,
            "top": top,
            "window": window,
            "exclude": exclude,
            "weighting": weighting,
            "altcoin_at": altcoin_at,
            "bitcoin_at": bitcoin_at,
            "neutral": neutral,
            "confirm_days": confirm_days,
            "fee_bps": fee_bps,
        }
        body = {
            "params": params,
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "source": source,
            "daily": True,
        }
        answer, _ = await self._call("POST", "/v1/backtests", {}, {k: v for k, v in body.items() if v is not None})
        daily = answer.pop("daily", None) or []
        first, last = (daily[0]["date"], daily[-1]["date"]) if daily else (None, None)
        answer["days"] = {"first": first, "last": last, "count": len(daily)}
        method = {"source": answer["source"], **answer["params"], "disclaimer": answer["disclaimer"]}
        return Answer(answer=answer, method=method, data_time=_midnight(last), request="POST /v1/backtests")


TOOLS = (
    "current_season",
    "season_history",
    "season_breakdown",
    "season_periods",
    "season_consensus",
    "season_margin",
    "dominance_latest",
    "dominance_history",
    "methodology",
    "outlook",
    "backtest",
)
"""The tool names, in the order an assistant sees them."""


def build_server(api: httpx.AsyncClient) -> MCPServer:
    """The MCP server with every tool of :class:`SeasonTools` over ``api``."""
    server: MCPServer = MCPServer(name="coinseason", title="coinseason", version=__version__, instructions=INSTRUCTIONS)
    tools = SeasonTools(api)
    for name in TOOLS:
        server.add_tool(getattr(tools, name), name=name, structured_output=True)
    return server
