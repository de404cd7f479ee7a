"""``coinseason serve``: one validated :class:`~coinseason.settings.Settings`, an optional import, then the server."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from coinseason.cli.importing import import_with_progress, print_report
from coinseason.cli.options import DbOption, SourceOption
from coinseason.cli.output import err, errors
from coinseason.cli.runtime import open_db, runtime
from coinseason.logs import configure_logging, redact
from coinseason.providers.files import FileFormat
from coinseason.services.first_steps import EMPTY_STORE
from coinseason.services.importing import gate_config
from coinseason.settings import Settings


class ServerKind(StrEnum):
    """The ASGI servers ``serve`` can run (:mod:`coinseason.cli.servers`)."""

    GRANIAN = "granian"
    UVICORN = "uvicorn"


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [default: 8000]")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Worker processes (more than one needs PostgreSQL)")
    ] = None,
    server: Annotated[
        ServerKind | None,
        typer.Option("--server", help="ASGI server: granian or uvicorn [default: COINSEASON_SERVER, else granian]"),
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
    run = runtime(ctx)
    with errors():
        settings = Settings.from_env(  # the options win over the environment; the validators see both
            db=db,
            api=_given(host=host, port=port, workers=workers),
            server=_given(kind=server.value if server is not None else None),
            live=_given(run=live),
            ingest=_given(run=ingest),
        )
        if import_path is not None:
            with open_db(settings.db) as store:
                report = import_with_progress(
                    store, import_path, fmt, source=source, coin=None, clock=run.clock, gates=gate_config(settings)
                )
                print_report(report)
        with open_db(settings.db) as store:
            sources = store.sources()
        summary = ", ".join(f"{s.source} to {s.last_date}" for s in sources) or _empty_summary(settings)
        err.print(
            f"coinseason serving http://{settings.api.host}:{settings.api.port} (docs at /docs) · store "
            f"{redact(settings.db)} · {summary}",
            highlight=False,
            markup=False,
        )
        configure_logging(settings.log.level, json=settings.log.json_lines)
    run.run_server(settings)


def _empty_summary(settings: Settings) -> str:
    """What the banner says of an empty store: the backfill that is about to start, else both routes to data."""
    if settings.ingest.run and settings.ingest.provider and settings.ingest.backfill:
        return (
            f"no data yet: backfilling from {settings.ingest.provider} in the background"
            " (progress in /readyz, the log and the page)"
        )
    return EMPTY_STORE


def _given(**options: object) -> dict[str, object]:
    """The options the user gave (typer leaves the others None)."""
    return {name: value for name, value in options.items() if value is not None}
