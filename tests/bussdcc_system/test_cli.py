"""The ``bussdcc-system`` command as a person runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bussdcc import Runtime, message
from bussdcc_system.history.sink import HistorySink

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bussdcc_system", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )


def test_help_lists_every_command():
    out = run("--help")
    assert out.returncode == 0
    for command in ("run", "check-config", "history", "replay"):
        assert command in out.stdout


def test_no_command_is_a_usage_error():
    out = run()
    assert out.returncode == os.EX_USAGE  # sysexits, not argparse's 2
    assert out.stderr == (
        "bussdcc-system: the following arguments are required: COMMAND"
        " (see bussdcc-system --help)\n"
    )


def test_history_on_a_missing_directory_says_so(tmp_path):
    out = run("history", "episodes", "--dir", str(tmp_path / "nowhere"))
    assert out.returncode == os.EX_NOINPUT
    assert "does not exist: nothing has been recorded there" in out.stderr
    assert out.stdout == ""  # and never "no under-voltage or throttling"


def test_history_export_reads_what_the_sink_wrote(tmp_path):
    directory = tmp_path / "history"
    rt = Runtime()
    sink = HistorySink(str(directory), clock=rt.clock, boot_id="test-boot")
    sink.subscribe(rt.events)
    sink.start()
    with rt:
        rt.emit(message.SystemSignal(10, "user1"))
    sink.close()
    out = run("history", "export", "--dir", str(directory), "--name", "system.signal")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["name"] for r in records] == ["system.signal"]
    assert records[0]["data"] == {"signal": 10, "action": "user1"}
    segments = run("history", "segments", "--dir", str(directory))
    assert segments.returncode == 0
    assert ".jsonl" in segments.stdout
