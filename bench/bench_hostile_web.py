"""Hostile-client benchmark: how the dashboard answers while LAN clients try to pin it.

    .venv/bin/python bench/bench_hostile_web.py                 # both scenarios, 25 s each
    .venv/bin/python bench/bench_hostile_web.py --seconds 60 --timeout 10

The server is the real app and ``WebServer`` in a child process
(``tests/bussdcc_system/web/hostile_clients.py``) with the default connection limits
(32 per client, 128 in total, 10 s request deadline unless ``--timeout``) under systemd's
default soft descriptor limit of 1024. While the attack runs, ``/healthz`` is asked
every 50 ms from 127.0.0.1, and a long-polling and a WebSocket Socket.IO client get a
push every second.

1. One client (127.0.0.2) keeps 1,100 half-sent requests open, reopening every one the
   server refuses or drops.
2. Forty clients (127.0.0.2-41) keep 32 each (1,280): the total limit is reached, so a
   new connection, ``/healthz`` included, is refused with 503 until a slot frees.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import resource
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))
sys.path.insert(2, str(ROOT / "tests" / "bussdcc_system" / "web"))

from hostile_clients import (  # noqa: E402
    HalfSentRequests,
    HealthzProbe,
    ProcessSampler,
    ServedApp,
    attacker_addresses,
)
from test_web_socketio import Client, close_all  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def attack_in_child(
    port: int, sources: list[str], connections: int, seconds: float, report: Any
) -> None:
    """The attacker, in its own process so that it never holds the probe's GIL."""
    attack = HalfSentRequests(port, sources)
    started = time.monotonic()
    attack.open(connections, within=120)
    opened_in = time.monotonic() - started
    held_peak = attack.held()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        attack.sustain(min(1.0, end - time.monotonic()), max_connects=200_000, per_round=200)
        held_peak = max(held_peak, attack.held())
    report.put(
        {
            "opened_in": opened_in,
            "held_peak": held_peak,
            "connects": attack.connects,
            "refused": attack.refused,
            "dropped": attack.dropped,
            "failed": attack.failed_connects,
        }
    )
    attack.close()


def scenario(title: str, sources: list[str], connections: int, args: argparse.Namespace) -> None:
    print(f"\n== {title}: {connections} half-sent requests from {len(sources)} address(es)")
    with ServedApp(timeout=args.timeout) as app:
        base_fds, base_threads = app.fds(), app.threads()
        clients = {"polling": Client(app.url, transports=["polling"])}
        if importlib.util.find_spec("simple_websocket") is not None:
            clients["websocket"] = Client(app.url, transports=["websocket"])
        probe = HealthzProbe(app.port, interval=0.05, max_requests=100_000).start()
        sampler = ProcessSampler(app, max_samples=1_000_000).start()
        pushes = 0
        stop = threading.Event()

        def push_every_second() -> None:
            nonlocal pushes
            while not stop.wait(1.0):
                pushes += 1
                app.push(pushes)

        pusher = threading.Thread(target=push_every_second, daemon=True)
        spawn = multiprocessing.get_context("spawn")
        report = spawn.Queue()
        attacker = spawn.Process(
            target=attack_in_child, args=(app.port, sources, connections, args.seconds, report)
        )
        try:
            attacker.start()
            pusher.start()
            attack = report.get(timeout=args.seconds + 180)
            attacker.join(30)
            stop.set()
            pusher.join(5)
            time.sleep(1.0)  # the last push reaches the clients
            server = app.stats()
        finally:
            stop.set()
            probe.stop()
            sampler.stop()
            if attacker.is_alive():
                attacker.kill()
            seen = {name: len(c.patches) for name, c in clients.items()}
            connected = {name: c.sio.connected for name, c in clients.items()}
            close_all(list(clients.values()))
    lat = sorted(probe.latencies)
    ok = probe.statuses.count(200)
    print(
        f"attack: {connections} opened in {attack['opened_in']:.1f} s, "
        f"{attack['connects']} connects in all; kept open by the attacker at peak: "
        f"{attack['held_peak']} (accepted or queued); refused 503: {attack['refused']}, "
        f"dropped (deadline, eviction) or reset: {attack['dropped']}, "
        f"connect failures: {attack['failed']}"
    )
    print(
        f"server: held {server['peak_connections']} connections at peak "
        f"({server['peak_per_client']} from one client), limit {app.max_connections}; "
        f"descriptors {base_fds} -> peak {sampler.peak_fds} of {app.nofile}; "
        f"threads {base_threads} -> peak {sampler.peak_threads}; "
        f"history stand-in open failures: {server['open_failures']} of {server['opens']}"
    )
    if lat:
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(
            f"/healthz: {len(lat)} answers ({ok} x 200, {len(lat) - ok} x 503), "
            f"{len(probe.failures)} failures; p50 {ms(statistics.median(lat))}, "
            f"p99 {ms(p99)}, worst {ms(lat[-1])}"
        )
    else:
        print(f"/healthz: no answer, {len(probe.failures)} failures")
    for name in clients:
        print(
            f"socket.io {name}: {seen[name]} of {pushes} pushes received, "
            f"{'still connected' if connected[name] else 'DISCONNECTED'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=25.0, help="attack length")
    parser.add_argument("--timeout", type=float, default=None, help="request deadline")
    parser.add_argument("--only", choices=("one", "many"))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    if args.only in (None, "one"):
        scenario("one client", attacker_addresses(1), 1100, args)
    if args.only in (None, "many"):
        scenario("forty clients", attacker_addresses(40), 1280, args)


if __name__ == "__main__":
    main()
