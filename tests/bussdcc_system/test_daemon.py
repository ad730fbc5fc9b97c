"""The daemon under a stand-in systemd: exact sd_notify sequences on a real socket."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bussdcc_system.appliance_helpers import history_records
from tests.bussdcc_system.appliance_helpers import write_config as appliance_config
from tests.bussdcc_system.daemon_harness import REPO, DaemonProcess, NotifySocket, free_port

pytestmark = pytest.mark.slow


def write_config(path: Path, port: int, history: Path) -> Path:
    """The appliance's test file without devices, and a threshold a reload can change."""
    return appliance_config(
        path,
        port=port,
        history=history,
        devices="devices: []\n",
        extra="health:\n  temperature_warning: 70\n",
    )


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
        # Many problems: STATUS= names the first and counts all of them, listed or not.
        config.write_text(good + "".join(f"bogus{i}: 1\n" for i in range(30)))
        daemon.signal(signal.SIGHUP)
        notify.wait_for(lambda m: m.get("RELOADING") == "1")
        many = notify.wait_for(ready)
        assert "(and 29 more)" in many["STATUS"], many["STATUS"]
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


# -- a reload is a transaction -------------------------------------------------------------


def history_names(history: Path) -> list[str]:
    """The record names in the history files, in order (a line being written is skipped)."""
    return [record["name"] for record in history_records(history)]


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
        return int(resp.status)


def reload_and_wait(daemon: DaemonProcess, notify: NotifySocket) -> list[dict[str, str]]:
    """SIGHUP; every datagram from RELOADING=1 to the READY=1 that ends the reload."""
    seen = len(notify.messages)
    daemon.signal(signal.SIGHUP)
    notify.wait_for(ready)
    datagrams = notify.messages[seen:]
    first = next(i for i, m in enumerate(datagrams) if m.get("RELOADING") == "1")
    return datagrams[first:]


def privileged_port() -> int:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start <= 1:
        pytest.skip("this host lets anyone bind any port (ip_unprivileged_port_start=0)")
    return min(1000, start - 1)


