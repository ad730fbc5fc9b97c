"""Web benchmarks: push latency, push bytes per second, page weight, time to render.

    .venv/bin/python bench/bench_web.py            # everything (needs /usr/bin/chromium)
    .venv/bin/python bench/bench_web.py --no-browser
    .venv/bin/python bench/bench_web.py --events 500 --transport polling

1. Latency from ``runtime.emit`` of a telemetry event to its receipt by real
   python-socketio clients, with 1 and 20 clients connected; p50/p99 over all receipts.
   The clients run in a child process, as browsers do (CLOCK_MONOTONIC is shared by
   processes); events are spaced 20 ms apart so each is measured alone.
2. Bytes per second pushed to one headless Chromium (WebSocket frames as the browser
   received them, pings included) while the runtime emits a realistic telemetry mix
   at about 12 events per second (the reference app pushes ~4 KB/s at that rate);
   then the same with what a Pi adds while a dashboard is open (the process list
   every 5 s, the SD card every 30 s).
3. Page weight: bytes transferred for a cold load of the kiosk and of the dashboard
   (every request, history and Socket.IO included).
4. Time to first complete render (first contentful paint: every value is rendered on
   the server) and time until live (Socket.IO connected, full view applied), median
   and maximum of several cold loads.

Prints figures; asserts nothing (targets: p99 <= 5 ms with 1 client, <= 15 ms with 20).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))

import socketio  # noqa: E402

from bussdcc import Message, ThreadedRuntime  # noqa: E402
from bussdcc_system import messages as m  # noqa: E402
from bussdcc_system.config import WebConfig  # noqa: E402
from bussdcc_system.health import HealthProcess  # noqa: E402
from bussdcc_system.state import StateProcess  # noqa: E402
from bussdcc_system.web import WebInterface  # noqa: E402
from tests.prerequisites import CHROMIUM, chromium_context  # noqa: E402  (the tests' browser)

GiB = 1024**3


def start_runtime(history: str | None = None) -> tuple[ThreadedRuntime, WebInterface]:
    rt = ThreadedRuntime(join_timeout=2.0)
    rt.register_process(StateProcess())
    rt.register_process(HealthProcess())
    web = WebInterface(WebConfig(host="127.0.0.1", port=0), history_dir=history)
    rt.register_interface(web)
    rt.start()
    return rt, web


class Telemetry:
    """A realistic mix of a Pi's messages with values that wander like real ones."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.cpu = 20.0
        self.temp = 52.0
        self.rx = 20_000.0
        self.used = 3.2 * GiB
        self.n = 0

    def walk(self, x: float, step: float, lo: float, hi: float) -> float:
        return min(hi, max(lo, x + self.rng.uniform(-step, step)))

    def next(self) -> Message:
        self.n += 1
        kind = self.n % 6
        if kind == 0:
            self.cpu = self.walk(self.cpu, 8, 1, 99)
            cores = tuple(round(self.walk(self.cpu, 15, 0, 100), 2) for _ in range(4))
            return m.CpuUsageUpdated(
                round(self.cpu, 2),
                round(self.cpu * 0.7, 2),
                0.0,
                round(self.cpu * 0.3, 2),
                round(100 - self.cpu, 2),
                0.1,
                0.0,
                0.2,
                0.0,
                cores,
                4,
            )
        if kind == 1:
            self.used = self.walk(self.used, 20e6, 1 * GiB, 7 * GiB)
            total = int(7.6 * GiB)
            return m.MemoryUsageUpdated(
                total,
                int(total - self.used),
                int(self.used),
                round(100 * self.used / total, 2),
                GiB // 2,
                0,
                0.0,
            )
        if kind == 2:
            self.rx = self.walk(self.rx, 8000, 0, 1e6)
            eth = m.InterfaceUsage(
                "eth0",
                10 * GiB + self.n * 1000,
                GiB + self.n * 300,
                10**6 + self.n,
                9 * 10**5 + self.n,
                0,
                0,
                0,
                0,
                round(self.rx, 1),
                round(self.rx / 4, 1),
            )
            wlan = m.InterfaceUsage("wlan0", 5000, 4000, 10, 9, 0, 0, 0, 0, 0.0, 0.0)
            return m.NetworkUsageUpdated((eth, wlan), round(self.rx, 1), round(self.rx / 4, 1))
        if kind == 3:
            self.temp = self.walk(self.temp, 0.6, 40, 75)
            return m.TemperatureUpdated("cpu_thermal", "cpu-thermal", round(self.temp, 1))
        if kind == 4:
            la = round(self.cpu / 25, 2)
            return m.LoadUpdated(la, la * 0.9, la * 0.8, la / 4, la * 0.9 / 4, la * 0.8 / 4, 4)
        return m.ProcessUsageUpdated(
            4321,
            round(self.rng.uniform(0.3, 2.5), 1),
            40 * 1024**2 + self.rng.randrange(0, 2 << 20),
            14,
        )


