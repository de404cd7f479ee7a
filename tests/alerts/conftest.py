"""Fixtures of the alert tests: a store with an API key, and the service over it."""

from __future__ import annotations

import datetime as dt

import pytest

from coinseason.services.alerts.service import AlertService
from coinseason.services.keys import KeyService
from coinseason.store.protocols import Store

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A settable clock."""

    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def new_key(store: Store, name: str = "alerts test") -> str:
    record, _ = KeyService(store, clock=lambda: NOW).create(name)
    return record.prefix


@pytest.fixture
def service(store: Store, clock: Clock) -> AlertService:
    return AlertService(store, clock=clock)
