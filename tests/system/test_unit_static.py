"""Fast checks of the unit, sysusers and debian/ files, without a container or a build.

They need only systemd's tools on the host (systemd-analyze, systemd-sysusers), which
run offline: no systemd as PID 1 is required.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from nspawn_container import clean_env
from service_checks import require

REPO = Path(__file__).resolve().parents[2]
UNIT_FILE = REPO / "systemd" / "bussdcc-system.service"
SYSUSERS_FILE = REPO / "systemd" / "bussdcc-system.sysusers"
MAX_EXPOSURE = 2.0


def tool(name: str) -> str:
    path = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    require(path is not None, f"{name} not installed (apt-get install systemd)")
    assert path is not None
    return path


def unit_entries(unit_file: Path = UNIT_FILE) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows repeated keys. Continuation
    lines (a trailing backslash) are joined."""
    entries = []
    section = ""
    for raw in unit_file.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit_entries() if k == key and s == section]


def one(key: str, section: str = "Service") -> str:
    found = values(key, section)
    assert len(found) == 1, f"[{section}] {key}= set {len(found)} times: {found}"
    return found[0]


def test_security_exposure_offline() -> None:
    analyze = tool("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--threshold=20", "--no-pager", str(UNIT_FILE)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    print(result.stdout)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert m, result.stdout + result.stderr
    print(f"exposure (offline, this host's systemd-analyze): {m.group(1)}")
    assert result.returncode == 0, f"exposure above 2.0:\n{result.stdout}"
    assert float(m.group(1)) <= MAX_EXPOSURE


def verify_problems(unit_file: Path, binary: str) -> list[str]:
    """``systemd-analyze verify`` complaints, except ``binary`` missing on a host where it
    is not installed (the container tests verify the installed units)."""
    analyze = tool("systemd-analyze")
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit_file)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    return [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip()
        and not (f"Command {binary} is not executable" in line and not Path(binary).exists())
    ]


def test_systemd_analyze_verify() -> None:
    problems = verify_problems(UNIT_FILE, "/usr/bin/bussdcc-system")
    assert not problems, "\n".join(problems)


def test_unit_keeps_its_contract() -> None:
    """The lines the daemon and the docs rely on (docs/packaging.md explains each)."""
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("ExecStart") == "/usr/bin/bussdcc-system run"
    # Reload checks the file ExecStart reads (no path: the same resolution), then signals;
    # systemd runs them in order and stops at the first that fails.
    check, signal_ = values("ExecReload")
    assert check == "/usr/bin/bussdcc-system check-config"
    assert "/bin/kill" not in signal_, "a minimal Debian has no /bin/kill (procps)"
    assert "HUP" in signal_ and "${MAINPID}" in signal_
    assert 5 <= int(one("WatchdogSec")) <= 30
    assert one("Restart") == "on-failure"
    assert int(one("RestartSec")) >= 2
    assert "78" in one("RestartPreventExitStatus").split()
    assert values("StartLimitIntervalSec", "Unit") and values("StartLimitBurst", "Unit")
    assert not values("StartLimitIntervalSec") and not values("StartLimitBurst")
    assert one("User") == "bussdcc-system"
    assert one("StateDirectory") == one("ConfigurationDirectory") == "bussdcc-system"
    assert one("RuntimeDirectory") == "bussdcc-system"
    assert one("WorkingDirectory") == "%t/bussdcc-system"
    assert "LG_WD=%t/bussdcc-system" in " ".join(values("Environment"))
    assert one("DevicePolicy") == "closed"
    assert sorted(values("DeviceAllow")) == ["/dev/vcio rw", "char-gpiochip rw"]
    assert not values("PrivateDevices"), "PrivateDevices=yes hides /dev/gpiochip* and /dev/vcio"
    assert set(one("RestrictAddressFamilies").split()) == {
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    }
    assert not values("SupplementaryGroups"), "a missing group fails the unit with 216/GROUP"
    assert not values("Environment") or all(
        "BUSSDCC_SYSTEM_CONFIG" not in v for v in values("Environment")
    ), "the env var makes the config file mandatory; the default path may be absent"


def sysusers_dry_run(tmp_path: Path, sysusers_file: Path) -> str:
    """What systemd-sysusers would create on an empty system (no users, no groups)."""
    sysusers = tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        (tmp_path / "etc" / name).write_text("")
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", "--dry-run", str(sysusers_file)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    return out


def test_sysusers_creates_user_and_missing_groups(tmp_path: Path) -> None:
    out = sysusers_dry_run(tmp_path, SYSUSERS_FILE)
    assert "Creating user 'bussdcc-system'" in out, out
    assert "Creating group 'gpio'" in out and "Creating group 'video'" in out, out


