"""kill -9 at random moments of a real process writing through the sink.

Each run prints ``ack N`` once N events have been handed to ``write()``. After SIGKILL,
every acknowledged event (everything before the last flush window) must be on disk,
intact, in order, without gaps or duplicates; only the last line of a file may be torn,
and readers never raise. The next run finalises what the killed one left (and may be
killed while doing so). Rotation every 250 ms and gzip mean kills also land during
rotation, indexing and compression.
"""

from __future__ import annotations

import gzip
import json
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
    """Only the last line of a plain file may be invalid; gzip files are complete."""
    for path in _segments(directory):
        if path.name.endswith(".gz"):
            lines = gzip.decompress(path.read_bytes()).split(b"\n")
            assert lines[-1] == b""
            lines = lines[:-1]
        else:
            lines = path.read_bytes().split(b"\n")
            lines = lines[:-1]  # after the last newline: b"" or a torn line
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
