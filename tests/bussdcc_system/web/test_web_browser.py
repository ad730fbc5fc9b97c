"""Real headless Chromium against a real WebInterface on a real runtime with the real
telemetry services: the dashboard and the kiosk load, show values, update them, draw
history, survive a daemon restart, and fit their screens. Screenshots are saved in
artifacts/screenshots/ and checked to be non-blank.

Skips when Chromium or Playwright is missing, fails instead when CI=true.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import SIZES, BrowserPage, shoot, wait_for, write_history

from bussdcc import Service, ThreadedRuntime
from bussdcc_system import messages as m
from bussdcc_system.config import Config, SamplingConfig, WebConfig
from bussdcc_system.web import WebInterface

pytestmark = pytest.mark.browser


class FakeThermal(Service):
    """This VM has no thermal zone: a sensor that warms by 0.5 °C a tick, 45 to 60 °C."""

    name = "test.thermal"
    interval = 0.5

    def __init__(self) -> None:
        self.n = 0

    def tick(self, ctx: Any) -> None:
        self.n += 1
        ctx.emit(
            m.TemperatureUpdated(
                device="cpu_thermal", zone="cpu-thermal", celsius=45.0 + (self.n % 30) / 2
            )
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """The appliance's components on a ThreadedRuntime, as daemon.py wires them."""

    def __init__(self, port: int, history: Path) -> None:
        from bussdcc_system.components import build_components

        config = Config(
            sampling=SamplingConfig(cpu=0.5, memory=0.5, network=0.5, load=1.0, disk=5.0),
            devices=(),
        )
        self.rt = ThreadedRuntime(join_timeout=2.0)
        build_components(config).register(self.rt)
        self.rt.register_service(FakeThermal())
        self.web = WebInterface(WebConfig(host="127.0.0.1", port=port), history_dir=str(history))
        self.rt.register_interface(self.web)
        self.rt.start()
        flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
        self.rt.emit(
            m.throttling_updated(
                device="throttling",
                source="vcgencmd",
                raw=0x50000,
                flags={**flags, "under_voltage_occurred": True, "throttled_occurred": True},
                changed=(),
            )
        )

    def stop(self) -> None:
        self.rt.stop(timeout=10)


@pytest.fixture(scope="module")
def history() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bussdcc-browser-history-"))
    write_history(directory, time.time() - 86400, 1440, step=60.0)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def daemon(history: Path) -> Iterator[Daemon]:
    d = Daemon(free_port(), history)
    yield d
    d.stop()


Page = BrowserPage


def test_dashboard_shows_values_updates_them_and_draws_history(
    browser: Any, daemon: Daemon
) -> None:
    page = Page(browser, daemon.web.url + "/", 1280, 900)
    try:
        # Complete before any push: the server rendered every value.
        assert "GiB" in page.text("mem.text")
        assert page.text("temp.text").endswith("°C")
        assert page.text("pw.boot") == "since boot: under-voltage, throttling occurred"
        wait_for(page.live, what="the Socket.IO connection")
        first = page.text("temp.text")
        wait_for(lambda: page.text("temp.text") != first, what="a pushed temperature")
        wait_for(lambda: "%" in page.text("cpu.pct"), what="a CPU reading")
        # History: the CPU chart was drawn from /api/history (24 h recorded).
        page.page.click('button[data-range="24h"]')
        wait_for(
            lambda: page.page.get_attribute('button[data-range="24h"]', "aria-pressed") == "true",
            what="the range button",
        )
        wait_for(
            lambda: "under-voltage" in page.page.inner_text("#episodes"),
            what="power episodes from history",
        )
        # The script refreshes the table with the server's words (after a reconnect,
        # among others): empty it, reconnect, and the same cells come back.
        with urllib.request.urlopen(daemon.web.url + "/api/power/episodes?days=7") as resp:
            episodes = json.load(resp)["episodes"]
        rows = [
            "\t".join(e["words"][k] for k in ("what", "start", "end", "lasted")) for e in episodes
        ]
        assert rows and all(row.startswith("under-voltage") for row in rows)
        page.page.evaluate(
            "document.querySelector('#episodes tbody').replaceChildren();"
            "window.__dash.socket.disconnect(); window.__dash.socket.connect();"
        )
        wait_for(
            lambda: page.page.inner_text("#episodes tbody").splitlines() == rows,
            what="the episodes refreshed by app.js",
        )
        page.charts_drawn()
        shoot(browser, page, "dashboard-1280x900.png", full=True)
        assert not page.errors, page.errors
    finally:
        page.close()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_kiosk_fits_the_screen(browser: Any, daemon: Daemon, width: int, height: int) -> None:
    page = Page(browser, daemon.web.url + "/kiosk", width, height)
    try:
        wait_for(page.live, what="the Socket.IO connection")
        first = page.text("temp.text")
        wait_for(lambda: page.text("temp.text") != first, what="a pushed temperature")
        size = page.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
            " innerWidth, innerHeight]"
        )
        assert size[0] <= size[2] and size[1] <= size[3], f"kiosk scrolls: {size}"
        assert (
            page.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(5, 7, 10)"
        )
        page.charts_drawn()
        shoot(browser, page, f"kiosk-{width}x{height}.png")
        assert not page.errors, page.errors
    finally:
        page.close()


def test_kiosk_reconnects_by_itself_when_the_daemon_restarts(browser: Any, history: Path) -> None:
    port = free_port()
    first = Daemon(port, history)
    page = Page(browser, first.web.url + "/kiosk", 800, 480)
    second: Daemon | None = None
    try:
        wait_for(page.live, what="the first connection")
        first.stop()
        wait_for(lambda: page.page.is_visible("#offline"), what="the reconnecting banner")
        # Says since when the values shown are old, in the daemon's 24-hour time.
        last = page.view()["t"] + page.view()["tz"]
        shown = time.strftime("%H:%M:%S", time.gmtime(last))
        assert page.page.inner_text("#offline") == (
            f"reconnecting… the values shown are from {shown}"
        )
        assert page.page.inner_text("#conn") == "reconnecting…"
        shoot(browser, page, "kiosk-800x480-reconnecting.png")
        second = Daemon(port, history)
        wait_for(page.live, timeout=20, what="the reconnection")
        assert not page.page.is_visible("#offline")
        before = page.text("temp.text")
        wait_for(lambda: page.text("temp.text") != before, what="pushes from the new daemon")
        unexpected = [
            e
            for e in page.errors
            if "ERR_CONNECTION_REFUSED" not in e and "Failed to load resource" not in e
        ]
        assert not unexpected, unexpected
    finally:
        page.close()
        if second is not None:
            second.stop()
        else:
            first.stop()
