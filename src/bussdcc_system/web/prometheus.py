"""``/metrics``: the metric catalogue over the current state, in Prometheus text format.

A custom prometheus-client collector reads the ``StateStore`` at scrape time (nothing
is kept twice, nothing is updated on the dispatch path) and turns every metric of
``bussdcc_system.metric_catalog`` into a family, in a private registry so that several
apps in one process (tests) never collide in the global one. What is exported, under
which name, type, labels and help, is declared there, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bussdcc_system.metric_catalog import METRICS
from bussdcc_system.metric_catalog import Metric as CatalogMetric
from bussdcc_system.web.core import Web

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def family(metric: CatalogMetric, snapshot: dict[str, Any]) -> Metric | None:
    """The family of one catalogue metric; None for an unlabelled one with no value
    (a labelled family is always there, with no samples when nothing is known)."""
    samples = metric.samples(snapshot)
    if not samples and not metric.labels:
        return None
    cls = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
    fam = cls(metric.full_name, metric.help, labels=list(metric.labels))
    for labels, value in samples:
        fam.add_metric(list(labels), value)
    return fam


class StateCollector(Collector):
    """Every scrape: one consistent read of the state, every catalogue metric."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def snapshot(self) -> dict[str, Any]:
        stats = self.web.bridge.stats()
        return {
            "system": self.web.state.get("system"),
            "devices": self.web.state.get("devices"),
            "web": {"clients": stats.clients, "pushes": stats.pushes},
        }

    def collect(self) -> Iterator[Metric]:
        snapshot = self.snapshot()
        for metric in METRICS:
            fam = family(metric, snapshot)
            if fam is not None:
                yield fam


def metrics_registry(web: Web) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(web))
    return registry


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)


__all__ = ["CONTENT_TYPE", "StateCollector", "family", "metrics_registry", "metrics_response"]
