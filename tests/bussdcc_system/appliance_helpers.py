"""The fake Raspberry Pi hosts every appliance test uses, and the real daemon on them.

The fake hosts: the fixture trees (``FIXTURES``/``HOST_NAMES``), writable copies a test
may change (``copy_host``, ``write_host_file``, ``set_throttled``...), the fake
``vcgencmd`` alone (``FakeVcgencmd``), a daemon configuration (``write_config``) and
the components of a configuration booted in-process on a test runtime (``boot_components``).

``Appliance`` runs ``python -m bussdcc_system run`` (``DaemonProcess``) with the host
root pointed at a copied fixture tree, a test-owned sd_notify socket, and reads what a
person can read: the HTTP API and /metrics, stdout's JSON lines, the JSONL history and
the ``history`` command line. Every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tests.bussdcc_system.daemon_harness import REPO, DaemonProcess, NotifySocket, free_port

if TYPE_CHECKING:
    from bussdcc import Runtime
    from bussdcc_system.components import Components
    from bussdcc_system.config import Config

T = TypeVar("T")

FIXTURES = REPO / "tests" / "fixtures" / "hosts"
"""The fake host trees: ``pi4``, ``pi5``, ``x86``."""
HOST_NAMES = ("pi4", "pi5", "x86")
SHOTS = REPO / "artifacts" / "screenshots"

PI4_DEVICES = """\
devices:
  - kind: throttling
    interval: 0.5
  - kind: thermal_zone
    interval: 0.5
  - kind: status_led
    pin: 17
"""
"""The Pi 4 under test: vcgencmd at its default path (run from under the host root)."""


# -- the fake host --------------------------------------------------------------------


def copy_host(name: str, directory: Path) -> Path:
    """A private copy of fake host ``name`` at ``directory/name``, that a test may change."""
    root = directory / name
    shutil.copytree(FIXTURES / name, root, symlinks=True)
    return root


def _write_atomically(path: Path, text: str | bytes) -> None:
    """Readers (the fake vcgencmd, the daemon) see the old or the new text, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(text, bytes):
        tmp.write_bytes(text)
    else:
        tmp.write_text(text)
    os.replace(tmp, path)


def write_host_file(root: Path, path: str, text: str | bytes) -> None:
    """Change (or add) one file of the fake host (``path`` as on the Pi, ``/sys/...``)."""
    _write_atomically(root / path.lstrip("/"), text)


def set_throttled(root: Path, value: str) -> None:
    """What the fake ``vcgencmd get_throttled`` answers from now on (or ``novcio``)."""
    _write_atomically(root / "usr" / "bin" / "throttled", value + "\n")


def set_boot_id(root: Path, boot_id: str) -> None:
    """A reboot, as far as history can tell: ``/proc/sys/kernel/random/boot_id``."""
    _write_atomically(root / "proc" / "sys" / "kernel" / "random" / "boot_id", boot_id + "\n")


def boot_id(root: Path) -> str:
    return (root / "proc" / "sys" / "kernel" / "random" / "boot_id").read_text().strip()


class FakeVcgencmd:
    """The fixture vcgencmd script alone in ``directory``; ``set("0x50005")`` or
    ``set("novcio")`` says what it answers from now on."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "vcgencmd"
        shutil.copy2(FIXTURES / "pi4" / "usr" / "bin" / "vcgencmd", self.path)
        self.state = directory / "throttled"

    @property
    def command(self) -> tuple[str, str]:
        return (str(self.path), "get_throttled")

    def set(self, value: str) -> None:
        _write_atomically(self.state, value)


def write_config(
    path: Path,
    *,
    port: int,
    history: Path,
    devices: str = PI4_DEVICES,
    flush_interval: float = 0.5,
    extra: str = "",
) -> Path:
    """Short sampling intervals, web on localhost, history flushed every 0.5 s."""
    path.write_text(
        f"""\
sampling:
  cpu: 0.5
  memory: 0.5
  network: 0.5
  load: 0.5
  uptime: 0.5
  disk: 1
web:
  host: 127.0.0.1
  port: {port}
history:
  directory: {history}
  flush_interval: {flush_interval}
{devices}{extra}"""
    )
    return path


def boot_components(
    runtime: Runtime, config: Config, root: Path | str, **options: Any
) -> Components:
    """``build_components`` for ``config`` on the host tree at ``root`` (``addresses``,
    ``pin_factory`` pass on), registered on ``runtime``, which is then booted."""
    from bussdcc_system.components import build_components

    components = build_components(config, root=str(root), **options)
    components.register(runtime)
    runtime.boot()
    return components


# -- waiting --------------------------------------------------------------------------


def wait_until(
    probe: Callable[[], T], *, timeout: float = 15.0, what: str = "a condition", every: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy (returned); fail with the last
    value or error after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except (AssertionError, OSError, KeyError, TypeError, ValueError) as exc:
            last = exc  # not there yet (no answer, no entry, a cut line...)
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(every)


# -- reading what the appliance says --------------------------------------------------


def http(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """(status, body) of a GET; an HTTP error status is an answer too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8")


