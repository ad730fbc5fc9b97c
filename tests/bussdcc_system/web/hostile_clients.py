"""A dashboard server in a child process, and the hostile clients thrown at it.

The server runs apart from the test so that its descriptors and threads
(``/proc/PID/fd``, ``/proc/PID/status``) are its own and not the attacker's:
``python -m tests.bussdcc_system.web.hostile_clients`` serves the real app over a Pi's
state through the real ``WebServer`` with the ``ConnectionLimits`` given on the command
line, under the descriptor limit given (systemd's default soft 1024 unless told), and
opens a file and a datagram socket every 10 ms as history and sd_notify do, counting
every failure. On stdin it takes ``push N`` (a telemetry event the dashboards see as
"N.0 % of one core") and ``stats``; it stops at the end of stdin.

Used by ``test_web_hostile_clients.py`` and ``bench/bench_hostile_web.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO = Path(__file__).resolve().parents[3]

PARTIAL_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Never-Ends: "
"""The start of a request whose headers never end."""


def attacker_addresses(count: int, first: int = 2) -> list[str]:
    """``count`` loopback source addresses (127.0.0.2, 127.0.0.3, ...): other clients
    than the test's own 127.0.0.1, all on this machine."""
    return [f"127.0.{(first + i) // 250}.{(first + i) % 250 + 1}" for i in range(count)]


# -- the child: a served app -----------------------------------------------------------------


def _serve(argv: Sequence[str]) -> None:
    import resource

    parser = argparse.ArgumentParser()
    parser.add_argument("--per-client", type=int)
    parser.add_argument("--total", type=int)
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--nofile", default="1024", help="SOFT or SOFT:HARD")
    parser.add_argument("--token")
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft_text, _, hard_text = args.nofile.partition(":")
    hard = int(hard_text) if hard_text else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(int(soft_text), hard), hard))

    from bussdcc_system import messages as m
    from bussdcc_system.web import WebSettings, create_app
    from bussdcc_system.web.connection_limits import ConnectionLimits
    from bussdcc_system.web.core import get_web
    from bussdcc_system.web.server import WebServer
    from tests.bussdcc_system.telemetry_helpers import pi_runtime

    given = {
        "per_client": args.per_client,
        "total": args.total,
        "request_timeout": args.timeout,
    }
    limits = ConnectionLimits(**{k: v for k, v in given.items() if v is not None})
    rt = pi_runtime()
    app = create_app(state=rt.state, settings=WebSettings(token=args.token), emit=rt.emit)
    web = get_web(app)
    server = WebServer("127.0.0.1", 0, app, limits=limits)
    server.start()
    web.bridge.start()

    failures: list[str] = []
    opens = 0
    stop = threading.Event()

    def history_stand_in(directory: str) -> None:
        nonlocal opens
        path = os.path.join(directory, "segment.jsonl")
        while not stop.wait(0.01):
            try:
                with open(path, "a") as f:
                    f.write("{}\n")
                socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close()
                opens += 1
            except OSError as exc:
                failures.append(repr(exc))

    def stats() -> dict[str, Any]:
        admission = server.admission
        return {
            "open_failures": len(failures),
            "first_failures": failures[:3],
            "opens": opens,
            "open_connections": admission.open_connections(),
            "reading_connections": admission.reading_connections(),
            "peak_connections": admission.peak,
            "peak_per_client": admission.peak_per_client,
            "refused": admission.refused,
            "evicted": admission.evicted,
        }

    with tempfile.TemporaryDirectory(prefix="bussdcc-hostile-") as directory:
        writer = threading.Thread(target=history_stand_in, args=(directory,), daemon=True)
        writer.start()
        ready = {
            "port": server.port,
            "max_connections": server.admission.total,
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        }
        print(json.dumps(ready), flush=True)
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "push":
                rt.emit(
                    m.ProcessUsageUpdated(pid=1, cpu_percent=float(value), rss=1 << 20, threads=3)
                )
                web.bridge.notify()
            elif command == "stats":
                print(json.dumps(stats()), flush=True)
        stop.set()
        writer.join(5)
        server.close()
        web.bridge.stop()
        rt.shutdown()


# -- the test's side -----------------------------------------------------------------------


