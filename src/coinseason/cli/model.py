"""``coinseason model train``, ``coinseason outlook`` and ``coinseason features import``: the early-warning models
and their feature data."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from coinseason.cli.options import DbOption, SourceOption, TopOption, WindowOption, day
from coinseason.cli.output import errors, json_text, out
from coinseason.cli.runtime import open_db, runtime
from coinseason.core.labels import ENTRY_GAP
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
from coinseason.model.config import TrainConfig
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


async def _fetch(source: FetchSource, base_url: str | None, since: dt.date | None, fred_key: str) -> pl.DataFrame:
    parts: list[pl.DataFrame] = []
    if source is FetchSource.FEAR_GREED:
        async with contextlib.aclosing(FearGreedProvider(base_url)) as fng:
            parts.append(await fng.fetch(limit=0))
    elif source is FetchSource.COINMETRICS:
        async with contextlib.aclosing(CoinMetricsProvider(base_url)) as cm:
            parts += [await cm.fetch(asset, start=since) for asset in COINMETRICS_SERIES]
    elif source is FetchSource.FRED:
        async with contextlib.aclosing(FredProvider(fred_key, base_url)) as fred:
            parts += [await fred.fetch(series, start=since) for series in FRED_SERIES]
    elif source is FetchSource.STOOQ:
        async with contextlib.aclosing(StooqProvider(base_url)) as stooq:
            parts += [await stooq.fetch(symbol, start=since) for symbol in STOOQ_SYMBOLS]
    else:
        async with contextlib.aclosing(BlockchainChartsProvider(base_url)) as charts:
            parts += [await charts.fetch(chart) for chart in BLOCKCHAIN_CHARTS]
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
        rows = asyncio.run(_fetch(source, base_url, day(since), fred_key))
        with open_db(db) as store:
            stored = store.features(tuple(sorted(set(rows["series"].to_list()))))
            rows = with_revisions(rows, stored, runtime(ctx).clock())
            counts = store.write_features(rows)
    out.print(
        f"{source}: {rows.height:,} rows, [green]{counts.added:,} added[/], {counts.updated:,} updated,"
        f" {counts.unchanged:,} unchanged",
        highlight=False,
    )


@model_app.command("train")
def train(
    ctx: typer.Context,
    horizon: Annotated[int, typer.Option("--horizon", help="H: days ahead a transition is looked for")] = 30,
    dominance_points: Annotated[
        float, typer.Option("--dominance-points", help="X: BTC dominance move (percentage points)")
    ] = 5.0,
    entry_gap: Annotated[
        int, typer.Option("--entry-gap", help="k: days outside a season before an entry into it counts")
    ] = ENTRY_GAP,
    top: TopOption = DEFAULT_TOP,
    window: WindowOption = DEFAULT_WINDOW,
    embargo: Annotated[int | None, typer.Option("--embargo", help="Embargo days (>= H) [default: H]")] = None,
    test_days: Annotated[int, typer.Option("--test-days", help="Days per walk-forward test block")] = 180,
    min_train_days: Annotated[int, typer.Option("--min-train-days", help="Training days of the first fold")] = 730,
    trees: Annotated[int, typer.Option("--trees", help="Gradient-boosting trees")] = 50,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same data + seed = same model)")] = 0,
    card: Annotated[Path, typer.Option("--card", help="Directory for the model card and its plots")] = Path(
        "model_card"
    ),
    source: SourceOption = None,
    db: DbOption = None,
) -> None:
    """Walk-forward validate, fit and store the models (a new version), and write the model card."""
    with errors():
        config = TrainConfig(
            horizon=horizon,
            dominance_points=dominance_points,
            entry_gap=entry_gap,
            top=top,
            window=window,
            embargo=embargo,
            test_days=test_days,
            min_train_days=min_train_days,
            trees=trees,
            seed=seed,
        )
        with open_db(db) as store:
            result = OutlookService(store, clock=runtime(ctx).clock).train(config, source=source, card_dir=card)
    meta = result.artifact.meta
    out.print(
        f"model [bold]{result.artifact.version}[/] stored; trained on {meta['training_window']['start']} to"
        f" {meta['training_window']['end']}, {meta['validation']['folds']} walk-forward folds; card: {result.card}",
        highlight=False,
    )
    for target, rep in result.evaluation.reports.items():
        gbm, logit = rep.metrics["gbm"], rep.metrics["logistic"]
        out.print(
            f"  {target}: out-of-sample AUC gbm {gbm['auc']:.3f} (logistic {logit['auc']:.3f}), Brier skill vs"
            f" climatology gbm {gbm['bss_climatology']:.3f} (logistic {logit['bss_climatology']:.3f})",
            highlight=False,
        )


def outlook(
    ctx: typer.Context,
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            "--date",
            formats=["%Y-%m-%d"],
            help="Day [default: the last]; a day on or before the end of the training window is answered from the"
            " stored walk-forward out-of-sample predictions (refused without one)",
        ),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="Model version [default: newest]")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    db: DbOption = None,
) -> None:
    """Probability of each season transition within H days, with the features that push it most."""
    with errors(), open_db(db) as store:
        if fmt not in ("table", "json"):
            raise ConfigError(f"--format takes table or json, not {fmt!r}")
        result = OutlookService(store, clock=runtime(ctx).clock).outlook(day=day(date), version=version)
    if fmt == "json":
        sys.stdout.write(json_text(result) + "\n")
        return
    out.print(
        f"[bold]{result['date']}[/] ({result['source']}): season {result['season']}, index"
        f" {result['altcoin_season_index']:.1f}; model {result['model_version']},"
        f" horizon {result['horizon_days']} days, entries after >= {result['entry_gap_days']} days out",
        highlight=False,
    )
    by = result["predicted_by"]
    where = f"walk-forward fold {by['fold']}" if by["fold"] is not None else "the final model"
    out.print(f"  predicted by {where} (trained through {by['trained_through']}; out of sample)")
    cp = result.get("changepoint_alert")
    if cp is not None:
        state = "ON" if cp["on"] else "off"
        out.print(f"  change-point alert on BTC dominance: {state} (last change {cp['days_since']} days ago)")
    if result["missing_features"]:
        out.print(f"  missing today (not ranked): {', '.join(result['missing_features'])}", highlight=False)
    for t in result["transitions"]:
        oos = result["out_of_sample"][t["target"]]["models"]["gbm"]
        drivers = ", ".join(f"{f['feature']} {f['contribution']:+.3f}" for f in t["top_features"][:3]) or (
            "drivers not stored for walk-forward predictions"
        )
        out.print(
            f"  {t['target']}: [bold]{t['probability']:.1%}[/] (climatology {t['climatology']:.1%}, logistic"
            f" {t['logistic_probability']:.1%}; out-of-sample AUC {oos['auc']}) — {drivers}",
            highlight=False,
        )
