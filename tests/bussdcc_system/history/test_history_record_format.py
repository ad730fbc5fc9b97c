"""The line format: what the sink writes for an event, and what readers accept."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bussdcc import Message
from bussdcc_system.history.reader import read_records
from tests.bussdcc_system.history.history_helpers import T0, cpu, cpu_rec, rig, write_segment


@dataclass(slots=True, frozen=True)
class Odd(Message):
    name = "test.odd"
    value: float


def test_one_line_per_event_in_the_documented_format(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.emit(cpu(12.5))
        r.clock.advance(5)
        path = tmp_path / "2026-03-01" / "10-00-00.jsonl.gz"
        lines = gzip.decompress(path.read_bytes()).splitlines()  # what zcat prints
    header, line = (json.loads(x) for x in lines)
    assert header["name"] == "history.segment"
    assert header["data"]["number"] == 1 and header["data"]["version"] == 2
    assert header["boot"] == "boot-a"  # once per segment: the records inherit it
    assert list(line) == ["time", "name", "data", "mono", "seq"]
    assert line["time"] == "2026-03-01T10:00:00.000Z"
    assert line["name"] == "system.cpu.usage.updated"
    assert line["data"]["percent"] == 12.5
    assert line["data"]["per_core"] == [12.5, None]
    assert line["mono"] == 1000.0
    assert line["seq"] == 1
    (got,) = read_records(tmp_path)
    assert got.boot == "boot-a"
    assert got.to_json() == {
        "time": "2026-03-01T10:00:00.000Z",
        "name": "system.cpu.usage.updated",
        "data": line["data"],
        "boot": "boot-a",
        "mono": 1000.0,
        "seq": 1,
    }


def test_version_1_lines_with_their_own_boot_are_read(tmp_path: Path) -> None:
    write_segment(
        tmp_path,
        "2026-03-01/10-00-00.jsonl",
        [cpu_rec(T0.timestamp(), 3.0, boot="old-boot", mono=5.0)],
        number=1,
        boot="old-boot",
    )
    (got,) = read_records(tmp_path)
    assert got.boot == "old-boot" and got.mono == 5.0 and got.data["percent"] == 3.0


def test_non_finite_numbers_are_written_as_null(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.emit(Odd(float("nan")))
        r.emit(Odd(float("inf")))
        r.emit(Odd(1.5))
        r.clock.advance(5)
    assert [x.data["value"] for x in read_records(tmp_path)] == [None, None, 1.5]


def test_seed_format_lines_without_boot_or_mono_are_read(tmp_path: Path) -> None:
    p = tmp_path / "2026-01-01" / "12-00-00.jsonl"
    p.parent.mkdir()
    p.write_text(
        '{"time":"2026-01-01T12:00:00Z","name":"system.cpu.usage.updated",'
        '"data":{"user":12.4,"system":3.1,"idle":84.5}}\n'
    )
    (got,) = read_records(tmp_path)
    assert got.data["user"] == 12.4 and got.boot is None and got.mono is None
    assert got.time == datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
