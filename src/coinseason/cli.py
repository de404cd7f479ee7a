"""The ``coinseason`` command line: thin commands over the services; errors become one line and exit code 2."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from coinseason.cli_ingest import ingest_app
from coinseason.cli_keys import keys_app
from coinseason.cli_live import live
from coinseason.cli_model import features_app, model_app, outlook
from coinseason.cli_support import (
    AltcoinAtOption,
    BitcoinAtOption,
    BtcOutsideOption,
    DbOption,
    ExcludeOption,
    FormatOption,
    FromOption,
    IntervalFlag,
    IntervalOption,
    OutputFormat,
    SourceOption,
    StrictOption,
    ToOption,
    TopOption,
    WindowOption,
    err,
    out,
    utc_now,
)
from coinseason.cli_support import day as _day
from coinseason.cli_support import emit as _emit
from coinseason.cli_support import errors as _errors
from coinseason.cli_support import interval as _interval
from coinseason.cli_support import open_db as _store
from coinseason.cli_trading import backtest, rebalance, risk
from coinseason.errors import ConfigError
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportReport, ImportService
from coinseason.settings import HANDOFF_ENV, Settings
from coinseason.store import Store

_utc_now = utc_now  # the clock of the commands (live reads it here, so tests can fix it)

app = typer.Typer(help="Bitcoin season or altcoin season: exact season indices and dominance.", no_args_is_help=True)
index_app = typer.Typer(help="Season index and dominance series.", no_args_is_help=True)
app.add_typer(index_app, name="index")


def _print_report(report: ImportReport) -> None:
    out.print(
        f"[bold]{report.path}[/] → source [cyan]{report.source}[/] ({report.format}): "
        f"{report.rows_read:,} rows read, [green]{report.added:,} added[/], {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, [red]{report.rejected:,} rejected[/], {report.coins:,} coins"
    )
    for reason, count in report.rejections.items():
        out.print(f"  rejected {count:,}: {reason}")
    if report.duplicates_merged:
        out.print(f"  {report.duplicates_merged:,} identical duplicate rows kept once")


def _import(store: Store, path: Path, fmt: FileFormat, source: str | None, coin: str | None) -> ImportReport:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("import", total=5)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=f"import: {name}", completed=done, total=total)

        return ImportService(store, clock=_utc_now, progress=step).import_file(path, fmt, source=source, coin_id=coin)


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="File to import")],
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")],
    source: SourceOption = None,
    coin: Annotated[str | None, typer.Option("--coin", help="Coin id (coingecko-market-chart)")] = None,
    db: DbOption = None,
) -> None:
    """Import a file atomically and idempotently; prints rows added, updated and rejected."""
    with _errors(), _store(db) as store:
        _print_report(_import(store, path, fmt, source, coin))


@index_app.command("altseason")
def altseason(
    top: TopOption = 50,
    window: WindowOption = 90,
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    interval: IntervalFlag = IntervalOption.DAY,
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Altcoin Season Index (and Bitcoin Season Index) per day: share of the top N that beat BTC over W days."""
    with _errors(), _store(db) as store:
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside, fill=not strict)
        service = AnalyticsService(store)
        frame = service.season_history(
            query, source=source, start=_day(start), end=_day(end), interval=_interval(interval)
        )
        method = service.method(source, exclude, **query.parameters(), interval=interval.value)
        _emit(frame, fmt, f"Altcoin Season Index, top {top}, {window} days", method)


