"""``coinseason alerts``: alert rules of API keys (add, list, remove, test) and their events (events, dead letters,
replay). A running ``coinseason serve`` evaluates the rules when data lands and sends their webhooks."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import polars as pl
import typer
from rich.markup import escape

from coinseason.cli.options import DbOption, OutputFormat
from coinseason.cli.output import emit, err, errors, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.services.alerts.delivery import WebhookSender
from coinseason.services.alerts.service import AlertService, send_test
from coinseason.settings import Settings
from coinseason.store.alert_records import AlertEvent

alerts_app = typer.Typer(
    help="Alert rules: the index entering or leaving a season, BTC dominance crossing a level, the consensus of the "
    "definitions changing, a close call (margin), an outlook probability above a level; sent as signed webhooks by "
    "a running `coinseason serve`.",
    no_args_is_help=True,
)

KeyOption = Annotated[str | None, typer.Option("--key", help="Only this API key's (its prefix)")]


@alerts_app.command("add")
def add(
    ctx: typer.Context,
    key: Annotated[str, typer.Option("--key", help="The API key the rule belongs to (its prefix)")],
    name: Annotated[str, typer.Option("--name", help="What the rule is for (1-100 characters)")],
    url: Annotated[str, typer.Option("--url", help="Webhook endpoint (https:// or http://)")],
    kind: Annotated[str, typer.Option("--kind", help="season, dominance, consensus, margin or outlook")] = "season",
    fmt: Annotated[str, typer.Option("--format", help="json, slack, discord or telegram")] = "json",
    season: Annotated[
        str | None, typer.Option(help="season: altcoin (default) or bitcoin; consensus: also neutral")
    ] = None,
    level: Annotated[
        float | None,
        typer.Option(help="75/25 for seasons; required for dominance (%), margin (coins), outlook (probability)"),
    ] = None,
    hysteresis: Annotated[
        float | None, typer.Option(help="beyond the level to leave (5; dominance 0.5; margin 1; outlook 0.05)")
    ] = None,
    confirm_days: Annotated[
        int | None, typer.Option(help="days in a row a change must hold (3; dominance, margin 1)")
    ] = None,
    top: Annotated[int | None, typer.Option(help="season, margin, consensus agreement: universe size N (50)")] = None,
    window: Annotated[int | None, typer.Option(help="season, margin, consensus agreement: window W, days (90)")] = None,
    watch: Annotated[
        str | None, typer.Option(help="consensus rule: majority (its season, default) or agreement (the headline's)")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(help="outlook rule: altcoin_season_entry (default), bitcoin_season_entry or dominance_move"),
    ] = None,
    universe: Annotated[str | None, typer.Option(help="dominance rule: all or top:N (all)")] = None,
    exclude: Annotated[str | None, typer.Option(help="default or none")] = None,
    source: Annotated[str | None, typer.Option(help="data source (default: the only one)")] = None,
    db: DbOption = None,
) -> None:
    """Add a rule; a new endpoint's signing secret is printed once (alone on stdout)."""
    given = {
        "season": season,
        "level": level,
        "hysteresis": hysteresis,
        "confirm_days": confirm_days,
        "top": top,
        "window": window,
        "universe": universe,
        "exclude": exclude,
        "source": source,
        "watch": watch,
        "target": target,
    }
    params: dict[str, Any] = {k: _whole(v) for k, v in given.items() if v is not None}
    with errors(), open_db(db) as store:
        made = AlertService(store, clock=runtime(ctx).clock).add(
            key, name=name, kind=kind, params=params, url=url, fmt=fmt
        )
    rule = made.rule
    shown = ", ".join(f"{k}={v}" for k, v in rule.params.items() if v is not None)
    err.print(f"Added alert rule [bold]{rule.id}[/] ({escape(rule.name)}): {rule.kind} {shown}", highlight=False)
    if made.new_secret is not None:
        err.print(f"New webhook endpoint {made.endpoint.id} for {escape(made.endpoint.url)}; its signing secret:")
        sys.stdout.write(made.new_secret + "\n")
        err.print("[yellow]warning:[/] copy the secret now: it verifies the X-Coinseason-Signature header.")
    else:
        err.print(f"Sent to the key's endpoint {made.endpoint.id} (its signing secret is unchanged).")


