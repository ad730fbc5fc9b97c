"""ConsoleSink: structured JSON lines, telemetry only at debug."""

from __future__ import annotations

import io
import json

from bussdcc import Runtime, message
from bussdcc.testing import SimClock
from bussdcc_system.console import ConsoleSink
from tests.bussdcc_system.telemetry_helpers import cpu_usage


def run_with(level: str) -> list[dict[str, object]]:
    out = io.StringIO()
    rt = Runtime(clock=SimClock())
    sink = ConsoleSink(level, out)
    rt.events.subscribe(sink.handle, name="console")
    with rt:
        rt.emit(cpu_usage(12.5))
        rt.emit(message.ServiceError("cpu", "boom", "tick"))
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_info_level_prints_lifecycle_and_errors_not_telemetry():
    lines = run_with("info")
    names = [line["name"] for line in lines]
    assert names[0] == "runtime.booting"
    assert "service.error" in names
    assert "system.cpu.usage.updated" not in names
    error = next(line for line in lines if line["name"] == "service.error")
    assert error["severity"] == "error"
    assert error["data"]["error"] == "boom"
    assert error["time"] == "2026-01-01T00:00:00+00:00"


def test_debug_level_prints_telemetry():
    lines = run_with("debug")
    cpu_line = next(line for line in lines if line["name"] == "system.cpu.usage.updated")
    assert cpu_line["data"]["percent"] == 12.5


def test_error_level_prints_only_errors():
    assert [line["name"] for line in run_with("error")] == ["service.error"]
