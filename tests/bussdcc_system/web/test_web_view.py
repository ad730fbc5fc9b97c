"""The dashboard view: state (as the state process projects it) in human words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bussdcc import Runtime, message
from bussdcc_system import messages as m
from bussdcc_system.formatting import DASH, size
from bussdcc_system.web.view import Journal, build_view, layout_lists, power_words
from tests.bussdcc_system.telemetry_helpers import cpu_usage, pi_runtime, pi_telemetry


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = pi_runtime(fed=False)
    yield runtime
    runtime.shutdown()


def fed(rt: Runtime, **kw: object) -> Runtime:
    for msg in pi_telemetry(**kw):  # type: ignore[arg-type]
        rt.emit(msg)
    return rt


def test_values_read_like_a_person_wrote_them(rt: Runtime) -> None:
    v = build_view(fed(rt).state, now=1_000_000.0, started_at=1_000_000.0 - 3 * 3600)
    assert v["mem.text"] == "3.2 GiB of 7.6 GiB"
    assert v["mem.pct"] == "42 %"
    assert v["swap.text"] == "0 B of 512.0 MiB"
    assert v["cpu.pct"] == "12.5 %"
    assert v["cpu.cores"] == [12, 6, 3, 1]
    assert v["cpu.count"] == "4 cores"
    assert v["load.text"] == "0.52 · 0.61 · 0.70"
    assert v["temp.text"] == "51.2 °C"
    assert v["id.up"] == "up 4 days"
    assert v["id.host"] == "pi-kitchen"
    assert v["id.addr"] == ["192.168.1.20 (eth0)"]
    assert v["d./.text"] == "7.3 GiB of 29.0 GiB"
    assert v["d./boot/firmware.pct"] == "12 %"
    assert v["n.eth0.rx"] == "2.0 KiB/s"
    assert v["net.tx"] == "512 B/s"
    assert v["self.cpu"] == "0.8 % of one core"
    assert v["self.rss"] == "38.0 MiB resident"
    assert v["self.up"] == "running for 3 hours"
    assert layout_lists(v["layout"]) == (["/", "/boot/firmware"], ["eth0", "wlan0"])


def test_health_and_power_are_decoded_in_words(rt: Runtime) -> None:
    v = build_view(fed(rt, under_voltage=True, celsius=82.0).state)
    assert v["h.level"] == "critical"
    assert any("temperature" in r.lower() for r in v["h.reasons"])
    assert v["pw.level"] == "critical"
    assert v["pw.now"] == ["under-voltage now: the power supply is too weak"]
    assert v["pw.boot"] == ["since boot: under-voltage occurred"]
    assert v["pw.raw"] == "throttled=0x10001 via vcgencmd"


def test_an_empty_state_still_renders_every_section(rt: Runtime) -> None:
    v = build_view(rt.state, now=0.0)
    assert v["mem.text"] == DASH
    assert v["temp.zone"] == "no sensor"
    assert v["pw.text"] == "not available on this host"
    assert v["layout"] == [[], []]
    assert v["dev"] == ["no hardware devices attached"]


def test_devices_and_their_failures_are_listed(rt: Runtime) -> None:
    rt.emit(message.DeviceFailed("led", "status_led", "BadPinFactory: no GPIO"))
    rt.emit(m.StatusLedChanged(device="ok-led", pin=17, pattern="slow_blink", level="warning"))
    v = build_view(rt.state)
    assert "led (status_led): failed (BadPinFactory: no GPIO)" in v["dev"]
    assert any("LED slow blink on GPIO17" in line for line in v["dev"])


def test_journal_keeps_notable_events_newest_first(rt: Runtime) -> None:
    journal = Journal(size=2)
    rt.events.subscribe(lambda e: journal.add(e) if journal.wants(e) else None)
    rt.emit(cpu_usage(1.0))  # not notable
    rt.emit(message.ServiceFailure("telemetry.cpu", "boom", True))
    rt.emit(m.health_changed("warning", "ok", ("Disk / is 90 % full",)))
    lines = build_view(rt.state, journal)["log"]
    assert len(lines) == 2
    assert "health is warning: Disk / is 90 % full" in lines[0]
    assert "critical · failure telemetry.cpu: boom" in lines[1]


def test_sizes_and_episodes() -> None:
    assert size(0) == "0 B"
    assert size(1023) == "1023 B"
    assert size(3.2 * 1024**3) == "3.2 GiB"
    words = power_words(
        [
            {"kind": "under_voltage", "start": 1000.0, "end": 1180.0},
            {"kind": "throttled", "start": 5000.0, "end": None},
        ],
        now=5000.0 + 7200,
    )
    assert words[0].endswith("under-voltage for 3 minutes")
    assert words[1].endswith("throttling, still going on (2 hours so far)")
