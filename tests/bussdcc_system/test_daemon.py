"""The daemon under a stand-in systemd: exact sd_notify sequences on a real socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from tests.bussdcc_system.appliance_helpers import history_records
from tests.bussdcc_system.daemon_harness import DaemonProcess, NotifySocket, free_port

pytestmark = pytest.mark.slow


def write_config(path: Path, port: int, history: Path, extra: str = "") -> Path:
    path.write_text(
        f"""\
sampling:
  cpu: 0.5
  memory: 0.5
  network: 0.5
web:
  host: 127.0.0.1
  port: {port}
history:
  directory: {history}
  flush_interval: 0.5
health:
  temperature_warning: 70
devices: []
{extra}"""
    )
    return path


@pytest.fixture
def notify(tmp_path: Path):
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


@pytest.fixture
def setup(tmp_path: Path):
    port = free_port()
    history = tmp_path / "history"
    config = write_config(tmp_path / "config.yaml", port, history)
    return config, port, history


def ready(msg: dict[str, str]) -> bool:
    return msg.get("READY") == "1"


def test_start_ready_only_when_port_bound_then_watchdog_and_stop(notify, setup):
    config, port, history = setup
    with DaemonProcess(config, notify) as daemon:
        first = notify.wait_for(lambda m: "STATUS" in m)
        assert first["STATUS"].startswith("starting bussdcc-system")
        msg = notify.wait_for(ready)
        # READY=1 means the dashboard already answers.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        assert "dashboard on port" in msg["STATUS"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        pings = [m for m in notify.collect(3.0) if m.get("WATCHDOG") == "1"]
        assert len(pings) >= 2, notify.messages
        daemon.signal(signal.SIGTERM)
        stopping = notify.wait_for(lambda m: m.get("STOPPING") == "1")
        assert "received SIGTERM" in stopping["STATUS"]
        assert daemon.wait() == 0
    # History was flushed at shutdown: the last records are there and whole.
    lines = history_records(history)
    names = [r["name"] for r in lines]
    assert "runtime.booted" in names
    assert "system.cpu.usage.updated" in names
    assert names[-1] == "runtime.shutdown"
    # The console sink wrote structured JSON lines on stdout (the journal).
    events = [json.loads(line) for line in daemon.stdout().splitlines()]
    assert {"runtime.booted", "runtime.shutdown"} <= {e["name"] for e in events}
    assert all(set(e) == {"time", "name", "severity", "data"} for e in events)


def test_reload_applies_change_with_reloading_then_ready(notify, setup):
    config, _port, _history = setup
    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        config.write_text(
            config.read_text().replace("temperature_warning: 70", "temperature_warning: 65")
        )
        daemon.signal(signal.SIGHUP)
        reloading = notify.wait_for(lambda m: m.get("RELOADING") == "1")
        assert int(reloading["MONOTONIC_USEC"]) > 0
        done = notify.wait_for(ready)
        assert done["STATUS"].startswith("reloaded (1 change(s) applied)")
        assert daemon.proc.poll() is None
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    logged = daemon.stderr()
    assert "health.temperature_warning: 70 -> 65" in logged


def test_reload_turns_the_dashboard_off_and_on_again_with_one_web_interface(notify, setup):
    config, port, _history = setup
    enabled = config.read_text()
    disabled = enabled.replace("web:\n", "web:\n  enabled: false\n", 1)

    def reload(daemon: DaemonProcess, text: str) -> dict[str, str]:
        config.write_text(text)
        daemon.signal(signal.SIGHUP)
        notify.wait_for(lambda m: m.get("RELOADING") == "1")
        return notify.wait_for(ready)

    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        off = reload(daemon, disabled)
        assert off["STATUS"].startswith("reloaded (1 change(s) applied)")
        assert "dashboard" not in off["STATUS"]
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        on = reload(daemon, enabled)
        assert f"dashboard on port {port}" in on["STATUS"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    events = [json.loads(line) for line in daemon.stdout().splitlines()]
    # One web interface at a time: stopped when disabled, one started when enabled again,
    # and only that one stopped at shutdown.
    story = [
        (e["name"], e["data"].get("process") or e["data"].get("changes"))
        for e in events
        if e["name"] == "config.reloaded"
        or (e["name"] in ("process.started", "process.stopped") and e["data"]["process"] == "web")
    ]
    assert story == [
        ("process.started", "web"),
        ("process.stopped", "web"),
        ("config.reloaded", ["web.enabled: true -> false"]),
        ("process.started", "web"),
        ("config.reloaded", ["web.enabled: false -> true"]),
        ("process.stopped", "web"),
    ]


def test_invalid_reload_keeps_running_config_and_says_why(notify, setup):
    config, port, _history = setup
    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        good = config.read_text()
        config.write_text(good.replace("port: ", "prot: "))
        daemon.signal(signal.SIGHUP)
        notify.wait_for(lambda m: m.get("RELOADING") == "1")
        done = notify.wait_for(ready)
        assert done["STATUS"].startswith(
            "reload failed, still running the previous configuration: config.yaml:"
        )
        assert "web.prot: unknown key; did you mean 'port'?" in done["STATUS"]
        # Still serving on the old port, still feeding the watchdog.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        notify.wait_for(lambda m: m.get("WATCHDOG") == "1", timeout=10)
        # The reason stays in STATUS= (systemctl status) until a reload succeeds.
        later = notify.collect(2.5)
        statuses = [m["STATUS"] for m in later if "STATUS" in m]
        assert all(s.startswith("reload failed") for s in statuses), statuses
        config.write_text(good)
        daemon.signal(signal.SIGHUP)
        fixed = notify.wait_for(lambda m: m.get("READY") == "1")
        assert fixed["STATUS"].startswith("reloaded (no changes)")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    events = [json.loads(line) for line in daemon.stdout().splitlines()]
    failed = [e for e in events if e["name"] == "config.reload_failed"]
    assert failed and failed[0]["severity"] == "error"
    assert "reload failed, keeping the running configuration" in daemon.stderr()


def test_bad_config_at_start_exits_78_with_one_clear_line(notify, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("web:\n  port: eighty\n")
    with DaemonProcess(config, notify) as daemon:
        assert daemon.wait() == 78
    err = daemon.stderr().strip().splitlines()
    assert err == [
        "bussdcc-system: config.yaml:2: web.port: expected an integer 1-65535, got 'eighty'"
    ]
    assert not any(m.get("READY") == "1" for m in notify.messages)


def test_port_in_use_is_a_clear_start_failure(notify, setup):
    config, port, _history = setup
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with DaemonProcess(config, notify) as daemon:
            code = daemon.wait()
    assert code != 0
    assert f"127.0.0.1:{port}" in daemon.stderr()
    assert "address already in use" in daemon.stderr().lower()


def test_stalled_critical_service_stops_watchdog_pings(notify, tmp_path):
    """A /proc/stat that blocks on open (a FIFO with no writer) stalls the CPU service."""
    root = tmp_path / "root"
    (root / "proc").mkdir(parents=True)
    os.mkfifo(root / "proc" / "stat")
    port = free_port()
    config = write_config(tmp_path / "config.yaml", port, tmp_path / "history")
    with DaemonProcess(config, notify, root=root) as daemon:
        notify.wait_for(ready)
        withheld = notify.wait_for(
            lambda m: m.get("STATUS", "").startswith("not feeding the watchdog"), timeout=30
        )
        assert "stalled" in withheld["STATUS"]
        after = notify.collect(2.0)
        assert not any(m.get("WATCHDOG") == "1" for m in after), after
        daemon.proc.kill()
