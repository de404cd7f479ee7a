"""JSON out of coinseason is JSON: a value that is not a finite number is ``null``, never ``NaN`` or ``Infinity``
(which ``json.loads`` accepts and every strict parser refuses), from the CLI's ``--format json`` and from the API."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from coinseason.api.app import create_app
from coinseason.api.models import Method
from coinseason.api.views import series_bytes
from coinseason.cli.options import OutputFormat
from coinseason.cli.output import emit, json_text
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock
from tests.properties.market import coingecko_slice


def strict_json(text: str | bytes) -> object:
    """``text`` parsed as JSON proper: ``NaN``, ``Infinity`` and ``-Infinity`` are refused."""

    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


NUMBERS = st.one_of(st.floats(), st.integers(), st.none())
PAYLOADS = st.recursive(
    NUMBERS | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(PAYLOADS)
def test_the_cli_json_of_any_payload_is_strict_and_keeps_every_finite_number(payload: object) -> None:
    parsed = strict_json(json_text(payload))

    def same(a: object, b: object) -> bool:
        if isinstance(a, float) and not math.isfinite(a):
            return b is None
        if isinstance(a, list | tuple):
            return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b

    assert same(payload, parsed)


def test_emit_writes_null_for_nan_and_infinity(capsys: pytest.CaptureFixture[str]) -> None:
    frame = pl.DataFrame({"date": [dt.date(2024, 1, 1)] * 3, "value": [math.nan, math.inf, 1.5]})
    emit(frame, OutputFormat.JSON, method={"top": 50, "threshold": math.nan})
    assert strict_json(capsys.readouterr().out) == {
        "method": {"top": 50, "threshold": None},
        "values": [
            {"date": "2024-01-01", "value": None},
            {"date": "2024-01-01", "value": None},
            {"date": "2024-01-01", "value": 1.5},
        ],
    }


def test_the_api_series_bytes_write_null_for_nan_and_infinity() -> None:
    frame = pl.DataFrame({"date": [dt.date(2024, 1, 1)] * 3, "value": [math.nan, -math.inf, 2.0]})
    method = Method(
        source="s",
        methodology_version="test",
        gap_days=3,
        exclusion="default",
        exclusion_list_version="test",
        excluded_classes=[],
        n_excluded=0,
        altcoin_at=math.nan,
    )
    body = strict_json(series_bytes(method, frame))
    assert isinstance(body, dict)
    assert [v["value"] for v in body["values"]] == [None, None, 2.0]
    assert body["method"]["altcoin_at"] is None


@pytest.mark.slow
def test_every_api_answer_over_real_data_is_strict_json(tmp_path: Path) -> None:
    # the real CoinGecko slice, a 90-day index whose first 89 days have no value, stablecoin dominance with
    # stablecoins excluded (no value), weekly means of days without a value
    rows = coingecko_slice(dt.date(2024, 9, 1), dt.date(2024, 12, 31), coins=120)
    path = tmp_path / "cg.parquet"
    rows.write_parquet(path)
    db = tmp_path / "api.duckdb"
    store = DuckDBStore(db)
    ImportService(store, clock=fixed_clock).import_file(path, FileFormat.COINGECKO_DAILY)
    store.close()
    season = {"top": 100, "window": 90}
    paths = [
        ("/v1/season/latest", season),
        ("/v1/season/history", season),
        ("/v1/season/history", {**season, "interval": "week"}),
        ("/v1/season/breakdown", {**season, "date": "2024-09-15"}),
        ("/v1/seasons", season),
        ("/v1/dominance/latest", {}),
        ("/v1/dominance/history", {}),
        ("/v1/dominance/history", {"interval": "month", "universe": "top:125"}),
        ("/v1/coins", {}),
    ]
    with TestClient(create_app(Settings(db=str(db)), clock=fixed_clock)) as client:
        for url, params in paths:
            response = client.get(url, params=params)
            assert response.status_code == 200, (url, response.text)
            strict_json(response.content)
        history = strict_json(client.get("/v1/season/history", params=season).content)
    assert isinstance(history, dict)
    assert history["values"][0]["value"] is None  # the first day has no 90-day index: null
