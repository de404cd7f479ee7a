"""File imports: every format, bad rows rejected with reasons, wrong formats refused whole."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from coinseason.data import quality
from coinseason.errors import FormatError
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.store import DuckDBStore
from tests.conftest import DATA_DIR, fixed_clock, shared_file

TIDY_CSV = """coin_id,date,price,market_cap,volume,symbol
bitcoin,2024-01-01,42000,820000000000,1000,btc
bitcoin,2024-01-02,44000,860000000000,1000,btc
ethereum,2024-01-01,2300,280000000000,,eth
ethereum,2024-01-02,2400,290000000000,,eth
badcoin,2024-01-01,0,100,,bad
badcoin,2024-01-02,-1,100,,bad
nancoin,2024-01-01,NaN,100,,nan
capcoin,2024-01-01,1.0,0,,cap
capcoin,2024-01-02,1.0,-5,,cap
when,2024-02-30,1.0,5,,w
when,1999-01-01,1.0,5,,w
when,2030-01-01,1.0,5,,w
dup,2024-01-01,1.0,5,,d
dup,2024-01-01,1.0,5,,d
clash,2024-01-01,1.0,5,,c
clash,2024-01-01,2.0,5,,c
unknowncap,2024-01-01,3.0,,,u
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def importer(store: DuckDBStore) -> ImportService:
    return ImportService(store, clock=fixed_clock)


def test_tidy_csv_rejects_bad_rows_with_reasons(tmp_path: Path, store: DuckDBStore) -> None:
    report = importer(store).import_file(write(tmp_path, "t.csv", TIDY_CSV), FileFormat.TIDY)
    assert report.rows_read == 17
    assert report.rejections == {
        quality.REASON_BAD_PRICE: 3,
        quality.REASON_BAD_MCAP: 2,
        quality.REASON_BAD_DATE: 1,
        quality.REASON_EARLY_DATE: 1,
        quality.REASON_FUTURE_DATE: 1,
        quality.REASON_CONFLICT: 2,
    }
    assert report.rejected == 10
    assert report.duplicates_merged == 1
    assert (report.added, report.updated, report.unchanged) == (6, 0, 0)
    obs = store.observations("custom", columns=("coin_id", "date", "price", "market_cap"))
    assert sorted(obs["coin_id"].unique()) == ["bitcoin", "dup", "ethereum", "unknowncap"]
    assert obs.filter(pl.col("coin_id") == "unknowncap")["market_cap"].to_list() == [None]


