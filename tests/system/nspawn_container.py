"""A real systemd, booted in a systemd-nspawn container, for tests of the packaged service.

The machines this runs on are VMs where we are root but systemd is not PID 1, so the
service can only meet a real systemd inside a container. A Debian minbase root
filesystem (debootstrap) is cached as a tarball and unpacked fresh for each container;
the container boots its own systemd (``-b``) and shares the host network, so its port
8086 is the host's. Commands run inside through ``nsenter`` into the container's PID 1.
There is no host bus (no machinectl): teardown kills the nspawn process itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
MIRROR = os.environ.get("BUSSDCC_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get(
    "BUSSDCC_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security"
)
ROOTFS_PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3")
DASHBOARD_PORT = 8086


def cache_dir() -> Path:
    """Where root filesystem tarballs are kept between runs."""
    return Path(os.environ.get("BUSSDCC_CACHE", "~/.cache/bussdcc-system")).expanduser()


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: the host may put a non-Debian python3 first in PATH."""
    env = {"PATH": SYSTEM_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": "/root"}
    env.update(extra)
    return env


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.25) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds.
    A probe that raises AssertionError stops the wait at once (it knows it is hopeless);
    other exceptions count as "not yet" (a port still closed, a file not there yet)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except AssertionError:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET a URL; HTTP errors are returned as a status, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


# --------------------------------------------------------------------------- rootfs


def sources_for(suite: str) -> str:
    """deb822 sources for a Debian suite: main, updates and security."""
    return (
        f"Types: deb\nURIs: {MIRROR}\nSuites: {suite} {suite}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {SECURITY_MIRROR}\nSuites: {suite}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def rootfs_tarball(
    suite: str,
    log: Callable[[str], None] = print,
    *,
    arch: str | None = None,
    packages: tuple[str, ...] = ROOTFS_PACKAGES,
    timeout: float = 900.0,
) -> Path:
    """The cached ``rootfs-SUITE.tar`` (a debootstrap minbase with systemd), built once;
    ``rootfs-SUITE-ARCH.tar`` for another architecture (``arch="arm64"``: debootstrap
    runs its second stage under qemu-user-static, so binfmt_misc must be set up).

    A lock file serialises concurrent builders; the tarball appears atomically.
    """
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    name = f"rootfs-{suite}" + (f"-{arch}" if arch else "")
    tarball = cache / f"{name}.tar"
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tarball.exists():
            return tarball
        work = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=cache))
        try:
            root = work / "root"
            log(f"debootstrap {suite}{f' ({arch})' if arch else ''} (once; cached as {tarball})")
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    *([f"--arch={arch}"] if arch else []),
                    "--include=" + ",".join(packages),
                    suite,
                    str(root),
                    MIRROR,
                ],
                env=clean_env(),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
            )
            (root / "etc/apt/sources.list").unlink(missing_ok=True)
            (root / "etc/apt/sources.list.d/debian.sources").write_text(sources_for(suite))
            # Tests talk to the host's mirror many times: no language or DEP-11 indexes.
            (root / "etc/apt/apt.conf.d/90minimal-indexes").write_text(
                'Acquire::Languages "none";\n'
                'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";\n'
            )
            (root / "etc/hostname").write_text(f"bussdcc-{suite}{f'-{arch}' if arch else ''}\n")
            # A fresh machine id per boot (systemd writes one into an empty file).
            (root / "etc/machine-id").write_text("")
            with contextlib.suppress(FileNotFoundError):
                (root / "var/lib/dbus/machine-id").unlink()
            partial = work / "rootfs.tar"
            subprocess.run(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."],
                env=clean_env(),
                check=True,
                timeout=600,
            )
            partial.rename(tarball)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return tarball


# --------------------------------------------------------------------------- container


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised comm, which may contain spaces.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            kids.append(int(entry))
    return kids


def _ns_pid(pid: int) -> list[int]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


