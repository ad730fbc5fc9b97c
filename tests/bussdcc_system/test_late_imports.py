"""Start-up loads only what READY=1 needs, and everything else right after it, never later.

The real daemon runs with an audit hook (``sitecustomize``) that writes every module it
imports to a file. After ``READY=1`` and the journal's "start-up finished" line, every
page, the API, ``/metrics``, a Socket.IO client and a reload are used; none of them
may import a module any more (a Debian upgrade unpacks new files under a running daemon).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import socketio

from tests.bussdcc_system.daemon_harness import REPO, DaemonProcess, NotifySocket, free_port
from tests.bussdcc_system.test_daemon import ready, write_config

pytestmark = pytest.mark.slow

SITECUSTOMIZE = """\
import os, sys
_log = open(os.environ["IMPORT_LOG"], "a", buffering=1)
def _hook(event, args):
    if event == "import":
        _log.write(args[0] + "\\n")
sys.addaudithook(_hook)
"""

NOT_BEFORE_READY = ("flask", "flask_socketio", "engineio", "werkzeug", "prometheus_client")
"""Loaded after READY=1 (the web stack)."""

NEVER = ("requests.", "urllib3", "websocket.", "paho", "gpiozero")
"""engineio's client libraries (a server never uses them: tried, kept out, so only their
submodules show that they loaded); MQTT and a status LED are off in this configuration."""


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for_line(path: Path, text: str, timeout: float = 60.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for line in _lines(path):
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {path}: {path.read_text()[-2000:]}")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200, url
        return bytes(resp.read())


def test_after_start_up_nothing_is_imported_any_more(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path / "config.yaml", port, tmp_path / "history")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "imports.log"
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {"PYTHONPATH": f"{hook}:{REPO / 'src'}", "IMPORT_LOG": str(log)}
    try:
        with DaemonProcess(config, notify, extra_env=env) as daemon:
            notify.wait_for(ready)
            at_ready = set(_lines(log))
            _wait_for_line(daemon.stderr_path, "start-up finished")
            loaded = _lines(log)

            url = f"http://127.0.0.1:{port}"
            for path in ("/", "/kiosk", "/healthz", "/metrics", "/favicon.ico"):
                _get(url + path)
            page = _get(url + "/").decode()
            for asset in ("app.js", "app.css"):
                start = page.index(f"/static/{asset}")
                _get(url + page[start : page.index('"', start)])
            for path in ("/api/state", "/api/health", "/api/openapi.json"):
                json.loads(_get(url + path))
            metrics = json.loads(_get(url + "/api/history/metrics"))
            for metric in metrics["metrics"][:2]:
                name = metric["name"] if isinstance(metric, dict) else metric
                _get(f"{url}/api/history?range=1h&metric={name}")
            _get(url + "/api/power/episodes?days=7")
            client = socketio.Client(reconnection=False)
            hello: list[object] = []
            client.connect(url, transports=["websocket"])
            client.call("hello", {"build": ""}, timeout=30)
            hello.append(True)
            client.disconnect()
            config.write_text(
                config.read_text().replace("temperature_warning: 70", "temperature_warning: 65")
            )
            daemon.signal(signal.SIGHUP)
            done = notify.wait_for(lambda m: ready(m) and "reloaded" in m.get("STATUS", ""))
            assert done["STATUS"].startswith("reloaded (1 change(s) applied)")
            after = _lines(log)[len(loaded) :]
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
    finally:
        notify.close()

    assert hello
    tops = {name.split(".")[0] for name in loaded}
    assert not {n for n in NOT_BEFORE_READY if n in {m.split(".")[0] for m in at_ready}}
    assert set(NOT_BEFORE_READY) <= tops
    never = [name for name in loaded + after if name.startswith(NEVER)]
    assert never == []
    assert after == [], f"imported after start-up finished: {after}"


def test_the_late_imports_keep_engineio_client_libraries_out_and_let_them_in_after() -> None:
    code = (
        "import sys\n"
        "from bussdcc_system import late_imports\n"
        "late_imports.finish_imports()\n"
        "assert all(name in sys.modules for name in late_imports.LATE)\n"
        "assert 'requests' not in sys.modules and 'websocket' not in sys.modules\n"
        "import engineio.client\n"
        "assert engineio.client.requests is None\n"
        "import requests\n"  # not kept out for anyone else
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip() == "ok", out.stderr
