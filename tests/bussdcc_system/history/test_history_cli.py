"""The ``history`` and ``replay`` subcommands, through a real argparse parser."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bussdcc import Runtime
from bussdcc.testing import SimClock
from bussdcc_system.history.cli import add_history_parser, add_replay_parser, parse_when
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig, temp, throttling

calls: list[tuple[Runtime, argparse.Namespace]] = []


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bussdcc-system")
    sub = p.add_subparsers(dest="command", required=True)
    add_history_parser(sub)
    add_replay_parser(sub, setup=lambda rt, args: calls.append((rt, args)))
    return p


def _run(argv: list[str] | str) -> int:
    """Run a command line (a list, or a string split as a shell would)."""
    args = _parser().parse_args(shlex.split(argv) if isinstance(argv, str) else argv)
    return int(args.func(args))


@pytest.fixture
def history(tmp_path: Path) -> Path:
    clock = SimClock(T0)
    with rig(tmp_path, clock=clock, rotate_interval=60.0) as r:
        r.emit(throttling(0x50005))
        for i in range(150):
            r.emit(cpu(float(i)))
            if i % 10 == 0:
                r.emit(temp(40.0 + i / 10))
            if i == 100:
                r.emit(throttling(0x50000))
            clock.advance(1)
    return tmp_path


def test_segments_lists_sizes_and_ranges(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["history", "segments", "--dir", str(history)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["#", "SEGMENT", "SIZE", "RECORDS"]
    assert "2026-03-01/10-00-00.jsonl.gz" in out[1] and "2026-03-01 10:00:00" in out[1]
    assert out[-1].startswith("3 segments, ")
    assert _run(["history", "segments", "--dir", str(history), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["number"] for r in rows] == [1, 2, 3]
    assert rows[0]["records"] == 60 + 6 + 1 and rows[0]["start"] == T0.timestamp()


def test_export_jsonl_by_name_and_range(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    since, until = "2026-03-01T10:00:30Z", "@" + str(T0.timestamp() + 100)
    name = "system.temperature.updated"
    command = f"history export --dir {history} --name {name} --since {since} --until {until}"
    assert _run(command) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["data"]["celsius"] for x in lines] == [43.0, 44.0, 45.0, 46.0, 47.0, 48.0, 49.0]
    assert lines[0]["time"] == "2026-03-01T10:00:30.000Z"
    assert list(lines[0]) == ["time", "name", "data", "boot", "mono", "seq"]


def test_export_csv_flattens_data(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    names = "system.cpu.usage.updated,system.temperature.updated"
    assert _run(f"history export --dir {history} --format csv --name {names} -o {out}") == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 150 + 15
    assert rows[0]["name"] == "system.cpu.usage.updated" and rows[0]["percent"] == "0.0"
    assert rows[0]["per_core"] == "[0.0,null]" and rows[0]["irq"] == ""
    assert rows[1]["name"] == "system.temperature.updated" and rows[1]["celsius"] == "40.0"
    assert rows[1]["percent"] == ""


def test_episodes(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["history", "episodes", "--dir", str(history), "--days", "100000", "--json"]) == 0
    eps = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e["end_reason"]) for e in eps] == [
        ("under_voltage", "cleared"),
        ("throttled", "cleared"),
    ]
    assert _run(["history", "episodes", "--dir", str(history), "--days", "100000"]) == 0
    text = capsys.readouterr().out
    assert "under-voltage: until 2026-03-01 10:01:40" in text
    assert "throttling: until " in text  # the dashboard's words for a past episode
    assert "during boot, before monitoring started" in text
    assert _run(["history", "episodes", "--dir", str(history), "--days", "1"]) == 0
    assert "no under-voltage or throttling in the last 1 days" in capsys.readouterr().out


def test_replay_prints_in_order_and_calls_setup(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls.clear()
    since, until = "2026-03-01T10:00:00Z", "2026-03-01T10:00:20Z"
    assert _run(f"replay --dir {history} --since {since} --until {until} --speed 1000 --print") == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    replayed = [x for x in lines if not x["name"].startswith("runtime.")]
    assert [x["data"]["percent"] for x in replayed if "percent" in x["data"]] == [
        float(i) for i in range(20)
    ]
    first = datetime.fromisoformat(replayed[0]["time"]).timestamp()
    assert T0.timestamp() <= first < T0.timestamp() + 2  # 2 ms of real lag at most
    assert len(calls) == 1 and calls[0][1].speed == 1000.0
    assert _run(f"replay --dir {history} --since 2020-01-01T00:00Z --until 2020-01-02T00:00Z") == 1


def test_dir_defaults_to_the_configuration(
    history: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"history:\n  directory: {history}\n")
    monkeypatch.setenv("BUSSDCC_SYSTEM_CONFIG", str(cfg))
    assert _run(["history", "segments", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    cfg.write_text("history:\n  directory: relative/path\n")
    assert _run(["history", "segments"]) == 78
    assert "--dir" in capsys.readouterr().err


def test_parse_when() -> None:
    now = 1_000_000.0
    assert parse_when("now", now) == now
    assert parse_when("90s", now) == now - 90
    assert parse_when("1.5h", now) == now - 5400
    assert parse_when("7d", now) == now - 7 * 86400
    assert parse_when("@1767268800") == 1767268800.0
    assert parse_when("2026-01-01T12:00Z") == datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp()
    local = datetime(2026, 1, 1, 12).astimezone()
    assert parse_when("2026-01-01T12:00") == local.timestamp()
    with pytest.raises(argparse.ArgumentTypeError):
        parse_when("yesterday-ish")
    assert timedelta(seconds=1)


def test_parse_when_bounds() -> None:
    """A duration reaching before 1970 is "from the beginning"; a time given outright
    must be one a clock can show."""
    now = 1_000_000.0
    assert parse_when("11d", now) == now - 11 * 86400
    assert parse_when("12d", now) == 0.0
    assert parse_when("99999999999999999999w", now) == 0.0
    assert parse_when("@0") == 0.0
    assert parse_when("9999-12-31T23:59:59Z") == 253402300799.0
    for text in ("@-1", "@99999999999999", "0001-01-01", "9999-12-31T23:59:59-01:00"):
        with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
            parse_when(text, now)
    for text in ("@nan", "@inf", "@1e400", "@", "1e400", "1e400s"):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a time"):
            parse_when(text, now)
