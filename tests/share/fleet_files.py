"""What the fleet tests share: the shipped rules and dashboard, promtool, and the metric
names and label values they may use (``metric_catalog.METRICS``, as ``/metrics`` has them)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bussdcc_system.metric_catalog import METRICS, Metric
from tests.prerequisites import unavailable

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "share" / "prometheus" / "bussdcc-system.rules.yml"
RULES_TEST = REPO / "share" / "prometheus" / "bussdcc-system.rules.test.yml"
DASHBOARD = REPO / "share" / "grafana" / "bussdcc-system-fleet.json"

EXPOSED: dict[str, Metric] = {metric.exposed_name: metric for metric in METRICS}
OTHER_METRICS = frozenset({"up"})
"""What Prometheus itself adds to every target."""
SCRAPE_LABELS = frozenset({"job", "instance"})

_SELECTOR = re.compile(r"\b(bussdcc_system_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        unavailable("no promtool (apt-get install prometheus: Debian ships it there)")
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dashboard_exprs(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target; templating queries are label_values(...)."""
    for panel in data["panels"]:
        for target in panel.get("targets", ()):
            yield f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"]


def template_queries(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for variable in data["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["name"], variable["query"]["query"]


GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": ".*",
    "$instance": ".*",
}


def as_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables as Prometheus sees them."""
    for name, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr!r}"
    return expr


def selectors(text: str) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """(metric name, [(label, op, value)]) of every bussdcc_system_* selector in text."""
    for match in _SELECTOR.finditer(text):
        yield match.group(1), _MATCHER.findall(match.group(2) or "")


def problems_with_names(text: str) -> list[str]:
    """Metric names not in the catalogue, labels a metric does not have, and label values
    it never takes (for the label that tells its fields apart: ``flag``, ``mode``...)."""
    out = []
    for name, matchers in selectors(text):
        metric = EXPOSED.get(name)
        if metric is None:
            out.append(f"{name}: not a metric of /metrics")
            continue
        for label, op, value in matchers:
            if label in SCRAPE_LABELS:
                continue
            if label not in metric.labels:
                out.append(f"{name}: no label {label!r} (it has {metric.labels})")
            elif label == metric.label and op in ("=", "=~") and "$" not in value:
                known = set(metric.fields.values())
                for alternative in value.split("|") if op == "=~" else [value]:
                    if alternative not in known:
                        out.append(
                            f"{name}: {label}={alternative!r} never occurs ({sorted(known)})"
                        )
    return out
