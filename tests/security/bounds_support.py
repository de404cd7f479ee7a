"""What the bounds, secrets and errors tests of the security suite share: the small hand-made market in a DuckDB
file, an app over it with chosen API settings, and the bodies a client answer must (not) hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from coinseason.api.app import create_app
from coinseason.providers.files import FileFormat
from coinseason.services.importing import ImportService
from coinseason.settings import ApiSettings, Settings
from coinseason.store import DuckDBStore
from tests.conftest import fixed_clock, small_market_csv

PROBLEM_JSON = "application/problem+json"
Q = {"top": 3, "window": 2}


def market_db(folder: Path) -> str:
    """A DuckDB store file in ``folder`` holding the small market of ``tests.conftest.small_market_csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "market.duckdb"
    store = DuckDBStore(path)
    ImportService(store, clock=fixed_clock).import_file(small_market_csv(folder / "m.csv"), FileFormat.TIDY)
    store.close()
    return str(path)


def app_for(db: str, **api: Any) -> FastAPI:
    """The app over ``db`` with these API settings (``COINSEASON_*`` names without the prefix)."""
    return create_app(Settings(db=db, api=ApiSettings(**api)), clock=fixed_clock)


def assert_problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    """``answer`` is a problem+json of ``status`` whose ``status`` member says the same; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON, answer.headers
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["detail"]
    return body
