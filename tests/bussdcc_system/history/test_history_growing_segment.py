"""The open segment is read from where the last read stopped; a flush being written waits."""

from __future__ import annotations

import gzip
from pathlib import Path

from bussdcc_system.history.growing_segment import read_new
from bussdcc_system.history.reader import list_segments
from tests.bussdcc_system.history.history_helpers import rig


def test_whole_members_are_read_once_a_member_cut_short_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "10-00-00.jsonl.gz"
    first, second = gzip.compress(b'{"a":1}\n{"a":2}\n'), gzip.compress(b'{"a":3}\n')
    path.write_bytes(first + second[:10])  # a flush being written right now
    pos, lines, torn = read_new(path, None)
    assert (pos.offset, lines, torn) == (len(first), b'{"a":1}\n{"a":2}\n', b"")
    path.write_bytes(first + second)
    pos2, lines2, torn2 = read_new(path, pos)
    assert (pos2.offset, lines2, torn2) == (len(first) + len(second), b'{"a":3}\n', b"")
    assert read_new(path, pos2)[1:] == (b"", b"")


def test_plain_lines_and_a_new_file_start_over(tmp_path: Path) -> None:
    path = tmp_path / "10-00-00.jsonl"
    path.write_bytes(b'{"a":1}\n{"a":')
    pos, lines, torn = read_new(path, None)
    assert (lines, torn) == (b'{"a":1}\n', b'{"a":')
    other = tmp_path / "other"
    other.write_bytes(b'{"b":1}\n')
    other.replace(path)  # another file (inode) by that name: read from the start
    assert read_new(path, pos)[1] == b'{"b":1}\n'


def test_the_catalogue_follows_the_open_segment_as_it_grows(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.sample_cpu(10)
        (seg,) = list_segments(tmp_path)
        assert seg.compressed and not seg.indexed and seg.number == 1
        assert seg.boot == "boot-a" and seg.end == (seg.start or 0) + 9
        assert seg.records is None  # counted once it is closed
        r.sample_cpu(20)
        (seg,) = list_segments(tmp_path)
        assert seg.end == (seg.start or 0) + 29
    (seg,) = list_segments(tmp_path)
    assert seg.indexed and seg.records == 30 and seg.names == {"system.cpu.usage.updated": 30}