def without_bind_capability() -> list[str]:
    """Run the daemon unable to bind a port below 1024: as root, without any capability."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop CAP_NET_BIND_SERVICE")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]


@dataclass
class Failure:
    """A reload that cannot be applied: the new file, the reason, and a version that works."""

    broken: str
    reason: str
    fixed: str
    new_port: int | None  # where the fixed file serves (None: the port does not move)
    wrapper: list[str] = field(default_factory=list)
    blocker: socket.socket | None = None


def failure(kind: str, original: str, port: int, tmp_path: Path) -> Failure:
    """Each broken file also turns history off and changes a threshold: a failed reload
    must apply neither."""
    changed = original.replace("temperature_warning: 70", "temperature_warning: 65")
    history_off = changed.replace("history:\n", "history:\n  enabled: false\n", 1)
    fixed_port = free_port()
    moved = history_off.replace(f"port: {port}", f"port: {fixed_port}")
    if kind == "port in use":
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        return Failure(
            history_off.replace(f"port: {port}", f"port: {taken}"),
            f"cannot listen on 127.0.0.1:{taken}: address already in use",
            moved,
            fixed_port,
            blocker=blocker,
        )
    if kind == "privileged port":
        low = privileged_port()
        return Failure(
            history_off.replace(f"port: {port}", f"port: {low}"),
            f"cannot listen on 127.0.0.1:{low}: permission denied "
            "(a port below 1024 needs root or CAP_NET_BIND_SERVICE)",
            moved,
            fixed_port,
            wrapper=without_bind_capability(),
        )
    if kind == "unknown host":
        broken = history_off.replace("host: 127.0.0.1", "host: no-such-host.invalid")
        return Failure(
            broken,
            f"cannot listen on no-such-host.invalid:{port}: unknown host",
            moved.replace("host: 127.0.0.1", "host: localhost"),
            fixed_port,
        )
    assert kind == "history directory"
    # A path check-config cannot fault (nothing is in the way) but that cannot be created:
    # sysfs refuses new directories, even to root.
    history = str(tmp_path / "history")
    unusable = "/sys/bussdcc-system-test/history"
    return Failure(
        changed.replace(history, unusable),
        f"cannot use the history directory {unusable}: "
        + ("operation not permitted" if os.geteuid() == 0 else "permission denied"),
        changed.replace(history, str(tmp_path / "history-2")),
        None,
    )


@pytest.mark.parametrize(
    "kind", ["port in use", "privileged port", "unknown host", "history directory"]
)
def test_a_reload_that_cannot_be_applied_changes_nothing_and_says_why(
    notify: NotifySocket, setup: tuple[Path, int, Path], tmp_path: Path, kind: str
) -> None:
    config, port, history = setup
    original = config.read_text()
    case = failure(kind, original, port, tmp_path)
    try:
        with DaemonProcess(config, notify, wrapper=case.wrapper) as daemon:
            notify.wait_for(ready)
            config.write_text(case.broken)
            datagrams = reload_and_wait(daemon, notify)
            print(f"{kind}: {datagrams}")
            # RELOADING=1 ... READY=1, with the reason in words in STATUS=.
            assert datagrams[0]["RELOADING"] == "1"
            assert datagrams[-1]["READY"] == "1"
            status = datagrams[-1]["STATUS"]
            assert status.startswith(
                "reload failed, still running the previous configuration: " + case.reason
            ), status
            assert daemon.proc.poll() is None
            # Nothing changed: the old port serves, history is still written.
            assert healthz(port) == 200
            wait_until(
                "history written after the failed reload",
                lambda: (
                    "system.cpu.usage.updated"
                    in history_names(history)[
                        history_names(history).index("config.reload_failed") :
                    ]
                    if "config.reload_failed" in history_names(history)
                    else False
                ),
            )
            assert not (tmp_path / "history-2").exists()
            # STATUS= keeps saying so, across watchdog pings, until a reload succeeds.
            later = [m["STATUS"] for m in notify.collect(2.5) if "STATUS" in m]
            assert all(s.startswith("reload failed") for s in later), later
            # What runs is still the original file: reloading it changes nothing.
            config.write_text(original)
            back = reload_and_wait(daemon, notify)
            assert back[-1]["STATUS"].startswith("reloaded (no changes)"), back
            # The new file, once it can work, applies.
            config.write_text(case.fixed)
            applied = reload_and_wait(daemon, notify)
            assert applied[-1]["STATUS"].startswith("reloaded ("), applied
            assert "change(s) applied" in applied[-1]["STATUS"]
            if case.new_port is not None:
                assert healthz(case.new_port) == 200
                with pytest.raises(OSError):
                    healthz(port)
            else:
                wait_until(
                    "history in the new directory",
                    lambda: "system.cpu.usage.updated" in history_names(tmp_path / "history-2"),
                )
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
    finally:
        if case.blocker is not None:
            case.blocker.close()
    # The journal: an error message with the reason (console sink) and one log line.
    events = [json.loads(line) for line in daemon.stdout().splitlines()]
    failed = [e for e in events if e["name"] == "config.reload_failed"]
    assert len(failed) == 1 and failed[0]["severity"] == "error"
    assert failed[0]["data"]["errors"][0].startswith(case.reason)
    logged = daemon.stderr()
    assert f"reload failed, keeping the running configuration: {case.reason}" in logged
    assert "Traceback" not in logged


def test_a_storm_of_sighups_keeps_the_watchdog_fed(
    notify: NotifySocket, setup: tuple[Path, int, Path]
) -> None:
    """500 SIGHUPs in a tenth of a second or so. The daemon promises a ping every third
    of WATCHDOG_USEC; systemd kills it when one is WATCHDOG_USEC late. Through the storm
    no gap between pings may reach that: the interval plus twice the interval of slack.
    (Before: one full reload per signal, back to back, and no ping for 1.4-1.8 s.) The
    signals merge into far fewer reloads, each ending with READY=1."""
    config, port, _history = setup
    usec = 1_000_000
    interval = usec / 1e6 / 3
    bound = interval + 2 * interval
    with DaemonProcess(config, notify, watchdog_usec=usec) as daemon:
        notify.wait_for(ready)
        notify.wait_for(lambda m: m.get("WATCHDOG") == "1")
        pings = [time.monotonic()]
        seen = len(notify.messages)

        def storm() -> None:
            for _ in range(500):
                daemon.signal(signal.SIGHUP)
                time.sleep(0.0001)

        sender = threading.Thread(target=storm)
        sender.start()
        end = None  # read on for two timeouts after the storm
        while end is None or time.monotonic() < end:
            msg = notify.read(0.05)
            if msg is not None and msg.get("WATCHDOG") == "1":
                pings.append(time.monotonic())
            if end is None and not sender.is_alive():
                end = time.monotonic() + 2 * bound
            if time.monotonic() - pings[-1] > 3 * bound:
                break  # starved: the assertion below says by how much
        sender.join()
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        print(f"SIGHUP storm: {len(pings) - 1} pings, largest gap {max(gaps, default=0):.2f}s")
        assert len(pings) >= 3, notify.messages[seen:]
        assert max(gaps) < bound, gaps
        notify.collect(1.0)
        datagrams = notify.messages[seen:]
        reloads = sum(1 for m in datagrams if m.get("RELOADING") == "1")
        print(f"SIGHUP storm: {reloads} reloads for 500 signals")
        assert 1 <= reloads <= 100, reloads
        states = [m for m in datagrams if "RELOADING" in m or "READY" in m]
        assert [m.get("READY") for m in states[1::2]] == ["1"] * reloads, states
        assert [m.get("RELOADING") for m in states[::2]] == ["1"] * reloads, states
        assert healthz(port) == 200
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    events = [json.loads(line) for line in daemon.stdout().splitlines()]
    assert sum(1 for e in events if e["name"] == "system.reload") == reloads


def test_moving_the_dashboard_to_another_address_on_its_own_port(
    notify: NotifySocket, setup: tuple[Path, int, Path]
) -> None:
    """0.0.0.0:P to 127.0.0.1:P cannot be bound beside the running listener: it gives
    way at commit (the one step that can fail there), and the move applies."""
    config, port, _history = setup
    wildcard = config.read_text().replace("host: 127.0.0.1", "host: 0.0.0.0")
    config.write_text(wildcard)
    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        config.write_text(wildcard.replace("host: 0.0.0.0", "host: 127.0.0.1"))
        done = reload_and_wait(daemon, notify)[-1]
        assert done["STATUS"].startswith("reloaded (1 change(s) applied)"), done
        assert healthz(port) == 200
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
    assert "web.host: '0.0.0.0' -> '127.0.0.1'" in daemon.stderr()


def test_a_defect_in_the_reload_still_ends_it_with_ready(
    tmp_path: Path, notify: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemd waits for READY=1 after RELOADING=1: even a reload that raises (a bug, here
    injected) sends it, and says that it failed."""
    from bussdcc.testing import SimClock
    from bussdcc_system import daemon as daemon_module
    from bussdcc_system.config import load_config
    from bussdcc_system.notify import Notifier

    config = write_config(tmp_path / "config.yaml", free_port(), tmp_path / "history")
    config.write_text(config.read_text().replace("web:\n", "web:\n  enabled: false\n", 1))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(daemon_module, "prepare", broken)
    d = daemon_module.Daemon(
        load_config(config),
        config,
        notifier=Notifier({"NOTIFY_SOCKET": str(notify.path)}),
        root=str(tmp_path),
        clock=SimClock(),
    )
    d.on_reload()
    assert notify.read(5) is not None  # RELOADING=1
    done = notify.read(5)
    assert done is not None and done["READY"] == "1"
    assert done["STATUS"].startswith(
        "reload failed, still running the previous configuration: "
        "unexpected error RuntimeError('injected') (see the log)"
    ), done


