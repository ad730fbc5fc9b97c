"""The package on arm64 (the Raspberry Pi's architecture), emulated: Debian 12 arm64 under
qemu-user-static, without systemd.

The .deb (Architecture: all, built on this amd64 machine) is installed with apt into a
Debian 12 arm64 root filesystem, whose binaries (apt, dpkg, python3) all run under
qemu-aarch64 through binfmt_misc. systemd cannot run there (its units' namespaces fail
with 226/NAMESPACE under qemu-user), so the packaged daemon runs in the foreground, as
its user, with a notify socket bound here in place of systemd's: READY=1 arrives, the
dashboard answers and history is written. The real-systemd tiers stay on amd64.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nspawn_container import Container, http_get, rootfs_tarball, wait_for
from service_checks import (
    CONFIG,
    STATE_API,
    STATE_DIR,
    Timings,
    check_dashboard_page,
    require,
    wait_healthz,
)

pytestmark = [pytest.mark.system, pytest.mark.timeout(3600)]

BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_AARCH64_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")  # from qemu-user-static
REPO = Path(__file__).resolve().parents[2]
EM_AARCH64, EM_X86_64 = 0xB7, 0x3E
SECTION = "arm64"


def runtime_depends() -> tuple[str, ...]:
    """bussdcc-system's Depends in debian/control, without substitution variables."""
    for stanza in (REPO / "debian/control").read_text().split("\n\n"):
        fields = dict(re.findall(r"^(\S+):(.*(?:\n[ \t].*)*)", stanza, re.MULTILINE))
        if fields.get("Package", "").strip() == "bussdcc-system":
            names = [d.split()[0] for d in fields["Depends"].split(",") if d.strip()]
            return tuple(n for n in names if not n.startswith("$"))
    raise AssertionError("no bussdcc-system stanza in debian/control")


def arm64_packages() -> tuple[str, ...]:
    """What the cached arm64 root holds besides minbase: systemd, python3 and the
    package's dependencies. Byte-compiling them under emulation takes minutes, so it is
    done once, by debootstrap (which fails if one is missing on arm64); the test's apt
    install of the .deb installs whatever a newer debian/control adds."""
    return ("systemd", "python3", *runtime_depends())


def elf_machine(path: Path) -> int:
    """e_machine of an ELF file (little-endian): 0xB7 aarch64, 0x3E x86-64."""
    with open(path.resolve(), "rb") as f:
        header = f.read(20)
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    machine: int = struct.unpack_from("<H", header, 18)[0]
    return machine


def enable_qemu_aarch64() -> str:
    """binfmt_misc mounted and qemu-aarch64 registered and enabled (what systemd-binfmt
    does at boot from qemu-user-static's file); done here when the machine lacks it.
    Returns the handler's description from binfmt_misc."""
    require(os.geteuid() == 0, "needs root (binfmt_misc, systemd-nspawn, debootstrap)")
    require(
        QEMU_AARCH64_CONF.is_file(),
        f"no {QEMU_AARCH64_CONF}: apt-get install qemu-user-static",
    )
    if not (BINFMT / "register").exists():
        mounted = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
            capture_output=True,
            text=True,
        )
        require(mounted.returncode == 0, f"cannot mount binfmt_misc: {mounted.stderr.strip()}")
    handler = BINFMT / "qemu-aarch64"
    if not handler.exists():
        rule = next(
            line for line in QEMU_AARCH64_CONF.read_text().splitlines() if line.startswith(":")
        )
        (BINFMT / "register").write_text(rule)
    if not handler.read_text().startswith("enabled"):
        handler.write_text("1")
    description = handler.read_text()
    assert description.startswith("enabled"), description
    # F: the interpreter is opened now, so it also runs binaries inside a container.
    flags = next(line for line in description.splitlines() if line.startswith("flags:"))
    assert "F" in flags.split(":", 1)[1], description
    return description


@pytest.fixture(scope="module")
def arm64(
    container_prereqs: None, system_workdir: Path, deb: Path, timings: Timings
) -> Iterator[Container]:
    """A fresh Debian 12 arm64 root with the package installed by apt (unbooted)."""
    enable_qemu_aarch64()
    start = time.monotonic()
    tarball = rootfs_tarball(
        "bookworm", arch="arm64", packages=arm64_packages(), timeout=3600
    )  # the first time: debootstrap's second stage under emulation
    timings.record(SECTION, "rootfs_s", time.monotonic() - start)
    with Container("bookworm-arm64", tarball, system_workdir) as c:
        c.unpack()
        assert elf_machine(c.rootfs / "usr/bin/python3") == EM_AARCH64
        assert elf_machine(Path("/usr/bin/env")) == EM_X86_64  # while this machine is amd64
        arch = c.run_unbooted("dpkg", "--print-architecture")
        assert arch.stdout.strip() == "arm64", arch.stdout + arch.stderr
        machine = c.run_unbooted("uname", "-m")
        assert machine.stdout.strip() == "aarch64", machine.stdout + machine.stderr

        start = time.monotonic()
        update = c.run_unbooted("apt-get", "-o", "APT::Color=0", "update", timeout=900)
        assert update.returncode == 0, update.stdout[-3000:] + update.stderr[-3000:]
        inside = c.copy_in(deb)
        installed = c.run_unbooted(
            "apt-get", "-y", "-o", "Dpkg::Use-Pty=0", "install", inside, timeout=2400
        )
        timings.record(SECTION, "apt_update_and_install_s", time.monotonic() - start)
        assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-3000:]
        setting_up = [
            line for line in installed.stdout.splitlines() if line.startswith("Setting up")
        ]
        print("\n".join(setting_up))
        timings.record(SECTION, "packages_set_up_by_apt", len(setting_up))
        yield c


