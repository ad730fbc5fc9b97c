"""The shipped alert rules: valid, unit-tested on synthetic series by promtool, and
written with the metric names and labels ``/metrics`` exposes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.share.fleet_files import RULES, RULES_TEST, problems_with_names, promtool


def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests pin the thresholds: a rule that alerts later fails them."""
    changed = RULES.read_text().replace("> 80", "> 90")
    (tmp_path / RULES.name).write_text(changed)
    (tmp_path / RULES_TEST.name).write_text(RULES_TEST.read_text())
    result = promtool("test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "BussdccTemperatureCritical" in result.stdout + result.stderr


def test_the_rules_cover_a_fleet() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {rule["alert"]: rule for group in groups for rule in group["rules"]}
    assert {
        "BussdccUnderVoltageNow",
        "BussdccUnderVoltageRecently",
        "BussdccThrottling",
        "BussdccTemperatureHigh",
        "BussdccTemperatureCritical",
        "BussdccDiskAlmostFull",
        "BussdccDiskFull",
        "BussdccStoppedReporting",
    } <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name
        assert "{{ $labels.instance }}" in rule["annotations"]["summary"], name
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text()))
    assert tested == set(alerts)  # every rule has a unit test


def test_rules_and_their_tests_use_the_exported_names() -> None:
    assert problems_with_names(RULES.read_text()) == []
    assert problems_with_names(RULES_TEST.read_text()) == []
    assert problems_with_names('bussdcc_system_cpu_percent{flag="x"}') == [
        "bussdcc_system_cpu_percent: not a metric of /metrics"
    ]
    assert problems_with_names('bussdcc_system_throttling_flag{flag=~"throttled|hot"}') == [
        "bussdcc_system_throttling_flag: flag='hot' never occurs ("
        "['freq_capped', 'freq_capped_occurred', 'soft_temp_limit', 'soft_temp_limit_occurred',"
        " 'throttled', 'throttled_occurred', 'under_voltage', 'under_voltage_occurred'])"
    ]
