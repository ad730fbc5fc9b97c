"""Health levels, exact reason texts, change-only messages and live thresholds."""

from __future__ import annotations

import pytest

from bussdcc import Runtime, Severity, message
from bussdcc.testing import MessageLog, SimClock
from bussdcc_system import messages as m
from bussdcc_system.config import HealthConfig
from bussdcc_system.health import HealthProcess

POWER = "(check the power supply and cable)"


@pytest.fixture
def health() -> HealthProcess:
    return HealthProcess()


@pytest.fixture
def bus(runtime: Runtime, message_log: MessageLog, health: HealthProcess) -> MessageLog:
    """The plugin's runtime, booted with ``health`` on it, and the log of its bus."""
    runtime.register_process(health)
    runtime.boot()
    return message_log


def changes(bus: MessageLog) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(x.level, x.previous, x.reasons) for x in bus.of_type(m.HealthChanged)]


def temp(celsius: float, zone: str = "cpu-thermal", device: str = "thermal_zone") -> m.Message:
    return m.TemperatureUpdated(device, zone, celsius)


def throttling(
    raw: int | None = None, device: str = "throttling", **flags: bool
) -> m.ThrottlingUpdated:
    values: dict[str, bool | None] = dict.fromkeys(m.THROTTLING_FLAGS, False)
    values.update(flags)
    return m.throttling_updated(device=device, source="vcgencmd", raw=raw, flags=values, changed=())


def test_initial_ok_once(runtime: Runtime, bus: MessageLog) -> None:
    assert changes(bus) == [("ok", None, ())]
    state = runtime.state.get("system.health")
    assert state == {
        "level": "ok",
        "previous": None,
        "reasons": [],
        "since": "2026-01-01T00:00:00+00:00",
    }
    runtime.emit(temp(45.0))
    runtime.emit(m.MemoryUsageUpdated(100, 50, 50, 50.0, 0, 0, None))
    assert len(bus.of_type(m.HealthChanged)) == 1


def test_temperature_levels_and_texts(runtime: Runtime, bus: MessageLog) -> None:
    runtime.emit(temp(70.0))  # not above the limit
    runtime.emit(temp(75.04))
    runtime.emit(temp(82.0))
    runtime.emit(temp(82.5))  # same kind of reason: state only
    runtime.emit(temp(60.0))
    assert changes(bus)[1:] == [
        ("warning", "ok", ("CPU temperature 75.0 °C is above the warning limit 70 °C",)),
        ("critical", "warning", ("CPU temperature 82.0 °C is above the critical limit 80 °C",)),
        ("ok", "critical", ()),
    ]
    severities = [e.severity for e in bus.named("system.health.changed")]
    assert severities == [Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.INFO]


def test_state_follows_the_live_reason_text(
    runtime: Runtime, bus: MessageLog, clock: SimClock
) -> None:
    runtime.emit(temp(82.0))
    clock.advance(5)
    runtime.emit(temp(82.5))
    state = runtime.state.get("system.health")
    assert state["level"] == "critical" and state["previous"] == "ok"
    assert state["reasons"] == ["CPU temperature 82.5 °C is above the critical limit 80 °C"]
    assert state["since"] == "2026-01-01T00:00:00+00:00"  # level unchanged since then


def test_non_cpu_zone_is_named(runtime: Runtime, bus: MessageLog) -> None:
    runtime.emit(temp(71.0, zone="acpitz", device="board"))
    assert changes(bus)[-1][2] == (
        "Temperature of acpitz 71.0 °C is above the warning limit 70 °C",
    )


def test_under_voltage_now_then_recently_then_ok(
    runtime: Runtime, bus: MessageLog, clock: SimClock
) -> None:
    runtime.emit(
        throttling(
            0x50005,
            under_voltage=True,
            throttled=True,
            under_voltage_occurred=True,
            throttled_occurred=True,
        )
    )
    clock.advance(10)
    runtime.emit(throttling(0x50000, under_voltage_occurred=True, throttled_occurred=True))
    clock.advance(3599)
    runtime.emit(temp(40.0))  # any event: still within the hour after it cleared
    clock.advance(1)
    runtime.emit(temp(40.0))  # an hour after it cleared
    assert changes(bus)[1:] == [
        ("critical", "ok", (f"Under-voltage detected now {POWER}", "CPU throttled now")),
        ("warning", "critical", (f"Under-voltage occurred in the last 1 hour {POWER}",)),
        ("ok", "warning", ()),
    ]


def test_since_boot_bit_warns_for_the_recent_window(
    health: HealthProcess, runtime: Runtime, bus: MessageLog, clock: SimClock
) -> None:
    health.set_thresholds(undervoltage_recent=600)
    runtime.emit(throttling(0x10000, under_voltage_occurred=True))
    clock.advance(599)
    runtime.emit(temp(40.0))
    clock.advance(1)
    runtime.emit(temp(40.0))
    assert changes(bus)[1:] == [
        ("warning", "ok", (f"Under-voltage occurred since boot {POWER}",)),
        ("ok", "warning", ()),
    ]