def test_reimport_is_idempotent_and_counts_updates(tmp_path: Path, store: DuckDBStore) -> None:
    path = write(tmp_path, "t.csv", TIDY_CSV)
    importer(store).import_file(path, FileFormat.TIDY)
    before = store.observations("custom").sort("coin_id", "date")
    again = importer(store).import_file(path, FileFormat.TIDY)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 6)
    assert store.observations("custom").sort("coin_id", "date").equals(before)
    changed = write(tmp_path, "t2.csv", TIDY_CSV.replace("44000,860000000000", "44100,860000000000"))
    third = importer(store).import_file(changed, FileFormat.TIDY)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 5)
    assert store.imports().height == 3


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        (FileFormat.TIDY, "symbol,day,close\nbtc,2024-01-01,1\n", "missing column(s) coin_id, date, price"),
        (FileFormat.COINGECKO_DAILY, "coin_id,date,price\nbitcoin,2024-01-01,1\n", "price_usd, market_cap_usd"),
        (FileFormat.CMC_SNAPSHOTS, "coin_id,date,price\nbitcoin,2024-01-01,1\n", "rank, symbol"),
    ],
)
def test_wrong_format_is_refused_whole_and_store_unchanged(
    tmp_path: Path, store: DuckDBStore, fmt: FileFormat, text: str, message: str
) -> None:
    importer(store).import_file(write(tmp_path, "good.csv", TIDY_CSV), FileFormat.TIDY)
    before = store.observations("custom").sort("coin_id", "date")
    with pytest.raises(FormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        importer(store).import_file(write(tmp_path, "bad.csv", text), fmt)
    assert store.observations("custom").sort("coin_id", "date").equals(before)
    assert store.imports().height == 1


def test_unreadable_and_unknown_extension(tmp_path: Path, store: DuckDBStore) -> None:
    with pytest.raises(FormatError, match="no such file"):
        importer(store).import_file(tmp_path / "missing.csv", FileFormat.TIDY)
    with pytest.raises(FormatError, match=r"needs a \.parquet or \.csv file"):
        importer(store).import_file(write(tmp_path, "x.xlsx", "nope"), FileFormat.TIDY)
    parquet = write(tmp_path, "broken.parquet", "this is not parquet")
    with pytest.raises(FormatError, match="not a readable parquet file"):
        importer(store).import_file(parquet, FileFormat.TIDY)


def test_market_chart_recorded_response(store: DuckDBStore) -> None:
    path = shared_file(
        DATA_DIR / "coingecko" / "api_examples" / "coingecko_market_chart_bitcoin_2024-01-01_to_07_RECONSTRUCTED.json"
    )
    report = importer(store).import_file(path, FileFormat.COINGECKO_MARKET_CHART, coin_id="bitcoin")
    assert (report.added, report.rejected) == (7, 0)
    obs = store.observations("coingecko", columns=("date", "price", "market_cap")).sort("date")
    payload = json.loads(path.read_text())
    assert obs["price"].to_list() == [p[1] for p in payload["prices"]]
    assert obs["market_cap"].to_list() == [m[1] for m in payload["market_caps"]]
    assert str(obs["date"][0]) == "2024-01-01" and str(obs["date"][-1]) == "2024-01-07"


def test_market_chart_first_point_of_day_and_zero_cap_is_unknown(tmp_path: Path, store: DuckDBStore) -> None:
    day = 1704067200000
    payload = {
        "prices": [[day + 3_600_000, 2.0], [day, 1.0], [day + 86_400_000, 3.0]],
        "market_caps": [[day, 0], [day + 3_600_000, 5.0], [day + 86_400_000, 6.0]],
        "total_volumes": [[day, 10.0], [day + 3_600_000, 11.0], [day + 86_400_000, 0]],
    }
    path = write(tmp_path, "chart.json", json.dumps(payload))
    importer(store).import_file(path, FileFormat.COINGECKO_MARKET_CHART, coin_id="x")
    obs = store.observations("coingecko", columns=("date", "price", "market_cap", "volume")).sort("date")
    assert obs["price"].to_list() == [1.0, 3.0]
    assert obs["market_cap"].to_list() == [None, 6.0]
    assert obs["volume"].to_list() == [10.0, None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prices": [[1704067200000, 1.0], [17040', "invalid JSON"),
        ('{"market_caps": []}', "no 'prices' key"),
        ('{"prices": [[1704067200000]]}', "not a list of"),
        ("[1, 2]", "no 'prices' key"),
    ],
)
def test_market_chart_malformed(tmp_path: Path, store: DuckDBStore, text: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        importer(store).import_file(write(tmp_path, "c.json", text), FileFormat.COINGECKO_MARKET_CHART, coin_id="x")


def test_market_chart_needs_a_coin(tmp_path: Path, store: DuckDBStore) -> None:
    with pytest.raises(FormatError, match="--coin"):
        importer(store).import_file(write(tmp_path, "c.json", '{"prices": []}'), FileFormat.COINGECKO_MARKET_CHART)


def test_coingecko_daily_spike_flag_and_zero_volume(tmp_path: Path, store: DuckDBStore) -> None:
    frame = pl.DataFrame(
        {
            "date": ["2024-03-10", "2024-03-11", "2024-03-12"],
            "coin_id": ["grin"] * 3,
            "symbol": ["grin"] * 3,
            "name": ["Grin"] * 3,
            "price_usd": [0.05, 0.05, 0.05],
            "market_cap_usd": [5e6, 5e9, 5e6],
            "volume_usd": [0.0, 1e5, 1e5],
            "mcap_spike": [False, True, False],
        }
    ).with_columns(pl.col("date").str.to_date())
    path = tmp_path / "cg.parquet"
    frame.write_parquet(path)
    importer(store).import_file(path, FileFormat.COINGECKO_DAILY)
    obs = store.observations("coingecko", columns=("date", "volume", "flags")).sort("date")
    # the provider's mark (16) and the gates' own spike (1, which keeps the day out of every index)
    assert obs["flags"].to_list() == [0, 17, 0]
    assert obs["volume"].to_list() == [None, 1e5, 1e5]
    coins = store.coins("coingecko")
    assert coins.select("coin_id", "symbol", "name").row(0) == ("grin", "grin", "Grin")
