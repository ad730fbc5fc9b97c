"""Finalising what a crash left: a torn tail is cut off, the segment indexed (compressed)."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from bussdcc_system.history.reader import list_segments, read_records
from tests.bussdcc_system.history.history_helpers import cpu, rig


def _crashed_segment(tmp_path: Path, **kwargs: object) -> tuple[Path, object]:
    """Five records written and closed, then the sidecar removed: as a crash leaves it."""
    with rig(tmp_path, **kwargs) as r:
        for i in range(5):
            r.emit(cpu(float(i)))
    (tmp_path / "2026-03-01" / "10-00-00.idx").unlink()
    return tmp_path / "2026-03-01", r.clock


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"half", id="member-cut-short"),
        pytest.param(b"\0" * 4096, id="power-cut-zero-fill"),
    ],
)
def test_recovery_cuts_a_torn_gzip_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, tail: bytes
) -> None:
    day, clock = _crashed_segment(tmp_path)
    seg = day / "10-00-00.jsonl.gz"
    whole = seg.read_bytes()
    member = gzip.compress(
        b'{"time":"2026-03-01T10:00:05.000Z","name":"system.cpu.usage.updated"}\n'
    )
    torn = member[: len(member) // 2] if tail == b"half" else tail
    seg.write_bytes(whole + torn)
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    with rig(tmp_path, clock=clock):
        pass
    if tail == b"half":
        assert any("torn tail" in rec.getMessage() for rec in caplog.records)
        assert seg.read_bytes() == whole  # cut at the end of the last whole member
    gzip.decompress(seg.read_bytes())  # zcat reads it cleanly
    (info,) = list_segments(tmp_path)
    assert info.indexed and info.records == 5
    assert [x.data["percent"] for x in read_records(tmp_path)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_recovery_cuts_a_torn_last_line_of_a_plain_segment_and_compresses_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    day, clock = _crashed_segment(tmp_path, compress=False)
    seg = day / "10-00-00.jsonl"
    with seg.open("ab") as f:
        f.write(b'{"time":"2026-03-01T10:00:05.000Z","name":"system.cpu.us')
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    with rig(tmp_path, clock=clock):
        pass
    assert any("torn last line" in rec.getMessage() for rec in caplog.records)
    gz = seg.with_name("10-00-00.jsonl.gz")
    assert not seg.exists() and gz.exists()
    assert gzip.decompress(gz.read_bytes()).endswith(b"}\n")
    assert [x.data["percent"] for x in read_records(tmp_path)] == [0.0, 1.0, 2.0, 3.0, 4.0]