# -- the unit's ExecReload= ------------------------------------------------------------------


def exec_reload(unit: Path, pid: int, config: Path) -> subprocess.CompletedProcess[str]:
    """Run the unit's ``ExecReload=`` lines as systemd does: in order, ``${MAINPID}`` set,
    stopping at the first that fails; the installed binary is this tree's module."""
    commands = [
        line.split("=", 1)[1]
        for line in unit.read_text().splitlines()
        if line.startswith("ExecReload=")
    ]
    assert commands
    env = {**os.environ, "MAINPID": str(pid), "BUSSDCC_SYSTEM_CONFIG": str(config)}
    env["PYTHONPATH"] = str(REPO / "src")
    result = subprocess.CompletedProcess[str]([], 0, "", "")
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "/usr/bin/bussdcc-system":
            argv = [sys.executable, "-m", "bussdcc_system", *argv[1:]]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            break
    return result


def test_the_units_reload_refuses_a_broken_file_and_leaves_the_daemon_alone(
    notify: NotifySocket, setup: tuple[Path, int, Path]
) -> None:
    """``systemctl reload`` exits with the status of the failed ExecReload= line: a broken
    file is a non-zero status with the reason (the check runs first) while the daemon,
    never signalled, runs on; a good file reloads it."""
    config, port, _history = setup
    unit = REPO / "systemd" / "bussdcc-system.service"
    good = config.read_text()
    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        config.write_text(good.replace("port: ", "prot: "))
        seen = len(notify.messages)
        refused = exec_reload(unit, daemon.pid, config)
        assert refused.returncode == os.EX_CONFIG
        assert "web.prot: unknown key; did you mean 'port'?" in refused.stderr
        notify.collect(1.0)
        assert not any("RELOADING" in m for m in notify.messages[seen:])  # not signalled
        assert daemon.proc.poll() is None and healthz(port) == 200
        config.write_text(good.replace("temperature_warning: 70", "temperature_warning: 65"))
        applied = exec_reload(unit, daemon.pid, config)
        assert applied.returncode == 0, applied.stderr
        notify.wait_for(lambda m: m.get("RELOADING") == "1")
        done = notify.wait_for(ready)
        assert done["STATUS"].startswith("reloaded (1 change(s) applied)")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0


