"""``bussdcc-system check-config`` as an admin runs it (a real process, real files), and
the summary it prints."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bussdcc_system.config import default_config, describe_config, parse_config
from tests.bussdcc_system.config.config_helpers import (
    EXPANDS,
    FULL,
    SHIPPED,
    SOURCE,
    merge_chain,
    nested_aliases_in_lists,
    nested_merge_keys,
    parse,
    unknown_keys,
)

TOO_MANY = "more than 2,000 keys, values and list items (a full configuration has about a hundred)"

DEFAULT = Path("/etc/bussdcc-system/config.yaml")
DEFAULTS_SUMMARY = (
    "  devices: auto-detect\n"
    "  web: 0.0.0.0:8086, read-only (no token)\n"
    "  history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB\n"
)


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BUSSDCC_SYSTEM_CONFIG"}
    environ.update(env or {})
    return subprocess.run(
        [*prefix, sys.executable, "-m", "bussdcc_system", "check-config", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def accepted(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """``check-config`` that exits 0 with nothing on stderr; what it printed."""
    result = run(*args, cwd=cwd, env=env)
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout


def refused(
    *args: str, cwd: Path, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> str:
    """``check-config`` that exits 78 (EX_CONFIG) with nothing on stdout; its stderr."""
    result = run(*args, cwd=cwd, env=env, prefix=prefix)
    assert (result.returncode, result.stdout) == (78, "")
    return result.stderr


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config.yaml",
        "web:\n  port: 9000\n"
        "devices:\n  - kind: throttling\n  - {id: led, kind: status_led, pin: GPIO17}\n",
    )
    assert accepted(str(path), cwd=tmp_path) == (
        f"OK: {path}\n"
        "  devices: 2 configured: throttling, led (status_led)\n"
        "  web: 0.0.0.0:9000, read-only (no token)\n"
        "  history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB\n"
    )


def test_shipped_file(tmp_path: Path) -> None:
    assert accepted(str(SHIPPED), cwd=tmp_path) == f"OK: {SHIPPED}\n" + DEFAULTS_SUMMARY


def test_invalid_file_prints_every_error_and_exits_78(tmp_path: Path) -> None:
    path = write(
        tmp_path / "site.yaml",
        "web:\n  prot: 80\nsampling:\n  cpu: yes\n"
        "devices:\n  - kind: status_led\n    pin: seventeen\n",
    )
    result = run(str(path), cwd=tmp_path)
    assert result.returncode == 78
    assert result.stdout == ""
    assert result.stderr == (
        "site.yaml:2: web.prot: unknown key; did you mean 'port'?\n"
        "site.yaml:4: sampling.cpu: expected a number of seconds >= 0.1 and <= 86400,"
        " got yes (a boolean)\n"
        "site.yaml:7: devices[0].pin: expected a GPIO pin number 0-27 or a name like 'GPIO17',"
        " got 'seventeen'\n"
    )


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "web:\n  port: 8086\n host: x\n")
    assert refused(str(path), cwd=tmp_path) == (
        "config.yaml:3: invalid YAML at column 2: expected <block end>, but found"
        " '<block mapping start>' (while parsing a block mapping started on line 1)\n"
    )


def test_missing_explicit_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert refused(str(path), cwd=tmp_path) == f"nope.yaml: cannot read {path}: no such file\n"


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "conf.d"
    path.mkdir()
    assert (
        refused(str(path), cwd=tmp_path)
        == f"conf.d: cannot read {path}: it is a directory, not a file\n"
    )


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", "- web\n- devices\n")
    assert refused(str(path), cwd=tmp_path) == (
        "config.yaml:1: expected a mapping of settings such as 'web:' or 'devices:', got a list\n"
    )


def _without_file_permission_override() -> tuple[str, ...]:
    """Root reads any file; without CAP_DAC_* (dropped at exec) it obeys the mode bits."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv(1) to drop CAP_DAC_OVERRIDE")
    return (setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search")


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    prefix = _without_file_permission_override()
    path = write(tmp_path / "config.yaml", "web: {}\n")
    path.chmod(0)
    assert (
        refused(str(path), cwd=tmp_path, prefix=prefix)
        == f"config.yaml: cannot read {path}: permission denied\n"
    )


def test_environment_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "env.yaml", "web:\n  enabled: false\n")
    assert accepted(cwd=tmp_path, env={"BUSSDCC_SYSTEM_CONFIG": str(path)}).splitlines()[:3] == [
        f"OK: {path}",
        "  devices: auto-detect",
        "  web: disabled",
    ]


