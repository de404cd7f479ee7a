"""The promise, as a property on real data: one bad row, anywhere, moves no index.

A slice of each real data set is imported clean once. Hypothesis then picks a coin, a day and a fault (a spike ×K
or ÷K of the price, the market cap or both; ±inf, NaN, 1e308 or a negative price or market cap; the row repeated
with another price; its date moved to 1900 or 2100), writes the slice with that one row bad and imports it into a
fresh store. Then either every standard series (ASI and BSI of the top 50 and 100 over 90 days; BTC, ETH and
stablecoin dominance, TOTAL, TOTAL2, TOTAL3, with and without exclusions) is the clean import's on every day to
1e-9, or the row is reported rejected or flagged *and* every series is the one of the clean slice without that row
(the bad row did nothing but be absent). Values that are not a price at all are always reported rejected, with
their reason.

Spikes are ×K with K from 100 to 1e6, well over the gates' 10 (a real coin's neighbouring days are a few percent
apart, but can be 2x apart, and the gate's contract is "over K× both neighbours"). On the CoinMarketCap slice a
spiked coin has another row within 7 days: a coin seen on one day only has no day to be judged by, and a spike
there is found only when it breaks an absolute bound.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinseason.data import reasons
from coinseason.providers.files import FileFormat
from tests.properties.market import (
    Imported,
    cmc_slice,
    coingecko_slice,
    differences,
    import_frame,
    reported,
)

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("COINSEASON_PROPERTY_EXAMPLES", "12"))
"""Examples per data set: each imports the slice once or twice (about 1 s an import). A longer search:
``COINSEASON_PROPERTY_EXAMPLES=500``."""
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COLUMNS = {"price": "price_usd", "market_cap": "market_cap_usd"}
VALUE_FAULTS = ("inf", "-inf", "nan", "1e308", "negative")


@dataclass(frozen=True)
class Fault:
    kind: str
    """``spike``, ``duplicate``, ``date``, or one of :data:`VALUE_FAULTS`."""
    row: int
    column: str = "price"
    """``price``, ``market_cap`` or ``both`` (spikes)."""
    factor: float = 1.0
    """Of a spike, or of the repeated row's price."""
    day: dt.date | None = None


def faulted(frame: pl.DataFrame, fault: Fault) -> pl.DataFrame:
    """``frame`` with ``fault`` applied to its row ``fault.row``."""
    hit = pl.int_range(pl.len()) == fault.row
    if fault.kind == "duplicate":
        copy = frame.slice(fault.row, 1).with_columns(pl.col("price_usd") * fault.factor)
        return pl.concat([frame, copy.cast(frame.schema)])  # type: ignore[arg-type]
    if fault.kind == "date":
        return frame.with_columns(pl.when(hit).then(pl.lit(fault.day)).otherwise(pl.col("date")).alias("date"))
    columns = [COLUMNS[c] for c in (("price", "market_cap") if fault.column == "both" else (fault.column,))]
    updates = []
    for name in columns:
        col = pl.col(name).cast(pl.Float64)
        value = {
            "spike": col * fault.factor,
            "inf": pl.lit(math.inf),
            "-inf": pl.lit(-math.inf),
            "nan": pl.lit(math.nan),
            "1e308": pl.lit(1e308),
            "negative": -col.abs().fill_null(1.0),
        }[fault.kind]
        updates.append(pl.when(hit).then(value).otherwise(col).alias(name))
    return frame.with_columns(updates)


def expected_reason(fault: Fault) -> str | None:
    """The rejection a fault must be reported with (None: a spike may be rejected or flagged)."""
    if fault.kind == "date":
        return reasons.REASON_EARLY_DATE if fault.day and fault.day.year < 2000 else reasons.REASON_FUTURE_DATE
    if fault.kind not in VALUE_FAULTS:
        return None
    if fault.kind == "1e308":
        return reasons.REASON_PRICE_RANGE if fault.column == "price" else reasons.REASON_MCAP_RANGE
    return reasons.REASON_BAD_PRICE if fault.column == "price" else reasons.REASON_BAD_MCAP


@st.composite
def faults(draw: st.DrawFn, rows: int, spike_rows: list[int] | None = None) -> Fault:
    kind = draw(st.sampled_from(("spike", "spike", "duplicate", "date", *VALUE_FAULTS)))
    row = draw(st.integers(0, rows - 1))
    if kind == "spike":
        row = draw(st.sampled_from(spike_rows)) if spike_rows is not None else row
        k = draw(st.floats(100.0, 1e6))
        return Fault(
            kind, row, draw(st.sampled_from(("price", "market_cap", "both"))), k if draw(st.booleans()) else 1 / k
        )
    if kind == "duplicate":
        f = draw(st.floats(2.0, 1e4))
        return Fault(kind, row, factor=f if draw(st.booleans()) else 1 / f)
    if kind == "date":
        year = draw(st.sampled_from((1900, 2100)))
        return Fault(kind, row, day=dt.date(year, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364))))
    return Fault(kind, row, draw(st.sampled_from(("price", "market_cap"))))