@index_app.command("dominance")
def dominance(
    universe: Annotated[str, typer.Option("--universe", help="all or top:N")] = "all",
    exclude: ExcludeOption = "default",
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    interval: IntervalFlag = IntervalOption.DAY,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """BTC dominance (value), ETH and stablecoin dominance, TOTAL, TOTAL2, TOTAL3 per day."""
    with _errors(), _store(db) as store:
        service = AnalyticsService(store)
        frame = service.dominance_history(
            universe=universe,
            exclude=exclude,
            source=source,
            start=_day(start),
            end=_day(end),
            interval=_interval(interval),
        )
        method = service.method(source, exclude, universe=universe, interval=interval.value)
        _emit(frame, fmt, f"Dominance, universe {universe}", method)


@app.command("seasons")
def seasons(
    top: TopOption = 50,
    window: WindowOption = 90,
    min_days: Annotated[int, typer.Option("--min-days", help="Shortest run that counts as a season")] = 1,
    neutral: Annotated[bool, typer.Option("--neutral", help="List neutral periods too")] = False,
    altcoin_at: AltcoinAtOption = 75.0,
    bitcoin_at: BitcoinAtOption = 25.0,
    start: FromOption = None,
    end: ToOption = None,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Season periods: start, end, length and peak of each altcoin and Bitcoin season."""
    with _errors(), _store(db) as store:
        query = SeasonQuery(
            top=top,
            window=window,
            exclude=exclude,
            btc_inside=not btc_outside,
            fill=not strict,
            altcoin_at=altcoin_at,
            bitcoin_at=bitcoin_at,
        )
        service = AnalyticsService(store)
        frame = service.season_periods(
            query, source=source, min_days=min_days, include_neutral=neutral, start=_day(start), end=_day(end)
        )
        method = service.method(source, exclude, **query.parameters(), min_days=min_days)
        _emit(frame, fmt, f"Seasons, top {top}, {window} days", method)


@app.command("breakdown")
def breakdown(
    date: Annotated[
        dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Day [default: last]")
    ] = None,
    top: TopOption = 50,
    window: WindowOption = 90,
    source: SourceOption = None,
    exclude: ExcludeOption = "default",
    btc_outside: BtcOutsideOption = False,
    strict: StrictOption = False,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Every coin of the universe on a day: its W-day return, BTC's, and whether it beat BTC."""
    with _errors(), _store(db) as store:
        query = SeasonQuery(top=top, window=window, exclude=exclude, btc_inside=not btc_outside, fill=not strict)
        service = AnalyticsService(store)
        frame = service.breakdown(query, _day(date), source=source)
        _emit(
            frame,
            fmt,
            f"Breakdown, top {top}, {window} days",
            service.method(source, exclude, **query.parameters()),
        )


@app.command("coins")
def coins(
    source: SourceOption = None,
    kind: Annotated[
        str | None, typer.Option("--class", help="excluded, stablecoin, wrapped, liquid_staking or tokenized_asset")
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Coins of a source with their token class and the basis of that decision."""
    with _errors(), _store(db) as store:
        _emit(AnalyticsService(store).coins(source, kind=kind), fmt, "Coins")


@app.command("run")
def run(
    path: Annotated[Path | None, typer.Argument(help="File to import first (optional)")] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")] = FileFormat.TIDY,
    source: SourceOption = None,
    top: TopOption = 50,
    window: WindowOption = 90,
    db: DbOption = None,
) -> None:
    """The main job: import a file (when given), then print the current season and a history summary."""
    from coinseason.summary import print_summary

    with _errors(), _store(db) as store:
        if path is not None:
            report = _import(store, path, fmt, source, None)
            _print_report(report)
            source = report.source
        print_summary(out, AnalyticsService(store), source=source, top=top, window=window)


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [default: 8000]")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes (more than one needs PostgreSQL)")
    ] = None,
    import_path: Annotated[Path | None, typer.Option("--import", help="File to import before serving")] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="Format of the --import file")] = FileFormat.TIDY,
    source: SourceOption = None,
    db: DbOption = None,
    live: Annotated[
        bool | None,
        typer.Option("--live/--no-live", help="Push the intraday index from the exchange stream [default: off]"),
    ] = None,
    ingest: Annotated[
        bool | None,
        typer.Option(
            "--ingest/--no-ingest", help="Run the snapshot loop [default: on when COINSEASON_INGEST_PROVIDER is set]"
        ),
    ] = None,
) -> None:
    """The API service (and its docs at /docs) over the store; imports a file first when one is given."""
    import uvicorn

    from coinseason.logs import configure_logging

    given = {"host": host, "port": port, "workers": workers, "db": db, "live": live, "ingest": ingest}
    overrides = {k: v for k, v in given.items() if v is not None}
    with _errors():
        settings = Settings(**overrides)  # type: ignore[arg-type]
        multi = settings.workers > 1
        if multi and not settings.db.startswith(("postgresql://", "postgres://")):
            raise ConfigError("several workers need a PostgreSQL store (--db postgresql://…): DuckDB has one writer")
        if import_path is not None:
            with _store(settings.db) as store:
                _print_report(_import(store, import_path, fmt, source, None))
        with _store(settings.db) as store:
            sources = store.sources()
        summary = ", ".join(f"{s.source} to {s.last_date}" for s in sources) or "no data yet (import a file)"
        err.print(
            f"coinseason serving http://{settings.host}:{settings.port} (docs at /docs) · store "
            f"{settings.db} · {summary}",
            highlight=False,
        )
        configure_logging(settings.log_level, json=settings.log_json)
    os.environ[HANDOFF_ENV] = settings.to_handoff()  # the workers build the service from these settings
    uvicorn.run(
        "coinseason.server:create_app_from_handoff",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=None,
    )


app.add_typer(keys_app, name="keys")
app.add_typer(ingest_app, name="ingest")
app.command("backtest")(backtest)
app.command("risk")(risk)
app.command("rebalance")(rebalance)
app.command("live")(live)
app.add_typer(model_app, name="model")
app.add_typer(features_app, name="features")
app.command("outlook")(outlook)


def main() -> None:
    app()
