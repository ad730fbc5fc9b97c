"""Kernel throughput, against the upstream kernel (bussdcc 0.42.0 from PyPI) on the same work.

Run: python bench/bench_kernel.py [--quick] [--no-upstream]

Both kernels run the same worker script, each in its own interpreter (ours from this
tree's src/, upstream from a throwaway virtualenv this script creates in a temp dir and
fills with ``pip install bussdcc==0.42.0``), so neither warms the other's caches:

* dispatch: a booted Runtime with 5 processes that count what they receive; messages
  emitted through ``rt.ctx.emit`` from one thread, then from 4 threads at once;
* StateStore: ``set`` and ``get`` on a dotted path.

Each figure is the best of a few repetitions. The whole run takes well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

UPSTREAM = "bussdcc==0.42.0"
ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0

WORKER = r"""
import json, sys, threading, time
from dataclasses import dataclass
from typing import ClassVar

import bussdcc
from bussdcc import Message, Process, Runtime

KERNEL = sys.argv[1]
N = int(sys.argv[2])
REPEAT = int(sys.argv[3])
PROCESSES = 5
THREADS = 4


@dataclass(slots=True, frozen=True)
class Ping(Message):
    name: ClassVar[str] = "bench.ping"
    n: int = 0


class Counter(Process):
    def __init__(self, name):
        self.name = name
        self.count = 0

    def handle_event(self, ctx, evt):
        if isinstance(evt.payload, Ping):
            self.count += 1


def booted_runtime():
    rt = Runtime()
    counters = [Counter(f"counter-{i}") for i in range(PROCESSES)]
    for c in counters:
        if KERNEL == "upstream":
            rt.processes.register(c)
        else:
            rt.register_process(c)
    rt.boot()
    return rt, counters


def one_thread():
    rt, counters = booted_runtime()
    emit = rt.ctx.emit
    msgs = [Ping(n=i) for i in range(N)]
    t0 = time.perf_counter()
    for m in msgs:
        emit(m)
    elapsed = time.perf_counter() - t0
    rt.shutdown()
    assert all(c.count == N for c in counters), [c.count for c in counters]
    return N / elapsed


def four_threads():
    rt, counters = booted_runtime()
    emit = rt.ctx.emit
    per = N // THREADS
    barrier = threading.Barrier(THREADS + 1)

    def work():
        msgs = [Ping(n=i) for i in range(per)]
        barrier.wait()
        for m in msgs:
            emit(m)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    rt.shutdown()
    counts = [c.count for c in counters]
    # upstream has no total order and no locking around handlers: counts may be short
    return per * THREADS / elapsed, counts == [per * THREADS] * PROCESSES


def state_ops():
    rt = Runtime()
    st = rt.state
    ops = N * 2
    t0 = time.perf_counter()
    for i in range(ops):
        st.set("system.cpu.temperature", i)
    t_set = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(ops):
        st.get("system.cpu.temperature")
    t_get = time.perf_counter() - t0
    return ops / t_set, ops / t_get


result = {"kernel": KERNEL, "version": getattr(bussdcc, "__version__", "?"),
          "python": sys.version.split()[0]}
result["one_thread"] = max(one_thread() for _ in range(REPEAT))
four = [four_threads() for _ in range(REPEAT)]
result["four_threads"] = max(r for r, _ in four)
result["four_threads_complete"] = all(ok for _, ok in four)
sets, gets = zip(*(state_ops() for _ in range(REPEAT)))
result["state_set"] = max(sets)
result["state_get"] = max(gets)
print(json.dumps(result))
"""


def run_worker(python: str, kernel: str, n: int, repeat: int, env: dict[str, str]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix="_bench_worker.py", delete=False) as f:
        f.write(WORKER)
        script = f.name
    try:
        out = subprocess.run(
            [python, script, kernel, str(n), str(repeat)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tempfile.gettempdir(),
        )
    finally:
        os.unlink(script)
    if out.returncode != 0:
        raise RuntimeError(f"{kernel} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def upstream_python(tmp: Path) -> str:
    """A throwaway virtualenv with the upstream kernel from PyPI."""
    env_dir = tmp / "upstream-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", UPSTREAM],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return python


def best(runs: list[dict]) -> dict:
    out = dict(runs[0])
    for key in ("one_thread", "four_threads", "state_set", "state_get"):
        out[key] = max(r[key] for r in runs)
    out["four_threads_complete"] = all(r["four_threads_complete"] for r in runs)
    return out


def table(ours: dict, up: dict | None) -> str:
    rows = [
        ("dispatch, 5 processes, 1 emitting thread", "one_thread", "msg/s"),
        ("dispatch, 5 processes, 4 emitting threads", "four_threads", "msg/s"),
        ("StateStore.set", "state_set", "ops/s"),
        ("StateStore.get", "state_get", "ops/s"),
    ]
    head = f"{'workload':<44}{'ours':>12}{'us/op':>8}"
    if up:
        head += f"{'upstream':>12}{'us/op':>8}{'ratio':>8}"
    lines = [head, "-" * len(head)]
    for label, key, unit in rows:
        line = f"{label:<44}{ours[key]:>12,.0f}{1e6 / ours[key]:>8.2f}"
        if up:
            line += f"{up[key]:>12,.0f}{1e6 / up[key]:>8.2f}{ours[key] / up[key]:>7.2f}x"
        lines.append(line + f"  ({unit})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument("--no-upstream", action="store_true", help="skip the upstream kernel")
    args = parser.parse_args()
    n, repeat = (5_000, 1) if args.quick else (40_000, 5)

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    rounds = 1 if args.quick else 2
    ours_runs: list[dict] = []
    up_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bussdcc-bench-") as tmp:
        python = None
        if not args.no_upstream:
            try:
                python = upstream_python(Path(tmp))
            except (subprocess.SubprocessError, OSError) as exc:
                detail = getattr(exc, "stderr", "") or exc
                print(f"upstream {UPSTREAM} unavailable: {detail}", file=sys.stderr)
        # alternate the two kernels so that load from elsewhere hits both alike
        for _ in range(rounds):
            ours_runs.append(run_worker(sys.executable, "ours", n, repeat, env))
            if python:
                up_runs.append(run_worker(python, "upstream", n, repeat, clean))
    ours = best(ours_runs)
    up = best(up_runs) if up_runs else None

    print(
        f"bussdcc kernel benchmark: {n:,} messages per run, best of {repeat * rounds}, "
        f"Python {ours['python']}, {os.cpu_count()} CPUs"
    )
    print(
        f"ours: bussdcc {ours['version']} (this tree)"
        + (f"; upstream: bussdcc {up['version']} (PyPI)" if up else "")
    )
    print()
    print(table(ours, up))
    print()
    print(
        f"4 emitting threads, every message reached every process: "
        f"ours {'yes' if ours['four_threads_complete'] else 'NO'}"
        + (f", upstream {'yes' if up['four_threads_complete'] else 'NO'}" if up else "")
    )
    if up:
        ratio = ours["one_thread"] / up["one_thread"]
        verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
        print(
            f"target >= {TARGET_RATIO:g}x upstream msg/s with 5 processes: {ratio:.2f}x ({verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
