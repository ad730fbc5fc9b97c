"""The shipped Grafana dashboard: every expression is PromQL promtool accepts, every
metric is one ``/metrics`` exposes, and every panel shows the Pis by instance."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.share.fleet_files import (
    as_promql,
    dashboard,
    dashboard_exprs,
    problems_with_names,
    promtool,
    template_queries,
)


def test_every_expression_parses(tmp_path: Path) -> None:
    data = dashboard()
    exprs = [as_promql(expr) for _, expr in dashboard_exprs(data)]
    for _, query in template_queries(data):  # label_values(<selector>, label)
        assert query.startswith("label_values(")
        exprs.append(as_promql(query.removeprefix("label_values(").rsplit(",", 1)[0]))
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_a_broken_expression_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    bad = {"record": "x:y", "expr": "sum by (instance) (rate(bussdcc_system_web_pushes_total[1m])"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "bad", "rules": [bad]}]}))
    assert promtool("check", "rules", str(path)).returncode != 0


def test_metric_names_are_the_exported_ones() -> None:
    data = dashboard()
    for where, expr in [*dashboard_exprs(data), *template_queries(data)]:
        assert problems_with_names(expr) == [], where


def test_every_panel_is_by_instance() -> None:
    data = dashboard()
    assert data["uid"] == "bussdcc-system-fleet"
    names = [v["name"] for v in data["templating"]["list"]]
    assert names == ["datasource", "job", "instance"]
    for where, expr in dashboard_exprs(data):
        assert 'instance=~"$instance"' in expr, where
    legends = [
        target["legendFormat"]
        for panel in data["panels"]
        if panel["type"] in ("timeseries", "state-timeline")
        for target in panel["targets"]
    ]
    assert legends and all("{{instance}}" in legend for legend in legends)
    ids = [panel["id"] for panel in data["panels"]]
    assert len(ids) == len(set(ids))
