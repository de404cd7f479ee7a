"""``coinseason ingest``: backfill history from a live provider and run the scheduled snapshot loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from coinseason.cli.options import DbOption
from coinseason.cli.output import err, errors, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.errors import NothingStored
from coinseason.logs import configure_logging
from coinseason.services.ingestion import IngestionService, IngestReport
from coinseason.services.ingestion.factory import backfill_estimate, ingest_config, make_provider
from coinseason.settings import Settings
from coinseason.vocab import ProviderName

ingest_app = typer.Typer(help="Live data: backfill history and take scheduled snapshots.", no_args_is_help=True)


ProviderOption = Annotated[
    ProviderName | None,
    typer.Option("--provider", help="Market-data provider [default: COINSEASON_INGEST_PROVIDER, else coingecko]"),
]


def _print_report(report: IngestReport) -> None:
    resumed = f", resumed after {report.resumed_at} coins already done" if report.resumed_at else ""
    out.print(
        f"{report.kind} {report.source}: {report.coins} coins{resumed}; {report.rows} rows: {report.added} added,"
        f" {report.updated} updated, {report.unchanged} unchanged; {report.rejected} rejected",
        highlight=False,
    )
    for reason, n in sorted(report.rejections.items()):
        out.print(f"  rejected {n}: {reason}", highlight=False)
    for reason, n in sorted(report.flagged.items()):
        out.print(f"  flagged {n} (kept out of the indices): {reason}", highlight=False)
    for coin, reason in sorted(report.skipped.items()):
        out.print(f"  skipped {coin}: {reason}", highlight=False)


@ingest_app.command("backfill")
def backfill(
    ctx: typer.Context,
    provider: ProviderOption = None,
    top: Annotated[int, typer.Option("--top", help="Coins to backfill: today's top N by market cap")] = 500,
    since: Annotated[
        dt.datetime | None,
        typer.Option("--since", formats=["%Y-%m-%d"], help="First day (UTC) [default: as far back as the plan]"),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Coins written per transaction (with the cursor)")] = 20,
    db: DbOption = None,
) -> None:
    """Daily history of the top N coins; resumable (run it again after an interruption) and idempotent."""
    with errors(), open_db(db) as store:
        settings = Settings.from_env()
        name = provider or settings.ingest.provider or ProviderName.COINGECKO
        config = ingest_config(settings, top=top, batch=batch)
        clock = runtime(ctx).clock
        source = make_provider(name, settings, clock=clock)
        service = IngestionService(store, source, clock=clock, config=config)
        if since is None:
            estimate = backfill_estimate(source, top=top, today=clock().date())
            err.print(estimate.describe(), highlight=False)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("coins"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task(f"backfill {source.source}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            async def main() -> IngestReport:
                try:
                    return await service.backfill(top=top, since=since.date() if since else None, progress=progress)
                finally:
                    await source.aclose()

            report = asyncio.run(main())
        _print_report(report)
        empty = report.nothing_stored()
        if empty is not None:
            raise NothingStored(f"the backfill stored nothing: {empty}")


@ingest_app.command("plan")
def plan(
    ctx: typer.Context,
    provider: ProviderOption = None,
    top: Annotated[int | None, typer.Option("--top", help="Coins to backfill [default: COINSEASON_INGEST_TOP]")] = None,
) -> None:
    """What `serve` would fetch on the configured plan before its snapshot loop, how long that takes and how far
    back the plan reaches; no call is made."""
    with errors():
        settings = Settings.from_env()
        name = provider or settings.ingest.provider or ProviderName.COINGECKO
        source = make_provider(name, settings, clock=runtime(ctx).clock)
        count = settings.ingest.top if top is None else top
        estimate = backfill_estimate(source, top=count, today=runtime(ctx).clock().date(), with_snapshot=True)
        out.print(estimate.describe(), highlight=False)
        if estimate.history_days is not None:
            out.print(
                f"history before {estimate.reach_from}: import a full-history file"
                " (coinseason import PATH --format crypto2-listings|coingecko-csv)",
                highlight=False,
            )


@ingest_app.command("run")
def run(
    ctx: typer.Context,
    provider: ProviderOption = None,
    top: Annotated[
        int | None, typer.Option("--top", help="Coins per snapshot [default: COINSEASON_INGEST_TOP]")
    ] = None,
    db: DbOption = None,
) -> None:
    """The snapshot loop: the daily snapshot just after 00:00 UTC, intraday ones every
    COINSEASON_INGEST_INTERVAL_MINUTES; one process ingests at a time (others stand by). Stops on Ctrl-C."""
    with errors(), open_db(db) as store:
        settings = Settings.from_env()
        name = provider or settings.ingest.provider or ProviderName.COINGECKO
        source = make_provider(name, settings)
        references = [make_provider(n, settings) for n in settings.ingest.cross_check if n != name]
        service = IngestionService(
            store, source, clock=runtime(ctx).clock, config=ingest_config(settings, top=top), references=references
        )
        configure_logging(settings.log.level, json=settings.log.json_lines)  # each snapshot is logged with its counts
        err.print(
            f"ingesting {source.source} into {store.url}: daily snapshot after 00:00 UTC, intraday every"
            f" {settings.ingest.interval_minutes:g} min (Ctrl-C stops)",
            highlight=False,
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            try:
                await service.run(stop=stop, sleep=lambda s: _sleep_or_stop(s, stop))
            finally:
                for p in (source, *references):
                    await p.aclose()

        asyncio.run(main())


async def _sleep_or_stop(seconds: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