def test_hwmon_under_voltage_uses_the_window(
    runtime: Runtime, bus: MessageLog, clock: SimClock
) -> None:
    flags: dict[str, bool | None] = dict.fromkeys(m.THROTTLING_FLAGS)
    flags["under_voltage"] = True
    runtime.emit(
        m.throttling_updated(
            device="t", source="hwmon", raw=None, flags=flags, changed=("under_voltage",)
        )
    )
    flags["under_voltage"] = False
    runtime.emit(
        m.throttling_updated(
            device="t", source="hwmon", raw=None, flags=flags, changed=("under_voltage",)
        )
    )
    assert [c[0] for c in changes(bus)] == ["ok", "critical", "warning"]
    clock.advance(3600)
    runtime.emit(temp(40.0))
    assert [c[0] for c in changes(bus)] == ["ok", "critical", "warning", "ok"]


@pytest.mark.parametrize(
    ("flag", "text"),
    [
        ("freq_capped", "CPU frequency capped now"),
        ("throttled", "CPU throttled now"),
        ("soft_temp_limit", "Soft temperature limit active now"),
    ],
)
def test_throttling_now_is_a_warning(
    flag: str, text: str, runtime: Runtime, bus: MessageLog
) -> None:
    runtime.emit(throttling(**{flag: True}))
    runtime.emit(throttling())
    assert changes(bus)[1:] == [("warning", "ok", (text,)), ("ok", "warning", ())]


def test_occurred_bits_other_than_under_voltage_are_not_problems(
    runtime: Runtime, bus: MessageLog
) -> None:
    runtime.emit(
        throttling(
            0xE0000,
            freq_capped_occurred=True,
            throttled_occurred=True,
            soft_temp_limit_occurred=True,
        )
    )
    assert changes(bus) == [("ok", None, ())]


def test_disk_and_memory(runtime: Runtime, bus: MessageLog) -> None:
    runtime.emit(m.DiskUsageUpdated("/", 100, 86, 14, 86.0))
    runtime.emit(m.DiskUsageUpdated("/data", 100, 96, 4, 96.0))
    runtime.emit(m.MemoryUsageUpdated(100, 2, 98, 98.0, 0, 0, None))
    assert changes(bus)[-1] == (
        "critical",
        "critical",
        (
            "Disk /data is 96.0% full, above the critical limit 95%",
            "Memory is 98.0% used, above the critical limit 97%",
            "Disk / is 86.0% full, above the warning limit 85%",
        ),
    )
    assert [c[0] for c in changes(bus)] == ["ok", "warning", "critical", "critical"]


def test_worst_first_across_kinds(runtime: Runtime, bus: MessageLog) -> None:
    runtime.emit(m.MemoryUsageUpdated(100, 9, 91, 91.0, 0, 0, None))
    runtime.emit(throttling(0x1, under_voltage=True))
    assert changes(bus)[-1] == (
        "critical",
        "warning",
        (
            f"Under-voltage detected now {POWER}",
            "Memory is 91.0% used, above the warning limit 90%",
        ),
    )


def test_set_thresholds_applies_at_once(
    health: HealthProcess, runtime: Runtime, bus: MessageLog
) -> None:
    runtime.emit(temp(75.0))
    health.set_thresholds(temperature_warning=76.0)
    assert health.thresholds.temperature_warning == 76.0
    health.set_thresholds(HealthConfig(temperature_warning=60.0, temperature_critical=74.0))
    assert changes(bus)[1:] == [
        ("warning", "ok", ("CPU temperature 75.0 °C is above the warning limit 70 °C",)),
        ("ok", "warning", ()),
        ("critical", "ok", ("CPU temperature 75.0 °C is above the critical limit 74 °C",)),
    ]


def test_a_failed_or_detached_device_stops_counting(runtime: Runtime, bus: MessageLog) -> None:
    runtime.emit(temp(85.0))
    runtime.emit(message.DeviceDetached("thermal_zone", "thermal_zone"))
    runtime.emit(throttling(0x4, throttled=True))
    runtime.emit(message.DeviceFailed("throttling", "throttling", "gone"))
    assert [c[0] for c in changes(bus)] == ["ok", "critical", "ok", "warning", "ok"]


def test_retain_mounts_forgets_unwatched_disks(
    health: HealthProcess, runtime: Runtime, bus: MessageLog
) -> None:
    runtime.emit(m.DiskUsageUpdated("/data", 100, 96, 4, 96.0))
    health.retain_mounts(["/"])
    assert [c[0] for c in changes(bus)] == ["ok", "critical", "ok"]


def test_restart_emits_the_initial_message_again(
    health: HealthProcess, runtime: Runtime, bus: MessageLog
) -> None:
    runtime.emit(temp(90.0))
    runtime.shutdown()
    runtime.boot()
    assert [c[:2] for c in changes(bus)] == [("ok", None), ("critical", "ok"), ("critical", None)]
