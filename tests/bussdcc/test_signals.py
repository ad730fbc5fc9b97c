"""Signals: real signals to a real SignalRuntime process; the handler only records and wakes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bussdcc
from bussdcc import SignalRuntime
from bussdcc.testing import MessageLog, SimClock

APP = Path(__file__).with_name("signal_app.py")
WAIT = 20.0  # generous real-time bound for a line to appear on a loaded machine


class App:
    """A running signal_app.py with its JSON lines read on a thread."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ)
        # run the same kernel the tests import (a work tree or a copy of it)
        src = str(Path(bussdcc.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def expect(self, **match: Any) -> dict[str, Any]:
        """Wait for the next line that has all of ``match``'s items; keep every line seen."""
        while True:
            try:
                record = self._queue.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no line matching {match}; saw {self.lines}") from None
            if record is None:
                raise AssertionError(f"exited before a line matching {match}; saw {self.lines}")
            self.lines.append(record)
            if all(record.get(k) == v for k, v in match.items()):
                return record

    def events(self) -> list[str]:
        return [r["event"] for r in self.lines if "event" in r]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self) -> int:
        """Wait for exit; return the status (after reading every remaining line)."""
        code = self.proc.wait(timeout=WAIT)
        self._reader.join(WAIT)
        while True:
            record = self._queue.get_nowait() if not self._queue.empty() else None
            if record is None:
                break
            self.lines.append(record)
        return code


@pytest.fixture
def apps() -> Iterator[list[App]]:
    started: list[App] = []
    yield started
    for app in started:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
        for stream in (app.proc.stdout, app.proc.stderr):
            if stream is not None:
                stream.close()


def test_hup_reloads_usr_signals_are_messages_and_term_shuts_down(apps: list[App]) -> None:
    app = App()
    apps.append(app)
    app.expect(event="runtime.booted")

    app.signal(signal.SIGHUP)
    assert app.expect(event="system.signal")["data"] == {
        "signal": signal.SIGHUP,
        "action": "reload",
    }
    app.expect(event="system.reload")
    assert app.expect(hook="reload") == {"hook": "reload", "main_thread": True}

    app.signal(signal.SIGUSR1)
    assert app.expect(event="system.signal")["data"] == {
        "signal": signal.SIGUSR1,
        "action": "user1",
    }
    assert app.expect(hook="user")["signum"] == signal.SIGUSR1
    app.signal(signal.SIGUSR2)
    assert app.expect(event="system.signal")["data"] == {
        "signal": signal.SIGUSR2,
        "action": "user2",
    }
    assert app.expect(hook="user")["signum"] == signal.SIGUSR2
    assert app.proc.poll() is None  # still running after reload and user signals

    app.signal(signal.SIGTERM)
    shutdown = app.expect(event="runtime.shutdown")
    assert shutdown["data"]["exit_code"] == 0
    assert app.finish() == 0
    assert "received SIGTERM" in str(
        [r for r in app.lines if r.get("event") == "runtime.shutting_down"]
    )
    assert app.lines[-1] == {"hook": "exit", "code": 0}


def test_sigint_shuts_down_cleanly(apps: list[App]) -> None:
    app = App()
    apps.append(app)
    app.expect(event="runtime.booted")
    app.signal(signal.SIGINT)
    assert app.expect(event="system.signal")["data"]["action"] == "shutdown"
    app.expect(event="runtime.shutdown")
    assert app.finish() == 0


def test_sigterm_during_boot_rolls_back_and_exits(apps: list[App], tmp_path: Path) -> None:
    gate = tmp_path / "hardware-ready"
    app = App("--block-boot", str(gate))
    apps.append(app)
    app.expect(hook="blocking")
    app.signal(signal.SIGTERM)
    gate.touch()  # the blocked start() returns; the boot must not go on
    app.expect(hook="unblocked")
    app.expect(event="runtime.shutdown")
    assert app.finish() == 0
    events = app.events()
    assert "runtime.booted" not in events
    assert not any(r.get("process") == "later" for r in app.lines if r.get("hook") == "start")
    # what had started was rolled back
    assert {"hook": "stop", "process": "blocking-start"} in app.lines
    assert app.lines[-1] == {"hook": "exit", "code": 0}


def test_a_burst_of_signals_never_wedges_the_main_loop(apps: list[App]) -> None:
    """Signals arriving at any moment of the main loop must not deadlock it.

    A Python signal handler runs on the main thread between two bytecodes, possibly while
    that thread holds a lock the handler would take (a deadlock seen with a
    ``threading.Event`` wake-up). Thousands of signals against a busy loop hit that window.
    """
    for _ in range(3):
        app = App("--idle", "0.0005")
        apps.append(app)
        app.expect(event="runtime.booted")
        for k in range(1_000):  # two kinds alternate, so fewer are merged while pending
            app.signal(signal.SIGUSR1 if k % 2 else signal.SIGUSR2)
        app.signal(signal.SIGTERM)
        try:
            app.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail("the SignalRuntime main loop hung while signals arrived")
        assert app.finish() == 0


def test_the_handler_takes_no_lock_the_interrupted_code_may_hold(apps: list[App]) -> None:
    """The same, deterministically: the handler runs between lines of threading code."""
    app = App("--idle", "0.001", "--inject", "300")
    apps.append(app)
    app.expect(event="runtime.booted")
    try:
        app.proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        pytest.fail("the signal handler deadlocked against the code it interrupted")
    assert app.finish() == 0
    user1 = [r for r in app.lines if r.get("hook") == "user"]
    assert len(user1) == 300
    assert app.lines[-1] == {"hook": "exit", "code": 0}


def test_the_signal_handler_itself_only_records_and_wakes() -> None:
    """Nothing happens in the handler; it all happens when the main loop runs."""
    reloads: list[bool] = []

    class App(SignalRuntime):
        def on_reload(self) -> None:
            reloads.append(threading.current_thread() is threading.main_thread())
            self.request_shutdown("reloaded once")

    rt = App(clock=SimClock())
    rt.idle_interval = 30.0  # a wake must come from the signal, not from the idle timer
    log = MessageLog()
    rt.events.subscribe(log)
    caller = threading.Thread(target=rt._handle_signal, args=(signal.SIGHUP, None))
    caller.start()
    caller.join(5)
    assert log.names == [] and reloads == []  # recorded only

    assert threading.current_thread() is threading.main_thread()
    assert rt.run() == 0  # the main loop handles it: reload, then the shutdown it asked for
    assert reloads == [True]
    names = log.names
    assert names.index("runtime.booted") < names.index("system.signal")
    assert names.index("system.signal") < names.index("system.reload")
    assert names[-1] == "runtime.shutdown"
    assert signal.getsignal(signal.SIGHUP) is not rt._handle_signal  # handlers restored


def test_sighups_coalesce_and_on_idle_runs_between_reloads(apps: list[App]) -> None:
    """A storm of SIGHUPs (500, about one a millisecond) while each reload takes a while:
    those arriving while one is pending or running are one reload more, the last one is
    never lost, and ``on_idle`` (a watchdog's feeder) runs between any two reloads."""
    app = App("--slow-reload", "0.05", "--say-idle", "--idle", "30")
    apps.append(app)
    app.expect(event="runtime.booted")
    for _ in range(500):
        app.signal(signal.SIGHUP)
        time.sleep(0.001)
    app.signal(signal.SIGTERM)
    app.expect(event="runtime.shutdown")
    assert app.finish() == 0
    hooks = [r["hook"] for r in app.lines if r.get("hook") in ("reload", "idle")]
    reloads = hooks.count("reload")
    assert 1 <= reloads <= 100, reloads  # far fewer than the signals
    assert app.events().count("system.reload") == reloads
    assert "reload,reload" not in ",".join(hooks), hooks  # on_idle between any two
    # The last SIGHUP recorded is followed by a reload: coalescing never drops one.
    last_hup = max(
        i
        for i, r in enumerate(app.lines)
        if r.get("event") == "system.signal" and r["data"]["action"] == "reload"
    )
    last_reload = max(i for i, r in enumerate(app.lines) if r.get("hook") == "reload")
    assert last_hup < last_reload


def test_signals_recorded_before_a_reload_are_one_reload_and_later_ones_one_more() -> None:
    """Deterministic: the batch semantics, in process, with the handler called directly."""
    calls: list[str] = []

    class App(SignalRuntime):
        def on_reload(self) -> None:
            calls.append("reload")
            if calls.count("reload") == 1:
                for _ in range(3):  # arrive while this reload runs: one reload more
                    self._handle_signal(signal.SIGHUP, None)
            else:
                self.request_shutdown("done")

        def on_user_signal(self, signum: int) -> None:
            calls.append(signal.Signals(signum).name)

        def on_idle(self) -> None:
            calls.append("idle")

    rt = App(clock=SimClock())
    rt.idle_interval = 30.0
    log = MessageLog()
    rt.events.subscribe(log)
    for signum in (signal.SIGHUP, signal.SIGHUP, signal.SIGUSR1, signal.SIGHUP):
        rt._handle_signal(signum, None)
    assert rt.run() == 0
    assert calls[:4] == ["reload", "idle", "SIGUSR1", "reload"]
    assert calls.count("reload") == 2
    recorded = ["reload", "reload", "user1", "reload"] + ["reload"] * 3
    assert [e["action"] for e in log.data("system.signal")] == recorded
    assert len(log.named("system.reload")) == 2
