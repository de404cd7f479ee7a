"""Prometheus metrics of one API app, in its own registry (never the process-global one).

Several worker processes (``serve --workers N``) answer ``/metrics`` in turn, so each scrape must show them all:
``serve`` then gives the workers one ``PROMETHEUS_MULTIPROC_DIR`` (:data:`MULTIPROC_ENV`), where prometheus-client
keeps every process's counters and histograms in shared files, and a scrape sums them over the workers (gauges: the
sum over live workers, or the most recent value for the data age and lag). One worker keeps them in memory.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from coinseason.api.http.stream import StreamHub

__all__ = ["LATENCY_BUCKETS", "MULTIPROC_ENV", "UNMATCHED_ROUTE", "Metrics", "multiprocess_dir"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own switch to multiprocess mode; read when it is imported, so set before workers start."""


def multiprocess_dir() -> str | None:
    """The shared metrics folder of this process's server, when it runs several workers."""
    return os.environ.get(MULTIPROC_ENV) or None


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "<unmatched>"
"""The route label of requests no route matched (a raw path would let clients grow the label set without end)."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """Request latency and counts by route template, data freshness, and the live stream."""

    def __init__(self, *, shared_dir: str | None = None) -> None:
        """``shared_dir``: the ``PROMETHEUS_MULTIPROC_DIR`` of a server with several workers (prometheus-client
        must have been imported with it set), else None: this process's metrics only."""
        self.shared_dir = shared_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests: _RequestCounts | None = None
        self._children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}
        if shared_dir is None:  # one process: plain counts, read at each scrape (no lock, no shared file a request)
            self._requests = _RequestCounts()
            self.registry.register(self._requests)
        else:
            self._duration = Histogram(
                _DURATION,
                _DURATION_HELP,
                ["route", "method"],
                buckets=LATENCY_BUCKETS,
                registry=self.registry,
            )
            self._counter = Counter(_REQUESTS, _REQUESTS_HELP, ["route", "method", "status"], registry=self.registry)
        self._data_age = Gauge(
            "coinseason_data_age_seconds",
            "Seconds since the newest data point of a source.",
            ["source"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self._ingestion_lag = Gauge(
            "coinseason_ingestion_lag_seconds",
            "Seconds the last ingestion of a source lagged behind the data it fetched.",
            ["source"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request; ``route`` must be the template (``/v1/season/history``), not the raw path."""
        if self._requests is not None:
            self._requests.observe(route, method, status, seconds)
            return
        children = self._children.get((route, method, status))
        if children is None:
            children = self._children_of(route, method, status)
        children[0].observe(seconds)
        children[1].inc()

    def _children_of(self, route: str, method: str, status: int) -> tuple[Histogram, Counter]:
        """The labelled series of one (route, method, status), looked up once (``labels`` takes a lock each call)."""
        label = method if method in _METHODS else "OTHER"
        children = (self._duration.labels(route, label), self._counter.labels(route, label, str(status)))
        if len(self._children) < 10_000:  # routes are templates and methods a fixed set: this stays small
            self._children[(route, method, status)] = children
        return children

    def set_data_age(self, source: str, seconds: float) -> None:
        self._data_age.labels(source).set(seconds)

    def set_ingestion_lag(self, source: str, seconds: float) -> None:
        self._ingestion_lag.labels(source).set(seconds)

    def track_stream(self, hub: StreamHub) -> None:
        """Export the hub's subscriber count and dropped messages, read at each scrape (with several workers: the
        sum over the live workers of what each read at its last scrape)."""
        if self.shared_dir is None:
            self.registry.register(_StreamCollector(hub))
        else:
            self._shared_stream = _SharedStream(hub, self.registry)

    _shared_stream: _SharedStream | None = None

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric, and its content type; with several workers, of them all."""
        if self.shared_dir is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        if self._shared_stream is not None:
            self._shared_stream.sync()
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=self.shared_dir)  # type: ignore[no-untyped-call]  # untyped upstream
        return generate_latest(merged), CONTENT_TYPE_LATEST


class _SharedStream:
    """The stream figures of one worker written where every worker's are summed (live workers only)."""

    def __init__(self, hub: StreamHub, registry: CollectorRegistry) -> None:
        self._hub = hub
        self._subscribers = Gauge(
            "coinseason_stream_subscribers",
            "Open live-stream subscriptions.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._dropped = Gauge(
            "coinseason_stream_dropped_messages_total",
            "Stream messages dropped because a subscriber read too slowly.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._delivered = Gauge(
            "coinseason_stream_delivered_messages_total",
            "Stream messages queued for subscribers (one per subscriber per update).",
            registry=registry,
            multiprocess_mode="livesum",
        )

    def sync(self) -> None:
        self._subscribers.set(self._hub.subscribers)
        self._dropped.set(self._hub.dropped)
        self._delivered.set(self._hub.published)


_DURATION = "coinseason_http_request_duration_seconds"
_DURATION_HELP = "Time to answer an HTTP request, by route template."
_REQUESTS = "coinseason_http_requests"
_REQUESTS_HELP = "HTTP requests answered, by route template and status."
_MAX_SERIES = 10_000


class _Series:
    """The requests of one (route, method, status): how many fell in each latency bucket, and their time."""

    __slots__ = ("buckets", "seconds")

    def __init__(self) -> None:
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.seconds = 0.0


class _RequestCounts(Collector):
    """Request counts and latency histograms of one process, kept as plain numbers and exported at each scrape
    as the same families prometheus-client's Counter and Histogram would export. Requests are counted on the event
    loop's thread only; a scrape reads a copy."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], _Series] = {}
        self._overflow = _Series()
        """Where requests go once there are _MAX_SERIES series (never, with route templates and known methods)."""

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        series = self._series.get((route, method, status))
        if series is None:
            series = self._new(route, method, status)
        series.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        series.seconds += seconds

    def _new(self, route: str, method: str, status: int) -> _Series:
        if len(self._series) >= _MAX_SERIES:
            return self._overflow
        series = self._series[(route, method if method in _METHODS else "OTHER", status)] = _Series()
        if method not in _METHODS:  # every unknown method shares the OTHER series
            self._series[(route, method, status)] = series
        return series

    def collect(self) -> Iterable[Metric]:
        counter = CounterMetricFamily(_REQUESTS, _REQUESTS_HELP, labels=["route", "method", "status"])
        histogram = HistogramMetricFamily(_DURATION, _DURATION_HELP, labels=["route", "method"])
        latencies: dict[tuple[str, str], tuple[list[int], float]] = {}
        seen: set[int] = set()
        for (route, method, status), series in list(self._series.items()):
            if id(series) in seen or method not in _METHODS and method != "OTHER":
                continue
            seen.add(id(series))
            buckets, seconds = list(series.buckets), series.seconds
            counter.add_metric([route, method, str(status)], sum(buckets))
            total, spent = latencies.get((route, method), ([0] * len(buckets), 0.0))
            latencies[(route, method)] = ([a + b for a, b in zip(total, buckets, strict=True)], spent + seconds)
        for (route, method), (buckets, seconds) in latencies.items():
            cumulative = list(accumulate(buckets))
            bounds = [*(str(bound) for bound in LATENCY_BUCKETS), "+Inf"]
            histogram.add_metric([route, method], list(zip(bounds, cumulative, strict=True)), seconds)
        yield counter
        yield histogram


class _StreamCollector(Collector):
    def __init__(self, hub: StreamHub) -> None:
        self._hub = hub

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(
            "coinseason_stream_subscribers", "Open live-stream subscriptions.", value=self._hub.subscribers
        )
        yield CounterMetricFamily(
            "coinseason_stream_dropped_messages",
            "Stream messages dropped because a subscriber read too slowly.",
            value=self._hub.dropped,
        )
        yield CounterMetricFamily(
            "coinseason_stream_delivered_messages",
            "Stream messages queued for subscribers (one per subscriber per update).",
            value=self._hub.published,
        )
