"""Finalising what a crash left: a torn last line is cut before compressing."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from bussdcc_system.history.reader import read_records
from tests.bussdcc_system.history.history_helpers import cpu, rig


def test_recovery_cuts_a_torn_last_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with rig(tmp_path) as r:
        for i in range(5):
            r.emit(cpu(float(i)))
    seg = tmp_path / "2026-03-01" / "10-00-00.jsonl"
    (tmp_path / "2026-03-01" / "10-00-00.idx").unlink()  # as after a crash
    with seg.open("ab") as f:
        f.write(b'{"time":"2026-03-01T10:00:05.000Z","name":"system.cpu.us')
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    with rig(tmp_path, clock=r.clock):
        pass
    assert any("torn last line" in rec.getMessage() for rec in caplog.records)
    gz = seg.with_name("10-00-00.jsonl.gz")
    assert not seg.exists() and gz.exists()
    assert gzip.decompress(gz.read_bytes()).endswith(b"}\n")
    assert [x.data["percent"] for x in read_records(tmp_path)] == [0.0, 1.0, 2.0, 3.0, 4.0]