def test_debian_links_reach_the_unit_and_sysusers_files() -> None:
    for name in (
        "bussdcc-system.service",
        "bussdcc-system.sysusers",
        "bussdcc-system-kiosk.service",
        "bussdcc-system-kiosk.sysusers",
    ):
        link = REPO / "debian" / name
        assert link.is_symlink() and link.resolve() == (REPO / "systemd" / name).resolve()


def test_debian_version_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    first = (REPO / "debian" / "changelog").read_text().splitlines()[0]
    m = re.match(r"bussdcc-system \(([^)]+)\) ", first)
    assert m, first
    assert m.group(1).split("+")[0].split("-")[0] == project["version"]


# pyproject name -> Debian package where it is not simply python3-<name>.
DEBIAN_NAMES = {"pyyaml": "python3-yaml"}


def test_control_depends_on_every_runtime_dependency() -> None:
    """pybuild maps most of them (${python3:Depends}), but not reliably across releases:
    debian/control names each one."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    control = (REPO / "debian" / "control").read_text()
    package = control.split("\nPackage:", 1)[1]
    depends = re.search(r"\nDepends:(.*?)\n(?=\S)", package, re.S)
    assert depends, package
    names = {d.strip().split()[0] for d in depends.group(1).split(",") if d.strip()}
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        debian = DEBIAN_NAMES.get(name, f"python3-{name}")
        assert debian in names, f"{requirement}: add {debian} to Depends in debian/control"


@pytest.mark.parametrize("script", ["install.sh", "scripts/build-deb.sh"])
def test_shell_scripts_parse(script: str) -> None:
    path = REPO / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True, env=clean_env())
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        result = subprocess.run(
            [shellcheck, "-S", "warning", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout


# --------------------------------------------------------------------------- kiosk

KIOSK_UNIT_FILE = REPO / "systemd" / "bussdcc-system-kiosk.service"
KIOSK_SYSUSERS_FILE = REPO / "systemd" / "bussdcc-system-kiosk.sysusers"


def kiosk_values(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in unit_entries(KIOSK_UNIT_FILE) if k == key and s == section]


def test_kiosk_unit_verifies() -> None:
    problems = verify_problems(KIOSK_UNIT_FILE, "/usr/bin/cage")
    assert not problems, "\n".join(problems)


def test_kiosk_unit_keeps_its_contract() -> None:
    """The lines docs/packaging.md ("The kiosk unit") explains."""
    assert "bussdcc-system.service" in " ".join(kiosk_values("Wants", "Unit"))
    assert "bussdcc-system.service" in " ".join(kiosk_values("After", "Unit"))
    assert kiosk_values("Conflicts", "Unit") == ["getty@tty1.service"]
    assert "getty@tty1.service" in " ".join(kiosk_values("After", "Unit"))
    assert kiosk_values("ConditionPathExists", "Unit") == ["/dev/tty0"]
    assert kiosk_values("User") == ["bussdcc-kiosk"]
    assert kiosk_values("PAMName") == ["login"]
    assert kiosk_values("TTYPath") == ["/dev/tty1"]
    assert kiosk_values("StandardInput") == ["tty-fail"]
    assert kiosk_values("Restart") == ["always"]
    assert int(kiosk_values("RestartSec")[0]) >= 2
    assert kiosk_values("StartLimitIntervalSec", "Unit") and kiosk_values("StartLimitBurst", "Unit")
    assert not kiosk_values("SupplementaryGroups"), "a missing group fails the unit (216/GROUP)"
    (start,) = kiosk_values("ExecStart")
    assert start.startswith("/usr/bin/cage -d -- "), start
    assert "command -v chromium || command -v chromium-browser" in start, start
    for flag in (
        "--kiosk",
        "--ozone-platform=wayland",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "${BUSSDCC_KIOSK_URL}",
    ):
        assert flag in start.split(), flag
    assert "BUSSDCC_KIOSK_URL=http://127.0.0.1:8086/kiosk" in kiosk_values("Environment")
    # Hardening that would break the display, the input devices or Chromium's sandbox.
    for key in ("ProtectHome", "PrivateDevices", "DeviceAllow", "ProtectClock",
                "NoNewPrivileges", "RestrictNamespaces", "PrivateUsers",
                "MemoryDenyWriteExecute", "SystemCallFilter"):  # fmt: skip
        assert not kiosk_values(key), f"{key}= breaks the kiosk (see the unit's comment)"
    assert kiosk_values("WantedBy", "Install") == ["multi-user.target"]


def test_kiosk_sysusers_creates_user_and_missing_groups(tmp_path: Path) -> None:
    out = sysusers_dry_run(tmp_path, KIOSK_SYSUSERS_FILE)
    assert "Creating user 'bussdcc-kiosk'" in out, out
    for group in ("video", "render", "input"):
        assert f"Creating group '{group}'" in out, out
