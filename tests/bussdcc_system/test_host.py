"""HostRoot reads the fake Pi 4, Pi 5 and PC trees exactly, and the real host sanely."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bussdcc_system.host import (
    ROOT_ENV,
    HostRoot,
    NetCounters,
    ProcStatLine,
    parse_cpu_list,
    parse_os_release,
    parse_pid_stat,
    parse_proc_stat,
)
from tests.bussdcc_system.appliance_helpers import (
    FIXTURES,
    HOST_NAMES,
    copy_host,
    write_host_file,
)

KIB = 1024

EXPECTED = {
    "pi4": {
        "cores": 4,
        "model": "Raspberry Pi 4 Model B Rev 1.4",
        "serial": "10000000a1b2c3d4",
        "hostname": "pi4-kitchen",
        "kernel": "6.1.21-v8+",
        "os": "Raspbian GNU/Linux 11 (bullseye)",
        "boot_id": "3f0b2a9e-6c1d-4e8a-9b7f-2d5c8e1a4b60",
        "load": (0.52, 0.58, 0.59),
        "uptime": 24689.37,
        "mem_total": 3884328 * KIB,
        "swap_total": 102396 * KIB,
        "ifaces": ["lo", "eth0", "wlan0"],
        "zones": [("thermal_zone0", "cpu-thermal")],
        "rpi_volt": "/sys/class/hwmon/hwmon1",
        "mmcblk0": (706414, 1872568),
        "cpufreq": [(1500000, 600000, 1800000)],
    },
    "pi5": {
        "cores": 4,
        "model": "Raspberry Pi 5 Model B Rev 1.0",
        "serial": "4a7b2c9d1e3f5a60",
        "hostname": "pi5-lab",
        "kernel": "6.6.51+rpt-rpi-2712",
        "os": "Debian GNU/Linux 12 (bookworm)",
        "boot_id": "b1e2c3d4-5f60-4a7b-8c9d-0e1f2a3b4c5d",
        "load": (1.20, 0.95, 0.80),
        "uptime": 98765.12,
        "mem_total": 8245304 * KIB,
        "swap_total": 204784 * KIB,
        "ifaces": ["lo", "eth0", "wlan0"],
        "zones": [("thermal_zone0", "cpu-thermal")],
        "rpi_volt": "/sys/class/hwmon/hwmon3",
        "mmcblk0": (1843566, 5902214),
        "cpufreq": [(2400000, 1500000, 2400000)],
    },
    "x86": {
        "cores": 2,
        "model": "ThinkPad T480",
        "serial": None,
        "hostname": "build-box",
        "kernel": "6.12.38+deb13-amd64",
        "os": "Debian GNU/Linux 13 (trixie)",
        "boot_id": "9c8b7a65-4321-4fed-9cba-0987654321fe",
        "load": (2.10, 1.64, 1.02),
        "uptime": 3600.50,
        "mem_total": 16314352 * KIB,
        "swap_total": 0,
        "ifaces": ["lo", "eth0"],
        "zones": [("thermal_zone0", "acpitz"), ("thermal_zone1", "x86_pkg_temp")],
        "rpi_volt": None,
        "mmcblk0": None,
        "cpufreq": [],
    },
}


@pytest.fixture(params=HOST_NAMES)
def host_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_fixture_model_ends_with_nul_like_a_real_pi() -> None:
    assert (FIXTURES / "pi4/proc/device-tree/model").read_bytes().endswith(b"\x00")
    assert (FIXTURES / "pi5/proc/device-tree/serial-number").read_bytes().endswith(b"\x00")
    assert not (FIXTURES / "x86/proc/device-tree").exists()


def test_cpu_stat(host_name: str) -> None:
    stat = HostRoot(FIXTURES / host_name).cpu_stat()
    assert stat is not None
    assert len(stat.cores) == EXPECTED[host_name]["cores"]
    for column in range(8):
        assert stat.total[column] == sum(core[column] for core in stat.cores)
    assert stat.total.columns == 8


def test_pi4_cpu_stat_values() -> None:
    stat = HostRoot(FIXTURES / "pi4").cpu_stat()
    assert stat is not None
    assert stat.cores[0][:8] == (30125, 210, 11042, 2469012, 611, 0, 902, 0)


def test_cpu_count(host_name: str) -> None:
    assert HostRoot(FIXTURES / host_name).cpu_count() == EXPECTED[host_name]["cores"]


def test_cpu_count_falls_back_to_cpuinfo(tmp_path: Path) -> None:
    root = copy_host("pi4", tmp_path)
    os.remove(root / "sys/devices/system/cpu/online")
    assert HostRoot(root).cpu_count() == 4


def test_meminfo_in_bytes(host_name: str) -> None:
    info = HostRoot(FIXTURES / host_name).meminfo()
    assert info is not None
    assert info["MemTotal"] == EXPECTED[host_name]["mem_total"]
    assert info["SwapTotal"] == EXPECTED[host_name]["swap_total"]
    assert set(info) == {
        "MemTotal",
        "MemFree",
        "MemAvailable",
        "Buffers",
        "Cached",
        "SwapTotal",
        "SwapFree",
    }


def test_loadavg_and_uptime(host_name: str) -> None:
    host = HostRoot(FIXTURES / host_name)
    assert host.loadavg() == EXPECTED[host_name]["load"]
    assert host.uptime() == EXPECTED[host_name]["uptime"]


def test_net_dev_interfaces(host_name: str) -> None:
    counters = HostRoot(FIXTURES / host_name).net_dev()
    assert counters is not None
    assert list(counters) == EXPECTED[host_name]["ifaces"]


def test_net_dev_reads_a_counter_glued_to_the_colon() -> None:
    # The kernel prints "%6s:%8llu": a 9-digit counter leaves no space after the colon.
    text = (FIXTURES / "pi4/proc/net/dev").read_text()
    assert "  eth0:98765432" in text
    counters = HostRoot(FIXTURES / "pi4").net_dev()
    assert counters is not None
    assert counters["eth0"] == NetCounters(98765432, 123456, 0, 3, 12345678, 65432, 0, 0)
    assert counters["wlan0"] == NetCounters(5432100, 4321, 1, 7, 654321, 3210, 2, 0)


def test_identity_files(host_name: str) -> None:
    host = HostRoot(FIXTURES / host_name)
    want = EXPECTED[host_name]
    assert host.model() == want["model"]
    assert host.serial() == want["serial"]
    assert host.hostname() == want["hostname"]
    assert host.kernel() == want["kernel"]
    assert host.os_release()["PRETTY_NAME"] == want["os"]
    assert host.boot_id() == want["boot_id"]


def test_model_has_no_trailing_nul() -> None:
    model = HostRoot(FIXTURES / "pi4").model()
    assert model is not None and "\0" not in model


def test_model_and_serial_fall_back_to_cpuinfo(tmp_path: Path) -> None:
    root = copy_host("pi4", tmp_path)
    shutil.rmtree(root / "proc/device-tree")
    host = HostRoot(root)
    assert host.model() == "Raspberry Pi 4 Model B Rev 1.4"
    assert host.serial() == "10000000a1b2c3d4"


def test_hostname_falls_back_to_etc_hostname(tmp_path: Path) -> None:
    root = copy_host("x86", tmp_path)
    os.remove(root / "proc/sys/kernel/hostname")
    write_host_file(root, "/etc/hostname", "other-name\n")
    assert HostRoot(root).hostname() == "other-name"


def test_thermal_zones_skip_cooling_devices(host_name: str) -> None:
    zones = HostRoot(FIXTURES / host_name).thermal_zones()
    assert [(z.name, z.type) for z in zones] == EXPECTED[host_name]["zones"]
    assert zones[0].temp_path == "/sys/class/thermal/thermal_zone0/temp"


def test_thermal_zones_sorted_by_number_not_text(tmp_path: Path) -> None:
    root = tmp_path / "host"
    for n in (10, 2, 1):
        write_host_file(root, f"/sys/class/thermal/thermal_zone{n}/type", f"zone{n}\n")
    assert [z.name for z in HostRoot(root).thermal_zones()] == [
        "thermal_zone1",
        "thermal_zone2",
        "thermal_zone10",
    ]


def test_find_hwmon_by_name_not_number(host_name: str) -> None:
    assert HostRoot(FIXTURES / host_name).find_hwmon("rpi_volt") == EXPECTED[host_name]["rpi_volt"]


def test_block_stat_fields_3_and_7(host_name: str) -> None:
    stat = HostRoot(FIXTURES / host_name).block_stat("mmcblk0")
    want = EXPECTED[host_name]["mmcblk0"]
    assert (stat if stat is None else tuple(stat)) == want


def test_block_stat_of_an_old_kernel_with_11_fields(tmp_path: Path) -> None:
    write_host_file(
        tmp_path,
        "/sys/block/mmcblk0/stat",
        "    9741     3404   706414    17612    30201    27233  1872568   202024"
        "        0    73876   219637\n",
    )
    stat = HostRoot(tmp_path).block_stat("mmcblk0")
    assert stat is not None and stat.sectors_written == 1872568


def test_cpu_frequency_of_each_policy(host_name: str) -> None:
    host = HostRoot(FIXTURES / host_name)
    freqs = [host.cpu_freq(policy) for policy in host.cpufreq_policies()]
    assert [tuple(f) for f in freqs if f is not None] == EXPECTED[host_name]["cpufreq"]


def test_cpu_frequency_policies_in_number_order_and_unreadable_ones(tmp_path: Path) -> None:
    for n, cur in ((10, "1200000"), (2, "800000"), (0, "")):
        write_host_file(
            tmp_path, f"/sys/devices/system/cpu/cpufreq/policy{n}/scaling_cur_freq", cur
        )
    write_host_file(tmp_path, "/sys/devices/system/cpu/cpufreq/ondemand/sampling_rate", "10000\n")
    host = HostRoot(tmp_path)
    policies = host.cpufreq_policies()
    assert [p.rsplit("/", 1)[1] for p in policies] == ["policy0", "policy2", "policy10"]
    # An empty file is no reading; without cpuinfo_* files the limits are unknown.
    assert [host.cpu_freq(p) for p in policies] == [
        None,
        (800000, None, None),
        (1200000, None, None),
    ]
    assert host.cpu_freq(policies[1], limits=False) == (800000, None, None)


def test_processes_from_proc_pid_stat() -> None:
    host = HostRoot(FIXTURES / "pi4")
    procs = {p.pid: p for p in host.processes()}
    assert sorted(procs) == [1, 2, 98, 301, 604, 790, 812, 845, 1102, 1190]
    assert procs[812] == ProcStatLine(812, "chromium", 281330 + 53211, 2199, 105472)
    assert procs[98].comm == "kworker/u8:2-events_unbound" and procs[98].rss_pages == 0
    assert procs[1190].comm == "(sd-pam)"  # parentheses and all
    # The kernel cuts comm to 15 characters: the program's name completes it.
    assert host.command_name(301, "systemd-journal") == "systemd-journald"
    assert host.command_name(812, "chromium") == "chromium"
    assert host.command_name(98, "kworker/u8:2-events_unbound") == "kworker/u8:2-events_unbound"


def test_pid_stat_lines_that_are_not_whole() -> None:
    assert parse_pid_stat("") is None
    assert parse_pid_stat("42 (sh) S 1 42") is None
    assert parse_pid_stat("x (sh) " + "1 " * 30) is None
    assert parse_pid_stat("7 (a) b) R" + " 5" * 30) == ProcStatLine(7, "a) b", 10, 5, 5)


def test_empty_root_has_nothing(tmp_path: Path) -> None:
    host = HostRoot(tmp_path)
    assert host.cpu_stat() is None
    assert host.meminfo() is None
    assert host.loadavg() is None
    assert host.uptime() is None
    assert host.net_dev() is None
    assert host.cpu_count() is None
    assert host.model() is None
    assert host.serial() is None
    assert host.hostname() is None
    assert host.os_release() == {}
    assert host.block_stat("mmcblk0") is None
    assert host.thermal_zones() == []
    assert host.find_hwmon("rpi_volt") is None
    assert host.cpufreq_policies() == []
    assert host.processes() == []


def test_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOT_ENV, str(FIXTURES / "pi5"))
    assert HostRoot().hostname() == "pi5-lab"
    monkeypatch.delenv(ROOT_ENV)
    assert HostRoot().root == "/"


def test_path_maps_host_paths_below_the_root(tmp_path: Path) -> None:
    assert HostRoot("/").path("/proc/stat") == "/proc/stat"
    assert HostRoot(tmp_path).path("/proc/stat") == str(tmp_path / "proc/stat")
    assert HostRoot("/").is_real and not HostRoot(tmp_path).is_real


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_the_real_host() -> None:
    host = HostRoot("/")
    stat = host.cpu_stat()
    assert stat is not None and len(stat.cores) == os.cpu_count()
    info = host.meminfo()
    assert info is not None and info["MemTotal"] > 0
    assert host.loadavg() is not None
    uptime = host.uptime()
    assert uptime is not None and uptime > 0
    counters = host.net_dev()
    assert counters is not None and "lo" in counters
    assert host.cpu_count() == os.cpu_count()
    assert host.kernel() == os.uname().release


def test_parse_proc_stat_of_an_old_kernel() -> None:
    stat = parse_proc_stat("cpu  10 0 5 85\ncpu0 10 0 5 85\nintr 1\n")
    assert stat is not None
    assert stat.total.columns == 4
    assert stat.total[:4] == (10, 0, 5, 85)
    assert parse_proc_stat("intr 1\n") is None


def test_parse_cpu_list() -> None:
    assert parse_cpu_list("0-3") == 4
    assert parse_cpu_list("0,2-3\n") == 3
    assert parse_cpu_list("0") == 1
    assert parse_cpu_list("x") == 0


def test_parse_os_release_quoting() -> None:
    text = '# comment\nPRETTY_NAME="Debian \\"x\\""\nID=debian\nNAME=\'Single\'\nBAD\n'
    assert parse_os_release(text) == {"PRETTY_NAME": 'Debian "x"', "ID": "debian", "NAME": "Single"}