def test_the_package_installs_on_arm64(arm64: Container) -> None:
    status = arm64.run_unbooted(
        "dpkg-query", "-W", "-f=${db:Status-Status} ${Architecture}", "bussdcc-system"
    )
    assert status.stdout == "installed all", status.stdout + status.stderr
    ident = arm64.run_unbooted("id", "bussdcc-system")  # systemd-sysusers, in the postinst
    assert ident.returncode == 0, ident.stderr
    deps = arm64.run_unbooted(
        "dpkg-query", "-W", "-f=${Architecture}", "python3-psutil", "python3-yaml"
    )
    assert deps.stdout == "arm64arm64", deps.stdout  # compiled extensions: arm64 builds


def uid_of(c: Container, user: str) -> int:
    for line in (c.rootfs / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2])
    raise AssertionError(f"no user {user} in the container")


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, in a directory that is
    bind-mounted into the container (the daemon's user must be able to send to it)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o777, exist_ok=True)
        directory.chmod(0o777)
        self.path = directory / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.path.chmod(0o666)
        self.messages: list[dict[str, str]] = []

    def wait(self, key: str, value: str, timeout: float, alive: Any) -> dict[str, str]:
        """The first datagram with ``key=value``; ``alive()`` is asked between reads."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(1.0)
        while True:
            for message in self.messages:
                if message.get(key) == value:
                    return message
            alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {key}={value} in {timeout:.0f}s: {self.messages}")
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            lines = data.decode(errors="replace").splitlines()
            self.messages.append(dict(line.split("=", 1) for line in lines if "=" in line))

    def close(self) -> None:
        self.sock.close()


def whole_lines(path: Path) -> list[str]:
    """The complete lines of a segment: plain JSONL, or gzip members appended one per
    flush (a member being written may be cut: it is skipped)."""
    data = path.read_bytes()
    if not path.name.endswith(".gz"):
        return data.decode("utf-8", "replace").split("\n")[:-1]  # the last may be torn
    text = b""
    while data:
        member = zlib.decompressobj(wbits=31)
        try:
            text += member.decompress(data)
        except zlib.error:
            break
        if not member.eof:
            break
        data = member.unused_data
    return text.decode("utf-8", "replace").split("\n")[:-1]


def test_the_daemon_runs_in_the_foreground_under_emulation(
    arm64: Container, system_workdir: Path, timings: Timings
) -> None:
    prepared = arm64.run_unbooted(
        "install", "-d", "-o", "bussdcc-system", "-g", "bussdcc-system", "-m", "0750", STATE_DIR
    )  # systemd's StateDirectory= where there is no systemd (as install.sh does)
    assert prepared.returncode == 0, prepared.stderr
    notify = NotifySocket(system_workdir / "notify-arm64")
    log = system_workdir / "arm64-daemon.log"
    start = time.monotonic()
    arm64.spawn_unbooted(
        "runuser", "-u", "bussdcc-system", "--",
        "bussdcc-system", "run", "--config", CONFIG,
        output=log,
        binds={notify.path.parent: "/run/bussdcc-notify"},
        env={
            "NOTIFY_SOCKET": "/run/bussdcc-notify/notify",
            "LG_WD": STATE_DIR,
            "PYTHONUNBUFFERED": "1",
        },
        chdir=STATE_DIR,
    )  # fmt: skip

    def alive() -> None:
        assert not arm64.exited(), f"the daemon exited:\n{log.read_text()[-4000:]}"

    try:
        try:
            ready = notify.wait("READY", "1", timeout=600, alive=alive)
        except TimeoutError as exc:
            pytest.fail(f"{exc}\n{log.read_text()[-4000:]}")
        timings.record(SECTION, "exec_to_ready_s", time.monotonic() - start)
        statuses = [m["STATUS"] for m in notify.messages if "STATUS" in m]
        print(f"arm64 notify messages: {notify.messages}")
        assert statuses, f"READY=1 without a STATUS= in words: {ready}"
        timings.record(SECTION, "status_at_ready", statuses[-1])

        start = time.monotonic()
        wait_healthz(timeout=120)
        timings.record(SECTION, "ready_to_healthz_s", time.monotonic() - start)
        check_dashboard_page()
        status, body = http_get(STATE_API, timeout=10)
        assert status == 200, body[:500]
        identity = json.loads(body)["system"].get("identity", {})
        print(f"arm64 identity: {identity}")

        start = time.monotonic()
        history = arm64.rootfs / STATE_DIR.lstrip("/") / "history"

        def complete_lines() -> list[dict[str, Any]] | None:
            alive()
            for path in sorted(history.rglob("*.jsonl*")):
                complete = whole_lines(path)
                records = [json.loads(line) for line in complete if line.strip()]
                if records:
                    return records
            return None

        records = wait_for("JSONL history written", complete_lines, timeout=300)
        timings.record(SECTION, "ready_to_first_history_line_s", time.monotonic() - start)
        assert {"time", "name", "data"} <= set(records[0]), records[0]
        owners = {p.stat().st_uid for p in history.rglob("*.jsonl*")}
        assert owners == {uid_of(arm64, "bussdcc-system")}, owners
    finally:
        arm64.stop(timeout=10)
        notify.close()
