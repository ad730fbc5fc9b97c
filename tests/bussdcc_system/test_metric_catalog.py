"""The metric catalogue against what really reads it: a /metrics scrape, the dashboard's
view, and the generated table in docs/telemetry.md."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bussdcc import Runtime, message
from bussdcc.testing import SimClock
from bussdcc_system import metric_catalog as mc
from bussdcc_system.web import create_app
from bussdcc_system.web.view import build_view
from tests.bussdcc_system.telemetry_helpers import pi_runtime

DOCS = Path(__file__).resolve().parents[2] / "docs" / "telemetry.md"
NOW = 1_000_000.0


@pytest.fixture
def rt() -> Iterator[Runtime]:
    """A Pi's state: every telemetry message once, and a device that failed."""
    runtime = pi_runtime()
    runtime.emit(message.DeviceFailed("led", "status_led", "no GPIO pin factory"))
    yield runtime
    runtime.shutdown()


def scrape(rt: Runtime) -> dict[str, Any]:
    text = create_app(state=rt.state).test_client().get("/metrics").get_data(as_text=True)
    return {fam.name: fam for fam in text_string_to_metric_families(text)}


def snapshot(rt: Runtime) -> dict[str, Any]:
    return {
        "system": rt.state.get("system"),
        "devices": rt.state.get("devices"),
        "web": {"clients": 0, "pushes": 0},
    }


def test_the_catalogue_is_well_formed() -> None:
    names = [metric.name for metric in mc.METRICS]
    assert len(set(names)) == len(names)
    for metric in mc.METRICS:
        assert metric.type in ("gauge", "counter"), metric.name
        assert metric.unit in mc.UNITS, metric.name
        assert metric.help.endswith("."), metric.name
        assert metric.fields, metric.name
        assert len(set(metric.labels)) == len(metric.labels), metric.name
        assert (metric.label is None) == (set(metric.fields.values()) == {""}), metric.name
        for key, label_value in metric.shown_as:
            assert label_value in metric.fields.values(), (metric.name, key)
            assert "{}" not in key or metric.row_labels, (metric.name, key)


def test_every_metric_is_scraped_with_the_values_of_the_state(rt: Runtime) -> None:
    families = scrape(rt)
    snap = snapshot(rt)
    for metric in mc.METRICS:
        # The text parser names a counter family without its _total suffix.
        fam = families.get(metric.full_name)
        assert fam is not None, f"{metric.full_name} is not in /metrics"
        assert fam.type == metric.type and fam.documentation == metric.help
        expected = {labels: value for labels, value in metric.samples(snap)}
        assert expected, f"{metric.name}: the test's state has no value for it"
        got = {
            tuple(s.labels[label] for label in metric.labels): s.value
            for s in fam.samples
            if s.name == metric.exposed_name
        }
        assert got == expected, metric.name
    assert set(families) == {metric.full_name for metric in mc.METRICS}, "undeclared families"


def test_names_labels_and_values_prometheus_users_depend_on(rt: Runtime) -> None:
    families = scrape(rt)

    def value(name: str, **labels: str) -> float:
        for fam in families.values():
            for s in fam.samples:
                if s.name == "bussdcc_system_" + name and s.labels == labels:
                    return float(s.value)
        raise AssertionError(f"no sample {name}{labels}")

    assert value("cpu_usage_percent", mode="busy") == 12.5
    assert value("cpu_core_usage_percent", core="1") == 6.25
    assert value("memory_usage_percent") == 42.1
    assert value("disk_bytes", mountpoint="/boot/firmware", kind="free") == 450 * 1024**2
    assert value("load_average", period="15m") == 0.7
    assert value("throttling_flag", flag="under_voltage_occurred") == 1
    assert value("throttled_raw") == 0x10000
    assert value("health_level") == 1 and value("health_reasons") == 1
    assert value("network_packets_total", interface="wlan0", direction="tx") == 9
    assert value("process_threads") == 14
    assert value("web_pushes_total") == 0
    assert value("device_online", device="led", kind="status_led") == 0


def test_without_values_labelled_families_stay_and_the_others_go() -> None:
    runtime = Runtime(clock=SimClock(), join_timeout=2.0)
    runtime.boot()
    try:
        families = scrape(runtime)
    finally:
        runtime.shutdown()
    assert families["bussdcc_system_temperature_celsius"].samples == []
    assert "bussdcc_system_memory_usage_percent" not in families
    assert "bussdcc_system_health_level" not in families


def test_the_dashboard_shows_each_metric_as_the_catalogue_says(rt: Runtime) -> None:
    view = build_view(rt.state, now=NOW, started_at=NOW)
    snap = snapshot(rt)
    checked = 0
    for metric in mc.METRICS:
        for key, label_value in metric.shown_as:
            for labels, v in metric.samples(snap):
                if metric.label and labels[-1] != label_value:
                    continue
                row = labels[: len(metric.row_labels)]
                shown = view[key.format(*row)]
                text = " ".join(shown) if isinstance(shown, list) else str(shown)
                assert metric.show(v) in text, (metric.name, key, text)
                checked += 1
    assert checked >= 20


def test_the_docs_table_is_generated_from_the_catalogue() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert mc.render_docs(text) == text, (
        f"docs/telemetry.md's metrics table differs from the catalogue: run {mc.DOCS_COMMAND}"
    )
    for metric in mc.METRICS:
        assert f"`{metric.exposed_name}`" in text


def test_the_docs_command_rewrites_and_checks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# T\n\n{mc.DOCS_BEGIN}\n| stale |\n{mc.DOCS_END}\n\nafter\n")
    assert mc.main([str(doc), "--check"]) == 1
    assert mc.main([str(doc)]) == 0
    assert mc.main([str(doc), "--check"]) == 0
    text = doc.read_text()
    assert "| stale |" not in text and text.endswith(f"{mc.DOCS_END}\n\nafter\n")
    assert "`bussdcc_system_temperature_celsius`" in text
    doc.write_text("no markers\n")
    with pytest.raises(ValueError, match="metric-catalog:begin"):
        mc.main([str(doc)])