# -- 1. latency ----------------------------------------------------------------------------


class Receiver:
    """One python-socketio client; reports ``event-number receipt-time`` lines."""

    def __init__(self, url: str, transport: str, report: Any) -> None:
        self.report = report
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("s", self.on_patch)
        self.sio.connect(url, transports=[transport], wait_timeout=10)
        self.sio.call("hello", timeout=10)

    def on_patch(self, patch: dict[str, Any]) -> bool:
        now = time.monotonic()
        text = patch["c"].get("self.cpu")
        if isinstance(text, str) and text.endswith(" % of one core"):
            self.report(round(float(text.split()[0]) * 10), now)
        return True


def receivers_main(url: str, clients: int, transport: str) -> int:
    """Child process: connect the clients, print receipts (CLOCK_MONOTONIC is shared
    by all processes, so the parent compares them with its own emit times)."""
    lock = threading.Lock()

    def report(i: int, t: float) -> None:
        with lock:
            sys.stdout.write(f"{i} {t!r}\n")
            sys.stdout.flush()

    recv = [Receiver(url, transport, report) for _ in range(clients)]
    report(0, 0.0)  # ready
    sys.stdin.read()  # until the parent closes our stdin
    for r in recv:
        threading.Thread(target=r.sio.disconnect, daemon=True).start()
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def bench_latency(clients: int, events: int, transport: str, procs: int = 1) -> dict[str, float]:
    """Clients in ``procs`` child processes (browsers are other processes, usually on
    other machines): they share no GIL with the daemon."""
    rt, web = start_runtime()
    children: list[subprocess.Popen[str]] = []
    try:
        assert web.url is not None
        per = [clients // procs + (1 if k < clients % procs else 0) for k in range(procs)]
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--receivers",
                    str(n),
                    "--url",
                    web.url,
                    "--transport",
                    transport,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in per
        ]
        got: dict[int, list[float]] = {}
        cond = threading.Condition()

        def read(child: subprocess.Popen[str]) -> None:
            assert child.stdout is not None
            for line in child.stdout:
                i, t = line.split()
                with cond:
                    got.setdefault(int(i), []).append(float(t))
                    cond.notify_all()

        for child in children:
            threading.Thread(target=read, args=(child,), daemon=True).start()
        with cond:
            if not cond.wait_for(lambda: len(got.get(0, ())) == procs, 60):
                raise RuntimeError("the receivers did not connect")
        lat: list[float] = []
        for i in range(1, events + 1):
            sent = time.monotonic()
            rt.emit(m.ProcessUsageUpdated(pid=1, cpu_percent=i / 10, rss=1 << 20, threads=3))
            with cond:
                cond.wait_for(lambda i=i: len(got.get(i, ())) >= clients, 2.0)
                lat.extend((t - sent) * 1000 for t in got.get(i, ()))
            time.sleep(0.02)
        return {
            "p50": statistics.median(lat),
            "p99": pct(lat, 0.99),
            "max": max(lat),
            "n": len(lat),
            "missing": events * clients - len(lat),
        }
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
        rt.stop(timeout=10)