def test_environment_variable_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "gone.yaml"
    assert (
        refused(cwd=tmp_path, env={"BUSSDCC_SYSTEM_CONFIG": str(path)})
        == f"gone.yaml: cannot read {path}: no such file\n"
    )


@pytest.mark.skipif(DEFAULT.exists(), reason="this host has a real /etc/bussdcc-system/config.yaml")
def test_absent_default_file_means_defaults(tmp_path: Path) -> None:
    assert accepted(cwd=tmp_path) == (
        f"OK: {DEFAULT} (no such file: built-in defaults)\n" + DEFAULTS_SUMMARY
    )


def test_describe_config() -> None:
    assert describe_config(default_config()) == [
        "devices: auto-detect",
        "web: 0.0.0.0:8086, read-only (no token)",
        "history: /var/lib/bussdcc-system/history, kept 30 days or 512 MB",
    ]
    config = parse_config(FULL, SOURCE)
    assert describe_config(config) == [
        "devices: 5 configured: throttling, cpu_temp (thermal_zone), led-green (status_led),"
        " led-red (status_led), led-blue (status_led)",
        "web: [::]:8443, write actions enabled (token set)",
        "history: /data/history, kept 30 days or 512 MB",
    ]
    off = parse("web: {enabled: false}\nhistory: {enabled: false}\ndevices: []\n")
    assert describe_config(off) == ["devices: none", "web: disabled", "history: disabled"]


# ---- hostile files: refused at once, in a few lines, within 100 MiB


@dataclass
class Measured:
    returncode: int
    stdout: str
    lines: list[str]  # stderr
    peak_rss_mib: float


