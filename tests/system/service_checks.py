"""Checks of the installed bussdcc-system service, shared by the per-distribution tests,
and the figures the tests record (never asserted: printed and saved to
artifacts/system-timings.json)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from nspawn_container import DASHBOARD_PORT, Container, http_get, wait_for

from tests.prerequisites import chromium_context, unavailable

REPO = Path(__file__).resolve().parents[2]
TIMINGS_FILE = REPO / "artifacts" / "system-timings.json"

UNIT = "bussdcc-system.service"
CONFIG = "/etc/bussdcc-system/config.yaml"
STATE_DIR = "/var/lib/bussdcc-system"
HISTORY_DIR = f"{STATE_DIR}/history"
HEALTHZ = f"http://127.0.0.1:{DASHBOARD_PORT}/healthz"
EX_CONFIG = os.EX_CONFIG
MAX_EXPOSURE = 2.0

# A valid edit the daemon applies live: a disk threshold of 1 % turns health to "warning"
# at once (any real root file system is fuller than that), visible in /api/health and in
# STATUS= ("health warning; ...").
RELOAD_EDIT = "\n# edited by tests/system\nhealth:\n  disk_warning: 1\n"
HEALTH_API = f"http://127.0.0.1:{DASHBOARD_PORT}/api/health"
STATE_API = f"http://127.0.0.1:{DASHBOARD_PORT}/api/state"
# YAML that cannot parse: a reload must keep the running configuration.
BROKEN_CONFIG = "health: [this is not closed\n"
# Well-formed YAML with a wrong type: refused at start with EX_CONFIG.
INVALID_CONFIG = "health:\n  temperature_warning: very hot\n"


def require(ok: bool, reason: str) -> None:
    """Skip when a prerequisite is missing; fail instead when CI=true."""
    if not ok:
        unavailable(reason)


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") is None]
    require(
        not missing,
        f"missing tools: {', '.join(missing)} (apt-get install "
        "systemd-container debootstrap dpkg-dev lintian)",
    )


class Timings:
    """Figures a run measured (seconds, bytes, scores): printed and saved, never asserted."""

    def __init__(self, store: dict[str, Any]) -> None:
        self.store = store

    def record(self, section: str, key: str, value: Any) -> None:
        if isinstance(value, float):
            value = round(value, 3)
        self.store.setdefault(section, {})[key] = value
        print(f"[timing] {section}.{key} = {value}")
        self.save()

    def save(self) -> None:
        TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
        data = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **self.store}
        TIMINGS_FILE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- checks


def service(c: Container) -> dict[str, str]:
    return c.show(
        UNIT,
        "ActiveState",
        "SubState",
        "MainPID",
        "NRestarts",
        "StatusText",
        "Result",
        "ExecMainStatus",
        "ExecMainStartTimestampMonotonic",
        "ActiveEnterTimestampMonotonic",
    )


def wait_active(c: Container, timeout: float = 60.0) -> dict[str, str]:
    def probe() -> dict[str, str] | None:
        s = service(c)
        if s["ActiveState"] == "failed":
            raise AssertionError(f"{UNIT} failed: {s}\n{c.journal(UNIT)}")
        return s if s["ActiveState"] == "active" and s["SubState"] == "running" else None

    try:
        return wait_for(f"{UNIT} active", probe, timeout)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{service(c)}\n{c.journal(UNIT)}") from None


def health() -> dict[str, Any]:
    """GET /api/health: {"level": "ok" | "warning" | "critical", "reasons": [...], ...}."""
    status, body = http_get(HEALTH_API, timeout=5)
    assert status == 200, f"{HEALTH_API} answered {status}: {body[:500]!r}"
    result: dict[str, Any] = json.loads(body)
    return result


def wait_healthz(timeout: float = 60.0) -> None:
    wait_for(f"{HEALTHZ} to answer 200", lambda: http_get(HEALTHZ, timeout=3)[0] == 200, timeout)


def startup_seconds(s: dict[str, str]) -> float:
    """From exec of the main process to READY=1, as systemd measured it."""
    started = int(s["ExecMainStartTimestampMonotonic"])
    active = int(s["ActiveEnterTimestampMonotonic"])
    return (active - started) / 1e6


def exposure(c: Container) -> tuple[float, str]:
    out = c.run("systemd-analyze", "security", "--no-pager", UNIT).stdout
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out)
    assert m, f"no exposure score in:\n{out}"
    return float(m.group(1)), out


def history_files(c: Container) -> list[str]:
    out = c.run("find", HISTORY_DIR, "-type", "f", "-name", "*.jsonl*", check=False).stdout
    return sorted(line for line in out.splitlines() if line)


def install(c: Container, deb: Path, timings: Timings, section: str) -> dict[str, str]:
    """apt install ./bussdcc-system_*.deb; the postinst enables and starts the unit."""
    start = time.monotonic()
    c.apt("update", timeout=300)
    timings.record(section, "apt_update_s", time.monotonic() - start)
    inside = c.copy_in(deb)
    start = time.monotonic()
    c.apt("install", "-y", inside)
    timings.record(section, "apt_install_with_deps_s", time.monotonic() - start)
    return wait_active(c)


def check_installed_and_running(c: Container, timings: Timings, section: str) -> None:
    s = wait_active(c)
    assert int(s["MainPID"]) > 0
    assert s["NRestarts"] == "0", s
    assert s["StatusText"], "the daemon should say what it does in STATUS="
    timings.record(section, "install_start_to_ready_s", startup_seconds(s))
    assert c.run("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
    # The sysusers.d file: a system user in video and gpio (gpio created if missing).
    ident = c.run("id", "bussdcc-system").stdout
    assert "(video)" in ident and "(gpio)" in ident, ident
    owner = c.run("stat", "-c", "%U:%G %a", STATE_DIR).stdout.split()
    assert owner == ["bussdcc-system:bussdcc-system", "750"], owner
    # Start-to-active of a plain restart (blocks until READY=1).
    start = time.monotonic()
    c.run("systemctl", "restart", UNIT, timeout=120)
    timings.record(section, "restart_to_active_s", time.monotonic() - start)
    s = wait_active(c)
    timings.record(section, "start_to_ready_s", startup_seconds(s))
    start = time.monotonic()
    wait_healthz()
    timings.record(section, "ready_to_healthz_s", time.monotonic() - start)
    # The dashboard is for the LAN and the kiosk: bound to every address, not loopback.
    anywhere = {"00000000", "00000000000000000000000000000000"}
    bound = listening_addresses(c)
    assert bound & anywhere, f"port {DASHBOARD_PORT} is bound only to {bound} (hex)"


def listening_addresses(c: Container, port: int = DASHBOARD_PORT) -> set[str]:
    """Local addresses with a TCP socket in LISTEN state on ``port`` (/proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in c.read_file(table).splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].rpartition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


