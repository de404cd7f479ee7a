"""Where each published Altcoin Season Index value falls inside coinseason's consensus band on its day.

Run ``python bench/reference_band.py`` (``--db PATH`` to reuse a store that already holds the CoinGecko and CMC
sets; without it both are imported into a temporary DuckDB file first). For every ``altcoin_season_index_90d`` row
of ``../shared/data/reference/published_values.csv`` and every source whose data covers its day, the table gives
the published value, the grid's 10 %, 50 % and 90 % points, the published value's position among the 64 variants
(the percentage of valued variants below it, ties counted half) and whether it lies inside the 10–90 % band, beside
coinseason's value for the provider's own definition (blockchaincenter: top 50, BTC inside; CoinMarketCap: top
100; 90 days, default exclusions).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PUBLISHED = DATA_DIR / "reference" / "published_values.csv"
FILES = {
    "coin-categories": DATA_DIR / "coingecko" / "coin_classification.csv",
    "coingecko-daily": DATA_DIR / "coingecko" / "coingecko_daily_2013-04-28_2025-07-19.parquet",
    "cmc-snapshots": DATA_DIR / "cmc" / "cmc_daily_top200_2013-04-28_2024-12-11.parquet",
}
OWN_TOP = {"blockchaincenter": 50, "coinmarketcap": 100}


def published() -> list[tuple[dt.date, float, str]]:
    with PUBLISHED.open() as f:
        return [
            (dt.date.fromisoformat(r["date"]), float(r["value"]), r["provider"])
            for r in csv.DictReader(f)
            if r["metric"] == "altcoin_season_index_90d"
        ]


def import_all(path: Path) -> None:
    from coinseason.providers.files import FileFormat
    from coinseason.services.importing import ImportService
    from coinseason.store import DuckDBStore

    store = DuckDBStore(path)
    try:
        importer = ImportService(store, clock=lambda: dt.datetime.now(dt.UTC))
        for name, file in FILES.items():
            print(f"importing {file.name} …", file=sys.stderr, flush=True)
            importer.import_file(file, FileFormat(name))
    finally:
        store.close()


def position(value: float, variants: list[float]) -> float:
    """Percentage of ``variants`` below ``value``, ties counted half."""
    arr = np.asarray(variants)
    return 100.0 * (float((arr < value).sum()) + 0.5 * float((arr == value).sum())) / arr.size


def table(db: Path) -> list[dict[str, object]]:
    from coinseason.services.analytics import AnalyticsService, SeasonQuery
    from coinseason.services.consensus import ConsensusService
    from coinseason.store import DuckDBStore

    store = DuckDBStore(db)
    rows: list[dict[str, object]] = []
    try:
        analytics = AnalyticsService(store)
        service = ConsensusService(analytics)
        sources = {s.source: (s.first_date, s.last_date) for s in analytics.sources()}
        for day, value, provider in published():
            covered = [name for name, (first, last) in sorted(sources.items()) if first <= day <= last]
            if not covered:
                rows.append({"date": day, "provider": provider, "published": value, "source": "(after the data)"})
                continue
            for source in covered:
                query = SeasonQuery(top=OWN_TOP[provider], window=90)
                found = service.day(query, day, source=source)
                values = [v["value"] for v in found["variants"] if v["value"] is not None]
                p10, median, p90 = found["p10"], found["median"], found["p90"]
                rows.append(
                    {
                        "date": day,
                        "provider": provider,
                        "published": value,
                        "source": source,
                        "own_definition": found["value"],
                        "p10": p10,
                        "median": median,
                        "p90": p90,
                        "position_pct": position(value, values) if values else None,
                        "inside_band": None if p10 is None else bool(p10 <= value <= p90),
                        "n_valued": found["n_valued"],
                    }
                )
    finally:
        store.close()
    return rows


def cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", type=Path, help="a DuckDB store holding the coingecko and cmc sources")
    args = parser.parse_args(argv)
    for file in (PUBLISHED, *FILES.values()):
        if not file.is_file():
            print(f"missing {file}: the shared data folder sits beside the repository", file=sys.stderr)
            return 2
    if args.db is None:
        with tempfile.TemporaryDirectory(prefix="coinseason-reference-") as tmp:
            path = Path(tmp) / "reference.duckdb"
            import_all(path)
            rows = table(path)
    else:
        rows = table(args.db)
    columns = [
        "date",
        "provider",
        "published",
        "source",
        "own_definition",
        "p10",
        "median",
        "p90",
        "position_pct",
        "inside_band",
        "n_valued",
    ]
    cells = [columns] + [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for i, r in enumerate(cells):
        print(" | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    judged = [r for r in rows if r.get("inside_band") is not None]
    inside = sum(1 for r in judged if r["inside_band"])
    print(f"\n{inside} of {len(judged)} published values (on a covered day and source) lie inside the 10–90 % band")
    return 0


if __name__ == "__main__":
    sys.exit(main())
