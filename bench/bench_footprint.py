"""Footprint of the real daemon: start -> READY=1, CPU and memory, idle and with a client.

    .venv/bin/python bench/bench_footprint.py [--minutes 10] [--client browser|socketio]
    .venv/bin/python bench/bench_footprint.py --ready-only          # just start-up, 7 runs
    .venv/bin/python bench/bench_footprint.py --tracemalloc        # where the heap goes

``python -m bussdcc_system run`` (the code under ``--src``) with the product's defaults,
except the history directory (a temporary one) and the web address (127.0.0.1, a free
port), under a stand-in systemd: an ``AF_UNIX`` datagram socket passed as
``NOTIFY_SOCKET`` (as ``tests/bussdcc_system/daemon_harness.py`` does), with the
``Environment=`` of ``systemd/bussdcc-system.service`` (e.g. ``MALLOC_ARENA_MAX``), as
the unit runs it.

1. start -> READY=1: from ``Popen`` to the ``READY=1`` datagram, several starts (median,
   min); then to the first answer of ``/healthz`` (the port is bound before READY=1, the
   app built right after it); and the time ``import bussdcc_system.daemon`` takes alone.
2. CPU, % of one core, from ``utime + stime`` in ``/proc/PID/stat``: idle (no browser)
   over the first part of the run after a warm-up, then with one dashboard client over
   the rest, and where it goes: CPU and wake-ups (voluntary context switches) by
   thread (``/proc/PID/task/*``, named by ``py-spy dump`` when py-spy is installed).
   The client is headless Chromium on the dashboard (``browser``, as a person would
   have it) or a python-socketio client that says ``hello`` and acknowledges every push
   as the page does (``socketio``).
3. Memory: RSS and PSS from ``/proc/PID/smaps_rollup`` at the end of the idle part and
   after ``--minutes`` with the client; the largest mappings from ``/proc/PID/smaps``.
   ``--tracemalloc`` runs the daemon under ``tracemalloc`` and prints the Python heap by
   file at the end (that slows it: ignore the CPU figures then).

Prints figures; asserts nothing (goals: READY=1 <= 0.6 s, CPU <= 0.2 / 0.3 %, RSS <= 40 MB
with a client after 10 minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLK_TCK = os.sysconf("SC_CLK_TCK")
UNIT = ROOT / "systemd" / "bussdcc-system.service"


def unit_environment(unit: Path = UNIT) -> dict[str, str]:
    """The unit's ``Environment=`` assignments, except those with systemd specifiers."""
    out: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for item in line.split("=", 1)[1].split():
                key, _, value = item.partition("=")
                if "%" not in value:
                    out[key] = value
    return out