# -- 2-4. the browser -----------------------------------------------------------------------


class PiExtras:
    """What a Pi daemon adds to ``Telemetry`` while a dashboard is open: the process
    list every 5 s (its CPU figures move every time) and the SD card every 30 s."""

    def __init__(self, seed: int = 2) -> None:
        self.rng = random.Random(seed)
        self.written = 3 * GiB

    def top(self) -> Message:
        def proc(pid: int, name: str, cpu: float, rss: int) -> m.TopProcess:
            return m.TopProcess(pid, name, round(self.rng.uniform(0.5, 1.5) * cpu, 1), rss)

        by_cpu = (
            proc(812, "chromium", 20.0, 412 << 20),
            proc(790, "cage", 4.0, 38 << 20),
            proc(604, "python3", 1.2, 41 << 20),
            proc(15, "kworker/u8:2-events_unbound", 0.6, 0),
            proc(1, "systemd", 0.1, 12 << 20),
        )
        return m.TopProcessesUpdated(143, by_cpu, tuple(sorted(by_cpu, key=lambda p: -p.rss)))

    def disk_io(self) -> Message:
        rate = self.rng.uniform(4000, 60000)
        self.written += int(rate * 30)
        return m.DiskIoUpdated(
            "mmcblk0", 2 * GiB, self.written, 4096.0, round(rate, 1), self.written // 4, 0.0
        )


