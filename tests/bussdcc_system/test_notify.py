"""Notifier against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bussdcc_system.notify import Notifier


@pytest.fixture
def systemd(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(5)
    yield path, sock
    sock.close()


def recv(sock: socket.socket) -> str:
    return sock.recv(65536).decode("utf-8")


def test_ready_with_status_is_one_utf8_datagram(systemd):
    path, sock = systemd
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    assert n.enabled
    assert n.ready("CPU 48.5 °C — fine")
    assert recv(sock) == "READY=1\nSTATUS=CPU 48.5 °C — fine"


def test_status_is_one_line(systemd):
    path, sock = systemd
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    n.status("line one\nline two")
    assert recv(sock) == "STATUS=line one line two"


def test_reloading_carries_monotonic_usec(systemd):
    path, sock = systemd
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    n.reloading()
    fields = dict(f.split("=", 1) for f in recv(sock).split("\n"))
    assert fields["RELOADING"] == "1"
    assert int(fields["MONOTONIC_USEC"]) > 0


def test_stopping_and_watchdog(systemd):
    path, sock = systemd
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    n.watchdog()
    assert recv(sock) == "WATCHDOG=1"
    n.stopping("bye")
    assert recv(sock) == "STOPPING=1\nSTATUS=bye"


def test_abstract_socket_address():
    name = f"bussdcc-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        n.watchdog()
        assert recv(sock) == "WATCHDOG=1"
    finally:
        sock.close()


def test_without_systemd_nothing_is_sent():
    n = Notifier({})
    assert not n.enabled
    assert n.ready("x") is False
    assert n.watchdog_interval is None


def test_missing_socket_is_logged_not_raised(tmp_path, caplog):
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert not n.enabled
    assert "cannot reach systemd notify socket" in caplog.text


def test_send_failure_is_logged(systemd, caplog):
    path, sock = systemd
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    sock.close()
    path.unlink()
    assert n.watchdog() is False
    assert "sd_notify failed" in caplog.text


def test_watchdog_interval_is_a_third_and_honours_watchdog_pid():
    assert Notifier({"WATCHDOG_USEC": "9000000"}).watchdog_interval == pytest.approx(3.0)
    other = Notifier({"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval is None
    mine = Notifier({"WATCHDOG_USEC": "9000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval == pytest.approx(3.0)
    assert Notifier({"WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_a_systemd_that_stops_reading_never_blocks_the_daemon(systemd, caplog):
    """The kernel queues a bounded number of datagrams (net.unix.max_dgram_qlen); past it
    a blocking send would hang the main thread: signals, reloads and pings with it."""
    import threading

    path, _sock = systemd  # never read
    n = Notifier({"NOTIFY_SOCKET": str(path)})
    results: list[bool] = []
    sender = threading.Thread(target=lambda: results.extend(n.status(f"s{i}") for i in range(3000)))
    sender.start()
    sender.join(20)
    assert not sender.is_alive(), "status() blocked on a full notify socket"
    assert results[0] is True and results[-1] is False  # queued while there was room
    assert n.watchdog() is False  # a ping is dropped at once, the next one comes anyway
    assert any("sd_notify failed" in r.message for r in caplog.records)
