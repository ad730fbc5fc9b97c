"""The whole appliance on a fake Raspberry Pi 4, end to end, from the outside.

The real daemon (``python -m bussdcc_system run``) runs on a copy of
``tests/fixtures/hosts/pi4`` (``BUSSDCC_SYSTEM_ROOT``) whose fake ``usr/bin/vcgencmd``
answers from the file ``throttled`` beside it, with gpiozero's MockFactory for the
status LED. Every assertion goes through what a person uses: the JSON API, /metrics,
sd_notify ``STATUS``, stdout's JSON lines, the JSONL history and the ``history``
command, and a real Chromium for the dashboard.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.bussdcc_system.appliance_helpers import (
    PI4_DEVICES,
    SHOTS,
    Appliance,
    boot_id,
    copy_host,
    history_records,
    metric_value,
    run_cli,
    set_boot_id,
    set_throttled,
    wait_until,
    write_config,
    write_host_file,
)
from tests.prerequisites import assert_not_blank, chromium_context, unavailable

pytestmark = pytest.mark.slow

MOCK_GPIO = {"GPIOZERO_PIN_FACTORY": "mock"}
UNDER_VOLTAGE_NOW = "Under-voltage detected now (check the power supply and cable)"
UNDER_VOLTAGE_RECENT = (
    "Under-voltage occurred in the last 1 hour (check the power supply and cable)"
)
NO_VCIO = "must be in group 'video'"
NO_PIN_FACTORY = "no GPIO pin factory available: install python3-lgpio"


@pytest.fixture
def appliances(tmp_path: Path) -> Iterator[Callable[..., Appliance]]:
    """Makes daemons; every one is killed at teardown, whatever happened."""
    made: list[Appliance] = []

    def make(**kwargs: Any) -> Appliance:
        app = Appliance(tmp_path, name=f"run{len(made) + 1}", **kwargs)
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


@pytest.fixture
def pi4(tmp_path: Path) -> Path:
    return copy_host("pi4", tmp_path / "root")


def throttling(app: Appliance) -> dict[str, Any]:
    """The throttling device's entry in /api/state ({} while there is none)."""
    return dict(app.state()["system"].get("throttling", {}).get("throttling") or {})


def led(app: Appliance) -> dict[str, Any]:
    return dict(app.devices().get("status_led") or {})


def matching(entry: dict[str, Any], **want: Any) -> dict[str, Any]:
    """``entry`` if it has every ``want``ed value, else {} (for ``wait_until``)."""
    return entry if all(entry.get(k) == v for k, v in want.items()) else {}


def health_is(app: Appliance, level: str) -> dict[str, Any]:
    """/api/health once its level is ``level`` (falsy before)."""
    return matching(app.health(), level=level)


