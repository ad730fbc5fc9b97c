"""Which events make a notice, and what it says."""

from __future__ import annotations

from bussdcc import Runtime
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.notifications.notices import Notice, NoticeWatcher
from tests.bussdcc_system.history.history_helpers import throttling


def watch(runtime: Runtime, **options: bool) -> tuple[NoticeWatcher, list[Notice]]:
    watcher = NoticeWatcher(lambda: "pi-kitchen", **options)
    found: list[Notice] = []
    runtime.events.subscribe(lambda evt: found.extend(watcher.notices(evt)))
    return watcher, found


def test_health_level_changes_only(runtime: Runtime) -> None:
    _, found = watch(runtime)
    runtime.emit(m.health_changed("ok", None, ()))  # the first evaluation at start
    runtime.emit(m.health_changed("critical", "ok", ("CPU temperature 82.0 °C is high",)))
    runtime.emit(m.health_changed("critical", "critical", ("another reason, same level",)))
    runtime.emit(m.health_changed("ok", "critical", ()))
    assert [(n.kind, n.level, n.title, n.text) for n in found] == [
        ("health", "critical", "pi-kitchen: health critical", "CPU temperature 82.0 °C is high"),
        ("health", "ok", "pi-kitchen: healthy again", "was critical"),
    ]
    assert found[0].time.startswith("2026-01-01T00:00:00")


def test_power_episodes_start_and_end(runtime: Runtime, clock: SimClock) -> None:
    _, found = watch(runtime)
    runtime.emit(throttling(0x0))  # clear at start: not news
    runtime.emit(throttling(0x50005))  # under-voltage and throttled now
    clock.advance(180)
    runtime.emit(throttling(0x50001))  # throttling ended
    clock.advance(20)
    runtime.emit(throttling(0x50000))  # under-voltage ended
    assert [(n.kind, n.level, n.title, n.text) for n in found] == [
        (
            "under_voltage",
            "critical",
            "pi-kitchen: under-voltage",
            "Under-voltage now: the power supply is too weak (check the power supply and cable)",
        ),
        ("throttled", "warning", "pi-kitchen: throttling", "CPU throttled"),
        ("throttled", "ok", "pi-kitchen: throttling ended", "Throttling ended after 3 minutes"),
        (
            "under_voltage",
            "ok",
            "pi-kitchen: under-voltage ended",
            "Under-voltage ended after 3 minutes",
        ),
    ]


def test_already_under_voltage_at_start_is_said(runtime: Runtime) -> None:
    _, found = watch(runtime)
    runtime.emit(throttling(0x10001))
    assert [n.text for n in found] == [
        "Under-voltage now: the power supply is too weak (check the power supply and cable)"
        " (already when monitoring started)"
    ]


def test_options_and_detached_devices(runtime: Runtime) -> None:
    watcher, found = watch(runtime, health=False)
    runtime.emit(m.health_changed("warning", "ok", ("x",)))
    assert found == []
    runtime.emit(throttling(0x1))
    watcher.forget("throttling")  # the service does this on device.detached
    runtime.emit(throttling(0x0))  # the episode cannot be seen to end any more
    assert [n.title for n in found] == ["pi-kitchen: under-voltage"]
    _, quiet = watch(runtime, power=False)
    runtime.emit(throttling(0x1))
    assert quiet == []