TELEMETRY = {"cpu", "memory", "disk", "load", "network", "identity"}


def check_telemetry_under_sandbox(timings: Timings, section: str) -> None:
    """The hardening must not blind the daemon: every telemetry family arrives, and
    interface addresses (psutil over AF_NETLINK) are known."""
    start = time.monotonic()

    def system() -> dict[str, Any] | None:
        status, body = http_get(STATE_API, timeout=5)
        found: dict[str, Any] = json.loads(body).get("system", {}) if status == 200 else {}
        return found if set(found) >= TELEMETRY else None

    state = wait_for(f"{sorted(TELEMETRY)} in {STATE_API}", system, timeout=60)
    timings.record(section, "all_telemetry_s", time.monotonic() - start)
    addresses = state["identity"].get("addresses")
    assert addresses, f"no interface addresses under the sandbox: {state['identity']}"


def check_history(c: Container, timings: Timings, section: str) -> None:
    start = time.monotonic()
    files = wait_for("JSONL history files", lambda: history_files(c), timeout=90)
    timings.record(section, "first_history_file_s", time.monotonic() - start)
    owner = c.run("stat", "-c", "%U", files[0]).stdout.strip()
    assert owner == "bussdcc-system", files[0]
    plain = [f for f in files if f.endswith(".jsonl")]
    if plain:

        def lines() -> list[dict[str, Any]] | None:
            text = c.read_file(plain[-1])
            # The last line may be torn while being written: read complete lines only.
            complete = text.split("\n")[:-1]
            return [json.loads(line) for line in complete if line.strip()] or None

        records = wait_for("a complete history line", lines, timeout=60)
        assert {"time", "name", "data"} <= set(records[0]), records[0]