def episodes_json(history: Path) -> list[dict[str, Any]]:
    done = run_cli("history", "episodes", "--dir", str(history), "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def posix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# -- 1. an under-voltage episode, from the firmware flag to history across a reboot ---


def test_under_voltage_episode_end_to_end_and_after_a_reboot(
    tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    history = tmp_path / "history"
    first_boot = boot_id(pi4)
    app = appliances(root=pi4, history=history, env=MOCK_GPIO)
    ready = app.start()
    assert "3 of 3 devices online" in ready["STATUS"], ready

    # A healthy Pi 4: vcgencmd (run from under the host root) says 0x0, the LED is on.
    wait_until(lambda: throttling(app).get("raw") == 0, what="the first get_throttled")
    assert throttling(app)["source"] == "vcgencmd"
    wait_until(lambda: health_is(app, "ok"), what="health ok")
    wait_until(lambda: led(app).get("pattern") == "on", what="the LED steady on")

    # The power supply sags: under-voltage now (and throttled), plus the since-boot bits.
    set_throttled(pi4, "0x50005")
    flags = wait_until(lambda: matching(throttling(app), under_voltage=True), what="flags")
    assert flags["raw"] == 0x50005 and flags["under_voltage_occurred"] is True
    critical = wait_until(lambda: health_is(app, "critical"), what="health critical")
    assert critical["reasons"][0] == UNDER_VOLTAGE_NOW
    assert "CPU throttled now" in critical["reasons"]
    assert critical["previous"] == "ok"
    metrics = app.metrics()
    assert metric_value(metrics, 'bussdcc_system_throttling_flag{flag="under_voltage"}') == 1.0
    assert metric_value(metrics, "bussdcc_system_throttled_raw") == float(0x50005)
    assert metric_value(metrics, "bussdcc_system_health_level") == 2.0
    blink = wait_until(lambda: matching(led(app), pattern="fast_blink"), what="fast blink")
    assert blink["pin"] == 17 and blink["level"] == "critical" and blink["online"] is True
    status = app.wait_status("health critical")
    assert "3 of 3 devices online" in status["STATUS"]
    changed = wait_until(
        lambda: app.event("system.health.changed", lambda e: e["data"]["level"] == "critical")
    )
    assert changed["severity"] == "error"
    assert UNDER_VOLTAGE_NOW in changed["data"]["reasons"]

    # Power is good again; the firmware still remembers (occurred bits only).
    set_throttled(pi4, "0x50000")
    warning = wait_until(lambda: health_is(app, "warning"), what="health warning")
    assert warning["reasons"] == [UNDER_VOLTAGE_RECENT]
    assert warning["previous"] == "critical"
    wait_until(lambda: led(app).get("pattern") == "slow_blink", what="the LED slow blink")
    metrics = app.metrics()
    assert metric_value(metrics, 'bussdcc_system_throttling_flag{flag="under_voltage"}') == 0.0
    assert (
        metric_value(metrics, 'bussdcc_system_throttling_flag{flag="under_voltage_occurred"}')
        == 1.0
    )
    assert metric_value(metrics, "bussdcc_system_health_level") == 1.0
    app.wait_status("health warning")

    assert app.stop() == 0

    # The episode, from the history files alone, with a start and an end.
    done = run_cli("history", "episodes", "--dir", str(history))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "  under-voltage: " in line]
    assert len(lines) == 1, done.stdout
    assert "under-voltage: until " in lines[0] and "ongoing" not in lines[0], lines
    (uv,) = [e for e in episodes_json(history) if e["kind"] == "under_voltage"]
    assert uv["boot"] == first_boot and uv["end_reason"] == "cleared" and uv["start_known"]
    assert uv["end"] is not None and uv["start"] < uv["end"]
    # ...exactly from the sample that saw it to the one that saw it clear.
    samples = [
        r
        for r in history_records(history)
        if r["name"] == "system.throttling.updated" and r["boot"] == first_boot
    ]
    assert [r["data"]["raw"] for r in samples] == [0, 0x50005, 0x50000]
    assert uv["start"] == pytest.approx(posix(samples[1]["time"]), abs=0.01)
    assert uv["end"] == pytest.approx(posix(samples[2]["time"]), abs=0.01)

    # Reboot: a new boot id, the firmware has forgotten. History has not.
    second_boot = str(uuid.uuid4())
    set_boot_id(pi4, second_boot)
    set_throttled(pi4, "0x0")
    again = appliances(root=pi4, history=history, env=MOCK_GPIO)
    again.start()
    listed = wait_until(
        lambda: [
            e
            for e in again.json("/api/power/episodes?days=1")["episodes"]
            if e["kind"] == "under_voltage"
        ],
        what="the episode in /api/power/episodes after the reboot",
    )
    assert listed == [{**listed[0], "start": uv["start"], "end": uv["end"], "boot": first_boot}]
    wait_until(lambda: health_is(again, "ok"), what="health ok after the reboot")
    wait_until(
        lambda: any(r["boot"] == second_boot for r in history_records(history)),
        what="history written under the new boot id",
    )
    assert again.stop() == 0
    done = run_cli("history", "episodes", "--dir", str(history))
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if "  under-voltage: " in line] == lines
    (still,) = [e for e in episodes_json(history) if e["kind"] == "under_voltage"]
    assert still == uv


# -- 2. hardware that is not there ----------------------------------------------------


