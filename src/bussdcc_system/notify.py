"""sd_notify for the daemon: python-sdnotify's socket, our own encoding and errors.

python3-sdnotify resolves ``NOTIFY_SOCKET`` (abstract ``@`` names included) but encodes
as latin-1 and swallows every error, so a ``°`` or ``—`` in STATUS silently loses the
whole datagram, READY or WATCHDOG with it. We let it open the socket (``debug=True`` so
failures surface), then send UTF-8 ourselves and report failures in the log.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import time
from collections.abc import Mapping

import sdnotify

log = logging.getLogger("bussdcc_system.notify")

_STATUS_MAX = 2000
LIFECYCLE_WAIT = 2.0
"""Seconds READY=1, RELOADING=1 and STOPPING=1 may wait for room in systemd's queue."""


def _clean_status(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line[:_STATUS_MAX]


class Notifier:
    """Talks to systemd when started by it; does nothing (quietly) otherwise."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET") or None
        self.watchdog_usec = self._parse_watchdog(env)
        self._socket: object | None = None
        self._failures = 0
        self.sent: int = 0
        if self.address:
            saved = os.environ.get("NOTIFY_SOCKET")
            os.environ["NOTIFY_SOCKET"] = self.address
            try:
                self._socket = sdnotify.SystemdNotifier(debug=True).socket
            except Exception as exc:
                log.warning("cannot reach systemd notify socket %s: %r", self.address, exc)
            finally:
                if saved is None:
                    os.environ.pop("NOTIFY_SOCKET", None)
                else:
                    os.environ["NOTIFY_SOCKET"] = saved

    @staticmethod
    def _parse_watchdog(env: Mapping[str, str]) -> int | None:
        usec = env.get("WATCHDOG_USEC")
        if not usec:
            return None
        pid = env.get("WATCHDOG_PID")
        if pid and pid.strip() != str(os.getpid()):
            return None
        try:
            value = int(usec)
        except ValueError:
            log.warning("ignoring invalid WATCHDOG_USEC=%r", usec)
            return None
        return value if value > 0 else None

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings: a third of the watchdog timeout (systemd advises half)."""
        if self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 1e6 / 3.0

    def send(self, *fields: str, wait: float = 0.0) -> bool:
        """Send one datagram (fields joined by newlines); False when it could not be sent.

        Never blocks the main thread for longer than ``wait``: when systemd does not read
        its socket (the queue of datagrams is full) a status or a ping is dropped, not
        waited for, and signals and pings go on; READY/RELOADING/STOPPING wait a little."""
        if self._socket is None:
            return False
        data = "\n".join(fields).encode("utf-8")
        sock: socket.socket = self._socket  # type: ignore[assignment]
        try:
            try:
                sock.send(data, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if wait <= 0 or not select.select([], [sock], [], wait)[1]:
                    raise
                sock.send(data, socket.MSG_DONTWAIT)
        except OSError as exc:
            self._failures += 1
            if self._failures <= 3 or self._failures % 100 == 0:
                log.warning("sd_notify failed (%d so far): %r", self._failures, exc)
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = ["READY=1"]
        if status:
            fields.append(f"STATUS={_clean_status(status)}")
        return self.send(*fields, wait=LIFECYCLE_WAIT)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={_clean_status(text)}")

    def reloading(self, status: str | None = None) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        fields = ["RELOADING=1", f"MONOTONIC_USEC={usec}"]
        if status:
            fields.append(f"STATUS={_clean_status(status)}")
        return self.send(*fields, wait=LIFECYCLE_WAIT)

    def stopping(self, status: str | None = None) -> bool:
        fields = ["STOPPING=1"]
        if status:
            fields.append(f"STATUS={_clean_status(status)}")
        return self.send(*fields, wait=LIFECYCLE_WAIT)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def watchdog_trigger(self) -> bool:
        """Ask systemd to act as if the watchdog expired (not used by default)."""
        return self.send("WATCHDOG=trigger")