class ServedApp:
    """The child above, started and stopped by the test (a context manager)."""

    def __init__(
        self,
        *,
        per_client: int | None = None,
        total: int | None = None,
        timeout: float | None = None,
        nofile: str = "1024",
        token: str | None = None,
        log: Path | None = None,
    ) -> None:
        argv = [sys.executable, "-m", "tests.bussdcc_system.web.hostile_clients"]
        for flag, value in (
            ("--per-client", per_client),
            ("--total", total),
            ("--timeout", timeout),
            ("--nofile", nofile),
            ("--token", token),
        ):
            if value is not None:
                argv += [flag, str(value)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
        self._log = (log or Path(os.devnull)).open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self._stdin = self.proc.stdin
        self._stdout = self.proc.stdout
        line = self._stdout.readline()
        if not line:
            self.close()
            raise RuntimeError(f"the served app did not start (exit {self.proc.poll()})")
        ready = json.loads(line)
        self.port: int = ready["port"]
        self.max_connections: int = ready["max_connections"]
        self.nofile: int = ready["nofile"]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def fds(self) -> int:
        """Descriptors the server process holds now."""
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def threads(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        raise AssertionError("no Threads: line")  # pragma: no cover

    def push(self, n: int) -> None:
        with self._lock:
            self._stdin.write(f"push {n}\n")
            self._stdin.flush()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._stdin.write("stats\n")
            self._stdin.flush()
            stats: dict[str, Any] = json.loads(self._stdout.readline())
            return stats

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._stdout.close()
        self._log.close()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class HalfSentRequests:
    """Connections that send the start of a request and never its end, from the given
    source addresses in turn; ``reap`` closes those the server has answered or closed."""

    def __init__(self, port: int, sources: Sequence[str]) -> None:
        self.port = port
        self.sources = list(sources)
        self._next = 0
        self._selector = selectors.DefaultSelector()
        self.connects = 0
        self.failed_connects = 0
        self.refused = 0  # answered 503
        self.answered = 0  # answered something else (a 408)
        self.dropped = 0  # closed (or reset) without an answer
        self.refusals: list[bytes] = []

    def open(self, count: int, *, within: float) -> int:
        """Open up to ``count`` (stopping after ``within`` seconds); how many opened."""
        end = time.monotonic() + within
        opened = 0
        for _ in range(count):
            if time.monotonic() > end:
                break
            source = self.sources[self._next % len(self.sources)]
            self._next += 1
            opened += self._open_one(source)
        return opened

    def _open_one(self, source: str) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)  # a SYN dropped by a full accept queue is resent at 1, 3, 7 s
        self.connects += 1
        try:
            sock.bind((source, 0))
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(PARTIAL_REQUEST)
        except OSError:
            self.failed_connects += 1
            sock.close()
            return 0
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, source)
        return 1

    def held(self) -> int:
        """Connections still open: held by the server, or waiting in its accept queue."""
        return len(self._selector.get_map())

    def reap(self) -> int:
        """Close every connection the server has answered or closed; how many."""
        reaped = 0
        for key, _ in self._selector.select(0):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 503"):
                self.refused += 1
                if len(self.refusals) < 3:
                    self.refusals.append(data)
            elif data:
                self.answered += 1
            else:
                self.dropped += 1
            self._selector.unregister(sock)
            sock.close()
            reaped += 1
        return reaped

    def sustain(self, seconds: float, *, max_connects: int, per_round: int = 100) -> None:
        """Keep reopening what the server closes for ``seconds``, at most ``per_round``
        every 20 ms and ``max_connects`` in all."""
        end = time.monotonic() + seconds
        budget = max_connects
        while time.monotonic() < end and budget > 0:
            n = min(self.reap(), per_round, budget)
            budget -= self.open(n, within=1.0)
            time.sleep(0.02)

    def wait_all_closed(self, within: float) -> int:
        """Reap until the server has closed every connection or ``within`` seconds pass;
        how many are still open."""
        end = time.monotonic() + within
        while self.held() and time.monotonic() < end:
            self.reap()
            time.sleep(0.05)
        return self.held()

    def close(self) -> None:
        for key in list(self._selector.get_map().values()):
            self._selector.unregister(key.fileobj)
            key.fileobj.close()  # type: ignore[union-attr]
        self._selector.close()


class _Background:
    """``_run`` in a daemon thread from ``start`` until it returns or ``stop`` (which sets
    ``_stop`` and waits up to ``join_timeout`` seconds)."""

    join_timeout = 5.0

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def _run(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.join_timeout)


class HealthzProbe(_Background):
    """``GET /healthz`` every ``interval`` seconds from 127.0.0.1 in a thread, timing each
    (at most ``max_requests``, until ``stop``)."""

    join_timeout = 15.0

    def __init__(self, port: int, interval: float = 0.05, max_requests: int = 5000) -> None:
        super().__init__("healthz-probe")
        self.port = port
        self.interval = interval
        self.max_requests = max_requests
        self.latencies: list[float] = []
        self.statuses: list[int] = []
        self.failures: list[str] = []

    def _run(self) -> None:
        for _ in range(self.max_requests):
            if self._stop.is_set():
                return
            t0 = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                self.latencies.append(time.perf_counter() - t0)
                self.statuses.append(resp.status)
            except OSError as exc:
                self.failures.append(repr(exc))
            finally:
                conn.close()
            self._stop.wait(self.interval)

    @property
    def worst(self) -> float:
        return max(self.latencies, default=float("nan"))


class ProcessSampler(_Background):
    """The peak descriptors and threads of a process, sampled every 10 ms in a thread."""

    def __init__(self, app: ServedApp, max_samples: int = 20_000) -> None:
        super().__init__("fd-sampler")
        self.app = app
        self.max_samples = max_samples
        self.peak_fds = 0
        self.peak_threads = 0

    def _run(self) -> None:
        for _ in range(self.max_samples):
            try:
                self.peak_fds = max(self.peak_fds, self.app.fds())
                self.peak_threads = max(self.peak_threads, self.app.threads())
            except OSError:  # the process is gone
                return
            if self._stop.wait(0.01):
                return


if __name__ == "__main__":
    _serve(sys.argv[1:])
