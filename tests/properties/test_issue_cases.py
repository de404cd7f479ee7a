"""The three single bad rows that once moved BTC dominance by tens of points without a word, on the real data:
each is now reported by reason and moves no index.

1. BTC twice in a CoinMarketCap snapshot (2024-12-10, one market cap, prices 96,000 and 1.0) made a phantom coin
   ``btc@2024-12-10`` and took BTC dominance from 59.6 % to 37.3 %.
2. ``inf`` and ``1e308`` in a tidy file imported (BTC dominance 0.00, TOTAL ``inf``, ``Infinity`` in
   ``--format json``); the same rows as cmc-snapshots failed the whole file on a database constraint.
3. Solana ×1000 on 2025-06-01 in a coingecko-daily file took BTC dominance from 67.2 % to 2.5 %.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from coinseason.cli import app
from coinseason.cli.runtime import Runtime
from coinseason.data import reasons
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService, SeasonQuery
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.properties.market import cmc_slice, coingecko_slice, differences, import_frame

pytestmark = pytest.mark.slow

DAY = dt.date(2024, 12, 10)


def strict_json(text: str) -> object:
    """``text`` parsed as JSON proper: ``NaN``, ``Infinity`` and ``-Infinity`` are refused."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def btc_dominance(frame: pl.DataFrame, day: dt.date) -> float:
    return float(frame.filter(pl.col("date") == day)["value"][0])


# -- 1. a duplicated CoinMarketCap row ------------------------------------------------------------------------------


def test_a_duplicated_cmc_row_makes_no_phantom_coin(tmp_path: Path) -> None:
    clean_rows = cmc_slice(dt.date(2024, 9, 1), DAY + dt.timedelta(days=1))
    btc = clean_rows.filter((pl.col("date") == DAY) & (pl.col("symbol") == "BTC"))
    assert btc.height == 1 and btc["price_usd"][0] > 90_000
    doubled = pl.concat([clean_rows, btc.with_columns(pl.lit(1.0).alias("price_usd"))])
    clean = import_frame(tmp_path, clean_rows, FileFormat.CMC_SNAPSHOTS)
    got = import_frame(tmp_path, doubled, FileFormat.CMC_SNAPSHOTS)
    assert got.report.rejections == {**clean.report.rejections, reasons.REASON_SAME_COIN_TWICE: 1}
    assert got.report.coins == clean.report.coins  # no btc@2024-12-10
    assert differences(got.series, clean.series) == []
    dominance = got.series["dominance (exclusions: none)"]
    assert 55 < btc_dominance(dominance, DAY) < 65  # not 37.3: BTC held about 60 % of the top 200 that week


# -- 2. non-finite and absurd values --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tidy_rows() -> pl.DataFrame:
    """The CoinGecko slice around 2024-12-10 in the tidy format."""
    frame = coingecko_slice(dt.date(2024, 9, 1), DAY + dt.timedelta(days=1), coins=120)
    return frame.select(
        "coin_id",
        "symbol",
        "name",
        "date",
        pl.col("price_usd").cast(pl.Float64).alias("price"),
        pl.col("market_cap_usd").cast(pl.Float64).alias("market_cap"),
    )


def replace(frame: pl.DataFrame, coin: str, column: str, value: float) -> pl.DataFrame:
    hit = (pl.col("coin_id") == coin) & (pl.col("date") == DAY)
    return frame.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))


@pytest.mark.parametrize(
    ("coin", "column", "value", "reason"),
    [
        ("bitcoin", "price", math.inf, reasons.REASON_BAD_PRICE),
        ("bitcoin", "market_cap", math.inf, reasons.REASON_BAD_MCAP),
        ("bitcoin", "market_cap", 1e308, reasons.REASON_MCAP_RANGE),
        ("solana", "price", 1e308, reasons.REASON_PRICE_RANGE),
        ("ethereum", "market_cap", math.nan, reasons.REASON_BAD_MCAP),
    ],
)
def test_a_non_finite_or_absurd_value_in_a_tidy_file_is_rejected(
    tmp_path: Path, tidy_rows: pl.DataFrame, coin: str, column: str, value: float, reason: str
) -> None:
    got = import_frame(tmp_path, replace(tidy_rows, coin, column, value), FileFormat.TIDY)
    assert got.report.rejections == {reason: 1}
    without = tidy_rows.filter(~((pl.col("coin_id") == coin) & (pl.col("date") == DAY)))
    assert differences(got.series, import_frame(tmp_path, without, FileFormat.TIDY).series) == []
    dominance = got.series["dominance (exclusions: none)"]
    assert 50 < btc_dominance(dominance, DAY) < 70 and math.isfinite(dominance["total"].max())  # type: ignore[arg-type]