def test_charts_follow_history_to_its_new_directory_on_reload(
    tmp_path: Path, notify: NotifySocket, setup: tuple[Path, int, Path]
) -> None:
    config, port, history = setup
    moved = tmp_path / "history-moved"

    def charted() -> int:
        """CPU samples the dashboard's chart of the last hour has."""
        query = "metric=system.cpu.usage.updated:percent&range=1h"
        url = f"http://127.0.0.1:{port}/api/history?{query}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            series = json.loads(resp.read())
        return sum(1 for b in series["buckets"] if b["count"])

    with DaemonProcess(config, notify) as daemon:
        notify.wait_for(ready)
        wait_until("history written", lambda: "system.cpu.usage.updated" in history_names(history))
        config.write_text(config.read_text().replace(str(history), str(moved)))
        assert reload_and_wait(daemon, notify)[-1]["STATUS"].startswith("reloaded (1 change")
        wait_until("history in the new directory", lambda: bool(history_names(moved)))
        shutil.rmtree(history)  # the old directory is gone: charts read the new one
        wait_until("charts from the new directory", lambda: charted() > 0)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0


@pytest.fixture
def silent_dns(tmp_path: Path):
    """A resolv.conf naming a DNS server that never answers (a UDP socket nobody reads),
    and the wrapper that runs the daemon with it: its own mount namespace, that file
    bind-mounted on /etc/resolv.conf."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        from tests.prerequisites import unavailable

        unavailable("a private /etc/resolv.conf needs root and unshare (util-linux)")
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.153", 53))
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.153\noptions timeout:2 attempts:2\n")
    script = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
    yield ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(resolv)]
    server.close()


def test_a_slow_dns_lookup_on_reload_keeps_the_watchdog_fed(
    notify: NotifySocket, setup: tuple[Path, int, Path], silent_dns: list[str]
) -> None:
    """``web.host`` a name the DNS does not answer for: the lookup takes seconds, the
    watchdog is fed meanwhile (systemd would kill a daemon that stops pinging), then the
    reload fails in words and changes nothing."""
    config, port, _history = setup
    original = config.read_text()
    with DaemonProcess(config, notify, wrapper=silent_dns) as daemon:
        notify.wait_for(ready)
        config.write_text(original.replace("host: 127.0.0.1", "host: dashboard.example"))
        datagrams = reload_and_wait(daemon, notify)
        pings = [m for m in datagrams if m.get("WATCHDOG") == "1"]
        assert len(pings) >= 2, datagrams  # the lookup took seconds; pings went on
        status = datagrams[-1]["STATUS"]
        assert status.startswith("reload failed, still running the previous configuration:")
        assert "cannot listen on dashboard.example:" in status, status
        assert healthz(port) == 200
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0