class Container:
    """One container root filesystem, booted with :meth:`start` or used unbooted with
    :meth:`run_unbooted`. Use as a context manager: on exit the container is killed and
    its root filesystem removed, whatever happened."""

    def __init__(self, suite: str, tarball: Path, workdir: Path) -> None:
        self.suite = suite
        self.tarball = tarball
        self.workdir = workdir
        self.rootfs = workdir / f"rootfs-{suite}"
        self.console_log = workdir / f"console-{suite}.log"
        self.name = f"bussdcc-test-{suite}-{os.getpid()}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.rootfs, ignore_errors=True)

    def unpack(self) -> None:
        """Unpack the cached root filesystem (once per container)."""
        if self.rootfs.exists():
            return
        self.rootfs.mkdir(parents=True)
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(self.rootfs), "-xf", str(self.tarball)],
            env=clean_env(),
            check=True,
            timeout=300,
        )

    def _unbooted_command(
        self,
        cmd: tuple[str, ...],
        env: dict[str, str] | None,
        binds: dict[Path, str] | None = None,
        chdir: str | None = None,
    ) -> list[str]:
        """The systemd-nspawn command line that runs ``cmd`` as the container's PID 1."""
        inner_env = clean_env(DEBIAN_FRONTEND="noninteractive", **(env or {}))
        return [
            "systemd-nspawn",
            "--register=no",
            "--keep-unit",
            "--quiet",
            "--pipe",
            "-M",
            self.name,
            "-D",
            str(self.rootfs),
            *(f"--bind={host}:{inside}" for host, inside in (binds or {}).items()),
            *([f"--chdir={chdir}"] if chdir else []),
            *(f"--setenv={k}={v}" for k, v in inner_env.items()),
            *cmd,
        ]

    def run_unbooted(
        self, *cmd: str, timeout: float = 900.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the root filesystem *without* booting systemd: the command is
        the container's PID 1, like a chroot or a CI container. Not while booted."""
        assert self.proc is None, "container is booted"
        self.unpack()
        return subprocess.run(
            self._unbooted_command(cmd, env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
        )

    def spawn_unbooted(
        self,
        *cmd: str,
        output: Path,
        binds: dict[Path, str] | None = None,
        env: dict[str, str] | None = None,
        chdir: str | None = None,
    ) -> None:
        """Start a long-running command unbooted (as PID 1, like :meth:`run_unbooted`),
        its output going to ``output``; :meth:`stop` ends it. ``binds`` maps host
        directories to paths inside (``--bind``), ``env`` adds to the clean environment."""
        assert self.proc is None, "container already running"
        self.unpack()
        with open(output, "wb") as out:
            self.proc = subprocess.Popen(
                self._unbooted_command(cmd, env, binds, chdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                start_new_session=True,
            )
        self.pid1 = wait_for("the container's PID 1", self._find_pid1, timeout=30)

    def start(self, timeout: float = 120.0) -> None:
        """Boot systemd in the container and wait until the boot finished."""
        self.unpack()
        log = open(self.console_log, "wb")  # noqa: SIM115 - lives as long as the container
        self.proc = subprocess.Popen(
            [
                "systemd-nspawn",
                "--register=no",
                "--keep-unit",
                "--quiet",
                "-M",
                self.name,
                "-D",
                str(self.rootfs),
                "-b",
                "--console=passive",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            start_new_session=True,
        )
        log.close()
        self.pid1 = wait_for("the container's PID 1", self._find_pid1, timeout=30)

        def booted() -> bool:
            state = self.run(
                "systemctl", "is-system-running", check=False, timeout=10
            ).stdout.strip()
            return state in ("running", "degraded")

        wait_for(f"{self.suite} container to finish booting", booted, timeout=timeout)

    def _find_pid1(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"systemd-nspawn exited with {self.proc.returncode}: {self.console_tail()}"
            )
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for kid in _children(pid):
                with contextlib.suppress(OSError):
                    ns = _ns_pid(kid)
                    if len(ns) > 1 and ns[-1] == 1:
                        return kid
                todo.append(kid)
        return None

    def stop(self, timeout: float = 20.0) -> None:
        """Power off (SIGTERM to nspawn), then SIGKILL nspawn and the container's init.
        The root filesystem stays (for a later boot) until the context manager exits."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        pid1 = self.pid1
        if pid1 is not None:
            # Killing a PID namespace's init kills everything in it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid1, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                wait_for("the container to die", lambda: not Path(f"/proc/{pid1}").exists(), 10)
        self.proc = None
        self.pid1 = None

    def exited(self) -> bool:
        """Whether the nspawn process (booted or not) has ended."""
        return self.proc is None or self.proc.poll() is not None

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- commands inside ---------------------------------------------------------------

    def run(
        self,
        *cmd: str,
        check: bool = True,
        timeout: float = 120.0,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the container (all its namespaces), with a clean env."""
        assert self.pid1 is not None, "container not running"
        inner_env = clean_env(DEBIAN_FRONTEND="noninteractive", **(env or {}))
        argv = [
            "nsenter",
            "-t",
            str(self.pid1),
            "-a",
            "env",
            "-i",
            *(f"{k}={v}" for k, v in inner_env.items()),
            *cmd,
        ]
        result = subprocess.run(
            argv,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"in {self.suite} container: {' '.join(cmd)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def sh(
        self, script: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        return self.run("sh", "-c", script, check=check, timeout=timeout)

    def write_file(self, path: str, text: str) -> None:
        self.run("sh", "-c", 'cat > "$1"', "sh", path, input=text)

    def read_file(self, path: str) -> str:
        return self.run("cat", path).stdout

    def exists(self, path: str) -> bool:
        return self.run("test", "-e", path, check=False).returncode == 0

    def copy_in(self, src: Path, dest_dir: str = "/root") -> str:
        """Copy a host file into the container's filesystem; return its inside path."""
        target = self.rootfs / dest_dir.lstrip("/") / src.name
        shutil.copy2(src, target)
        return f"{dest_dir.rstrip('/')}/{src.name}"

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """``systemctl show -p ...`` as a dict."""
        out = self.run("systemctl", "show", "-p", ",".join(props), unit).stdout
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return values

    def journal(self, unit: str, lines: int = 50) -> str:
        return self.run(
            "journalctl", "-u", unit, "-n", str(lines), "--no-pager", check=False
        ).stdout

    def apt(self, *args: str, timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
        """apt-get without progress bars or colour."""
        return self.run(
            "apt-get", "-o", "Dpkg::Use-Pty=0", "-o", "APT::Color=0", *args, timeout=timeout
        )


@contextlib.contextmanager
def booted(suite: str, workdir: Path, log: Callable[[str], None] = print) -> Iterator[Container]:
    """Boot a fresh container from the cached rootfs; always torn down."""
    with Container(suite, rootfs_tarball(suite, log), workdir) as container:
        container.start()
        yield container
