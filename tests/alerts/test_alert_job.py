"""The alerts job: evaluates when the app's data was reloaded or the rules changed, not on every tick; one holder
of the lease at a time; idle (no lease taken) while there is no rule and nothing to send."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coinseason.services.alerts.job import LEASE_NAME, AlertJob
from coinseason.services.alerts.service import AlertService
from coinseason.services.analytics import AnalyticsService
from coinseason.services.hooks import StatusReport
from coinseason.settings import Settings
from coinseason.store import DuckDBStore
from tests.alerts.conftest import NOW, new_key
from tests.alerts.market import SEASON_PARAMS, import_market


class Hooks:
    def __init__(self, store: DuckDBStore) -> None:
        self.analytics = AnalyticsService(store)
        self.statuses: dict[str, StatusReport] = {}

    def clock(self) -> dt.datetime:
        return NOW

    async def announce_data_landed(self) -> None:
        raise AssertionError("the alerts job writes no market data")

    def push_intraday(self, payload: Any) -> None:
        raise AssertionError("the alerts job pushes nothing")

    def register_status(self, name: str, report: StatusReport) -> None:
        self.statuses[name] = report


def run_ticks(job: AlertJob, hooks: Hooks, steps: list[Callable[[], None]]) -> None:
    """Run the job; before each of its sleeps, the next step runs (assertions, changes); then it is cancelled."""
    pending = list(steps)

    async def sleep(_: float) -> None:
        if not pending:
            raise asyncio.CancelledError
        pending.pop(0)()
        await asyncio.sleep(0)

    job._sleep = sleep  # noqa: SLF001 - the test paces the job

    async def go() -> None:
        with pytest.raises(asyncio.CancelledError):
            await job(hooks)  # type: ignore[arg-type]

    asyncio.run(go())


def test_the_job_evaluates_on_new_data_and_new_rules_only(store: DuckDBStore, tmp_path: Path) -> None:
    hooks = Hooks(store)
    job = AlertJob(Settings(db=store.path), store=store, owner="host:1:test")
    service = AlertService(store, clock=lambda: NOW)
    key = new_key(store)

    def idle() -> None:
        assert (job.evaluations, job.holding, store.lease_holder(LEASE_NAME)) == (0, False, None)
        import_market(store, tmp_path / "m.csv", [0, 0, 0], now=NOW)
        service.add(key, name="a", kind="season", params=SEASON_PARAMS, url="https://example.com/h")

    def first() -> None:
        assert (job.evaluations, job.holding, store.lease_holder(LEASE_NAME)) == (1, True, "host:1:test")

    def unchanged() -> None:
        assert job.evaluations == 1
        hooks.analytics = AnalyticsService(store)  # what the app does after data landed

    def reloaded() -> None:
        assert job.evaluations == 2
        service.add(key, name="b", kind="season", params=SEASON_PARAMS, url="https://example.com/h")

    def new_rule() -> None:
        assert job.evaluations == 3
        assert hooks.statuses["alerts"]()["rules"] == 2  # type: ignore[index]

    run_ticks(job, hooks, [idle, first, unchanged, reloaded, new_rule])
    assert store.lease_holder(LEASE_NAME) is None  # released at shutdown


def test_a_second_job_stands_by_while_the_first_holds_the_lease(store: DuckDBStore, tmp_path: Path) -> None:
    import_market(store, tmp_path / "m.csv", [0, 0, 0], now=NOW)
    AlertService(store, clock=lambda: NOW).add(
        new_key(store), name="a", kind="season", params=SEASON_PARAMS, url="https://example.com/h"
    )
    assert store.acquire_lease(LEASE_NAME, "elsewhere:1:other", NOW, dt.timedelta(seconds=30))
    job = AlertJob(Settings(db=store.path), store=store, owner="host:2:test")

    def standing_by() -> None:
        assert (job.holding, job.evaluations) == (False, 0)

    run_ticks(job, Hooks(store), [standing_by, standing_by])
    assert store.lease_holder(LEASE_NAME) == "elsewhere:1:other"
