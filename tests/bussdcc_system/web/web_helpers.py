"""Helpers for the web tests: a real runtime with the state and health processes and a
real WebInterface on an ephemeral localhost port, and history written by the real sink
(the telemetry a Pi 4 sends is ``telemetry_helpers.pi_telemetry``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

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


def write_history(directory: Path, start: float, samples: int, step: float = 10.0) -> None:
    """Record ``samples`` rounds of CPU, memory and temperature telemetry, ``step`` seconds
    apart from ``start`` (POSIX seconds), through the real HistorySink on a SimClock, with
    an under-voltage episode from sample 100 to sample 130."""
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
                bus.emit(
                    m.throttling_updated(
                        device="throttling",
                        source="vcgencmd",
                        raw=0x10001 if uv else 0x10000 * (i > 0),
                        flags={**flags, "under_voltage": uv, "under_voltage_occurred": i > 0},
                        changed=("under_voltage",),
                    )
                )
            clock.advance(step)
    finally:
        sink.close()