TRACEMALLOC_RUNNER = """\
import os, runpy, sys, threading, time, tracemalloc
out, after = sys.argv[1], float(sys.argv[2])
def dump():
    time.sleep(after)
    snap = tracemalloc.take_snapshot()
    stats = snap.statistics("filename")
    total = sum(s.size for s in stats)
    with open(out, "w") as f:
        f.write(f"python heap traced: {total / 2**20:.1f} MiB in {len(stats)} files\\n")
        for s in stats[:25]:
            f.write(f"{s.size / 2**10:10.0f} KiB {s.count:8d} blocks  {s.traceback[0].filename}\\n")
threading.Thread(target=dump, daemon=True).start()
sys.argv = ["bussdcc_system", *sys.argv[3:]]
runpy.run_module("bussdcc_system", run_name="__main__")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """The real daemon under a stand-in systemd, in a temporary directory."""

    def __init__(self, src: Path, python: str, *, tracemalloc_after: float | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
        self.port = free_port()
        config = self.dir / "config.yaml"
        config.write_text(
            f"web:\n  host: 127.0.0.1\n  port: {self.port}\n"
            f"history:\n  directory: {self.dir / 'history'}\n"
        )
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.dir / "notify"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["PYTHONPATH"] = str(src)
        env["NOTIFY_SOCKET"] = str(self.dir / "notify")
        env["WATCHDOG_USEC"] = "10000000"  # as the unit's WatchdogSec=10
        env.update(unit_environment())
        args = ["run", "--config", str(config)]
        self.heap_report = self.dir / "tracemalloc.txt"
        if tracemalloc_after is None:
            cmd = [python, "-m", "bussdcc_system", *args]
        else:
            cmd = [
                python,
                "-X",
                "tracemalloc=1",
                "-c",
                TRACEMALLOC_RUNNER,
                str(self.heap_report),
                str(tracemalloc_after),
                *args,
            ]
        self.out = (self.dir / "daemon.out").open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_cpu = 0.0

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from Popen to READY=1 (``ready_cpu``: CPU seconds the daemon used by
        then, a figure a busy machine disturbs less than the wall time)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            self.notify.settimeout(left)
            try:
                data = self.notify.recv(65536)
            except TimeoutError:
                break
            if b"READY=1" in data.split(b"\n"):
                wall = time.perf_counter() - self.started
                self.ready_cpu = self.cpu_ticks() / CLK_TCK
                threading.Thread(target=self._drain, daemon=True).start()
                return wall
        raise RuntimeError(f"no READY=1 within {timeout} s: {self.log()}")

    def _drain(self) -> None:
        """Read what the daemon keeps sending (WATCHDOG=1, STATUS=), as systemd does: a
        full receive queue would block its main thread in ``sendto``."""
        self.notify.settimeout(None)
        try:
            while self.notify.recv(65536):
                pass
        except OSError:  # closed by stop()
            return

    def log(self) -> str:
        return (self.dir / "daemon.out").read_text(errors="replace")[-2000:]

    def cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)

    def thread_ticks(self) -> dict[int, tuple[int, int]]:
        """utime + stime and voluntary context switches (how often it went to sleep,
        so about how often it woke up) of each thread, by thread id."""
        out = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                status = (task / "status").read_text()
            except OSError:  # the thread ended
                continue
            switches = status.split("voluntary_ctxt_switches:", 1)[1].split()[0]
            out[int(task.name)] = (int(fields[11]) + int(fields[12]), int(switches))
        return out

    def thread_names(self) -> dict[int, str]:
        """Python's names of the threads, from ``py-spy dump`` (empty without py-spy)."""
        spy = Path(sys.executable).with_name("py-spy")
        if not spy.exists():
            return {}
        try:
            out = subprocess.run(
                [str(spy), "dump", "--pid", str(self.proc.pid)],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return {}
        names = {}
        for line in out.splitlines():
            if line.startswith("Thread ") and '"' in line:
                tid = line.split()[1]
                if tid.isdigit():
                    names[int(tid)] = line.split('"')[1]
        return names

    def memory(self) -> dict[str, int]:
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0]) * 1024
        return out

    def mappings(self, top: int = 8) -> list[tuple[str, int]]:
        """The largest resident mappings, by name (anonymous ones as "[anon]")."""
        rss: dict[str, int] = defaultdict(int)
        name = "?"
        for line in Path(f"/proc/{self.proc.pid}/smaps").read_text().splitlines():
            parts = line.split()
            if parts and "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                name = parts[5] if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                rss[name] += int(parts[1]) * 1024
        return sorted(rss.items(), key=lambda kv: -kv[1])[:top]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()
        with contextlib.suppress(OSError):
            self.notify.shutdown(socket.SHUT_RDWR)  # ends the drain thread's recv
        self.notify.close()
        return self.proc.returncode

    def cleanup(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_percent(daemon: Daemon, seconds: float) -> tuple[float, list[tuple[str, float, float]]]:
    """% of one core the daemon used over the next ``seconds``, and by thread with its
    wake-ups per second (largest first; threads started and ended meanwhile count in the
    total only)."""
    t0, c0, th0 = time.monotonic(), daemon.cpu_ticks(), daemon.thread_ticks()
    time.sleep(seconds)
    t1, c1, th1 = time.monotonic(), daemon.cpu_ticks(), daemon.thread_ticks()
    names = daemon.thread_names()
    span = t1 - t0

    def pct(ticks: int) -> float:
        return 100.0 * ticks / CLK_TCK / span

    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tid, (ticks, switches) in th1.items():
        ticks0, switches0 = th0.get(tid, (0, 0))
        row = per[names.get(tid, f"thread {tid}")]
        row[0] += ticks - ticks0
        row[1] += switches - switches0
    threads = sorted(
        ((n, pct(t), w / span) for n, (t, w) in per.items() if t > 0 or w > 0),
        key=lambda row: (-row[1], -row[2]),
    )
    return pct(c1 - c0), threads


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


# -- clients ------------------------------------------------------------------------------

SOCKETIO_CLIENT = """\
import json, sys, time, urllib.request
import socketio
url = sys.argv[1]
urllib.request.urlopen(url + "/", timeout=30).read()
for metric in ("system.cpu.usage.updated:percent", "system.memory.usage.updated:percent"):
    q = "/api/history?range=1h&points=300&metric=" + metric
    urllib.request.urlopen(url + q, timeout=30).read()
urllib.request.urlopen(url + "/api/power/episodes?days=7", timeout=30).read()
sio = socketio.Client(reconnection=True)
@sio.on("s")
def patch(data):
    return None  # the return value is the acknowledgement, as the page's ack()
@sio.event
def connect():
    sio.emit("hello", {"build": ""}, callback=lambda resp: None)
sio.connect(url, transports=["websocket"])
print("connected", flush=True)
sio.wait()
"""


class Client:
    """One dashboard client in a child process (its CPU is not the daemon's)."""

    def __init__(self, kind: str, url: str, python: str) -> None:
        self.kind = kind
        self.proc: subprocess.Popen[str] | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if kind == "socketio":
            self.proc = subprocess.Popen(
                [python, "-c", SOCKETIO_CLIENT, url], stdout=subprocess.PIPE, text=True
            )
            assert self.proc.stdout is not None
            self.proc.stdout.readline()
        else:
            ready = threading.Event()
            errors: list[BaseException] = []
            self._thread = threading.Thread(
                target=self._browser, args=(url, ready, errors), daemon=True
            )
            self._thread.start()
            ready.wait(120)
            if errors:
                raise errors[0]

    def _browser(self, url: str, ready: threading.Event, errors: list[BaseException]) -> None:
        try:
            from tests.prerequisites import chromium_context

            with chromium_context() as context:
                page = context.new_page()
                page.goto(url + "/")
                end = time.monotonic() + 60  # the page's CSP forbids eval: poll
                while page.get_attribute("#conn", "data-state") != "live":
                    if time.monotonic() > end:
                        raise RuntimeError("the dashboard did not go live")
                    time.sleep(0.1)
                ready.set()
                self._done.wait()
                page.close()
        except BaseException as exc:  # reported by the constructor
            errors.append(exc)
            ready.set()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
        self._done.set()
        if self._thread is not None:
            self._thread.join(30)


# -- the figures --------------------------------------------------------------------------


def import_seconds(src: Path, python: str, runs: int = 5) -> float:
    code = (
        "import time; t = time.perf_counter(); import bussdcc_system.daemon; "
        "print(time.perf_counter() - t)"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    times = [
        float(
            subprocess.run(
                [python, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def answered(url: str, timeout: float = 60.0) -> float:
    """Seconds until ``url`` answers 200 (connections wait in the backlog meanwhile)."""
    t0 = time.perf_counter()
    urllib.request.urlopen(url, timeout=timeout).read()
    return time.perf_counter() - t0


def ready_times(src: Path, python: str, runs: int) -> tuple[list[float], list[float], list[float]]:
    """Wall and CPU seconds to READY=1 of ``runs`` starts, and from READY=1 to the
    dashboard's first answer (``/healthz``)."""
    times, cpu, http = [], [], []
    for _ in range(runs):
        d = Daemon(src, python)
        try:
            times.append(d.wait_ready())
            cpu.append(d.ready_cpu)
            http.append(answered(d.url + "/healthz"))
        finally:
            d.stop()
            d.cleanup()
    return times, cpu, http


def footprint(args: argparse.Namespace) -> None:
    src, python = args.src.resolve(), sys.executable
    total = args.minutes * 60
    idle_s = max(30.0, total * 0.3)
    warm = min(30.0, idle_s / 3)
    d = Daemon(src, python, tracemalloc_after=total - 5 if args.tracemalloc else None)
    client: Client | None = None
    try:
        ready = d.wait_ready()
        urllib.request.urlopen(d.url + "/healthz", timeout=30).read()
        time.sleep(warm)
        idle, idle_threads = cpu_percent(d, idle_s - warm)
        mem_idle = d.memory()
        client = Client(args.client, d.url, python)
        time.sleep(warm)
        left = total - (time.perf_counter() - d.started)
        busy, busy_threads = cpu_percent(d, max(10.0, left))
        mem = d.memory()
        maps = d.mappings()
    finally:
        if client is not None:
            client.close()
        code = d.stop()
    env = " ".join(f"{k}={v}" for k, v in unit_environment().items())
    print(f"real daemon ({src}), {args.minutes:g} min, exit {code}; the unit's environment: {env}")
    print(f"  start -> READY=1 (this run)   {ready:.2f} s")
    print(f"  CPU idle                      {idle:.2f} % of one core  ({idle_s - warm:.0f} s)")
    print(f"  CPU with one client ({args.client})  {busy:.2f} % of one core")
    print(
        f"  memory idle                   RSS {mb(mem_idle['Rss'])}, PSS {mb(mem_idle['Pss'])}"
        f" (anonymous {mb(mem_idle.get('Anonymous', 0))})"
    )
    print(
        f"  memory with a client, end     RSS {mb(mem['Rss'])}, PSS {mb(mem['Pss'])}"
        f" (anonymous {mb(mem.get('Anonymous', 0))})"
    )
    for label, threads in (("idle", idle_threads), ("with the client", busy_threads)):
        wakes = sum(row[2] for row in threads)
        print(f"  CPU by thread, {label} (% of one core, wake-ups/s; {wakes:.1f}/s in all):")
        for name, value, per_s in threads[:10]:
            print(f"    {value:6.3f}  {per_s:5.1f}/s  {name}")
    print("  largest mappings (RSS):")
    for name, size in maps:
        print(f"    {size / 2**20:7.1f} MiB  {name}")
    if args.tracemalloc:
        print("  " + d.heap_report.read_text().replace("\n", "\n  ").rstrip())
    d.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="length of the CPU/memory run")
    p.add_argument("--client", choices=("browser", "socketio"), default="browser")
    p.add_argument("--starts", type=int, default=7, help="starts timed for READY=1")
    p.add_argument("--ready-only", action="store_true")
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="the code to run")
    args = p.parse_args(argv)
    src = args.src.resolve()
    imports = import_seconds(src, sys.executable)
    times, cpu, http = ready_times(src, sys.executable, args.starts)
    print(f"start -> READY=1 over {len(times)} starts ({src}; load {os.getloadavg()[0]:.1f})")
    print(
        f"  median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
        f"max {max(times):.2f} s; CPU used by then: median {statistics.median(cpu):.2f} s; "
        f"import bussdcc_system.daemon alone {imports:.2f} s"
    )
    print(
        f"  READY=1 -> the dashboard's first answer (/healthz): median "
        f"{statistics.median(http):.2f} s, max {max(http):.2f} s"
    )
    if not args.ready_only:
        footprint(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
