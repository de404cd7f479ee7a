"""An empty store names both routes to data, with their exact commands, wherever it shows: the API's 404 problem
detail, ``/readyz`` and the CLI's error line."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coinseason.api.app import create_app
from coinseason.cli import app
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock

IMPORT = "coinseason import PATH --format F"
FREE_FORMATS = ("--format coingecko-csv", "--format crypto2-listings")
PROVIDER = ("COINSEASON_INGEST_PROVIDER=coingecko", "COINSEASON_COINGECKO_API_KEY", "`coinseason serve`")


def names_both_routes(text: str) -> bool:
    flat = " ".join(text.split())
    return IMPORT in flat and all(f in flat for f in FREE_FORMATS) and all(p in flat for p in PROVIDER)


def test_the_api_and_readyz_name_both_routes(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "empty.duckdb"))
    with TestClient(create_app(settings, clock=fixed_clock)) as client:
        latest = client.get("/v1/season/latest")
        assert latest.status_code == 404
        assert latest.headers["content-type"] == "application/problem+json"
        assert names_both_routes(latest.json()["detail"]), latest.json()
        ready = client.get("/readyz").json()
        assert ready["status"] == "not ready" and names_both_routes(ready["reasons"][0]), ready


def test_the_cli_names_both_routes(tmp_path: Path) -> None:
    DuckDBStore(tmp_path / "empty.duckdb").close()  # a store, with nothing in it
    result = CliRunner().invoke(
        app, ["index", "altseason", "--db", str(tmp_path / "empty.duckdb")], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 2
    assert names_both_routes(result.output), result.output
