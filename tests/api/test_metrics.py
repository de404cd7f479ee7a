"""Prometheus metrics: a registry per app, request metrics by route template, data freshness, the stream."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from coinseason.api.http.metrics import Metrics
from coinseason.api.http.stream import StreamHub


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.render()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_request_metrics_are_labelled_by_route_template() -> None:
    metrics = Metrics()
    metrics.observe_request(route="/v1/season/history", method="GET", status=200, seconds=0.004)
    metrics.observe_request(route="/v1/season/history", method="GET", status=200, seconds=0.2)
    metrics.observe_request(route="/v1/season/history", method="GET", status=429, seconds=0.001)
    got = samples(metrics)
    route = ("route", "/v1/season/history")
    assert got[("coinseason_http_requests_total", (("method", "GET"), route, ("status", "200")))] == 2
    assert got[("coinseason_http_requests_total", (("method", "GET"), route, ("status", "429")))] == 1
    assert got[("coinseason_http_request_duration_seconds_count", (("method", "GET"), route))] == 3
    assert got[("coinseason_http_request_duration_seconds_sum", (("method", "GET"), route))] == pytest.approx(0.205)
    assert got[("coinseason_http_request_duration_seconds_bucket", (("le", "0.005"), ("method", "GET"), route))] == 2


def test_unknown_methods_share_one_label() -> None:
    metrics = Metrics()
    metrics.observe_request(route="/v1/x", method="BREW", status=405, seconds=0.001)
    assert (
        samples(metrics)[
            ("coinseason_http_requests_total", (("method", "OTHER"), ("route", "/v1/x"), ("status", "405")))
        ]
        == 1
    )


def test_data_age_and_ingestion_lag_gauges() -> None:
    metrics = Metrics()
    metrics.set_data_age("coingecko", 3600.0)
    metrics.set_data_age("coingecko", 7200.0)
    metrics.set_ingestion_lag("cmc", 12.5)
    got = samples(metrics)
    assert got[("coinseason_data_age_seconds", (("source", "coingecko"),))] == 7200.0
    assert got[("coinseason_ingestion_lag_seconds", (("source", "cmc"),))] == 12.5


def test_stream_metrics_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    hub = StreamHub(queue_size=1)
    metrics.track_stream(hub)
    sub = hub.subscribe({"season"})
    hub.publish("season", b"a")
    hub.publish("season", b"b")
    got = samples(metrics)
    assert got[("coinseason_stream_subscribers", ())] == 1
    assert got[("coinseason_stream_dropped_messages_total", ())] == 1
    assert got[("coinseason_stream_delivered_messages_total", ())] == 2
    hub.unsubscribe(sub)
    assert samples(metrics)[("coinseason_stream_subscribers", ())] == 0


def test_render_is_the_text_format() -> None:
    body, content_type = Metrics().render()
    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE coinseason_http_request_duration_seconds histogram" in body
    assert b"# TYPE coinseason_data_age_seconds gauge" in body


def test_each_app_has_its_own_registry_never_the_global_one() -> None:
    first, second = Metrics(), Metrics()  # a second app in the same process must not clash
    first.observe_request(route="/v1/a", method="GET", status=200, seconds=0.01)
    assert first.registry is not second.registry and first.registry is not REGISTRY
    assert not any(key[0] == "coinseason_http_requests_total" for key in samples(second))
    assert REGISTRY.get_sample_value("coinseason_http_requests_total", {"route": "/v1/a"}) is None