def check(raw: pl.DataFrame, clean: Imported, fault: Fault, fmt: FileFormat) -> None:
    """The property, for one fault."""
    bad = faulted(raw, fault)
    if bad.equals(raw):
        return  # e.g. a spike of an unknown market cap: nothing was changed
    with tempfile.TemporaryDirectory() as tmp:
        got = import_frame(Path(tmp), bad, fmt)
        reason = expected_reason(fault)
        if reason is not None:
            assert got.report.rejections.get(reason, 0) == clean.report.rejections.get(reason, 0) + 1, (fault, got)
        if fault.kind == "spike":
            assert reported(got.report) > reported(clean.report), (fault, got.report)
        if fault.kind == "duplicate" and fmt is FileFormat.CMC_SNAPSHOTS:
            # one coin twice on one day: the copy is rejected and the row that continues the coin is kept
            twice = reasons.REASON_SAME_COIN_TWICE
            assert got.report.rejections.get(twice, 0) == clean.report.rejections.get(twice, 0) + 1, fault
            assert differences(got.series, clean.series) == [], fault
        if fault.kind == "duplicate" and fmt is FileFormat.COINGECKO_DAILY:
            conflict = reasons.REASON_CONFLICT
            assert got.report.rejections.get(conflict, 0) == clean.report.rejections.get(conflict, 0) + 2, fault
        changed = differences(got.series, clean.series)
        if changed:
            assert reported(got.report) > reported(clean.report), (fault, changed)
            without = import_frame(Path(tmp), raw.filter(pl.int_range(pl.len()) != fault.row), fmt)
            assert differences(got.series, without.series) == [], (fault, changed)


# -- CoinGecko daily ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coingecko() -> pl.DataFrame:
    # 120 coins present on every day of 153 days: ASI of the top 100 over 90 days has 63 days
    return coingecko_slice(dt.date(2024, 9, 1), dt.date(2025, 1, 31), coins=120)


@pytest.fixture(scope="module")
def coingecko_clean(coingecko: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return import_frame(tmp_path_factory.mktemp("clean"), coingecko, FileFormat.COINGECKO_DAILY)


def test_the_coingecko_slice(coingecko: pl.DataFrame, coingecko_clean: Imported) -> None:
    assert coingecko.height == 120 * 153
    assert coingecko_clean.report.rejected == 0
    assert coingecko_clean.series["season top 100 / 90 d"]["value"].drop_nulls().len() == 63


@PROPERTY
@given(data=st.data())
def test_one_bad_row_in_a_coingecko_file_moves_no_index(
    coingecko: pl.DataFrame, coingecko_clean: Imported, data: st.DataObject
) -> None:
    fault = data.draw(faults(coingecko.height), label="fault")
    check(coingecko, coingecko_clean, fault, FileFormat.COINGECKO_DAILY)


# -- CoinMarketCap snapshots ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cmc() -> pl.DataFrame:
    # each day's top 200 for 140 days: ASI of the top 100 over 90 days has 50 days
    return cmc_slice(dt.date(2021, 1, 1), dt.date(2021, 5, 20))


@pytest.fixture(scope="module")
def cmc_clean(cmc: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return import_frame(tmp_path_factory.mktemp("clean"), cmc, FileFormat.CMC_SNAPSHOTS)


def rows_with_a_neighbour(frame: pl.DataFrame) -> list[int]:
    """Rows whose symbol has another row within 7 days: a coin a spike can be judged against."""
    days = frame.with_row_index("row").select("row", pl.col("symbol").str.to_uppercase().alias("key"), pl.col("date"))
    pairs = days.join(days, on="key", suffix="_other").filter(
        (pl.col("row") != pl.col("row_other"))
        & ((pl.col("date") - pl.col("date_other")).dt.total_days().abs().is_between(1, 7))
    )
    return sorted(pairs["row"].unique().to_list())


@pytest.fixture(scope="module")
def spikeable(cmc: pl.DataFrame) -> list[int]:
    return rows_with_a_neighbour(cmc)


def test_the_cmc_slice(cmc: pl.DataFrame, cmc_clean: Imported, spikeable: list[int]) -> None:
    assert cmc["date"].n_unique() == 140 and cmc.height > 27_000
    assert cmc_clean.series["season top 100 / 90 d"]["value"].drop_nulls().len() == 50
    assert len(spikeable) > 0.95 * cmc.height


@PROPERTY
@given(data=st.data())
def test_one_bad_row_in_cmc_snapshots_moves_no_index(
    cmc: pl.DataFrame, cmc_clean: Imported, spikeable: list[int], data: st.DataObject
) -> None:
    fault = data.draw(faults(cmc.height, spikeable), label="fault")
    check(cmc, cmc_clean, fault, FileFormat.CMC_SNAPSHOTS)
