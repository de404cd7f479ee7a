"""The gauges of ``/metrics`` read from the app's state: each source's data age and the ingestion's lag."""

from __future__ import annotations

import datetime as dt

from coinseason.api.state import ApiState


def refresh_gauges(state: ApiState) -> None:
    """Set ``coinseason_data_age_seconds`` of every source and, when the ingestion job reported a success,
    ``coinseason_ingestion_lag_seconds`` of its source, as of the state's clock."""
    now = state.clock()
    for summary in state.analytics.sources():
        as_of = dt.datetime.combine(summary.last_date, dt.time(), dt.UTC)
        state.metrics.set_data_age(summary.source, (now - as_of).total_seconds())
    ingestion = state.job_statuses().get("ingestion")
    if ingestion is not None and ingestion.get("last_success"):
        landed = dt.datetime.fromisoformat(ingestion["last_success"])
        state.metrics.set_ingestion_lag(str(ingestion["source"]), max((now - landed).total_seconds(), 0.0))
