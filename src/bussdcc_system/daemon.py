"""The daemon: the appliance on a SignalRuntime, glued to systemd.

Main thread: signals, reload and watchdog pings (``on_idle``, every third of
``WATCHDOG_USEC``, and between reloads when signals pour in). ``READY=1`` is sent only
after boot finished, which includes binding the web port; right after it, before the
loop, the dashboard's app is built and served (connections made meanwhile wait in the
listen backlog) and the rest the daemon will need is imported (``late_imports``), so
start-up pays only for what ``READY=1`` needs. ``WATCHDOG=1`` is sent only while the
kernel's liveness check passes (a heartbeat went through dispatch end to end and every
critical service ticks within its deadline), never from a blind timer, so a hung dispatch
or a stalled critical service makes systemd restart the process.
SIGHUP re-reads the YAML and applies only the difference, as a transaction
(``reload.py``): everything that can fail (parse, validate, bind the new address, the
new history directory, new devices) is made ready before anything running changes, then
the switch is made. A reload that fails changes nothing, emits ``config.reload_failed``
with the reason, says it in ``STATUS=`` until a reload succeeds, and is followed by
``READY=1`` like every reload.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bussdcc import BootError, ClockProtocol, Message, Severity, SignalRuntime
from bussdcc_system import __version__, late_imports
from bussdcc_system.components import Components, build_components
from bussdcc_system.config import (
    Config,
    ConfigError,
    diff_configs,
    load_config,
    resolve_config_path,
)
from bussdcc_system.console import ConsoleSink
from bussdcc_system.history.sink import HistorySink
from bussdcc_system.mqtt.status import status_words as mqtt_status_words
from bussdcc_system.notify import Notifier
from bussdcc_system.reload import PreparedReload, ReloadError, prepare
from bussdcc_system.web.interface import WebInterface
from bussdcc_system.web.listener import BindError

log = logging.getLogger("bussdcc_system.daemon")


@dataclass(slots=True, frozen=True)
class ConfigReloaded(Message):
    name = "config.reloaded"
    path: str
    changes: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class ConfigReloadFailed(Message):
    name = "config.reload_failed"
    severity = Severity.ERROR
    path: str
    errors: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class WatchdogWithheld(Message):
    """Liveness failed: systemd will restart us unless it recovers in time."""

    name = "daemon.watchdog_withheld"
    severity = Severity.CRITICAL
    reasons: tuple[str, ...]


@dataclass(slots=True, frozen=True)
class WatchdogResumed(Message):
    name = "daemon.watchdog_resumed"


class Daemon(SignalRuntime):
    """bussdcc-system as a long-running service."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        *,
        explicit: bool = False,
        notifier: Notifier | None = None,
        root: str | None = None,
        clock: ClockProtocol | None = None,
        stdout: TextIO | None = None,
    ) -> None:
        super().__init__(clock=clock)
        self.config = config
        self.config_path = config_path
        self.explicit = explicit
        self.notifier = notifier or Notifier()
        self.root = root
        interval = self.notifier.watchdog_interval
        self._check_interval = min(1.0, interval / 2) if interval else 1.0
        """How often the main loop looks at least (STATUS=, and liveness while withheld)."""
        self.idle_interval = self._check_interval
        self._last_ping = float("-inf")
        self._withheld = False
        self._last_status = ""
        self._reloading = False
        self._reload_error: str | None = None
        """Shown in every STATUS= until a reload succeeds: the file on disk is not in use."""

        self.console = ConsoleSink(config.logging.level, stdout)
        if config.logging.console:
            self._console_sub = self.events.subscribe(self.console.handle, name="console")
        self.history: HistorySink | None = None
        if config.history.enabled:
            self.history = self._make_history(config)
        self.components: Components = build_components(config, root=root)
        self.components.register(self)
        self.web: WebInterface | None = None
        if config.web.enabled:
            self.web = self._make_web(config)

    def _make_web(self, config: Config, listener: socket.socket | None = None) -> WebInterface:
        web = WebInterface(
            config.web,
            history_dir=config.history.directory,
            liveness=self.liveness,
            degraded=self.degraded,
            listener=listener,
            deferred=not self.booted,  # served after READY=1 (``_finish_start``)
        )
        self.register_interface(web)
        return web

    # -- construction helpers -----------------------------------------------------------

    def _make_history(self, config: Config) -> HistorySink:
        sink = HistorySink.from_config(config.history, clock=self.clock, emit=self.emit)
        sink.subscribe(self.events)
        return sink

    # -- lifecycle ----------------------------------------------------------------------

    def boot(self) -> None:
        self.notifier.status(f"starting bussdcc-system {__version__}")
        if self.history is not None:
            self.history.start()
        try:
            super().boot()
        except BaseException:
            if self.history is not None:
                self.history.close()
            raise
        status = self.describe()
        self.notifier.ready(status)
        log.info("ready: %s", status)
        self._finish_start()

    def _finish_start(self) -> None:
        """After READY=1: serve the dashboard, then import the rest (``late_imports``).
        Failing here is a broken installation (a missing module): shut down with 69."""
        started, modules = time.perf_counter(), len(sys.modules)
        try:
            late_imports.load_web_stack()
            if self.web is not None:
                self.web.serve()
            late_imports.finish_imports()
        except Exception as exc:
            log.exception("cannot finish starting")
            self.notifier.status(f"cannot start: {exc!r}")
            self.request_shutdown(f"cannot finish starting: {exc!r}", os.EX_UNAVAILABLE)
            return
        log.info(
            "start-up finished: %d more modules loaded in %.2f s",
            len(sys.modules) - modules,
            time.perf_counter() - started,
        )

    def shutdown(self, reason: str | None = None) -> int:
        if self.booted:
            self.notifier.stopping(f"stopping: {reason or self._shutdown_reason or 'requested'}")
        code = super().shutdown(reason)
        if self.history is not None:
            self.history.close()
        return code

    def describe(self) -> str:
        """What the daemon is doing, in words, for ``STATUS=``."""
        parts = []
        if self._reload_error is not None:
            parts.append(
                "reload failed, still running the previous configuration: " + self._reload_error
            )
        health = self.state.get("system.health.level")
        parts.append(f"health {health}" if health else "running")
        devices = self.devices()
        if devices:
            failed = [d.id for d in devices.values() if not d.online]
            online = len(devices) - len(failed)
            text = f"{online} of {len(devices)} devices online"
            if failed:
                text += f" ({', '.join(failed)} failed)"
            parts.append(text)
        else:
            parts.append("no Pi devices")
        if self.web is not None:
            parts.append(f"dashboard on port {self.config.web.port}")
        if self.history is not None:
            parts.append(self.history.problem() or f"history in {self.config.history.directory}")
        if mqtt := mqtt_status_words(self.state.get("system.mqtt")):
            parts.append(mqtt)
        return "; ".join(parts)

    def degraded(self) -> tuple[str, ...]:
        """What works only in part, in words, for ``/healthz`` (status ``degraded``, still
        200): never a reason to withhold the watchdog, since a restart frees no disk."""
        history = self.history
        problem = history.problem() if history is not None else None
        return (problem,) if problem else ()

    # -- main-thread work ---------------------------------------------------------------

    def on_idle(self) -> None:
        """Ping when a ping is due (every third of WATCHDOG_USEC, while liveness passes),
        and wake up again just when the next one is. Called between reloads too, so a
        storm of signals does not delay it."""
        interval = self.notifier.watchdog_interval
        now = self.clock.monotonic()
        if interval is None:
            self._refresh_status()
            return
        if now - self._last_ping >= interval:
            self._feed_watchdog(now)
        due = self._last_ping + interval - self.clock.monotonic()
        wait = self._check_interval if self._withheld else min(self._check_interval, due)
        self.idle_interval = max(0.001, wait)

    def _feed_watchdog(self, now: float) -> None:
        live = self.liveness()
        if live.ok:
            self.notifier.watchdog()
            self._last_ping = now
            if self._withheld:
                self._withheld = False
                self.emit(WatchdogResumed())
                log.warning("liveness recovered; feeding the watchdog again")
            self._refresh_status()
            return
        if not self._withheld:
            self._withheld = True
            self.emit(WatchdogWithheld(live.reasons))
            log.critical("liveness failed, not feeding the watchdog: %s", "; ".join(live.reasons))
        self._set_status("not feeding the watchdog: " + "; ".join(live.reasons))

    def _refresh_status(self) -> None:
        if not self._withheld and not self._reloading:
            self._set_status(self.describe())

    def _set_status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self.notifier.status(text)

    def on_reload(self) -> None:
        """SIGHUP: parse, prepare, commit; READY=1 whatever happens (systemd waits for it)."""
        self.notifier.reloading(f"reloading {self.config_path}")
        self._reloading = True  # STATUS= says "reloading" until READY=1
        try:
            status = self._reload()
        except Exception as exc:  # a defect, not a reason: the traceback goes to the log
            log.exception("reload failed unexpectedly")
            status = self._reload_failed((f"unexpected error {exc!r} (see the log)",))
        finally:
            self._reloading = False
        self._last_status = status
        self.notifier.ready(status)

    def _reload(self) -> str:
        """The reload itself; the STATUS= to send with READY=1."""
        try:
            new = load_config(self.config_path, explicit=self.explicit)
        except ConfigError as exc:
            return self._reload_failed(tuple(str(i) for i in exc.issues), exc.problems)
        diff = diff_configs(self.config, new, auto_devices=self.components.auto_devices)
        try:
            prepared = prepare(
                self,
                self.config,
                new,
                diff,
                web=self.web,
                components=self.components,
                while_waiting=self.on_idle,  # a slow DNS lookup must not starve the watchdog
            )
        except ReloadError as exc:
            return self._reload_failed((str(exc),))
        try:
            self._commit(prepared)
        except ReloadError as exc:  # only the first step can fail, and it changed nothing
            prepared.discard(self)
            return self._reload_failed((str(exc),))
        self._reload_error = None
        changes = tuple(diff.describe())
        self.emit(ConfigReloaded(str(self.config_path), changes))
        log.info("reloaded %s: %s", self.config_path, "; ".join(changes) or "no changes")
        summary = f"{len(changes)} change(s) applied" if changes else "no changes"
        return f"reloaded ({summary}); {self.describe()}"

    def _reload_failed(self, errors: tuple[str, ...], problems: int = 1) -> str:
        """Say why a reload was refused: every problem in the log and the history, the
        first one (and how many more there are) in STATUS=."""
        self.emit(ConfigReloadFailed(str(self.config_path), errors))
        log.error("reload failed, keeping the running configuration: %s", "; ".join(errors))
        more = f" (and {problems - 1} more)" if problems > 1 else ""
        self._reload_error = f"{errors[0]}{more}"
        return self.describe()

    def _commit(self, prepared: PreparedReload) -> None:
        """Switch over to what ``prepare`` made ready. The first step, a dashboard moving
        on its own port, may fail (``ReloadError``, its old address kept); nothing after
        it can."""
        diff, new = prepared.diff, prepared.config
        if self.web is not None and new.web.enabled and diff.web_changed:
            listener, prepared.listener = prepared.listener, None
            try:
                self.web.apply_config(new.web, listener=listener)
            except BindError as exc:
                raise ReloadError(str(exc)) from exc
        self.components.commit(self, diff, new, prepared.devices)
        if diff.logging_changed:
            self.console.set_level(new.logging.level)
            logging.getLogger().setLevel(_log_level(new.logging.level))
            if new.logging.console != self.config.logging.console:
                if new.logging.console:
                    self._console_sub = self.events.subscribe(self.console.handle, name="console")
                else:
                    self._console_sub.cancel()
        if diff.history_changed:
            if self.web is not None:
                self.web.set_history_dir(new.history.directory)
            if self.history is not None:
                self.history.close()
            self.history, prepared.history = prepared.history, None
            if self.history is not None:
                self.history.subscribe(self.events)
                self.history.start()
        if self.web is not None and not new.web.enabled:
            # Unregistered (stopped, detached, forgotten): enabled again later, there is
            # exactly one.
            self.unregister_interface(self.web.name)
            self.web = None
        elif self.web is None and new.web.enabled:
            listener, prepared.listener = prepared.listener, None
            self.web = self._make_web(new, listener)
        self.config = new


