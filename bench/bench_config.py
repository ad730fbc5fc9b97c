"""Hostile configuration files: how long ``check-config`` takes on each, and its peak memory.

    .venv/bin/python bench/bench_config.py [--src DIR] [--case NAME] [--repeat 3]

Each case is written to a temporary file and checked by ``bussdcc-system check-config
FILE`` (its ``main``, in a child process), as an admin would; a reload reads the file
the same way, on the daemon's main thread. The table shows the file's size; the worst,
over ``--repeat`` runs, of the wall time of the whole process, of the check alone
(without the interpreter's start and the imports) and of the check's CPU time (which a
loaded machine does not inflate); the peak resident memory (the child's
``ru_maxrss``); the exit status, the number of lines printed, the longest of them and
the first. ``--src`` picks the code under test (default: this repository's ``src``),
so the same cases can be run against an older checkout. Each child runs under
``--timeout`` seconds and an address-space limit of ``--memory-limit`` MiB, because
unbounded code needs tens of seconds and gigabytes on some of these.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


MIB = 1024 * 1024
JUST_UNDER = 128 * 1024 - 1  # the largest file the bounded loader reads


def nested_merge_keys(levels: int = 8, width: int = 10) -> str:
    """``b: &b {<<: [*a, *a, ...]}`` levels deep, merged into the document itself."""
    lines = ["a0: &a0 {x: 1, y: 2}"]
    for level in range(1, levels + 1):
        sources = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} {{<<: [{sources}]}}")
    lines.append("<<: [" + ", ".join([f"*a{levels}"] * width) + "]")
    return "\n".join(lines) + "\n"


def nested_merge_keys_in_section(levels: int = 8, width: int = 10) -> str:
    """The same, merged into a known section (``web``) rather than the document."""
    text = nested_merge_keys(levels, width).rsplit("\n", 2)[0] + "\n"
    return text + "web: {<<: [" + ", ".join([f"*a{levels}"] * width) + "]}\n"


def nested_aliases_in_lists(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": ``b: &b [*a, *a, ...]``, then used where a list is expected."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"disks: {{mounts: *a{levels}}}")
    lines.append(f"history: {{include: *a{levels}}}")
    return "\n".join(lines) + "\n"


def repeated(size: int, head: str, line: str) -> str:
    """``head``, then whole copies of ``line`` up to ``size`` characters."""
    return head + line * ((size - len(head)) // len(line))


def merge_chain(size: int) -> str:
    """``a1: &a1 {<<: *a0}``, ``a2: &a2 {<<: *a1}``, ...: merges as deep as fit."""
    lines, total, index = ["a0: &a0 {x: 1}\n"], 15, 1
    while True:
        line = f"a{index}: &a{index} {{<<: *a{index - 1}}}\n"
        tail = f"web: {{<<: *a{index}}}\n"
        if total + len(line) + len(tail) > size:
            break
        lines.append(line)
        total += len(line)
        index += 1
    return "".join(lines) + f"web: {{<<: *a{index - 1}}}\n"


def comments(size: int) -> str:
    return repeated(size, "", "# " + "an admin's very long comment " * 2 + "\n")


def numbered_lines(size: int, head: str, line: str) -> str:
    """``head``, then ``line`` numbered 0, 1, ... up to ``size`` characters."""
    lines, total, index = [head], len(head), 0
    while total + len(line.format(index)) <= size:
        lines.append(line.format(index))
        total += len(lines[-1])
        index += 1
    return "".join(lines)


def unknown_keys(size: int) -> str:
    return numbered_lines(size, "", "key{:07d}: value\n")


def unknown_keys_in_section(size: int) -> str:
    return numbered_lines(size, "web:\n", "  prot{:07d}: 80\n")


def duplicate_keys(size: int) -> str:
    return repeated(size, "", "web: {port: 8086}\n")


def long_scalar(size: int) -> str:
    return "web:\n  host: " + "h" * (size - 14) + "\n"


def long_number(size: int) -> str:
    return "web:\n  port: 1." + "1" * (size - 16) + "\n"


def sexagesimal_number(size: int) -> str:
    """``1:1:1:...``: an integer in base 60 to YAML 1.1, quadratic to compute."""
    return "web:\n  port: 1" + ":1" * ((size - 15) // 2) + "\n"


def long_key(size: int) -> str:
    return "web:\n  ? " + "k" * (size - 15) + "\n  : 1\n"


def long_alias_name(size: int) -> str:
    return "web:\n  port: *" + "a" * (size - 14) + "\n"


def deep_flow_nesting(depth: int) -> str:
    return "web: " + "[" * depth + "]" * depth + "\n"


def deep_block_nesting(size: int) -> str:
    lines, total, level = [], 0, 0
    while total + 2 * level + 16 <= size:
        line = " " * level + f"k{level}:\n"
        lines.append(line)
        total += len(line)
        level += 1
    return "".join(lines) + " " * level + "x\n"


CASES: dict[str, Callable[[], str]] = {
    "empty file (start-up cost)": lambda: "",
    "nested merge keys (document)": nested_merge_keys,
    "nested merge keys (web)": nested_merge_keys_in_section,
    "nested aliases in lists": nested_aliases_in_lists,
    "merge chain, 10,000 long": lambda: merge_chain(260 * 1024),
    "merge chain, 128 KiB": lambda: merge_chain(JUST_UNDER),
    "comments, 1 MiB": lambda: comments(MIB - 1),
    "comments, 128 KiB": lambda: comments(JUST_UNDER),
    "unknown keys, 1 MiB": lambda: unknown_keys(MIB - 1),
    "unknown keys, 128 KiB": lambda: unknown_keys(JUST_UNDER),
    "unknown keys in web, 1 MiB": lambda: unknown_keys_in_section(MIB - 1),
    "unknown keys in web, 128 KiB": lambda: unknown_keys_in_section(JUST_UNDER),
    "duplicate keys, 1 MiB": lambda: duplicate_keys(MIB - 1),
    "duplicate keys, 128 KiB": lambda: duplicate_keys(JUST_UNDER),
    "scalar, 900 KB": lambda: long_scalar(900_000),
    "scalar, 128 KiB": lambda: long_scalar(JUST_UNDER),
    "number, 900 KB": lambda: long_number(900_000),
    "number, 128 KiB": lambda: long_number(JUST_UNDER),
    "1:1:1:... number, 1 MiB": lambda: sexagesimal_number(MIB - 1),
    "1:1:1:... number, 128 KiB": lambda: sexagesimal_number(JUST_UNDER),
    "key, 900 KB": lambda: long_key(900_000),
    "key, 128 KiB": lambda: long_key(JUST_UNDER),
    "alias name, 900 KB": lambda: long_alias_name(900_000),
    "alias name, 128 KiB": lambda: long_alias_name(JUST_UNDER),
    "[[[...]]] 10,000 deep": lambda: deep_flow_nesting(10_000),
    "[[[...]]] 65,000 deep": lambda: deep_flow_nesting(65_000),
    "block mappings, 494 KiB": lambda: deep_block_nesting(506_000),
    "block mappings, 128 KiB": lambda: deep_block_nesting(JUST_UNDER),
    "comments, 2 MiB": lambda: comments(2 * MIB),
}


# ``bussdcc-system check-config FILE``, also timing the check itself (without the
# interpreter's start and the imports) into the file named by argv[2]
CHILD = """
import sys, time
import bussdcc_system.config  # imported by the command: start-up, not the check
from bussdcc_system.cli import build_parser, main
build_parser()  # and so are its imports (history's CLI)
start, cpu = time.perf_counter(), time.process_time()
try:
    status = main(["check-config", sys.argv[1]])
