"""``coinseason import`` and ``coinseason run`` (import, then the current season and a history summary)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from coinseason.cli.options import DbOption, SourceOption, TopOption, WindowOption
from coinseason.cli.output import err, errors, out
from coinseason.cli.reading import warn_if_stale
from coinseason.cli.runtime import open_db, runtime
from coinseason.cli.summary import print_summary
from coinseason.clock import Clock
from coinseason.data.gates import GateConfig
from coinseason.errors import ImportRejected
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportReport, ImportService, gate_config
from coinseason.settings import Settings
from coinseason.store import Store
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW


def print_report(report: ImportReport) -> None:
    """The counts of an import, then each kind of rejection and of flag with its reason and the gates' factors."""
    flagged = sum(report.flagged.values())
    out.print(
        f"[bold]{report.path}[/] → source [cyan]{report.source}[/] ({report.format}): "
        f"{report.rows_read:,} rows read, [green]{report.added:,} added[/], {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, [red]{report.rejected:,} rejected[/], [yellow]{flagged:,} flagged[/], "
        f"{report.coins:,} coins",
        highlight=False,
    )
    print_reasons(report.rejections, report.flagged)
    if report.duplicates_merged:
        out.print(f"  {report.duplicates_merged:,} identical duplicate rows kept once", highlight=False)
    if report.rejected or flagged:
        gates = report.gates
        out.print(
            f"  gates: K = {gates.spike_factor:g} (spikes), supply jump over {gates.supply_factor:g}×",
            style="dim",
            highlight=False,
        )


def print_reasons(rejections: Mapping[str, int], flagged: Mapping[str, int]) -> None:
    """One line per reason: rejected rows are not stored; flagged ones are, kept out of every index."""
    for reason, count in rejections.items():
        out.print(f"  rejected {count:,}: {reason}", highlight=False)
    for reason, count in flagged.items():
        out.print(f"  flagged {count:,} (stored, kept out of every index): {reason}", highlight=False)


def import_with_progress(
    store: Store,
    path: Path,
    fmt: FileFormat,
    *,
    source: str | None,
    coin: str | None,
    clock: Clock,
    gates: GateConfig | None = None,
) -> ImportReport:
    """Import a file with a progress bar on stderr; a file none of whose rows passed the gates prints its
    rejections by reason and raises :class:`ImportRejected` (exit code 2)."""
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

        service = ImportService(store, clock=clock, gates=gates, progress=step)
        try:
            return service.import_file(path, fmt, source=source, coin_id=coin)
        except ImportRejected as exc:
            bar.stop()
            out.print(f"[bold]{path}[/]: {exc.rows_read:,} rows read, [red]all rejected[/]", highlight=False)
            print_reasons(exc.rejections, {})
            raise


def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="File to import")],
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")],
    source: SourceOption = None,
    coin: Annotated[
        str | None,
        typer.Option("--coin", help="CoinGecko coin id (coingecko-market-chart; coingecko-csv not named ID.csv)"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import a file atomically and idempotently, through the quality gates; prints rows added, updated, rejected
    and flagged, by reason (exit code 2 when every row is rejected: nothing is written)."""
    with errors():
        gates = gate_config(Settings.from_env())
        with open_db(db) as store:
            report = import_with_progress(
                store, path, fmt, source=source, coin=coin, clock=runtime(ctx).clock, gates=gates
            )
        print_report(report)


def run(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="File to import first (optional)")] = None,
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")] = FileFormat.TIDY,
    source: SourceOption = None,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    db: DbOption = None,
) -> None:
    """The main job: import a file (when given), then print the current season and a history summary."""
    with errors(), open_db(db, create=path is not None) as store:
        if path is not None:
            gates = gate_config(Settings.from_env())
            report = import_with_progress(
                store, path, fmt, source=source, coin=None, clock=runtime(ctx).clock, gates=gates
            )
            print_report(report)
            source = report.source
        service = AnalyticsService(store)
        print_summary(out, service, source=source, top=top, window=window)
        warn_if_stale(service, runtime(ctx).clock)
