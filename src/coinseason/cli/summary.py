"""The main job's report: the current season and a history summary, printed with rich."""

from __future__ import annotations

import polars as pl
from rich.console import Console
from rich.table import Table

from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.dominance_basis import dominance_basis

SUMMARY_MIN_DAYS = 7


def print_summary(console: Console, service: AnalyticsService, *, source: str | None, top: int, window: int) -> None:
    """The current season of the source, since when, its season periods and a summary by year."""
    loaded = service.loaded(source)
    query = SeasonQuery(top=top, window=window)
    history = service.season_history(query, source=loaded.source)
    excl = service.exclusion(loaded.source, query.exclude)
    dominance = service.dominance_history(source=loaded.source)
    valued = history.filter(pl.col("value").is_not_null())
    if valued.height == 0:
        console.print(f"source {loaded.source}: not enough history for a {window}-day index yet")
        return
    last = valued.row(-1, named=True)
    runs = service.season_periods(query, source=loaded.source, include_neutral=True)
    current = runs.row(-1, named=True) if runs.height else None
    dom_last = dominance.row(-1, named=True)
    eng = loaded.engine
    console.print(
        f"[bold]coinseason[/] · source [cyan]{loaded.source}[/]: {eng.coin_ids.size:,} coins, "
        f"{eng.start} → {eng.end}; exclusion set '{excl.name}' (list v{excl.version}, {len(excl.ids)} coins)"
    )
    colour = {"altcoin": "green", "bitcoin": "yellow", "neutral": "white"}.get(last["season"], "white")
    since = f" since {current['start']} ({current['days']} days)" if current else ""
    console.print(
        f"On {last['date']}: Altcoin Season Index (top {top}, {window} d) [bold]{last['value']:.1f}[/] "
        f"({last['n_outperforming']} of {last['n_eligible']} altcoins beat BTC), Bitcoin Season Index "
        f"{last['bitcoin_season_index']:.1f} → [bold {colour}]{last['season']} season[/]{since}."
    )
    console.print(
        f"BTC dominance {dom_last['value']:.2f} %, ETH {dom_last['eth_dominance']:.2f} % "
        f"(of {dominance_basis('all', excl.classes)}; total {dom_last['total'] / 1e9:,.0f} B USD)."
    )
    periods = service.season_periods(query, source=loaded.source, min_days=SUMMARY_MIN_DAYS)
    table = Table(title=f"Seasons of at least {SUMMARY_MIN_DAYS} days (last 10 of {periods.height})")
    for col in ("season", "start", "end", "days", "peak", "peak_date"):
        table.add_column(col)
    for row in periods.tail(10).iter_rows(named=True):
        table.add_row(
            row["season"],
            str(row["start"]),
            str(row["end"]),
            str(row["days"]),
            f"{row['peak']:.1f}",
            str(row["peak_date"]),
        )
    console.print(table)
    yearly = (
        valued.group_by(pl.col("date").dt.year().alias("year"))
        .agg(
            pl.col("value").mean().alias("mean_index"),
            (pl.col("season") == "altcoin").sum().alias("altcoin_days"),
            (pl.col("season") == "bitcoin").sum().alias("bitcoin_days"),
            pl.len().alias("days"),
        )
        .sort("year")
    )
    year_table = Table(title="By year")
    for col in ("year", "mean index", "altcoin-season days", "Bitcoin-season days", "days"):
        year_table.add_column(col, justify="right")
    for row in yearly.iter_rows(named=True):
        year_table.add_row(
            str(row["year"]),
            f"{row['mean_index']:.1f}",
            str(row["altcoin_days"]),
            str(row["bitcoin_days"]),
            str(row["days"]),
        )
    console.print(year_table)