# Forks and execs ``check-config PATH`` (at most 1 GiB of address space: unbounded code
# would take gigabytes), waits, and writes the child's peak RSS in KiB to argv[2]. A
# process's peak RSS counts what it inherited at fork until it execs, so it is read
# from a child of this small process, not of the test process (hundreds of MiB).
_MEASURE = """
import os, resource, sys
pid = os.fork()
if pid == 0:
    limit = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(sys.executable, [sys.executable, "-m", "bussdcc_system", "check-config", sys.argv[1]])
_, status = os.waitpid(pid, 0)
with open(sys.argv[2], "w") as peak:
    peak.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(path: Path, cwd: Path) -> Measured:
    """``check-config PATH`` in a child: what it prints, its status and its own peak RSS."""
    environ = {k: v for k, v in os.environ.items() if k != "BUSSDCC_SYSTEM_CONFIG"}
    peak = cwd / "peak-rss"
    with subprocess.Popen(
        [sys.executable, "-c", _MEASURE, str(path), str(peak)],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that a timeout ends the child as well
    ) as helper:
        try:
            stdout, stderr = helper.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(helper.pid, signal.SIGKILL)
            raise
    return Measured(helper.returncode, stdout, stderr.splitlines(), int(peak.read_text()) / 1024)


def _size(text: str, size: int) -> str:
    """``text`` repeated to just under ``size`` bytes (whole copies)."""
    return text * (size // len(text))


UNDER_LIMIT = 128 * 1024 - 1
HOSTILE = {
    "nested merge keys": (nested_merge_keys(), f"config.yaml:4: {EXPANDS}"),
    "nested merge keys in web": (nested_merge_keys(into="web"), f"config.yaml:4: {EXPANDS}"),
    "nested aliases in lists": (nested_aliases_in_lists(), f"config.yaml:4: {EXPANDS}"),
    "merge chain": (merge_chain(4_000), f"config.yaml:44: {EXPANDS}"),
    "unknown keys": (unknown_keys(UNDER_LIMIT // 19), f"config.yaml:1000: {TOO_MANY}"),
    "duplicate keys": (_size("web: {port: 8086}\n", UNDER_LIMIT), f"config.yaml:500: {TOO_MANY}"),
    "a long scalar": (
        "web:\n  host: " + "h" * (UNDER_LIMIT - 20) + "\n",
        "config.yaml:2: web.host: expected an IP address or host name to listen on,"
        f" got '{'h' * 60}…'",
    ),
    "a long key": (
        "web:\n  ? " + "k" * (UNDER_LIMIT - 20) + "\n  : 1\n",
        f"config.yaml:2: web.{'k' * 60}…: unknown key; expected one of 'enabled', 'host',"
        " 'port', 'token', 'allowed_origins'",
    ),
    "a long base-60 number": (
        "web:\n  port: 1" + ":1" * ((UNDER_LIMIT - 20) // 2) + "\n",
        f"config.yaml:2: web.port: expected an integer 1-65535, got {'1:' * 30}…",
    ),
    "deep nesting": (
        "web: " + "[" * 60_000 + "]" * 60_000 + "\n",
        "config.yaml:1: nested more than 32 levels deep (a configuration needs 4)",
    ),
    "1 MiB of comments": (_size("# a comment\n", 1024 * 1024), "config.yaml: cannot read"),
    "2 MiB of unknown keys": (unknown_keys(2 * 1024 * 1024 // 19), "config.yaml: cannot read"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_is_refused_in_one_line_within_100_mib(case: str, tmp_path: Path) -> None:
    text, first = HOSTILE[case]
    assert len(text.encode()) < 3 * 1024 * 1024
    path = write(tmp_path / "config.yaml", text)
    result = run_measured(path, tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    if first.endswith("cannot read"):
        size = len(text.encode())
        assert result.lines == [
            f"config.yaml: cannot read {path}: it is {size:,} bytes, more than the limit of"
            " 131,072 bytes (128 KiB; a configuration is a few KiB)"
        ]
    else:
        assert result.lines == [first]
    assert result.peak_rss_mib < 100


def test_comments_up_to_the_limit_are_read_within_100_mib(tmp_path: Path) -> None:
    path = write(tmp_path / "config.yaml", _size("# a comment\n", UNDER_LIMIT))
    result = run_measured(path, tmp_path)
    assert (result.returncode, result.lines) == (0, [])
    assert result.stdout.startswith(f"OK: {path}\n")
    assert result.peak_rss_mib < 100


def test_many_problems_are_listed_one_a_line_up_to_20(tmp_path: Path) -> None:
    text = "".join(f"sampling{index}: {{}}\n" for index in range(300))
    text += "web:\n  port: " + "9" * 5_000 + "\n  host: 999.999.999.999\n"
    path = write(tmp_path / "config.yaml", text)
    result = run_measured(path, tmp_path)
    assert (result.returncode, result.stdout) == (78, "")
    assert len(result.lines) == 21
    assert result.lines[0] == "config.yaml:1: sampling0: unknown key; did you mean 'sampling'?"
    assert result.lines[19] == "config.yaml:20: sampling19: unknown key; did you mean 'sampling'?"
    assert result.lines[20] == "config.yaml: ... and 282 more problems"
    assert max(len(line) for line in result.lines) <= 200


def test_a_named_pipe_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    """Nobody writes into the FIFO: reading it would block check-config (and a reload)."""
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    done = run(str(fifo), cwd=tmp_path)
    assert done.returncode == 78, done
    assert f"cannot read {fifo}: it is a named pipe (FIFO), not a file" in done.stderr
