"""Faults first, in real headless Chromium: every state a Pi can be in, on the kiosk and
the dashboard, at 800x480, 1366x768 and 1920x1080. No text may be clipped in any of
them (measured in the page: a text outside its card or the screen, or content wider
than its box); a screenshot of each is kept in artifacts/screenshots/.

The states: each health level (unknown, ok, warning, critical), every combination of the
four throttling "now" flags (16), failed devices, and a lost connection. Values are
sent as the real telemetry messages, through the real state and health processes.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import SIZES, BrowserPage, shoot, wait_for, write_history

from bussdcc import ThreadedRuntime, message
from bussdcc_system import formatting
from bussdcc_system import messages as m
from bussdcc_system.config import WebConfig
from bussdcc_system.health import HealthProcess
from bussdcc_system.state import StateProcess
from bussdcc_system.web import WebInterface
from tests.bussdcc_system.telemetry_helpers import cpu_usage, pi_telemetry, top_processes

pytestmark = pytest.mark.browser

THROTTLING_ERROR = (
    "vcgencmd cannot open /dev/vcio: the user running bussdcc-system must be in group 'video'"
    " (and a systemd unit with DevicePolicy= needs DeviceAllow=/dev/vcio rw)"
)
THERMAL_ERROR = "no thermal zone (no temperature sensor) found under /sys/class/thermal"
SETTLED = ("h.level", "h.reasons", "pw.raw", "pw.text", "dev.failed", "fault", "temp.text")
"""View keys a page must agree on with the server before it is measured."""
FLAGS = ("under_voltage", "freq_capped", "throttled", "soft_temp_limit")


class Pi:
    """A runtime with the state and health processes and the web interface, fed what a
    Raspberry Pi 4 says (no telemetry services: every value is the test's)."""

    def __init__(self, history: Path, *, sensors: bool = True) -> None:
        self.rt = ThreadedRuntime(join_timeout=2.0)
        self.health = HealthProcess()
        self.rt.register_process(StateProcess())
        self.rt.register_process(self.health)
        self.web = WebInterface(WebConfig(host="127.0.0.1", port=0), history_dir=str(history))
        self.rt.register_interface(self.web)
        self.rt.start()
        for msg in pi_telemetry():
            if isinstance(msg, m.ThrottlingUpdated):
                continue  # no since-boot bits yet: health can be ok
            if not sensors and isinstance(msg, m.TemperatureUpdated):
                continue
            if isinstance(msg, m.IdentityUpdated):
                msg = m.IdentityUpdated(
                    "pi-kitchen-workshop-01",
                    "Raspberry Pi Compute Module 4 Rev 1.1",
                    msg.serial,
                    msg.os_release,
                    msg.kernel,
                    msg.boot_id,
                    msg.addresses,
                )
            self.rt.emit(msg)
        if sensors:
            self.rt.emit(message.DeviceAttached("throttling", "throttling"))
            self.rt.emit(message.DeviceAttached("cpu_thermal", "thermal_zone"))
            self.throttling(0)
        else:
            self.rt.emit(cpu_usage(12.5, per_core=(12.5, 6.25, 3.0, 1.0)))  # no cpufreq
            self.rt.emit(
                message.DeviceFailed("throttling", "throttling", "no throttling information")
            )
        self.rt.emit(top_processes())
        self.rt.wait_idle(5)

    @property
    def url(self) -> str:
        assert self.web.url is not None
        return self.web.url

    def throttling(self, raw: int) -> None:
        flags = {name: bool(raw >> bit & 1) for name, bit in zip(FLAGS, range(4), strict=True)}
        flags |= {f"{name}_occurred": bool(raw >> (bit + 16) & 1) for bit, name in enumerate(FLAGS)}
        self.rt.emit(
            m.throttling_updated(
                device="throttling", source="vcgencmd", raw=raw, flags=flags, changed=()
            )
        )

    def temperature(self, celsius: float) -> None:
        self.rt.emit(
            m.TemperatureUpdated(device="cpu_thermal", zone="cpu-thermal", celsius=celsius)
        )

    def server_view(self) -> dict[str, Any]:
        self.rt.wait_idle(5)
        assert self.web.web is not None
        return self.web.web.view()

    def stop(self) -> None:
        self.rt.stop(timeout=10)


def _unknown(pi: Pi) -> None:
    pi.rt.state.set("system.health", {})  # as before health is first evaluated
    pi.rt.emit(m.ProcessUsageUpdated(pid=1, cpu_percent=0.5, rss=40 << 20, threads=9))


def _ok(pi: Pi) -> None:
    pi.health.set_thresholds()  # evaluates again: every reading within its limits


def _flags(bits: int) -> Callable[[Pi], None]:
    def apply(pi: Pi) -> None:
        pi.temperature(51.2)
        pi.throttling(0xF0000 | bits)  # everything happened since boot, `bits` now

    return apply


def _failed(pi: Pi) -> None:
    pi.throttling(0xF000F)
    pi.rt.emit(message.DeviceFailed("cpu_thermal", "thermal_zone", THERMAL_ERROR))
    pi.rt.emit(message.DeviceFailed("throttling", "throttling", THROTTLING_ERROR))


STATES: list[tuple[str, Callable[[Pi], None]]] = [
    ("health-unknown", _unknown),
    ("health-ok", _ok),
    ("health-warning", lambda pi: pi.temperature(75.0)),
    ("health-critical", lambda pi: pi.temperature(85.0)),
    *(
        (
            "flags-" + ("+".join(f for i, f in enumerate(FLAGS) if bits >> i & 1) or "none"),
            _flags(bits),
        )
        for bits in range(16)
    ),
    ("device-failed", _failed),
]
"""In order; the lost connection comes last, on top of the failed devices."""


@pytest.fixture(scope="module")
def history() -> Iterator[Path]:
    """A week of history with an observed under-voltage and two known only from the
    since-boot bits, so the dashboard's 7-day timeline and table have all kinds."""
    directory = Path(tempfile.mkdtemp(prefix="bussdcc-faults-history-"))
    write_history(directory, time.time() - 6.5 * 86400, 312, step=1800.0, sticky=True)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _settle(pi: Pi, pages: list[BrowserPage]) -> None:
    want = {k: pi.server_view().get(k) for k in SETTLED}
    for page in pages:
        wait_for(
            lambda page=page: {k: page.view().get(k) for k in SETTLED} == want,  # type: ignore[misc]
            what=f"the page to show {want}",
        )


@pytest.mark.parametrize("kind", ["kiosk", "dashboard"])
def test_no_text_is_clipped_in_any_state(browser: Any, history: Path, kind: str) -> None:
    pi = Pi(history)
    path = "/kiosk" if kind == "kiosk" else "/"
    pages = [BrowserPage(browser, pi.url + path, w, h) for w, h in SIZES]
    clipped: list[str] = []
    try:
        for page in pages:
            wait_for(page.live, what="the Socket.IO connection")
            page.charts_drawn()

        def measure(state: str, first: bool) -> None:
            for page, (w, h) in zip(pages, SIZES, strict=True):
                page.page.bring_to_front()  # a background tab paints late (and slowly)
                name = f"{kind}-{w}x{h}-{state}.png"
                clipped.extend(f"{name}: {what}" for what in page.clipped())
                shoot(browser, page, name, full=kind == "dashboard", check=first)

        for i, (state, apply) in enumerate(STATES):
            apply(pi)
            _settle(pi, pages)
            measure(state, first=i == 0)
        for page in pages:
            page.page.evaluate("window.__dash.socket.disconnect()")
            wait_for(lambda page=page: page.page.is_visible("#offline"), what="the banner")  # type: ignore[misc]
        measure("connection-lost", first=False)
        for page in pages:
            assert not page.errors, page.errors
    finally:
        for page in pages:
            page.close()
        pi.stop()
    assert not clipped, "text is clipped:\n" + "\n".join(clipped)


def test_the_clipping_check_finds_clipped_text(browser: Any, history: Path) -> None:
    """The measurement above is not vacuous: text forced out of its card is reported."""
    pi = Pi(history)
    kiosk = BrowserPage(browser, pi.url + "/kiosk", 800, 480)
    desk = BrowserPage(browser, pi.url + "/", 800, 480)
    try:
        for page in (kiosk, desk):
            wait_for(page.live, what="the Socket.IO connection")
            assert page.clipped() == []
        # (Through the CSSOM: the page's CSP refuses inline style sheets.)
        kiosk.page.evaluate(
            "document.querySelectorAll('.tile .big').forEach(e => {"
            " e.style.fontSize = '30vw'; e.style.whiteSpace = 'nowrap'; })"
        )
        assert any("outside its card: 12.5 %" in x for x in kiosk.clipped()), kiosk.clipped()
        desk.page.evaluate(
            "const k = document.querySelector('[data-k=\"id.kernel\"]');"
            " k.style.overflowWrap = 'normal'; k.parentElement.style.overflowWrap = 'normal';"
            " k.textContent = 'x'.repeat(300);"
        )
        assert any("x" * 80 in x for x in desk.clipped()), desk.clipped()
    finally:
        kiosk.close()
        desk.close()
        pi.stop()


def test_a_host_without_sensors_says_so_in_words(browser: Any, history: Path) -> None:
    pi = Pi(history, sensors=False)
    kiosk = BrowserPage(browser, pi.url + "/kiosk", 800, 480)
    desk = BrowserPage(browser, pi.url + "/", 1366, 768)
    try:
        for page in (kiosk, desk):
            wait_for(page.live, what="the Socket.IO connection")
            page.charts_drawn()
        figure = kiosk.page.locator('figure.chart[data-live="c.temp"]')
        assert figure.locator(".none").inner_text() == "no temperature sensor on this host"
        assert not figure.locator("canvas").is_visible()
        assert kiosk.text("temp.zone") == "no temperature sensor on this host"
        assert kiosk.text("pw.text") == "the power sensor is not working"
        clock = desk.page.locator('figure.chart[data-live="c.freq"]')
        assert clock.locator(".none").inner_text() == (
            "this host does not report its CPU clock (no cpufreq)"
        )
        assert "waiting for data" not in desk.page.inner_text("body")
        shoot(browser, kiosk, "kiosk-800x480-no-sensors.png")
        shoot(browser, desk, "dashboard-1366x768-no-sensors.png", full=True)
        assert kiosk.clipped() == [] and desk.clipped() == []
    finally:
        kiosk.close()
        desk.close()
        pi.stop()


def test_charts_are_described_and_times_and_sizes_read_one_way(
    browser: Any, history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every chart has a text alternative; the page writes sizes as formatting.py does,
    and times in the daemon's 24-hour local time whatever the browser's time zone."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # the daemon's zone: UTC+05:30 (the browser's is not)
    time.tzset()
    pi = Pi(history)
    page = BrowserPage(browser, pi.url + "/", 1366, 768)
    try:
        wait_for(page.live, what="the Socket.IO connection")
        page.charts_drawn()
        labels = page.page.eval_on_selector_all(
            "figure.chart canvas", "cs => cs.map(c => c.getAttribute('aria-label'))"
        )
        assert len(labels) == 8
        for label in labels:
            assert re.match(
                r"^.+ over the last hour: (.*now .+, lowest .+, highest .+|no readings recorded)$",
                label,
            ), label
        cpu = next(x for x in labels if x.startswith("CPU busy"))
        assert "now 12.5 %" in cpu, cpu
        net = next(x for x in labels if x.startswith("Network in and out"))
        assert "in now 2.0 KiB/s" in net and "out now 512 B/s" in net, net
        for n in (0, 1023, 1024, 1536, 3.2 * 1024**3, 1048575):
            assert page.page.evaluate(f"window.__dash.fmt.size({n})") == formatting.size(n)
        for hz in (6e8, 1.5e9, 2.4e9):
            assert page.page.evaluate(f"window.__dash.fmt.frequency({hz})") == formatting.frequency(
                hz
            )
        t = time.time()
        assert page.page.evaluate(f"window.__dash.fmt.time({t})") == formatting.local_time(
            t, formatting.CLOCK
        )
        assert page.page.evaluate(f"window.__dash.fmt.day({t})") == formatting.local_time(
            t, "%a %H:%M"
        )
        for row in page.page.locator("ul.log time").all_inner_texts():
            assert re.fullmatch(r"\d\d:\d\d:\d\d", row), row
        assert not page.errors, page.errors
    finally:
        page.close()
        pi.stop()
        monkeypatch.undo()
        time.tzset()