def check_security(c: Container, timings: Timings, section: str) -> None:
    score, report = exposure(c)
    print(report)
    print(f"{UNIT} exposure ({section}): {score}")
    timings.record(section, "exposure", score)
    assert score <= MAX_EXPOSURE, report
    verify = c.run("systemd-analyze", "verify", "--man=no", UNIT, check=False)
    assert verify.returncode == 0 and UNIT not in verify.stderr, verify.stderr


DASHBOARD = f"http://127.0.0.1:{DASHBOARD_PORT}/"
VENDOR_JS = REPO / "src/bussdcc_system/web/static/vendor/socket.io.min.js"


def check_dashboard_page() -> None:
    """``/`` answers 200 with the dashboard (not the 503 "assets missing" page), and the
    Socket.IO client it loads is the committed one, byte for byte."""
    status, body = http_get(DASHBOARD, timeout=10)
    page = body.decode(errors="replace")
    assert status == 200, f"{DASHBOARD} answered {status}: {page[:1500]}"
    m = re.search(r'src="(/static/vendor/socket\.io\.min\.js\?v=[0-9a-f]+)"', page)
    assert m, f"the dashboard does not load the Socket.IO client:\n{page[:3000]}"
    status, js = http_get(f"http://127.0.0.1:{DASHBOARD_PORT}{m.group(1)}", timeout=10)
    assert status == 200 and js == VENDOR_JS.read_bytes(), (status, js[:200])


def engineio_upgrades() -> list[str]:
    """What the server offers in an Engine.IO v4 handshake: ["websocket"] or []."""
    status, body = http_get(f"{DASHBOARD}socket.io/?EIO=4&transport=polling", timeout=10)
    assert status == 200 and body[:1] == b"0", (status, body[:300])
    upgrades: list[str] = json.loads(body[1:])["upgrades"]
    return upgrades


def browser_transport(timings: Timings, section: str, expect: str) -> str:
    """Load the dashboard in Debian's headless Chromium (against the container, over the
    shared network) and return the transport its Socket.IO connection ends up on:
    "websocket" once the client upgraded, "polling" when the server offered no upgrade
    in the handshake the browser received (then the client never tries one). The page's
    own connection is read through ``window.__dash.socket`` (app.js)."""
    handshakes: list[Any] = []

    def on_response(response: Any) -> None:
        url = response.url
        if "/socket.io/" in url and "transport=polling" in url and "sid=" not in url:
            handshakes.append(response)

    with chromium_context() as context:
        page = context.new_page()
        page.on("response", on_response)
        page.goto(DASHBOARD, wait_until="load", timeout=60_000)
        page.wait_for_function(
            "() => !!(window.__dash && window.__dash.socket.connected)", timeout=60_000
        )
        if expect == "websocket":
            page.wait_for_function(
                "() => window.__dash.socket.io.engine.transport.name === 'websocket'",
                timeout=60_000,
            )
        transport: str = page.evaluate("() => window.__dash.socket.io.engine.transport.name")
        live = page.evaluate("() => window.__dash.socket.connected")
        assert handshakes, "the browser made no Engine.IO polling handshake"
        body = handshakes[0].text()
    assert body.startswith("0{"), body[:300]
    offered = json.loads(body[1:])["upgrades"]
    timings.record(section, "socketio_transport", transport)
    print(f"{section}: Socket.IO transport {transport}; the handshake offered {offered}")
    assert live, "the dashboard's Socket.IO connection dropped"
    assert offered == ([] if expect == "polling" else ["websocket"]), offered
    if expect == "polling":
        assert transport == "polling", transport
    return transport


def wait_for_port_closed(timeout: float = 20.0) -> bool:
    """True while something still answers on the dashboard port after ``timeout``."""
    try:
        wait_for("the dashboard port to close", lambda: not _answers(), timeout)
        return False
    except TimeoutError:
        return True


def _answers() -> bool:
    try:
        http_get(HEALTHZ, timeout=2)
        return True
    except OSError:
        return False