def _real_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def test_missing_hardware_fails_each_device_in_words_and_the_rest_keeps_running(
    tmp_path: Path,
    pi4: Path,
    appliances: Callable[..., Appliance],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No pin factory (this is not a Pi) and no /dev/vcio access (not in group video).
    The Pi 4 tree has an rpi_volt sensor that would stand in for vcgencmd (next test):
    without it, throttling has no source at all."""
    if _real_pi():
        pytest.skip("this host is a Raspberry Pi: gpiozero would find a real pin factory")
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)  # the daemon inherits this
    shutil.rmtree(pi4 / "sys" / "class" / "hwmon" / "hwmon1")  # rpi_volt
    set_throttled(pi4, "novcio")
    app = appliances(root=pi4, history=tmp_path / "history")
    ready = app.start()
    status = ready["STATUS"]
    assert "1 of 3 devices online (" in status and "failed)" in status, status
    assert "throttling" in status and "status_led" in status, status

    devices = app.devices()
    assert devices["thermal_zone"]["status"] == "online"
    throttle, light = devices["throttling"], devices["status_led"]
    assert throttle["status"] == "failed" and throttle["online"] is False
    assert NO_VCIO in throttle["error"] and "/dev/vcio" in throttle["error"]
    assert light["status"] == "failed" and light["online"] is False
    assert NO_PIN_FACTORY in light["error"] and "a PC has no GPIO pins" in light["error"]
    assert "throttling" not in app.state()["system"]

    failed = {e["data"]["device"]: e for e in app.events() if e["name"] == "device.failed"}
    assert set(failed) == {"throttling", "status_led"}
    assert all(e["severity"] == "error" for e in failed.values())
    assert failed["throttling"]["data"]["error"] == throttle["error"]
    assert failed["status_led"]["data"]["error"] == light["error"]

    metrics = app.metrics()
    for device, online in (("throttling", 0.0), ("status_led", 0.0), ("thermal_zone", 1.0)):
        sample = f'bussdcc_system_device_online{{device="{device}",kind="{device}"}}'
        assert metric_value(metrics, sample) == online, sample

    # Everything else keeps flowing: fresh readings, history, watchdog pings.
    def stamps() -> tuple[str, str]:
        system = app.state()["system"]
        return system["memory"]["updated"], system["temperature"]["thermal_zone"]["updated"]

    first = wait_until(stamps, what="memory and temperature readings")
    wait_until(
        lambda: all(a != b for a, b in zip(stamps(), first, strict=True)),
        what="newer memory and temperature readings",
    )
    assert app.state()["system"]["temperature"]["thermal_zone"]["celsius"] == 48.686
    wait_until(
        lambda: (
            {"device.failed", "system.memory.usage.updated"}
            <= {r["name"] for r in history_records(app.history)}
        ),
        what="history records",
    )
    app.notify.wait_for(lambda m: m.get("WATCHDOG") == "1", timeout=10)
    assert app.running()
    assert app.stop() == 0


def test_no_vcio_on_a_pi_with_rpi_volt_falls_back_to_the_hwmon_alarm(
    tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    """The documented degraded mode: under-voltage still watched, the reason logged."""
    set_throttled(pi4, "novcio")
    app = appliances(root=pi4, history=tmp_path / "history", env=MOCK_GPIO)
    ready = app.start()
    assert "3 of 3 devices online" in ready["STATUS"]
    flags = wait_until(lambda: throttling(app), what="a throttling reading")
    assert flags["source"] == "hwmon" and flags["raw"] is None
    assert flags["under_voltage"] is False and flags["throttled"] is None
    assert NO_VCIO in app.stderr() and "from rpi_volt" in app.stderr()
    write_host_file(pi4, "/sys/class/hwmon/hwmon1/in0_lcrit_alarm", "1\n")
    critical = wait_until(lambda: health_is(app, "critical"), what="health critical")
    assert critical["reasons"] == [UNDER_VOLTAGE_NOW]
    assert app.stop() == 0


# -- 3. reload changes the devices live -----------------------------------------------


def test_reload_removes_a_device_and_moves_the_led_without_a_restart(
    tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    app = appliances(root=pi4, history=tmp_path / "history", env=MOCK_GPIO)
    app.start()
    pid = app.daemon.pid
    assert app.json("/healthz")["pid"] == pid
    wait_until(lambda: led(app).get("pattern") == "on", what="the LED on GPIO17")
    wait_until(lambda: "thermal_zone" in app.state()["system"].get("temperature", {}))

    write_config(
        app.config,
        port=app.port,
        history=app.history,
        devices=PI4_DEVICES.replace("  - kind: thermal_zone\n    interval: 0.5\n", "").replace(
            "pin: 17", "pin: 27"
        ),
    )
    app.signal(signal.SIGHUP)
    app.notify.wait_for(lambda m: m.get("RELOADING") == "1", timeout=15)
    done = app.notify.wait_for(lambda m: m.get("READY") == "1", timeout=15)
    assert done["STATUS"].startswith("reloaded (2 change(s) applied)"), done
    assert "2 of 2 devices online" in done["STATUS"], done
    assert app.running() and app.json("/healthz")["pid"] == pid

    moved = wait_until(lambda: matching(led(app), pin=27), what="the LED on GPIO27")
    assert moved["status"] == "online" and moved["pattern"] == "on" and moved["level"] == "ok"
    devices = app.devices()
    # Removed on purpose: gone from the API (and /metrics), not reported as offline.
    assert "thermal_zone" not in devices, devices
    assert devices["throttling"]["status"] == "online"
    assert "thermal_zone" not in app.state()["system"].get("temperature", {})
    assert "bussdcc_system_temperature_celsius{" not in app.metrics()
    reloaded = app.event("config.reloaded")
    assert set(reloaded["data"]["changes"]) == {
        "devices: removed thermal_zone (thermal_zone)",
        "devices: changed status_led (status_led)",
    }

    # History goes on in the same file, with the change in it and no more temperatures.
    def after_reload() -> list[dict[str, Any]]:
        records = history_records(app.history)
        names = [r["name"] for r in records]
        if "config.reloaded" not in names:
            return []
        rest = records[names.index("system.reload") + 1 :]
        memory = [r for r in rest if r["name"] == "system.memory.usage.updated"]
        return rest if len(memory) >= 3 else []

    rest = wait_until(after_reload, what="history written after the reload")
    names = [r["name"] for r in rest]
    assert names.index("device.attached") < names.index("config.reloaded"), names
    assert any(
        r["name"] == "device.status_led.changed"
        and r["data"]["pin"] == 27
        and r["data"]["pattern"] == "on"
        for r in rest
    ), [r for r in rest if r["name"] == "device.status_led.changed"]
    detached = [
        i
        for i, r in enumerate(rest)
        if r["name"] == "device.detached" and r["data"]["device"] == "thermal_zone"
    ]
    assert detached, [r["name"] for r in rest]
    assert not [r for r in rest[detached[0] :] if r["name"] == "system.temperature.updated"]
    assert len(list(app.history.rglob("*.jsonl*"))) == 1
    assert app.stop() == 0


# -- 4. a full disk under the history -------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, unmounted at teardown (requested before ``appliances``, so the
    daemon is gone first)."""
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs needs root")
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"mount -t tmpfs failed: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> int:
    """Write to ``path`` until the file system says ENOSPC; the bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    written += os.write(fd, b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return written


def test_full_disk_keeps_the_daemon_serving_and_history_resumes(
    tiny_tmpfs: Path, tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    history = tiny_tmpfs / "history"
    app = appliances(root=pi4, history=history, env=MOCK_GPIO)
    app.start()
    wait_until(
        lambda: any(r["name"] == "system.memory.usage.updated" for r in history_records(history)),
        what="history on the tmpfs",
    )

    filler = tiny_tmpfs / "filler"
    assert fill(filler) > 0
    failed = wait_until(lambda: app.event("history.write_failed"), what="history.write_failed")
    assert failed["severity"] == "error"
    assert "no space left on device" in failed["data"]["reason"]
    assert failed["data"]["error"] == "ENOSPC"
    assert failed["data"]["directory"] == str(history)

    # Still serving and still alive for systemd while the disk is full, and saying why
    # history is not written: on /healthz (degraded, still 200) and in STATUS=.
    status, body = app.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "degraded", body
    (why,) = health["degraded"]
    assert why.startswith(f"history cannot be written to {history}: the disk is full"), why
    assert "(ENOSPC) for " in why
    said = app.wait_status("history cannot be written")["STATUS"]
    assert "the disk is full (no space left on device) (ENOSPC)" in said, said
    assert app.health()["level"] in ("ok", "warning", "critical")
    app.notify.collect(0.05)  # what was queued before
    pings = [m for m in app.notify.collect(3.5) if m.get("WATCHDOG") == "1"]
    assert len(pings) >= 2, app.notify.messages[-10:]
    assert app.running()

    filler.unlink()
    resumed = wait_until(lambda: app.event("history.write_resumed"), what="history.write_resumed")
    assert resumed["severity"] == "warning" and resumed["data"]["failed_for"] > 0

    def written_after_resume() -> bool:
        names = [r["name"] for r in history_records(history)]
        if "history.write_resumed" not in names:
            return False
        rest = names[names.index("history.write_resumed") + 1 :]
        return "system.memory.usage.updated" in rest

    wait_until(written_after_resume, what="new history lines after the space came back")
    wait_until(
        lambda: json.loads(app.get("/healthz")[1])["status"] == "ok", what="/healthz ok again"
    )
    assert f"history in {history}" in app.wait_status("history in")["STATUS"]
    names = [r["name"] for r in history_records(history)]
    assert "history.write_failed" in names  # kept in memory, then written
    assert app.stop() == 0


def test_history_directory_deleted_under_the_daemon_is_made_again_and_nothing_is_lost(
    tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    history = tmp_path / "history"
    app = appliances(root=pi4, history=history, env=MOCK_GPIO)
    app.start()

    def memory_samples() -> list[float]:
        records = history_records(history)
        return [r["time"] for r in records if r["name"] == "system.memory.usage.updated"]

    wait_until(lambda: len(memory_samples()) >= 2, what="history written")
    before = memory_samples()
    shutil.rmtree(history)  # a careless `rm -rf /var/lib/bussdcc-system/history`
    lost = wait_until(lambda: app.event("history.directory_lost"), what="history.directory_lost")
    assert lost["severity"] == "warning" and lost["data"]["how"] == "deleted"
    assert lost["data"]["carried"] > 0
    assert history.is_dir()
    wait_until(lambda: len(memory_samples()) > len(before) + 2, what="history written again")
    after = memory_samples()
    assert after[: len(before)] == before  # what was written before the deletion is back
    names = [r["name"] for r in history_records(history)]
    assert "history.directory_lost" in names  # the warning itself is in history
    status, body = app.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    assert app.stop() == 0


# -- 5. the dashboard in a real browser, against the real daemon ----------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for this module's page tests."""
    with chromium_context() as context:
        yield context


class Dashboard:
    """The dashboard page of a running appliance, recording console errors."""

    def __init__(self, chromium: Any, url: str) -> None:
        self.page = chromium.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(url, wait_until="load")

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(str(msg.text))

    def text(self, key: str) -> str:
        return str(self.page.locator(f'[data-k="{key}"]').first.inner_text())

    def episodes(self) -> str:
        return str(self.page.inner_text("#episodes"))

    def wait_live(self) -> None:
        wait_until(
            lambda: self.page.get_attribute("#conn", "data-state") == "live",
            what="the Socket.IO connection",
        )

    def close(self) -> None:
        self.page.close()


@pytest.mark.browser
def test_dashboard_of_the_real_daemon_shows_the_pi_and_under_voltage(
    chromium: Any, tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    app = appliances(root=pi4, history=tmp_path / "history", env=MOCK_GPIO)
    app.start()
    wait_until(lambda: app.state()["system"].get("temperature"), what="a temperature")
    wait_until(lambda: app.state()["system"].get("identity"), what="the identity")
    page = Dashboard(chromium, app.url + "/")
    try:
        # Rendered by the server from the fake Pi 4's files: complete before any push.
        assert page.text("id.model") == "Raspberry Pi 4 Model B Rev 1.4"
        assert page.text("temp.text") == "48.7 °C"
        assert page.text("pw.text") == "power and clocks are fine now"
        assert page.text("h.text") == "Healthy"
        page.wait_live()

        set_throttled(pi4, "0x50005")
        wait_until(
            lambda: "under-voltage now: the power supply is too weak" in page.text("pw.now"),
            what="under-voltage in words on the page",
        )
        wait_until(lambda: UNDER_VOLTAGE_NOW in page.text("h.reasons"), what="the health reason")
        assert page.text("h.text") == "Critical"
        assert page.text("pw.raw") == "throttled=0x50005 via vcgencmd"
        assert "Raspberry Pi 4 Model B" in page.page.inner_text("body")
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / "appliance-pi4.png"
        png = page.page.screenshot(path=str(shot), full_page=True)
        assert_not_blank(chromium, png, shot)
        assert not page.errors, page.errors
    finally:
        page.close()
    assert app.stop() == 0


def history_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*.jsonl*"))


@pytest.mark.browser
def test_dashboard_episode_list_catches_up_with_history(
    chromium: Any, tmp_path: Path, pi4: Path, appliances: Callable[..., Appliance]
) -> None:
    """With the default flush interval (5 s) the dashboard's episode list must agree
    with /api/power/episodes once history has the episode."""
    history = tmp_path / "history"
    app = appliances(root=pi4, history=history, env=MOCK_GPIO, flush_interval=5.0)
    app.start()
    page = Dashboard(chromium, app.url + "/")
    try:
        page.wait_live()
        assert "no under-voltage or throttling recorded" in page.episodes()
        # Flip just after a flush, as will happen on a real Pi some of the time.
        size = history_bytes(history)
        wait_until(lambda: history_bytes(history) > size, timeout=15, every=0.02, what="a flush")
        set_throttled(pi4, "0x50005")
        wait_until(lambda: "under-voltage now" in page.text("pw.now"), what="under-voltage now")
        wait_until(
            lambda: app.json("/api/power/episodes?days=7")["episodes"],
            timeout=15,
            what="the episode in /api/power/episodes",
        )

        def listed() -> bool:
            text = page.episodes()
            row = [line for line in text.splitlines() if line.startswith("under-voltage")]
            assert row and "still going on" in row[0], f"the page says {text!r}"
            return True

        wait_until(listed, timeout=5, what="the ongoing episode in the page's episode list")
        assert not page.errors, page.errors
    finally:
        page.close()
