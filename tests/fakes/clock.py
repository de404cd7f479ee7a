"""A fake monotonic clock and sleep for the providers' outbound limits: time moves only when someone sleeps."""

from __future__ import annotations

import asyncio


class FakeTime:
    """Pass ``monotonic=fake.monotonic, sleep=fake.sleep``; ``sleeps`` lists every sleep asked for."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
