"""``coinseason model train``, ``coinseason outlook`` and ``coinseason features import``: the early-warning models
and their feature data."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import typer

from coinseason.cli.options import DbOption, SourceOption, TopOption, WindowOption, day
from coinseason.cli.output import errors, json_text, out, steps
from coinseason.cli.reading import reading
from coinseason.cli.runtime import open_db, runtime
from coinseason.errors import ConfigError
from coinseason.features.catalog import FeatureFormat
from coinseason.features.files import read_feature_file
from coinseason.features.providers import (
    BLOCKCHAIN_CHARTS,
    COINMETRICS_SERIES,
    FRED_SERIES,
    STOOQ_SYMBOLS,
    BlockchainChartsProvider,
    CoinMetricsProvider,
    FearGreedProvider,
    FredProvider,
    StooqProvider,
    with_revisions,
)
from coinseason.model.config import ENTRY_GAPS, TREES, TrainConfig
from coinseason.services.outlook import OutlookService
from coinseason.vocab import DEFAULT_TOP, DEFAULT_WINDOW

model_app = typer.Typer(help="Early-warning models of season transitions.", no_args_is_help=True)
features_app = typer.Typer(help="Feature data: sentiment, on-chain, macro (point in time).", no_args_is_help=True)


@features_app.command("import")
def import_features(
    path: Annotated[Path, typer.Argument(help="Daily CSV of feature data")],
    fmt: Annotated[FeatureFormat, typer.Option("--format", help="Feature file format")],
    db: DbOption = None,
) -> None:
    """Import a feature file as point-in-time rows (each value with the time it became known); idempotent."""
    with errors():
        rows = read_feature_file(path, fmt)
        with open_db(db) as store:
            counts = store.write_features(rows)
    series = ", ".join(sorted(set(rows["series"].to_list())))
    out.print(
        f"[bold]{path}[/] ({fmt}): {rows.height:,} rows, [green]{counts.added:,} added[/], {counts.updated:,} updated,"
        f" {counts.unchanged:,} unchanged; series {series}",
        highlight=False,
    )


class FetchSource(StrEnum):
    """Feature providers ``coinseason features fetch`` reads."""

    FEAR_GREED = "fear-greed"
    COINMETRICS = "coinmetrics"
    FRED = "fred"
    BLOCKCHAIN = "blockchain"
    STOOQ = "stooq"


async def _fetch(
    source: FetchSource,
    base_url: str | None,
    since: dt.date | None,
    fred_key: str,
    step: Callable[[str], None] = lambda _name: None,
) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    if source is FetchSource.FEAR_GREED:
        async with contextlib.aclosing(FearGreedProvider(base_url)) as fng:
            parts.append(await fng.fetch(limit=0))
    elif source is FetchSource.COINMETRICS:
        async with contextlib.aclosing(CoinMetricsProvider(base_url)) as cm:
            for asset in COINMETRICS_SERIES:
                step(asset)
                parts.append(await cm.fetch(asset, start=since))
    elif source is FetchSource.FRED:
        async with contextlib.aclosing(FredProvider(fred_key, base_url)) as fred:
            for series in FRED_SERIES:
                step(series)
                parts.append(await fred.fetch(series, start=since))
    elif source is FetchSource.STOOQ:
        async with contextlib.aclosing(StooqProvider(base_url)) as stooq:
            for symbol in STOOQ_SYMBOLS:
                step(symbol)
                parts.append(await stooq.fetch(symbol, start=since))
    else:
        async with contextlib.aclosing(BlockchainChartsProvider(base_url)) as charts:
            for chart in BLOCKCHAIN_CHARTS:
                step(chart)
                parts.append(await charts.fetch(chart))
    return pl.concat(parts)


@features_app.command("fetch")
def fetch_features(
    ctx: typer.Context,
    source: Annotated[FetchSource, typer.Argument(help="Provider to fetch from")],
    base_url: Annotated[str | None, typer.Option("--base-url", help="Provider base URL (a mirror)")] = None,
    since: Annotated[
        dt.datetime | None, typer.Option("--since", formats=["%Y-%m-%d"], help="First day [default: all]")
    ] = None,
    fred_key: Annotated[str, typer.Option("--fred-key", envvar="COINSEASON_FRED_API_KEY", help="FRED API key")] = "",
    db: DbOption = None,
) -> None:
    """Fetch feature series from a live provider into the store, point in time; idempotent. A value that differs
    from the stored one is kept as a revision known from now (the original stays for reads as of earlier)."""
    with errors():
        with steps(f"features fetch {source}") as step:
            rows = asyncio.run(_fetch(source, base_url, day(since), fred_key, step))
        with open_db(db) as store:
            stored = store.features(tuple(sorted(set(rows["series"].to_list()))))
            rows = with_revisions(rows, stored, runtime(ctx).clock())
            counts = store.write_features(rows)
    out.print(
        f"{source}: {rows.height:,} rows, [green]{counts.added:,} added[/], {counts.updated:,} updated,"
        f" {counts.unchanged:,} unchanged",
        highlight=False,
    )


def _days(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{option} takes whole numbers separated by commas, not {text!r}") from None
    if not values:
        raise ConfigError(f"{option} needs at least one value")
    return values


@model_app.command("train")
def train(
    ctx: typer.Context,
    horizon: Annotated[int, typer.Option("--horizon", help="H: days ahead a transition is looked for")] = 30,
    dominance_points: Annotated[
        float, typer.Option("--dominance-points", help="X: BTC dominance move (percentage points)")
    ] = 5.0,
    entry_gaps: Annotated[
        str,
        typer.Option(
            "--entry-gaps",
            help="k: days outside a season before an entry into it counts; a grid chosen from inside each training"
            " window (one value fixes k)",
        ),
    ] = ",".join(map(str, ENTRY_GAPS)),
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    embargo: Annotated[int | None, typer.Option("--embargo", help="Embargo days (>= H) [default: H]")] = None,
    test_days: Annotated[int, typer.Option("--test-days", help="Days per walk-forward test block")] = 180,
    min_train_days: Annotated[
        int, typer.Option("--min-train-days", help="Training days of the first reported block")
    ] = 730,
    trees: Annotated[
        str, typer.Option("--trees", help="Gradient-boosting sizes chosen from inside each training window")
    ] = ",".join(map(str, TREES)),
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same data + seed = same model)")] = 0,
    check: Annotated[
        bool, typer.Option("--check", help="Also run the permutation null and the leak canary (reported in the card)")
    ] = False,
    null_runs: Annotated[int, typer.Option("--null-runs", help="Label-shift runs of the permutation null")] = 19,
    card: Annotated[Path, typer.Option("--card", help="Directory for the model card and its plots")] = Path(
        "model_card"
    ),
    source: SourceOption = None,
    db: DbOption = None,
) -> None:
    """Walk-forward validate (every choice nested inside the training windows), fit and store the models (a new
    version), and write the model card."""
    with errors():
        config = TrainConfig(
            horizon=horizon,
            dominance_points=dominance_points,
            entry_gaps=_days(entry_gaps, "--entry-gaps"),
            top=top,
            window=window,
            embargo=embargo,
            test_days=test_days,
            min_train_days=min_train_days,
            trees=_days(trees, "--trees"),
            seed=seed,
            null_runs=null_runs,
        )
        with open_db(db, create=False) as store, steps("model train") as step:
            service = OutlookService(store, clock=runtime(ctx).clock)
            result = service.train(config, source=source, card_dir=card, check=check, progress=step)
            _, panel = service.inputs(source=source, top=top, window=window, change_points=config.change_points)
    never = [name for j, name in enumerate(panel.names) if not np.isfinite(panel.values[:, j]).any()]
    meta = result.artifact.meta
    out.print(
        f"model [bold]{result.artifact.version}[/] stored; trained on {meta['training_window']['start']} to"
        f" {meta['training_window']['end']}, {meta['validation']['folds']} walk-forward folds; card: {result.card}",
        highlight=False,
    )
    if never:
        out.print(
            f"  {len(never)} of {len(panel.names)} features were never imported (no value on any day):"
            f" {', '.join(never)}; add them with `coinseason features fetch SOURCE` or `coinseason features import`",
            highlight=False,
        )
    for target, rep in meta["out_of_sample"].items():
        served = rep["served"]
        s, lg = rep["models"][served], rep["models"]["logistic"]
        auc_ci = s["auc_ci"] or [None, None]
        verdict = "skill" if rep["skill"] else "NO SKILL"
        out.print(
            f"  {target}: serves {served} — AUC {_num(s['auc'])} [{_num(auc_ci[0])}, {_num(auc_ci[1])}], Brier skill"
            f" {_num(s['bss_climatology'], True)} (logistic: AUC {_num(lg['auc'])}, Brier skill"
            f" {_num(lg['bss_climatology'], True)}); {verdict}",
            highlight=False,
        )
        if "checks" in rep:
            null, canary = rep["checks"]["null"], rep["checks"]["canary"]
            out.print(
                f"    null: mean AUC {_num(null['mean_auc'])}, p = {_num(null['p_value'])}; canary AUC"
                f" {_num(canary['auc'])} ({'passed' if canary['passed'] else 'FAILED'})",
                highlight=False,
            )


def _num(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.3f}" if sign else f"{value:.3f}"


def outlook(
    ctx: typer.Context,
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Day [default: the last]; a day before the models' last training day is answered from the"
            " walk-forward forecast made as of that day (refused before the first test block)",
        ),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Model version [default: newest]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    db: DbOption = None,
) -> None:
    """Probability of each season transition within H days, as of the day, with the features that push it most."""
    clock = runtime(ctx).clock
    with errors(), reading(db, clock) as read:
        if fmt not in ("table", "json"):
            raise ConfigError(f"--format takes table or json, not {fmt!r}")
        result = OutlookService(read.store, clock=clock, analytics=read.service).outlook(day=day(date), version=version)
    past = past_note(result["date"], clock().date(), result["horizon_days"])
    if fmt == "json":
        sys.stdout.write(json_text(result if past is None else {**result, "as_of_note": past}) + "\n")
        return
    if past is not None:
        out.print(past, style="bold yellow", highlight=False, markup=False)
    index = result["altcoin_season_index"]
    out.print(
        f"[bold]{result['date']}[/] ({result['source']}): season {result['season']}, index"
        f" {'n/a' if index is None else f'{index:.1f}'}; model {result['model_version']},"
        f" horizon {result['horizon_days']} days",
        highlight=False,
    )
    by = result["predicted_by"]
    where = f"walk-forward fold {by['fold']}" if by["fold"] is not None else "the final models"
    out.print(f"  predicted by {where} (labels used through {by['trained_through']}; out of sample, as of the day)")
    cp = result.get("changepoint_alert")
    if cp is not None:
        state = "ON" if cp["on"] else "off"
        out.print(f"  change-point alert on BTC dominance: {state} (last change {cp['days_since']} days ago)")
    if result["missing_features"]:
        out.print(f"  missing today (not ranked): {', '.join(result['missing_features'])}", highlight=False)
    for t in result["transitions"]:
        gap = f", k = {t['entry_gap_days']}" if t["entry_gap_days"] else ""
        if not t["possible"]:
            out.print(f"  {t['target']}: not possible (already in that season)", highlight=False)
            continue
        drivers = ", ".join(f"{f['feature']} {f['contribution']:+.3f}" for f in t["top_features"][:3])
        skill = "" if t["skill"] else " [yellow]— no out-of-sample skill: not a forecast[/]"
        logistic = t["logistic_probability"]
        out.print(
            f"  {t['target']}: [bold]{_pct(t['probability'])}[/] by {t['model']}{gap} (climatology"
            f" {_pct(t['climatology'])}, logistic {_pct(logistic)}){skill}" + (f" — {drivers}" if drivers else ""),
            highlight=False,
        )


def past_note(as_of: object, today: dt.date, horizon: int) -> str | None:
    """For an answer about a day before yesterday (the latest complete day), what it is: the probabilities of
    the ``horizon`` days after that day, not of the days ahead of now."""
    day_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    age = (today - day_of).days
    if age <= 1:
        return None
    return (
        f"as of {day_of.isoformat()}, {age:,} days ago: probabilities are for the {horizon} days after that date,"
        " not now"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
