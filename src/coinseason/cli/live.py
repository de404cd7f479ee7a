"""``coinseason live``: the intraday season index and dominance from an exchange's ticker stream, printed as it
moves."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
from enum import StrEnum
from typing import Annotated

import orjson
import typer

from coinseason.cli.options import (
    BtcOutsideOption,
    DbOption,
    ExcludeOption,
    SourceOption,
    TopOption,
    WindowOption,
)
from coinseason.cli.output import err, errors, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.live.intraday import DEFAULT_STALE_AFTER, IntradaySnapshot, board_from_store
from coinseason.live.runner import LiveIndex
from coinseason.services.analytics import AnalyticsService
from coinseason.settings import Settings
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW


class LiveFormat(StrEnum):
    """How ``coinseason live`` prints each update."""

    LINE = "line"
    JSON = "json"


def live(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Mini-ticker stream [default: COINSEASON_EXCHANGE_WS_URL, Binance's]"),
    ] = None,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    exclude: ExcludeOption = "default",
    btc_outside: BtcOutsideOption = False,
    source: SourceOption = None,
    every: Annotated[float, typer.Option("--every", help="Print at most once per this many seconds")] = 1.0,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="Stop after this many seconds [default: run until Ctrl-C]")
    ] = None,
    stale_after: Annotated[
        float, typer.Option("--stale-after", help="Seconds after which a coin's last tick no longer counts")
    ] = DEFAULT_STALE_AFTER,
    fmt: Annotated[LiveFormat, typer.Option("--format", help="line (readable) or json (one object a line)")] = (
        LiveFormat.LINE
    ),
    db: DbOption = None,
) -> None:
    """Intraday Altcoin Season Index and BTC dominance from live exchange prices × last known supply; the W-day
    returns start from the store's daily prices W days before today (UTC)."""
    with errors():
        settings = Settings.from_env()
        stream = url or settings.live.exchange_ws_url
        with open_db(db) as store:
            board = board_from_store(
                AnalyticsService(store),
                today=runtime(ctx).clock().date(),
                source=source,
                top=top,
                window=window,
                exclude=exclude,
                btc_inside=not btc_outside,
                stale_after=stale_after,
            )
        printer = _json_line if fmt is LiveFormat.JSON else _readable_line
        runner = LiveIndex(
            board, stream, publish=printer, min_interval=every, heartbeat=settings.live.heartbeat_seconds
        )
        err.print(
            f"coinseason live: {len(board.coin_ids)} coins mapped, top {top}, {window} days, from {stream}",
            highlight=False,
        )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(runner, seconds))
        stats = runner.feed.stats
        err.print(
            f"frames {stats.frames}, tickers {stats.tickers}, malformed {stats.malformed}, reconnects"
            f" {stats.reconnects}, silences {stats.silences}",
            highlight=False,
        )


async def _run(runner: LiveIndex, seconds: float | None) -> None:
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait({task}, timeout=seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _json_line(snap: IntradaySnapshot) -> None:
    sys.stdout.write(orjson.dumps(snap.to_dict()).decode() + "\n")
    sys.stdout.flush()


def _readable_line(snap: IntradaySnapshot) -> None:
    d = snap.to_dict()
    at = snap.as_of.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if snap.as_of else "no tick yet"

    def pct(x: object) -> str:
        return "–" if x is None else f"{x:.2f}"

    line = (
        f"{at}  altcoin season index {pct(d['value'])} ({d['season']}, {d['n_outperforming']}/{d['n_eligible']})"
        f"  BTC dominance {pct(d['btc_dominance'])} %  {d['n_counted_live']} coins live, {d['n_carried']} carried"
        f" ({pct(d['live_cap_share'])} % of the market cap live){'  STALE' if snap.stale else ''}"
    )
    out.print(line, highlight=False)