def _whole(value: Any) -> Any:
    """A whole float as an int: --level 2 of a margin rule counts coins."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


@alerts_app.command("list")
def list_(
    ctx: typer.Context,
    key: KeyOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Every live rule (of --key), with its endpoint and the day it was armed."""
    with errors(), open_db(db) as store:
        service = AlertService(store, clock=runtime(ctx).clock)
        rules = service.rules(key)
        urls = {rule.id: service.endpoint(rule).url for rule in rules}
    if not rules and fmt is OutputFormat.TABLE:
        out.print("no alert rules yet: add one with `coinseason alerts add`", highlight=False)
        return
    frame = pl.DataFrame(
        {
            "id": [r.id for r in rules],
            "key": [r.key_prefix for r in rules],
            "name": [r.name for r in rules],
            "kind": [r.kind for r in rules],
            "params": [", ".join(f"{k}={v}" for k, v in r.params.items() if v is not None) for r in rules],
            "url": [urls[r.id] for r in rules],
            "armed after": [r.armed_after.isoformat() if r.armed_after else None for r in rules],
        },
        schema=dict.fromkeys(("id", "key", "name", "kind", "params", "url", "armed after"), pl.String),
    )
    emit(frame, fmt, "alert rules")


@alerts_app.command("remove")
def remove(
    ctx: typer.Context, rule_id: Annotated[str, typer.Argument(help="The rule's id")], db: DbOption = None
) -> None:
    """Remove a rule: no new events; those already raised are still delivered."""
    with errors(), open_db(db) as store:
        rule = AlertService(store, clock=runtime(ctx).clock).remove(None, rule_id)
    out.print(f"Removed alert rule [bold]{rule.id}[/] ({escape(rule.name)}).", highlight=False)


@alerts_app.command("test")
def test(
    ctx: typer.Context, rule_id: Annotated[str, typer.Argument(help="The rule's id")], db: DbOption = None
) -> None:
    """Send a signed alert.test event to the rule's endpoint now; exit code 1 when it was not delivered."""
    with errors():
        settings = Settings.from_env()
        with open_db(db) as store:
            service = AlertService(store, clock=runtime(ctx).clock)
            event_id, outcome = asyncio.run(_test(service, rule_id, settings))
    if outcome.delivered:
        out.print(f"Delivered test event {event_id} (HTTP {outcome.status}).", highlight=False)
        return
    err.print(f"[bold red]not delivered:[/] test event {event_id}: {escape(outcome.error or '')}", highlight=False)
    raise typer.Exit(code=1)


async def _test(service: AlertService, rule_id: str, settings: Settings) -> tuple[str, Any]:
    sender = WebhookSender(settings.webhook)
    try:
        return await send_test(service, None, rule_id, sender)
    finally:
        await sender.aclose()


@alerts_app.command("events")
def events(
    ctx: typer.Context,
    key: KeyOption = None,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's")] = None,
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Events raised by the rules and how their delivery went, oldest first."""
    with errors(), open_db(db) as store:
        found = AlertService(store, clock=runtime(ctx).clock).events(key, rule_id=rule, status=status, limit=limit)
    _emit_events(found, fmt, "alert events")


@alerts_app.command("dead")
def dead(
    ctx: typer.Context,
    key: KeyOption = None,
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Dead letters: events whose delivery was given up (replay them with `coinseason alerts replay ID`)."""
    with errors(), open_db(db) as store:
        found = AlertService(store, clock=runtime(ctx).clock).dead_letters(key)
    _emit_events(found, fmt, "dead letters")


@alerts_app.command("replay")
def replay(
    ctx: typer.Context, event_id: Annotated[str, typer.Argument(help="The dead letter's event id")], db: DbOption = None
) -> None:
    """Put a dead letter back in the outbox: a running server sends it again, with a new round of retries."""
    with errors(), open_db(db) as store:
        event = AlertService(store, clock=runtime(ctx).clock).replay(None, event_id)
    out.print(f"Event {event.id} is due again; a running `coinseason serve` sends it.", highlight=False)


def _emit_events(found: list[AlertEvent], fmt: OutputFormat, title: str) -> None:
    if not found and fmt is OutputFormat.TABLE:
        out.print(f"no {title}", highlight=False)
        return
    frame = pl.DataFrame(
        {
            "id": [e.id for e in found],
            "rule": [e.rule_id for e in found],
            "type": [e.type for e in found],
            "data_date": [e.data_date for e in found],
            "active": [e.active for e in found],
            "status": [e.status for e in found],
            "attempts": [e.attempts for e in found],
            "last_error": [e.last_error for e in found],
        },
        schema={
            "id": pl.String,
            "rule": pl.String,
            "type": pl.String,
            "data_date": pl.Date,
            "active": pl.Boolean,
            "status": pl.String,
            "attempts": pl.Int64,
            "last_error": pl.String,
        },
    )
    emit(frame, fmt, title)
