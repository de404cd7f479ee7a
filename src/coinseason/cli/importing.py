"""``coinseason import`` and ``coinseason run`` (import, then the current season and a history summary)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from coinseason.cli.options import DbOption, SourceOption, TopOption, WindowOption
from coinseason.cli.output import err, errors, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.cli.summary import print_summary
from coinseason.clock import Clock
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportReport, ImportService
from coinseason.store import Store
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW


def print_report(report: ImportReport) -> None:
    """The counts of an import, and each kind of rejection with its reason."""
    out.print(
        f"[bold]{report.path}[/] → source [cyan]{report.source}[/] ({report.format}): "
        f"{report.rows_read:,} rows read, [green]{report.added:,} added[/], {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, [red]{report.rejected:,} rejected[/], {report.coins:,} coins"
    )
    for reason, count in report.rejections.items():
        out.print(f"  rejected {count:,}: {reason}")
    if report.duplicates_merged:
        out.print(f"  {report.duplicates_merged:,} identical duplicate rows kept once")


def import_with_progress(
    store: Store, path: Path, fmt: FileFormat, *, source: str | None, coin: str | None, clock: Clock
) -> ImportReport:
    """Import a file with a progress bar on stderr."""
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

        return ImportService(store, clock=clock, progress=step).import_file(path, fmt, source=source, coin_id=coin)


def import_(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="File to import")],
    fmt: Annotated[FileFormat, typer.Option("--format", help="File format")],
    source: SourceOption = None,
    coin: Annotated[str | None, typer.Option("--coin", help="Coin id (coingecko-market-chart)")] = None,
    db: DbOption = None,
) -> None:
    """Import a file atomically and idempotently; prints rows added, updated and rejected."""
    with errors(), open_db(db) as store:
        print_report(import_with_progress(store, path, fmt, source=source, coin=coin, clock=runtime(ctx).clock))


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
    with errors(), open_db(db) as store:
        if path is not None:
            report = import_with_progress(store, path, fmt, source=source, coin=None, clock=runtime(ctx).clock)
            print_report(report)
            source = report.source
        print_summary(out, AnalyticsService(store), source=source, top=top, window=window)