def _load(page: Any, url: str) -> dict[str, float]:
    """One cold load: first contentful paint, DOMContentLoaded, load and live (Socket.IO
    connected, full view applied), in ms from the navigation's start."""
    t0 = time.monotonic()
    page.goto(url, wait_until="load")
    page.wait_for_selector('#conn[data-state="live"]', timeout=10000)
    live_ms = (time.monotonic() - t0) * 1000
    timing: dict[str, float] = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {fcp: fcp ? fcp.startTime : null, dcl: nav.domContentLoadedEventEnd,
                load: nav.loadEventEnd};
    }""")
    return {**timing, "live": live_ms}


def bench_browser(seconds: float, rate: float, loads: int = 5) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "bussdcc_system" / "web"))
    from web_helpers import write_history

    history = tempfile.mkdtemp(prefix="bench-history-")
    write_history(Path(history), time.time() - 3600, 360)  # an hour, as a Pi would have
    rt, web = start_runtime(history)
    gen, extras = Telemetry(), PiExtras()
    for _ in range(12):
        rt.emit(gen.next())
    rt.emit(
        m.IdentityUpdated(
            "pi-bench",
            "Raspberry Pi 4 Model B Rev 1.4",
            "1000abcd",
            "Debian GNU/Linux 12 (bookworm)",
            "6.1.0-rpi7",
            "b",
            (m.Address("eth0", "ipv4", "192.168.1.20"),),
        )
    )
    rt.emit(m.DiskUsageUpdated("/", 29 * GiB, int(7.3 * GiB), int(20.3 * GiB), 26.4))
    rt.emit(m.UptimeUpdated(4 * 86400.0, time.time() - 4 * 86400))
    rt.emit(extras.top())
    rt.emit(extras.disk_io())
    out: dict[str, Any] = {}
    assert web.url is not None
    try:
        with chromium_context() as ctx:
            page = ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            sizes: dict[str, int] = {}
            urls: dict[str, str] = {}
            frames: list[tuple[float, int]] = []
            cdp.on(
                "Network.requestWillBeSent",
                lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]),
            )
            cdp.on(
                "Network.loadingFinished",
                lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
            )
            cdp.on(
                "Network.webSocketFrameReceived",
                lambda e: frames.append(
                    (time.monotonic(), len(e["response"]["payloadData"].encode()))
                ),
            )
            for name, path in (("kiosk", "/kiosk"), ("dashboard", "/")):
                sizes.clear()
                urls.clear()
                timings = [_load(page, web.url + path) for _ in range(loads)]
                page.wait_for_timeout(1500)  # history requests of the charts finish
                weight: dict[str, int] = {}
                for k, v in sizes.items():
                    url = urls.get(k, k).replace(web.url, "")
                    url = url.split("&range")[0].split("?v=")[0].split("?EIO")[0]
                    weight[url] = weight.get(url, 0) + v
                out[name] = {
                    "weight_total": sum(weight.values()) // loads,
                    "weight": {url: size // loads for url, size in weight.items()},
                    **{
                        key: (
                            statistics.median(t[key] for t in timings),
                            max(t[key] for t in timings),
                        )
                        for key in ("fcp", "dcl", "load", "live")
                    },
                }
            # Bytes per second at ~rate events/s: the reference mix alone, then with what a
            # Pi adds while the dashboard is open (process list, SD card).
            for mix in ("reference", "pi"):
                page.wait_for_timeout(500)
                frames.clear()
                start = time.monotonic()
                n = 0
                while time.monotonic() - start < seconds:
                    rt.emit(gen.next())
                    n += 1
                    if mix == "pi" and n % round(5 * rate) == 0:
                        rt.emit(extras.top())
                    if mix == "pi" and n % round(30 * rate) == 0:
                        rt.emit(extras.disk_io())
                    time.sleep(max(0.0, start + n / rate - time.monotonic()))
                elapsed = time.monotonic() - start
                page.wait_for_timeout(300)
                got = [f for f in frames if f[0] >= start]
                out[mix] = {
                    "events_per_s": n / elapsed,
                    "push_bytes_per_s": sum(size for _, size in got) / elapsed,
                    "ws_frames_per_s": len(got) / elapsed,
                }
            out["transport"] = page.evaluate("window.__dash.socket.io.engine.transport.name")
    finally:
        shutil.rmtree(history, ignore_errors=True)
        rt.stop(timeout=10)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=300, help="latency samples per run")
    ap.add_argument("--transport", default="websocket", choices=["websocket", "polling"])
    ap.add_argument("--seconds", type=float, default=20.0, help="bytes/s measuring time")
    ap.add_argument("--rate", type=float, default=12.0, help="events per second")
    ap.add_argument("--loads", type=int, default=5, help="cold page loads timed")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--receivers", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receivers:
        return receivers_main(args.url, args.receivers, args.transport)

    print(f"# bench_web: python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for clients, procs in ((1, 1), (20, 1), (20, 4)):
        r = bench_latency(clients, args.events, args.transport, procs)
        print(
            f"latency emit->client ({args.transport}, {clients:2d} client(s) in {procs} "
            "process(es)): "
            f"p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  max {r['max']:.2f} ms  "
            f"({r['n']} receipts, {r['missing']} missing)"
        )
    if args.no_browser:
        return 0
    if not os.path.exists(CHROMIUM):
        print(f"browser figures skipped: no Chromium at {CHROMIUM}")
        return 0
    b = bench_browser(args.seconds, args.rate, args.loads)
    for mix, what in (("reference", "the reference mix"), ("pi", "with the process list")):
        r = b[mix]
        print(
            f"push to one browser ({b['transport']}, {what}): {r['push_bytes_per_s']:.0f} B/s at "
            f"{r['events_per_s']:.1f} events/s ({r['ws_frames_per_s']:.1f} frames/s)"
        )
    for name in ("kiosk", "dashboard"):
        p = b[name]
        print(f"{name} page weight (cold load, all requests): {p['weight_total']} bytes")
        for url, size in sorted(p["weight"].items(), key=lambda kv: -kv[1]):
            print(f"    {size:7d}  {url}")
        print(
            f"{name}, {args.loads} cold loads, median (max): first contentful paint (complete"
            f" values) {p['fcp'][0]:.0f} ({p['fcp'][1]:.0f}) ms; DOMContentLoaded"
            f" {p['dcl'][0]:.0f} ({p['dcl'][1]:.0f}) ms; load {p['load'][0]:.0f}"
            f" ({p['load'][1]:.0f}) ms; live {p['live'][0]:.0f} ({p['live'][1]:.0f}) ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
