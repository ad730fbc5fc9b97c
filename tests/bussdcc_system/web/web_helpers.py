"""Helpers for the web tests: a real runtime with the state and health processes and a
real WebInterface on an ephemeral localhost port, and history written by the real sink
(the telemetry a Pi 4 sends is ``telemetry_helpers.pi_telemetry``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bussdcc import ThreadedRuntime
from bussdcc_system import messages as m
from bussdcc_system.config import WebConfig
from bussdcc_system.health import HealthProcess
from bussdcc_system.state import StateProcess
from bussdcc_system.web import WebInterface
from tests.bussdcc_system.telemetry_helpers import pi_telemetry


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``cond`` until it is true (a bound on waiting, not a timing assertion)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class WebRig:
    def __init__(self, rt: ThreadedRuntime, web: WebInterface) -> None:
        self.rt = rt
        self.web = web

    @property
    def url(self) -> str:
        assert self.web.url is not None
        return self.web.url

    def feed(self, **kw: object) -> None:
        for msg in pi_telemetry(**kw):  # type: ignore[arg-type]
            self.rt.emit(msg)
        self.rt.wait_idle(5)


def make_rig(tmp_path: Path, **config: object) -> WebRig:
    rt = ThreadedRuntime(join_timeout=2.0)
    rt.register_process(StateProcess())
    rt.register_process(HealthProcess())
    cfg = WebConfig(**{"host": "127.0.0.1", "port": 0, **config})  # type: ignore[arg-type]
    web = WebInterface(cfg, history_dir=str(tmp_path / "history"))
    rt.register_interface(web)
    rt.start()
    return WebRig(rt, web)


def write_history(
    directory: Path, start: float, samples: int, step: float = 10.0, *, sticky: bool = False
) -> None:
    """Record ``samples`` rounds of CPU, memory and temperature telemetry, ``step`` seconds
    apart from ``start`` (POSIX seconds), through the real HistorySink on a SimClock, with
    an under-voltage episode from sample 100 to sample 130. With ``sticky`` the first
    sample also carries the since-boot bits of under-voltage and throttling: episodes
    known only from the firmware's sticky bits, before monitoring started."""
    from datetime import UTC, datetime

    from bussdcc.event import EventBus
    from bussdcc.testing import SimClock
    from bussdcc_system.history.sink import HistorySink

    clock = SimClock(start=datetime.fromtimestamp(start, UTC))
    bus = EventBus(clock)
    sink = HistorySink(directory, clock=clock, boot_id="web-test-boot")
    sink.subscribe(bus)
    sink.start()
    flags = dict.fromkeys(m.THROTTLING_FLAGS, False)
    try:
        for i in range(samples):
            for msg in pi_telemetry(cpu=float(i % 50), celsius=45.0 + i % 10):
                if not isinstance(msg, m.ThrottlingUpdated):
                    bus.emit(msg)
            if i in (0, 100, 130):
                uv = i == 100
                raw = (0x10001 if uv else 0x10000 * (i > 0)) | (0x50000 if sticky else 0)
                bus.emit(
                    m.throttling_updated(
                        device="throttling",
                        source="vcgencmd",
                        raw=raw,
                        flags={
                            **flags,
                            "under_voltage": uv,
                            "under_voltage_occurred": bool(raw & 0x10000),
                            "throttled_occurred": bool(raw & 0x40000),
                        },
                        changed=("under_voltage",),
                    )
                )
            clock.advance(step)
    finally:
        sink.close()


# -- the browser tier -------------------------------------------------------------------

SHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
"""Where browser tests keep their screenshots (CI keeps the directory as an artifact)."""

SIZES = ((800, 480), (1366, 768), (1920, 1080))
"""The screens every page is checked on: the official 7" display, a laptop, a TV."""

CLIPPED_TEXT_JS = """() => {
  // Every text that does not fit: a text node whose box leaves its card (or, on the
  // kiosk, the screen), or an element whose content is wider than its box.
  const kiosk = document.documentElement.classList.contains("kiosk");
  const vw = innerWidth, vh = innerHeight, slack = 0.5, found = [];
  const cards = document.querySelectorAll(".card, .tile, .top, .offline, .chart, .foot");
  const say = (what, node) => found.push(what + ": " +
      (node.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80));
  for (const card of cards) {
    if (!card.checkVisibility()) continue;
    const box = card.getBoundingClientRect();
    if (kiosk && (box.bottom > vh + slack || box.right > vw + slack)) say("off the screen", card);
    const walk = document.createTreeWalker(card, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      if (!node.textContent.trim() || !node.parentElement.checkVisibility()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (!r.width) continue;
        if (r.left < box.left - slack || r.right > box.right + slack ||
            r.top < box.top - slack || r.bottom > box.bottom + slack) {
          say("outside its card", node);
        } else if (kiosk && (r.bottom > vh + slack || r.right > vw + slack)) {
          say("off the screen", node);
        }
      }
    }
    for (const el of card.querySelectorAll("*")) {
      if (el.tagName === "CANVAS" || el.tagName === "METER" || !el.checkVisibility()) continue;
      if (el.clientWidth && el.scrollWidth > el.clientWidth + 1) say("wider than its box", el);
    }
  }
  return found;
}"""
"""What the fault tests measure in the page; an empty list means nothing is clipped."""


class BrowserPage:
    """One Chromium page on the dashboard, collecting console errors."""

    def __init__(self, browser: Any, url: str, width: int, height: int) -> None:
        self.page = browser.new_page()
        self.page.set_viewport_size({"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, wait_until="load")

    def text(self, key: str) -> str:
        return str(self.page.locator(f'[data-k="{key}"]').first.inner_text())

    def view(self) -> dict[str, Any]:
        return dict(self.page.evaluate("window.__dash ? window.__dash.view() : {}"))

    def charts_drawn(self) -> None:
        wait_for(
            lambda: self.page.evaluate("window.__dash && window.__dash.chartsLoaded()"),
            what="the history charts",
        )

    def live(self) -> bool:
        return bool(self.page.get_attribute("#conn", "data-state") == "live")

    def clipped(self) -> list[str]:
        return list(self.page.evaluate(CLIPPED_TEXT_JS))

    def close(self) -> None:
        self.page.close()


def shoot(
    browser: Any, page: BrowserPage, name: str, *, full: bool = False, check: bool = True
) -> None:
    """Save a screenshot under artifacts/screenshots/ and (with ``check``) make sure it is
    not blank."""
    from tests.prerequisites import assert_not_blank

    SHOTS.mkdir(parents=True, exist_ok=True)
    png = page.page.screenshot(path=str(SHOTS / name), full_page=full)
    if not check:
        return
    assert_not_blank(browser, png, name)
