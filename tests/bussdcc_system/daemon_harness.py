"""Run the real daemon as a subprocess with a test-owned sd_notify socket.

The test stands in for systemd: it binds an AF_UNIX datagram socket, passes its path as
NOTIFY_SOCKET (and WATCHDOG_USEC), and reads the datagrams the daemon sends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NotifySocket:
    """A datagram socket that records what the daemon tells "systemd"."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []
        self.raw: list[bytes] = []

    def close(self) -> None:
        self.sock.close()

    def read(self, timeout: float) -> dict[str, str] | None:
        """The next datagram, or None if none came within ``timeout`` seconds."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        self.raw.append(data)
        fields = dict(
            line.split("=", 1) for line in data.decode("utf-8").split("\n") if "=" in line
        )
        self.messages.append(fields)
        return fields

    def wait_for(
        self, predicate: Callable[[dict[str, str]], bool], timeout: float = 30.0
    ) -> dict[str, str]:
        """Read datagrams until one matches; fail with everything seen if none does."""
        end = time.monotonic() + timeout
        while (remaining := end - time.monotonic()) > 0:
            msg = self.read(remaining)
            if msg is not None and predicate(msg):
                return msg
        raise AssertionError(f"no matching sd_notify datagram in {timeout}s; got {self.messages}")

    def collect(self, seconds: float) -> list[dict[str, str]]:
        """Everything sent during the next ``seconds`` (real time)."""
        got = []
        end = time.monotonic() + seconds
        while (remaining := end - time.monotonic()) > 0:
            msg = self.read(remaining)
            if msg is not None:
                got.append(msg)
        return got


class DaemonProcess:
    """``bussdcc-system run`` in a real subprocess."""

    def __init__(
        self,
        config: Path,
        notify: NotifySocket | None,
        *,
        watchdog_usec: int | None = 3_000_000,
        root: Path | None = None,
        extra_env: dict[str, str] | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        """``wrapper``: a command that execs the daemon (e.g. ``setpriv`` dropping
        capabilities), so that the process started is still the daemon itself."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        env["PYTHONPATH"] = str(REPO / "src")
        env["PYTHONUNBUFFERED"] = "1"
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify.path)
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        if root is not None:
            env["BUSSDCC_SYSTEM_ROOT"] = str(root)
        env.update(extra_env or {})
        self.stdout_path = config.parent / "daemon.stdout"
        self.stderr_path = config.parent / "daemon.stderr"
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "bussdcc_system", "run", "--config", str(config)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise
        return self.proc.returncode

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()
        self._err.close()
