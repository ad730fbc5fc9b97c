"""Segment files: a compressed copy wins over a leftover plain one; truncated gzip."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from bussdcc_system.history.reader import list_segments, read_records
from tests.bussdcc_system.history.history_helpers import cpu_segment


def test_gzip_is_read_transparently_and_wins_over_a_leftover_plain_copy(tmp_path: Path) -> None:
    p = cpu_segment(tmp_path, 5)
    gz = p.with_name(p.name + ".gz")
    gz.write_bytes(gzip.compress(p.read_bytes()))
    # a crash between the rename of the .gz and the unlink of the plain file: both exist
    assert [r.data["percent"] for r in read_records(tmp_path)] == [0, 1, 2, 3, 4]
    segs = list_segments(tmp_path)
    assert len(segs) == 1 and segs[0].compressed


def test_truncated_gzip_yields_what_is_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = cpu_segment(tmp_path, 2000)
    data = gzip.compress(p.read_bytes())
    p.unlink()
    p.with_name(p.name + ".gz").write_bytes(data[: len(data) // 2])
    caplog.set_level(logging.WARNING, "bussdcc_system.history")
    got = [r.data["percent"] for r in read_records(tmp_path)]
    assert 0 < len(got) < 2000
    assert got == list(range(len(got)))
    assert any("truncated" in r.getMessage() for r in caplog.records)


def test_sidecars_are_gzip_and_version_1_plain_ones_are_still_read(tmp_path: Path) -> None:
    from bussdcc_system.history.query import clear_caches, query_series
    from tests.bussdcc_system.history.history_helpers import rig

    with rig(tmp_path) as r:
        r.sample_cpu(180)
    (seg,) = list_segments(tmp_path)
    raw = seg.index_path.read_bytes()
    assert raw.startswith(b"\x1f\x8b") and seg.indexed
    metric = "system.cpu.usage.updated:percent"
    t0 = seg.start or 0.0
    expected = query_series(tmp_path, metric, t0, t0 + 180, 3)
    text = gzip.decompress(raw).replace(b'"v":2', b'"v":1', 1)
    seg.index_path.write_bytes(text)  # as version 1 wrote it
    clear_caches()
    (old,) = list_segments(tmp_path)
    assert old.indexed and old.records == 180
    seg.path.write_bytes(gzip.compress(b""))  # only the sidecar can answer now
    assert query_series(tmp_path, metric, t0, t0 + 180, 3) == expected