def test_json_output_never_holds_nan_or_infinity(tmp_path: Path, tidy_rows: pl.DataFrame) -> None:
    bad = replace(replace(tidy_rows, "bitcoin", "price", math.inf), "solana", "market_cap", 1e308)
    path = tmp_path / "bad.parquet"
    bad.write_parquet(path)
    db = str(tmp_path / "cli.duckdb")
    runner = CliRunner()
    done = runner.invoke(app, ["import", str(path), "--format", "tidy", "--db", db], obj=Runtime(clock=fixed_clock))
    assert done.exit_code == 0, done.output
    assert "rejected 1: price missing, zero, negative, NaN or infinite" in done.stdout
    assert "rejected 1: market cap above 1e+14 USD" in done.stdout
    for args in (["index", "dominance"], ["index", "altseason", "--top", "100"], ["breakdown", "--top", "100"]):
        result = runner.invoke(app, [*args, "--format", "json", "--db", db], obj=Runtime(clock=fixed_clock))
        assert result.exit_code == 0, result.output
        strict_json(result.stdout)  # the first 89 days have no 90-day index: null, not NaN


def test_the_same_values_as_cmc_snapshots_are_rejected_by_reason(tmp_path: Path) -> None:
    rows = cmc_slice(DAY - dt.timedelta(days=5), DAY + dt.timedelta(days=1))
    hit = (pl.col("date") == DAY) & pl.col("symbol").is_in(["BTC", "ETH", "SOL"])
    value = (
        pl.when(pl.col("symbol") == "BTC")
        .then(pl.lit(math.inf))
        .when(pl.col("symbol") == "ETH")
        .then(pl.lit(1e308))
        .otherwise(pl.lit(math.nan))
    )
    bad = rows.with_columns(pl.when(hit).then(value).otherwise(pl.col("market_cap_usd")).alias("market_cap_usd"))
    clean = import_frame(tmp_path, rows, FileFormat.CMC_SNAPSHOTS).report
    assert clean.rejections == {reasons.REASON_BAD_PRICE: 2}  # two rows of the real file have no price
    got = import_frame(tmp_path, bad, FileFormat.CMC_SNAPSHOTS).report
    assert got.rejections == {**clean.rejections, reasons.REASON_BAD_MCAP: 2, reasons.REASON_MCAP_RANGE: 1}
    assert got.added == clean.added - 3


# -- 3. a x1000 spike in a coingecko-daily file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factor", "rejected", "flagged"),
    [
        # 8e13 USD: over 3x the whole market of the days around (3.3e12): out of range
        (1000.0, {reasons.REASON_ABOVE_MARKET: 1}, {}),
        # 1.6e12 USD: a possible cap, but a one-day spike over 10x both neighbours
        (20.0, {}, {reasons.REASON_PRICE_SPIKE: 1}),
    ],
)
def test_a_solana_spike_is_reported_and_moves_no_index(
    tmp_path: Path, factor: float, rejected: dict[str, int], flagged: dict[str, int]
) -> None:
    spike_day = dt.date(2025, 6, 1)
    clean_rows = coingecko_slice(dt.date(2025, 2, 15), dt.date(2025, 6, 15), coins=120)
    hit = (pl.col("coin_id") == "solana") & (pl.col("date") == spike_day)
    spiked = clean_rows.with_columns(
        pl.when(hit).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c) for c in ("price_usd", "market_cap_usd")
    )
    clean = import_frame(tmp_path, clean_rows, FileFormat.COINGECKO_DAILY)
    got = import_frame(tmp_path, spiked, FileFormat.COINGECKO_DAILY)
    assert clean.report.rejections == {}
    assert got.report.rejections == rejected
    assert got.report.flagged == {**clean.report.flagged, **flagged}
    without = import_frame(tmp_path, clean_rows.filter(~hit), FileFormat.COINGECKO_DAILY)
    assert differences(got.series, without.series) == []
    # the day is out of every index: Solana counts at its May 31 value, BTC dominance moves by Solana's one day
    before, after = (btc_dominance(s.series["dominance (exclusions: none)"], spike_day) for s in (clean, got))
    assert abs(after - before) < 0.2 and after > 60  # not 2.5 %
    path = tmp_path / "spiked.parquet"
    spiked.write_parquet(path)
    store = DuckDBStore(tmp_path / "spiked.duckdb")
    ImportService(store, clock=fixed_clock).import_file(path, FileFormat.COINGECKO_DAILY)
    rows = AnalyticsService(store).breakdown(SeasonQuery(top=100, window=90), spike_day)
    store.close()
    solana = rows.filter(pl.col("coin_id") == "solana")["coin_return_pct"][0]
    assert -60 < solana < 60  # its 90-day return to May 31, not +87,943 %
