"""Backtest sweeps run in a bounded worker process (issue reproduction 3: 64 sets ran 30.5 s against a 20 s bound
and kept 520 MB): past its deadline or its memory bound the worker is killed, whatever it is doing, and the answer is
a 422 problem+json with the sets done; the worker is gone afterwards, so its memory is back with the system.

The bounds are injected (a deadline of 0 s, a memory bound below any process's size), so no test waits for a clock.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from coinseason.api.sweep_worker import SweepBounds, SweepJob, run_bounded_sweep
from coinseason.services.trading import BacktestParams
from coinseason.settings import PostgresSettings
from tests.security.bounds_support import app_for, assert_problem, market_db

PARAMS = {"top": 3, "window": 2, "impact": 0.0, "rebalance_days": 1, "min_volume_usd": 0.0}
UNBOUNDED = SweepBounds(seconds=120.0, memory_bytes=2**40, chunk=2)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return market_db(tmp_path)


def job(db: str, sets: int) -> SweepJob:
    params = tuple(BacktestParams(top=3, window=2, fee_bps=float(n), min_volume_usd=0.0) for n in range(sets))
    return SweepJob(db=db, pool=PostgresSettings(), params=params, source="custom", start=None, end=None)


def gone(pid: int | None) -> bool:
    assert pid is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_sweep_within_its_bounds_returns_every_set_in_order(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: the bounded worker does the whole job when it may."""
    outcome = run_bounded_sweep(job(db, 5), UNBOUNDED)
    assert outcome.stopped is None and (outcome.done, outcome.total) == (5, 5)
    assert [row["fee_bps"] for row in outcome.rows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    returns = [row["total_return"] for row in outcome.rows]
    assert returns == sorted(returns, reverse=True)  # each basis point more of fees costs return
    assert gone(outcome.worker)


def test_a_sweep_past_its_deadline_is_killed_with_what_it_did(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: the deadline stops the worker, not a check between chunks."""
    outcome = run_bounded_sweep(job(db, 64), SweepBounds(seconds=0.0, memory_bytes=2**40))
    assert outcome.stopped == "time" and outcome.done == 0 and outcome.total == 64
    assert gone(outcome.worker)


def test_a_sweep_over_its_memory_bound_is_killed(db: str) -> None:
    """API4:2023 Unrestricted Resource Consumption: the worker's resident memory is bounded; the memory it held
    goes back to the system with it."""
    outcome = run_bounded_sweep(job(db, 64), SweepBounds(seconds=120.0, memory_bytes=1))
    assert outcome.stopped == "memory" and outcome.done == 0
    assert gone(outcome.worker)


@pytest.mark.parametrize(
    ("bounds", "bound_text"),
    [
        (SweepBounds(seconds=0.0, memory_bytes=2**40), "0 s (time)"),
        (SweepBounds(seconds=120.0, memory_bytes=1), "MB (memory)"),
    ],
)
def test_the_api_answers_a_stopped_sweep_with_422_and_the_sets_done(
    db: str, bounds: SweepBounds, bound_text: str
) -> None:
    """API4:2023 Unrestricted Resource Consumption: reproduction 3, 64 sets of different top and window, answered
    as a problem naming the bound and the sets done."""
    sweep = [{**PARAMS, "top": 2 + n % 8, "window": 2 + n // 8} for n in range(64)]
    app = app_for(db)
    app.state.sweep_bounds = bounds
    with TestClient(app) as client:
        answer = client.post("/v1/backtests", json={"params": PARAMS, "sweep": sweep, "daily": False})
    body = assert_problem(answer, 422)
    assert bound_text in body["detail"] and "0 of 64 sets" in body["detail"]
    assert (body["sets_done"], body["sets_total"], body["sweep"]) == (0, 64, [])


def test_the_sweep_bounds_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """API4:2023 Unrestricted Resource Consumption: the bounds are settings an operator can tighten."""
    from coinseason.settings import Settings

    monkeypatch.setenv("COINSEASON_SWEEP_SECONDS", "5")
    monkeypatch.setenv("COINSEASON_SWEEP_MEMORY_MB", "256")
    api = Settings.from_env().api
    assert (api.sweep_seconds, api.sweep_memory_mb) == (5.0, 256)


@pytest.mark.parametrize(("seconds", "done"), [(120.0, 3), (0.0, 0)])
def test_an_in_memory_store_is_swept_in_process_to_its_deadline(tmp_path: Path, seconds: float, done: int) -> None:
    """API4:2023 Unrestricted Resource Consumption: a store no worker process can open (DuckDB ``:memory:``) is
    swept in the serving process, still stopped at the deadline (between chunks) and answered the same way."""
    from coinseason.api.app import create_app
    from coinseason.providers.files import FileFormat
    from coinseason.services.importing import ImportService
    from coinseason.settings import Settings
    from coinseason.store import DuckDBStore
    from tests.conftest import fixed_clock, small_market_csv

    store = DuckDBStore(":memory:")
    ImportService(store, clock=fixed_clock).import_file(small_market_csv(tmp_path / "m.csv"), FileFormat.TIDY)
    app = create_app(Settings(db=":memory:"), store=store, clock=fixed_clock)
    app.state.sweep_bounds = SweepBounds(seconds=seconds, memory_bytes=2**40, chunk=2)
    sweep = [{**PARAMS, "fee_bps": float(n)} for n in range(3)]
    with TestClient(app) as client:
        answer = client.post("/v1/backtests", json={"params": PARAMS, "sweep": sweep, "daily": False})
    store.close()
    if done == 3:
        assert answer.status_code == 200, answer.text
        assert [row["fee_bps"] for row in answer.json()["sweep"]] == [0.0, 1.0, 2.0]
    else:
        body = assert_problem(answer, 422)
        assert (body["sets_done"], body["sets_total"]) == (0, 3)