def history_records(directory: Path) -> list[dict[str, Any]]:
    """Every whole line of every segment, in write order per run (by pid, then seq), each
    with the ``boot`` of its segment's header when it has none of its own.

    A gzip member or line being written right now may be cut: it is skipped, like the
    readers do."""
    out: list[dict[str, Any]] = []
    if not directory.exists():
        return out
    for path in sorted(directory.rglob("*.jsonl*")):
        if path.name.endswith(".jsonl.gz"):
            text = _whole_members(path.read_bytes()).decode("utf-8", "replace")
        elif path.name.endswith(".jsonl"):
            text = path.read_bytes().decode("utf-8", "replace")
        else:
            continue
        boot = None
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("name") == "history.segment":
                boot = record.get("boot")
            record.setdefault("boot", boot)
            out.append(record)
    return out


def _whole_members(raw: bytes) -> bytes:
    out = []
    while raw.strip(b"\0"):
        member = zlib.decompressobj(wbits=31)
        try:
            data = member.decompress(raw)
        except zlib.error:
            break
        if not member.eof:
            break
        out.append(data)
        raw = member.unused_data
    return b"".join(out)


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m bussdcc_system ARGS`` as a person would type it."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "bussdcc_system", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Appliance:
    """One run of the real daemon on a fake host; always ``close()`` it (kills)."""

    def __init__(
        self,
        workdir: Path,
        *,
        root: Path,
        history: Path,
        devices: str = PI4_DEVICES,
        env: dict[str, str] | None = None,
        flush_interval: float = 0.5,
        name: str = "run",
    ) -> None:
        self.dir = workdir / name
        self.dir.mkdir(parents=True)
        self.root = root
        self.history = history
        self.port = free_port()
        self.config = write_config(
            self.dir / "config.yaml",
            port=self.port,
            history=history,
            devices=devices,
            flush_interval=flush_interval,
        )
        self.notify = NotifySocket(self.dir / "notify.sock")
        self.proc: DaemonProcess | None = None
        self.env = env or {}

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> dict[str, str]:
        """Start and wait for ``READY=1``; its datagram (with ``STATUS``)."""
        self.proc = DaemonProcess(self.config, self.notify, root=self.root, extra_env=self.env)
        try:
            return self.notify.wait_for(lambda m: m.get("READY") == "1", timeout=timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nstderr:\n{self.stderr()}") from None

    @property
    def daemon(self) -> DaemonProcess:
        assert self.proc is not None, "not started"
        return self.proc

    def running(self) -> bool:
        return self.proc is not None and self.proc.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit status (kills after ``timeout``)."""
        return self.daemon.stop(timeout)

    def signal(self, sig: signal.Signals) -> None:
        self.daemon.signal(sig)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.__exit__(None, None, None)
        self.notify.close()

    # -- outside interfaces -----------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, str]:
        return http(self.url + path)

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        assert status == 200, f"GET {path}: {status} {body[:300]}"
        return json.loads(body)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = self.json("/api/state")
        return data

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self.json("/api/health")
        return data

    def devices(self) -> dict[str, Any]:
        return dict(self.state()["devices"])

    def metrics(self) -> str:
        status, body = self.get("/metrics")
        assert status == 200, body[:300]
        return body

    def events(self) -> list[dict[str, Any]]:
        """stdout's JSON lines (the journal under systemd); a cut last line is skipped."""
        out: list[dict[str, Any]] = []
        if self.proc is None:
            return out
        for line in self.proc.stdout().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def event(self, name: str, where: Callable[[dict[str, Any]], bool] | None = None) -> Any:
        """The first stdout event called ``name`` (matching ``where``), or None."""
        for e in self.events():
            if e["name"] == name and (where is None or where(e)):
                return e
        return None

    def stderr(self) -> str:
        return self.proc.stderr() if self.proc is not None else ""

    def wait_status(self, text: str, timeout: float = 15.0) -> dict[str, str]:
        """The next sd_notify datagram whose ``STATUS`` contains ``text``."""
        return self.notify.wait_for(lambda m: text in m.get("STATUS", ""), timeout=timeout)


def metric_value(text: str, sample: str) -> float | None:
    """The value of one exposition line (``name{labels}``) in Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None