def _log_level(level: str) -> int:
    return {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warning": logging.WARNING,
        "error": logging.ERROR,
        "critical": logging.CRITICAL,
    }[level]


def setup_logging(level: str) -> None:
    """Plain lines on stderr; under systemd the journal adds time and unit."""
    logging.basicConfig(
        level=_log_level(level),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def run_main(cli_path: str | None) -> int:
    """``bussdcc-system run``: the process exit status (sysexits.h): 0; 78 (EX_CONFIG) for a
    bad config; 69 (EX_UNAVAILABLE) when boot fails for a reason outside the config, e.g.
    the port is in use; 70 (EX_SOFTWARE) after a critical failure."""
    path, explicit = resolve_config_path(cli_path)
    notifier = Notifier()
    try:
        config = load_config(path, explicit=explicit)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"bussdcc-system: {issue}", file=sys.stderr)
        notifier.status(f"configuration error: {exc.issues[0]}")
        return os.EX_CONFIG
    setup_logging(config.logging.level)
    try:
        daemon = Daemon(config, path, explicit=explicit, notifier=notifier)
    except Exception as exc:
        print(f"bussdcc-system: cannot start: {exc}", file=sys.stderr)
        notifier.status(f"cannot start: {exc}")
        return os.EX_UNAVAILABLE
    try:
        return daemon.run()
    except BootError as exc:
        cause = exc.__cause__ or exc
        print(f"bussdcc-system: cannot start: {cause}", file=sys.stderr)
        notifier.status(f"cannot start: {cause}")
        return os.EX_UNAVAILABLE
