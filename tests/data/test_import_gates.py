"""File imports pass the quality gates live ingestion passes: values out of range rejected with the range, one-day
spikes flagged against the neighbours in the file *and* in the store, every reason counted in the report and the
import log, and a file none of whose rows passes refused whole. Hand-made markets, hand-computed values."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from coinseason.data import reasons
from coinseason.data.gates import FLAG_PENDING
from coinseason.data.tidy import FLAG_MCAP_SPIKE
from coinseason.errors import ImportRejected
from coinseason.providers.files import FileFormat
from coinseason.services.analytics import AnalyticsService
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

DAY0 = dt.date(2024, 1, 1)


def day(i: int) -> dt.date:
    return DAY0 + dt.timedelta(days=i)


def tidy(tmp_path: Path, name: str, rows: list[tuple[str, int, float, float | None]]) -> Path:
    """A tidy CSV of ``(coin, day, price, market_cap)`` rows."""
    lines = ["coin_id,symbol,date,price,market_cap"]
    for coin, i, price, cap in rows:
        symbol = "btc" if coin == "bitcoin" else coin[:3]
        lines.append(f"{coin},{symbol},{day(i)},{price!r},{'' if cap is None else repr(cap)}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def market(days: range, *, alt: dict[int, float] | None = None) -> list[tuple[str, int, float, float | None]]:
    """Bitcoin at 100 (cap 1e9) and ``alt`` at 1 (cap 1e8) every day; ``alt`` maps a day to a factor on the alt's
    price and cap."""
    rows: list[tuple[str, int, float, float | None]] = []
    for i in days:
        k = (alt or {}).get(i, 1.0)
        rows += [("bitcoin", i, 100.0, 1e9), ("altcoin", i, 1.0 * k, 1e8 * k)]
    return rows


def flags(store: DuckDBStore, coin: str = "altcoin") -> dict[int, int]:
    obs = store.observations("custom", columns=("coin_id", "date", "flags")).filter(pl.col("coin_id") == coin)
    return {(d - DAY0).days: f for d, f in obs.select("date", "flags").iter_rows()}


def btc_dominance(store: DuckDBStore) -> list[float]:
    frame = AnalyticsService(store).dominance_history(source="custom", exclude="none")
    return [round(v, 9) for v in frame["value"].to_list()]


@pytest.fixture
def importer(store: DuckDBStore) -> ImportService:
    return ImportService(store, clock=fixed_clock)


def test_non_finite_and_absurd_values_are_rejected_with_their_range(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    text = "\n".join(
        [
            "coin_id,date,price,market_cap,volume,circulating_supply",
            "bitcoin,2024-01-01,42000,8.2e11,1e9,19000000",
            "a,2024-01-01,inf,1e6,,",
            "b,2024-01-01,-inf,1e6,,",
            "c,2024-01-01,1.0,inf,,",
            "d,2024-01-01,1e308,1e6,,",
            "e,2024-01-01,1.0,1e308,,",
            "f,2024-01-01,1.0,1e6,inf,",
            "g,2024-01-01,1.0,1e6,,1e30",
            "h,2024-01-01,1.0,1e6,,inf",
            "i,2024-01-01,NaN,1e6,,",
            "j,1900-06-01,1.0,1e6,,",
            "k,2100-01-01,1.0,1e6,,",
        ]
    )
    path = tmp_path / "bad.csv"
    path.write_text(text + "\n")
    report = importer.import_file(path, FileFormat.TIDY)
    assert report.rejections == {
        reasons.REASON_BAD_PRICE: 3,  # inf, -inf, NaN
        reasons.REASON_BAD_MCAP: 1,
        reasons.REASON_PRICE_RANGE: 1,
        reasons.REASON_MCAP_RANGE: 1,
        reasons.REASON_BAD_VOLUME: 1,
        reasons.REASON_SUPPLY_RANGE: 1,
        reasons.REASON_BAD_SUPPLY: 1,
        reasons.REASON_EARLY_DATE: 1,
        reasons.REASON_FUTURE_DATE: 1,
    }
    assert (report.added, report.rejected) == (1, 11)
    # the reasons state their range
    assert "1e+10 USD" in reasons.REASON_PRICE_RANGE and "1e+14 USD" in reasons.REASON_MCAP_RANGE
    assert "2009-01-03" in reasons.REASON_EARLY_DATE
    dominance = AnalyticsService(store).dominance_history(source="custom", exclude="none")
    assert dominance["value"].to_list() == [100.0] and dominance["total"].to_list() == [8.2e11]


def test_cmc_rows_with_non_finite_values_are_rejected_by_reason_not_by_the_database(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    path = tmp_path / "cmc.csv"
    path.write_text(
        "date,rank,symbol,market_cap_usd,price_usd,circulating_supply\n"
        "2024-12-10,1,BTC,1.9e12,96000,19790000\n"
        "2024-12-10,2,ETH,4.5e11,3700,120450000\n"
        "2024-12-10,3,XRP,inf,2.3,57000000000\n"
        "2024-12-10,4,SOL,1.1e11,inf,\n"
        "2024-12-10,5,BNB,1e308,700,144000000\n"
        "2024-12-10,6,DOGE,6e10,NaN,147000000000\n"
    )
    report = importer.import_file(path, FileFormat.CMC_SNAPSHOTS)
    assert report.rejections == {
        reasons.REASON_BAD_MCAP: 1,
        reasons.REASON_BAD_PRICE: 2,
        reasons.REASON_MCAP_RANGE: 1,
    }
    assert report.added == 2
    assert sorted(store.coins("cmc")["symbol"].to_list()) == ["BTC", "ETH"]


def test_a_cap_above_the_whole_market_is_rejected(tmp_path: Path, store: DuckDBStore, importer: ImportService) -> None:
    # twelve coins of cap 1e9 on days 0 to 2 (a market of 1.2e10); on day 1 coin c11 reports 5e10: over 3x the
    # whole market of the days around (3.6e10), so it is out of range, not a move
    rows: list[tuple[str, int, float, float | None]] = [
        (f"c{n:02d}", i, 1.0, 5e10 if (n, i) == (11, 1) else 1e9) for n in range(12) for i in range(3)
    ]
    report = importer.import_file(tidy(tmp_path, "m.csv", rows), FileFormat.TIDY)
    assert report.rejections == {reasons.REASON_ABOVE_MARKET: 1}
    assert report.flagged == {}
    # with five coins the days are no market to judge by: the same row is a one-day spike of its market cap
    small = ImportService(DuckDBStore(":memory:"), clock=fixed_clock)
    few = [r for r in rows if int(r[0][1:]) >= 7]
    report = small.import_file(tidy(tmp_path, "few.csv", few), FileFormat.TIDY)
    assert report.rejections == {}
    assert report.flagged == {reasons.REASON_SPIKE: 1}


def test_a_spike_imported_between_stored_days_is_flagged_by_them(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    importer.import_file(tidy(tmp_path, "around.csv", market(range(3)) + market(range(4, 7))), FileFormat.TIDY)
    # the file holds day 3 alone, the altcoin at 1000x: only the stored days 2 and 4 tell it is a spike
    report = importer.import_file(tidy(tmp_path, "day3.csv", market(range(3, 4), alt={3: 1000.0})), FileFormat.TIDY)
    assert report.flagged == {reasons.REASON_PRICE_SPIKE: 1}
    assert flags(store)[3] == FLAG_MCAP_SPIKE
    # kept out of every index: on day 3 the altcoin counts at its day-2 cap (the gap fill), 1e9 / 1.1e9
    assert btc_dominance(store) == [round(100 / 1.1, 9)] * 7


def test_the_next_day_confirms_a_stored_pending_day_as_a_spike(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    importer.import_file(tidy(tmp_path, "a.csv", market(range(4), alt={3: 1000.0})), FileFormat.TIDY)
    assert flags(store)[3] == FLAG_MCAP_SPIKE | FLAG_PENDING
    report = importer.import_file(tidy(tmp_path, "b.csv", market(range(4, 5))), FileFormat.TIDY)
    assert (report.added, report.updated) == (2, 1)  # the stored day 3 is judged again: a one-day spike
    assert flags(store)[3] == FLAG_MCAP_SPIKE
    assert report.flagged == {}  # the day judged again is not one of this file's rows


def test_an_older_day_imported_before_stored_ones_judges_them_again(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    # stored days 1..4, the altcoin at 20x on day 1: a first day over 10x the next, kept out
    importer.import_file(tidy(tmp_path, "a.csv", market(range(1, 5), alt={1: 20.0})), FileFormat.TIDY)
    assert flags(store) == {1: FLAG_MCAP_SPIKE, 2: 0, 3: 0, 4: 0}
    # day 0 arrives at the same 20x level: day 1 is no longer alone at that level, its flag is lifted
    report = importer.import_file(tidy(tmp_path, "b.csv", market(range(1), alt={0: 20.0})), FileFormat.TIDY)
    assert (report.added, report.updated) == (2, 1)
    assert flags(store) == {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}


def test_every_reason_is_in_the_import_log_row(tmp_path: Path, store: DuckDBStore, importer: ImportService) -> None:
    rows = [*market(range(5), alt={2: 1000.0}), ("bitcoin", 5, -1.0, 1e9)]
    importer.import_file(tidy(tmp_path, "m.csv", rows), FileFormat.TIDY)
    log = store.imports().row(-1, named=True)
    assert log["rejected"] == 1
    assert json.loads(log["rejections"]) == {
        reasons.REASON_BAD_PRICE: 1,
        reasons.FLAGGED_PREFIX + reasons.REASON_PRICE_SPIKE: 1,
    }


def test_a_file_whose_every_row_is_rejected_is_refused_and_leaves_no_log_row(
    tmp_path: Path, store: DuckDBStore, importer: ImportService
) -> None:
    importer.import_file(tidy(tmp_path, "good.csv", market(range(2))), FileFormat.TIDY)
    bad = tidy(tmp_path, "bad.csv", [("bitcoin", 2, float("inf"), 1e9), ("altcoin", 2, 0.0, 1e8)])
    with pytest.raises(ImportRejected, match="every one of its 2 rows was rejected") as caught:
        importer.import_file(bad, FileFormat.TIDY)
    assert caught.value.rejections == {reasons.REASON_BAD_PRICE: 2}
    assert store.imports().height == 1  # the good file's row only
    assert store.observations("custom").height == 4


def test_one_list_of_reasons() -> None:
    assert len(set(reasons.REJECTIONS)) == len(reasons.REJECTIONS)
    assert not set(reasons.REJECTIONS) & set(reasons.FLAGS)
    public = {v for k, v in vars(reasons).items() if k.startswith("REASON_")}
    assert public == set(reasons.REJECTIONS) | set(reasons.FLAGS)
