"""kill -9 at random moments of a real process writing through the sink; power cuts.

Each run prints ``ack N`` once N events have been handed to ``write()``. After SIGKILL,
every acknowledged event (everything before the last flush window) must be on disk,
intact, in order, without gaps or duplicates; only the tail of a segment not yet
finalised may be torn (a gzip member or a line cut short), and readers never raise. The
next run finalises what the killed one left (and may be killed while doing so).
Rotation every 250 ms means kills also land during rotation and indexing.

A power cut loses what was written but not synced: simulated by cutting each segment
back to the size it had at its last sync and zero-filling a random tail after it (as
ext4 can leave a file whose size was committed before its data). A WARNING emitted a
second before the kill must survive that: urgent events are synced within a second.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from bussdcc.testing import SimClock
from bussdcc_system.history.query import query_series
from bussdcc_system.history.reader import list_segments, read_records
from bussdcc_system.history.segment_files import index_path, read_members
from bussdcc_system.history.sink import HistorySink
from tests.bussdcc_system.history.history_helpers import SINK_CHILD

ITERATIONS = 20

pytestmark = pytest.mark.slow


def _run_and_kill(directory: Path, run: int, delay: float) -> int:
    proc = subprocess.Popen(
        [sys.executable, str(SINK_CHILD), "crash", str(directory), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = [0]

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ack "):
                acked[0] = max(acked[0], int(line.split()[1]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # wait until it writes (imports take a while), then kill at a random moment
    deadline = time.monotonic() + 30
    while acked[0] == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert acked[0] > 0, proc.stderr.read() if proc.stderr else "child wrote nothing"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(10)
    assert proc.returncode == -signal.SIGKILL
    return acked[0]


def _segments(directory: Path) -> list[Path]:
    """Segment files, plain or gzip: not the ``.jsonl.gz.tmp`` a kill during compression
    leaves behind (readers ignore it, the next start removes it)."""
    return [p for p in directory.glob("*/*.jsonl*") if p.name.endswith((".jsonl", ".jsonl.gz"))]


def _check_files(directory: Path) -> None:
    """Whole gzip members of whole lines; after them a torn member only in a segment not
    finalised yet (no sidecar); in a plain file only the last line may be torn."""
    for path in _segments(directory):
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            members = read_members(raw)
            if index_path(path).exists():
                assert members.end == len(raw) and members.complete, f"{path} is torn"
            assert members.data.endswith(b"\n") or not members.data
            lines = members.data.split(b"\n")[:-1]
        else:
            lines = raw.split(b"\n")[:-1]  # after the last newline: b"" or a torn line
        for line in lines:
            json.loads(line)


def _check_runs(directory: Path, acked: dict[int, int]) -> None:
    ticks: dict[int, list[int]] = defaultdict(list)
    for rec in read_records(directory, names=["test.tick"]):
        ticks[rec.data["run"]].append(rec.data["i"])
    for run, n in acked.items():
        got = ticks[run]
        assert got == list(range(1, len(got) + 1)), f"run {run}: gap, duplicate or disorder"
        assert len(got) >= n, f"run {run}: {n} acknowledged, {len(got)} on disk"


def test_kill_9_never_loses_flushed_lines(tmp_path: Path) -> None:
    rnd = random.Random(5)
    acked: dict[int, int] = {}
    for run in range(1, ITERATIONS + 1):
        acked[run] = _run_and_kill(tmp_path, run, rnd.uniform(0.0, 0.6))
        _check_files(tmp_path)
        _check_runs(tmp_path, acked)
        list_segments(tmp_path)
        query_series(tmp_path, "test.tick:i", 0, time.time() + 60, 50)
    # a clean start finalises everything the last kill left behind
    sink = HistorySink(
        tmp_path, clock=SimClock(), boot_id="after", retention_days=None, max_size_mb=None
    )
    sink.start()
    sink.close()
    segs = list_segments(tmp_path)
    assert all(s.compressed and s.indexed for s in segs)
    assert not list(tmp_path.glob("*/*.tmp"))  # temporary leftovers are removed at start
    numbers = [s.number or 0 for s in segs]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    _check_files(tmp_path)
    _check_runs(tmp_path, acked)


def _run_warn_and_kill(directory: Path, run: int, rnd: random.Random) -> list[int]:
    """Run the ``warn`` child, kill it at a random moment; then cut the power: every
    segment it wrote goes back to its size at its last sync (nothing if never synced),
    with a zero-filled tail after it.

    Returns the warnings emitted at least a second before the kill."""
    proc = subprocess.Popen(
        [sys.executable, str(SINK_CHILD), "warn", str(directory), str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    warned: list[tuple[int, float]] = []
    synced: dict[str, int] = {}
    before = {str(p) for p in _segments(directory)}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, *rest = line.split()
            if word == "warned":
                warned.append((int(rest[0]), time.monotonic()))
            elif word == "synced":
                synced[rest[1]] = int(rest[0])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while len(warned) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    assert len(warned) >= 2, proc.stderr.read() if proc.stderr else "child warned nothing"
    time.sleep(rnd.uniform(1.0, 1.6))
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(10)
    cut = {str(p): 0 for p in _segments(directory) if str(p) not in before}  # never synced
    cut.update(synced)
    for path, size in cut.items():  # the power cut
        with open(path, "r+b") as f:
            f.truncate(size)
            f.seek(size)
            f.write(b"\0" * rnd.randrange(0, 8192))
            os.fsync(f.fileno())
    return [n for n, t in warned if t <= killed_at - 1.0]


def test_warning_a_second_before_kill_9_survives_a_power_cut(tmp_path: Path) -> None:
    rnd = random.Random(9)
    for run in range(1, 6):
        must = _run_warn_and_kill(tmp_path, run, rnd)
        assert must, "no warning was emitted a second before the kill"
        records = list(read_records(tmp_path, names=["test.warn", "test.tick"]))
        got = [r.data["n"] for r in records if r.name == "test.warn" and r.data["run"] == run]
        assert got == list(range(1, len(got) + 1)), f"run {run}: gap, duplicate or disorder"
        assert set(must) <= set(got), f"run {run}: warnings {sorted(set(must) - set(got))} lost"
        ticks = [r.data["i"] for r in records if r.name == "test.tick" and r.data["run"] == run]
        assert ticks == list(range(1, len(ticks) + 1)), f"run {run}: ticks out of order"
        _check_files(tmp_path)
    # the next start cuts the zero-filled tails off and finalises everything
    sink = HistorySink(
        tmp_path, clock=SimClock(), boot_id="after", retention_days=None, max_size_mb=None
    )
    sink.start()
    sink.close()
    assert all(s.indexed for s in list_segments(tmp_path))
    for path in _segments(tmp_path):
        gzip.decompress(path.read_bytes())  # zcat reads every file cleanly
