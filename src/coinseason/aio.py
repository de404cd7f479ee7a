"""Small asyncio helpers shared by the long-running loops (Redis listener, exchange feed)."""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that an await swallowed.

    On Python 3.11 a cancel that lands just as a timeout expires (``asyncio.wait_for``, redis-py's read timeout)
    can come back as that timeout, or as the awaited result; the task stays marked as cancelling but a loop that
    goes on would be deaf to the cancel for ever. Call this after each timed await inside a ``while True`` loop.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
