"""The dashboard view: state (as the state process projects it) in human words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bussdcc import Runtime, message
from bussdcc_system import messages as m
from bussdcc_system.formatting import DASH, local_time, size
from bussdcc_system.web.view import Journal, build_view, layout_lists
from tests.bussdcc_system.telemetry_helpers import (
    cpu_usage,
    pi_runtime,
    pi_telemetry,
    top_processes,
)


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
    assert v["temp.zone"] == "no temperature sensor on this host"
    assert v["pw.text"] == "not available on this host"
    assert v["layout"] == [[], []]
    assert v["dev"] == ["no hardware devices attached"]


def test_devices_and_their_failures_are_listed(rt: Runtime) -> None:
    rt.emit(message.DeviceFailed("led", "status_led", "BadPinFactory: no GPIO"))
    rt.emit(m.StatusLedChanged(device="ok-led", pin=17, pattern="slow_blink", level="warning"))
    v = build_view(rt.state)
    assert "led (status_led): failed (BadPinFactory: no GPIO)" in v["dev"]
    assert any("LED slow blink on GPIO17" in line for line in v["dev"])


def test_journal_keeps_notable_events_newest_first_in_sentences(rt: Runtime) -> None:
    journal = Journal(size=3)
    rt.events.subscribe(lambda e: journal.add(e) if journal.wants(e) else None)
    rt.emit(cpu_usage(1.0))  # not notable
    rt.emit(message.ServiceFailure("telemetry.cpu", "boom", True))
    rt.emit(m.health_changed("warning", "ok", ("Disk / is 90 % full",)))
    rt.emit(message.DeviceAttached("throttling", "throttling"))
    rows = build_view(rt.state, journal)["log"]
    when = local_time(rt.clock.time(), "%H:%M:%S")
    assert rows == [
        [when, "info", "The throttling device (throttling) is working"],
        [when, "warning", "Health went ok → warning: Disk / is 90 % full"],
        [
            when,
            "critical",
            "Service telemetry.cpu gave up: boom; the daemon stops (systemd restarts it)",
        ],
    ]


def test_sizes() -> None:
    assert size(0) == "0 B"
    assert size(1023) == "1023 B"
    assert size(3.2 * 1024**3) == "3.2 GiB"


def test_what_is_using_the_pi(rt: Runtime) -> None:
    now = rt.clock.time()
    v = build_view(fed(rt).state, now=now)
    assert v["x.top"] == "looking at the processes… (only while a dashboard is open)"
    assert v["top.cpu"] == [] and v["top.count"] == ""
    rt.emit(top_processes())
    v = build_view(rt.state, now=now)
    assert v["top.count"] == "143 processes" and v["x.top"] == v["x.topcpu"] == ""
    assert v["top.cpu"][0] == ["chromium (812)", "23.4 %"]
    assert v["top.cpu"][-1] == ["kworker/u8:2-events_unbound (15)", "0.6 %"]
    assert v["top.mem"][0] == ["chromium (812)", "412.0 MiB · 5 %"]  # of 7.6 GiB
    # A list nobody refreshed for a minute is old news: nobody was watching.
    assert build_view(rt.state, now=now + 61)["x.top"].startswith("looking at the processes")
    rt.emit(m.TopProcessesUpdated(count=3, by_cpu=(), by_memory=top_processes().by_memory))
    assert build_view(rt.state, now=now)["x.topcpu"] == "measuring CPU use…"


def test_cpu_clock_against_its_maximum_and_capping(rt: Runtime) -> None:
    v = build_view(fed(rt).state)
    assert v["cpu.freq"] == "1.5 GHz of 1.8 GHz" and v["cpu.freq.m"] == 83
    assert v["c.freq"] == 1500 and v["c.freqmax"] == 1800 and v["x.freq"] == ""
    assert v["cpu.freq.note"] == "below its maximum (normal when idle)"
    flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
    rt.emit(cpu_usage(95.0, mhz=1000.0))
    rt.emit(
        m.throttling_updated(
            device="throttling",
            source="vcgencmd",
            raw=0x2,
            flags={**flags, "freq_capped": True},
            changed=("freq_capped",),
        )
    )
    v = build_view(rt.state)
    assert v["cpu.freq"] == "1.0 GHz of 1.8 GHz"
    assert v["cpu.freq.note"] == "held down by the firmware now: ARM frequency capped"
    rt.emit(cpu_usage(5.0))  # a VM: no cpufreq
    v = build_view(rt.state)
    assert v["cpu.freq"] == DASH
    assert v["x.freq"] == "this host does not report its CPU clock (no cpufreq)"


def test_the_sd_card_wear_figures(rt: Runtime) -> None:
    v = build_view(fed(rt).state)
    assert v["sd.dev"] == "mmcblk0"
    assert (v["sd.w"], v["sd.r"]) == ("24.0 KiB/s", "4.0 KiB/s")
    since = local_time(rt.state.get("system.disk_io")["mmcblk0"]["today_since"], "%H:%M")
    assert v["sd.today"] == f"384.0 MiB written today since {since}"
    assert v["sd.boot"] == "1.5 GiB written since boot"
    # 1.5 GiB in 4 days and an hour of uptime: 1536 MiB / 4.04 days.
    assert v["sd.day"] == "about 380.0 MiB a day (average since boot, 4 days ago)"
    assert (v["c.sdw"], v["c.sdr"]) == (24576, 4096)


def test_absent_sensors_are_said_in_words(rt: Runtime) -> None:
    v = build_view(rt.state, now=0.0)
    assert v["x.temp"] == v["temp.zone"] == "no temperature sensor on this host"
    assert v["x.sd"] == "no SD card on this host"
    rt.emit(message.DeviceFailed("thermal_zone", "thermal_zone", "no thermal zone found"))
    rt.emit(message.DeviceFailed("throttling", "throttling", "vcgencmd is not installed"))
    v = build_view(rt.state, now=0.0)
    assert v["x.temp"] == "the temperature sensor is not working"
    assert v["pw.text"] == "the power sensor is not working"
    assert v["dev.failed"] == [
        "The temperature sensor (thermal_zone) is not working: no thermal zone found",
        "The power sensor (throttling) is not working: vcgencmd is not installed",
    ]
    assert v["fault"] == "warning"
    assert v["h.level"] == "ok" and v["h.reasons"] == [
        "the readings are within their limits, but not every sensor is working"
    ]


def test_fault_is_the_worst_of_health_power_and_devices(rt: Runtime) -> None:
    assert build_view(rt.state)["fault"] == "ok"  # health evaluated, nothing known yet
    assert build_view(fed(rt).state)["fault"] == "warning"  # under-voltage since boot
    assert build_view(fed(rt, under_voltage=True).state)["fault"] == "critical"
