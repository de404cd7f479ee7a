"""The live feed inside ``coinseason serve`` (pushes on ``WS /v1/stream``) and the ``coinseason live`` command, each
reading a local replay server."""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coinseason.api.app import create_app
from coinseason.cli import app as cli_app
from coinseason.cli.runtime import Runtime
from coinseason.live import serve as serve_module
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, shared_file, small_market_csv
from tests.fakes.ws_replay import RECORDED_FRAME, encode, recorded_frame, replay_in_thread

DAY_AFTER = dt.datetime(2024, 1, 11, 12, 0, tzinfo=dt.UTC)
"""The small market ends on 2024-01-10; with W = 3 the base day is 2024-01-08."""
# live BTC 200, FST 40, SLW 5 (supply 1e7 each): BTC +2.6 % over 3 days, fast +11.6 %, slow 0 % -> 1 of 2 beat BTC
EXPECTED_VALUE = 50.0
EXPECTED_BTC_DOMINANCE = 100 * 2e9 / (2e9 + 4e8 + 5e7)


def small_frame() -> bytes:
    """The recorded frame's BTCUSDT ticker, reshaped for the small market's coins."""
    btc = next(t for t in recorded_frame(shared_file(RECORDED_FRAME)) if t["s"] == "BTCUSDT")
    frame: list[dict[str, Any]] = []
    for symbol, price in (("BTCUSDT", "200.00"), ("FSTUSDT", "40.00"), ("SLWUSDT", "5.00")):
        ticker = copy.deepcopy(btc)
        ticker.update(s=symbol, c=price)
        frame.append(ticker)
    return encode(frame)


@pytest.fixture
def market_db(tmp_path: Path) -> Path:
    path = tmp_path / "live.duckdb"
    store = DuckDBStore(path)
    try:
        ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    finally:
        store.close()
    return path


def test_serve_live_pushes_the_intraday_index(market_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_module, "TOP", 3)
    monkeypatch.setattr(serve_module, "WINDOW", 3)
    with replay_in_thread([[small_frame()] * 400], interval=0.05) as server:
        settings = Settings(db=str(market_db), live=True, exchange_ws_url=server.url, live_push_seconds=0.1)
        app = create_app(settings, clock=lambda: DAY_AFTER)
        state = app.state.api
        pushed: list[Any] = []
        push = state.push_intraday
        monkeypatch.setattr(state, "push_intraday", lambda payload: (pushed.append(payload), push(payload)))
        with TestClient(app) as client:
            deadline = time.monotonic() + 10
            while not any(p["value"] is not None for p in pushed) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert pushed, "no intraday update was pushed within 10 s"
            with client.websocket_connect("/v1/stream") as ws:
                ws.send_text(json.dumps({"subscribe": ["intraday"]}))
                assert ws.receive_json() == {"subscribed": ["intraday"]}
                message = ws.receive_json()
    assert message["topic"] == "intraday"
    data = message["data"]
    assert data["value"] == pytest.approx(EXPECTED_VALUE)
    assert data["btc_dominance"] == pytest.approx(EXPECTED_BTC_DOMINANCE)
    assert data["stale"] is False
    assert data["method"]["base_date"] == "2024-01-08"


def test_live_command_prints_json_lines(market_db: Path) -> None:
    with replay_in_thread([[small_frame()] * 100], interval=0.02) as server:
        args = ["live", "--url", server.url, "--top", "3", "--window", "3", "--every", "0.1", "--seconds", "1.0"]
        result = CliRunner().invoke(
            cli_app, [*args, "--format", "json", "--db", str(market_db)], obj=Runtime(clock=lambda: DAY_AFTER)
        )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines
    assert lines[-1]["value"] == pytest.approx(EXPECTED_VALUE)
    assert lines[-1]["btc_dominance"] == pytest.approx(EXPECTED_BTC_DOMINANCE)
    assert "4 coins mapped" in result.stderr  # bitcoin, fast, slow and tether (mapped, then excluded when counting)
    assert "frames" in result.stderr and "malformed 0" in result.stderr


def test_live_command_without_the_base_day_is_one_clear_error(market_db: Path) -> None:
    result = CliRunner().invoke(cli_app, ["live", "--url", "ws://127.0.0.1:1/ws", "--db", str(market_db)])
    assert result.exit_code == 2
    assert "needs daily prices of" in result.stderr
    assert "import newer data" in result.stderr


def test_serve_live_with_ingestion_shares_one_exchange_reference_fed_by_the_feed(
    market_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coinseason.live.reference import ExchangeReference
    from coinseason.services.ingestion.factory import IngestionJob

    monkeypatch.setattr(serve_module, "TOP", 3)
    monkeypatch.setattr(serve_module, "WINDOW", 3)
    with replay_in_thread([[small_frame()] * 400], interval=0.05) as server:
        settings = Settings(
            db=str(market_db), live=True, exchange_ws_url=server.url, ingest_provider="coingecko", live_push_seconds=0.1
        )
        jobs = serve_module.background_jobs(settings)
        assert len(jobs) == 2
        live, ingestion = jobs
        assert isinstance(ingestion, IngestionJob)
        assert isinstance(ingestion.exchange, ExchangeReference)
        # the live job alone (the ingestion loop would call CoinGecko): it must feed the ingestion's reference
        app = create_app(Settings(db=str(market_db)), clock=lambda: DAY_AFTER, background=[live])
        with TestClient(app):
            deadline = time.monotonic() + 10
            while ingestion.exchange.prices().height < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    prices = dict(ingestion.exchange.prices(now=time.monotonic()).select("coin_id", "price").iter_rows())
    assert prices == {"bitcoin": 200.0, "fast": 40.0, "slow": 5.0}


def test_serve_without_live_builds_no_exchange_reference() -> None:
    settings = Settings(live=False, ingest_provider="coingecko")
    (job,) = serve_module.background_jobs(settings)
    assert getattr(job, "exchange", "missing") is None
    assert serve_module.background_jobs(Settings(live=False, ingest_provider=None)) == []