finally:
    with open(sys.argv[2], "w") as timing:
        timing.write(f"{time.perf_counter() - start!r} {time.process_time() - cpu!r}")
sys.exit(status)
"""


@dataclass
class Run:
    seconds: float  # the whole process
    check_seconds: float  # load_config and printing, without start-up
    check_cpu_seconds: float  # the same in CPU time: what a busy machine does not inflate
    peak_rss_mib: float
    status: str
    lines: list[str]


def run_check(path: Path, src: Path, timeout: float, memory_limit_mib: int) -> Run:
    """One ``check-config`` in a child: wall time, peak RSS, exit status, what it printed."""
    limit = memory_limit_mib * MIB

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(src)}
    timing = path.with_name("timing")
    timing.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(timing)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=limit_memory,
        )
        while True:
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                os.kill(child.pid, signal.SIGKILL)
                pid, wait_status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - start
        child.returncode = os.waitstatus_to_exitcode(wait_status)  # reaped here, not by Popen
        out.seek(0)
        lines = out.read().decode("utf-8", "replace").splitlines()
    check_seconds, check_cpu_seconds = (
        map(float, timing.read_text().split()) if timing.exists() else (math.nan, math.nan)
    )
    if os.WIFSIGNALED(wait_status):
        name = signal.Signals(os.WTERMSIG(wait_status)).name
        status = "timeout" if seconds > timeout else name
    else:
        status = str(os.WEXITSTATUS(wait_status))
    return Run(seconds, check_seconds, check_cpu_seconds, usage.ru_maxrss / 1024, status, lines)


def size_text(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.2f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} B"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the code under test")
    parser.add_argument("--case", action="append", help="run only these cases (substring)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the worst shown")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--memory-limit", type=int, default=4096, help="MiB per run")
    parser.add_argument("--width", type=int, default=90, help="characters of the message shown")
    args = parser.parse_args()
    cases = {
        name: make
        for name, make in CASES.items()
        if not args.case or any(wanted in name for wanted in args.case)
    }
    header = (
        f"{'case':<30} {'size':>10} {'wall s':>7} {'check s':>8} {'cpu s':>6} {'peak MiB':>9}"
        f" {'exit':>7}"
        f" {'lines':>6} {'longest':>8}  first line"
    )
    print(f"check-config with {args.src}, worst of {args.repeat}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as directory:
        for name, make in cases.items():
            path = Path(directory) / "config.yaml"
            data = make().encode("utf-8")
            path.write_bytes(data)
            runs = [
                run_check(path, args.src, args.timeout, args.memory_limit)
                for _ in range(args.repeat)
            ]
            worst = max(runs, key=lambda run: run.seconds)
            check = max(run.check_seconds for run in runs)
            cpu = max(run.check_cpu_seconds for run in runs)
            peak = max(run.peak_rss_mib for run in runs)
            longest = max((len(line) for line in worst.lines), default=0)
            first = worst.lines[0] if worst.lines else ""
            if len(first) > args.width:
                first = first[: args.width - 1] + "…"
            print(
                f"{name:<30} {size_text(len(data)):>10} {worst.seconds:>7.2f} {check:>8.3f}"
                f" {cpu:>6.3f} {peak:>9.1f} {worst.status:>7} {len(worst.lines):>6} {longest:>8}"
                f"  {first}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
