"""The ``bussdcc-system`` command as a person runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import re
import socket
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


def _listening(pid: int, port: int) -> set[str]:
    """The local addresses of the sockets ``pid`` holds in LISTEN state on ``port``,
    as the kernel has them (/proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except FileNotFoundError:  # closed meanwhile (the daemon goes on loading modules)
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port and fields[9] in inodes:
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                host = socket.inet_ntop(family, words)
                found.add(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return found


def test_the_journal_names_the_address_the_dashboard_is_bound_to(tmp_path):
    """Before: "dashboard listening on http://127.0.0.1:PORT" while bound to 0.0.0.0."""
    from tests.bussdcc_system.daemon_harness import DaemonProcess, NotifySocket, free_port

    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"web:\n  host: 0.0.0.0\n  port: {port}\n"
        f"history:\n  directory: {tmp_path / 'history'}\ndevices: []\n"
    )
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        with DaemonProcess(config, notify) as daemon:
            notify.wait_for(lambda m: m.get("READY") == "1")
            bound = _listening(daemon.pid, port)
            assert daemon.stop() == 0
    finally:
        notify.close()
    assert bound == {f"0.0.0.0:{port}"}
    # Both streams go to the journal: the console sink's JSON lines on stdout, the log
    # on stderr (where this line is).
    journal = daemon.stdout() + daemon.stderr()
    said = re.findall(r"dashboard listening on (\S+)", journal)
    assert said == [f"0.0.0.0:{port}"], journal
