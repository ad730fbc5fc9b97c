"""SignalRuntime: POSIX signals become messages, handled on the main thread.

The signal handler only records the signal number and wakes the main thread; the
shutdown, reload and user handling run in ``run()``'s loop, never inside the handler.
The handler takes no lock: a Python handler runs on the main thread between any two
bytecodes, possibly while that thread holds the very lock (e.g. inside
``threading.Event.set``), so it wakes the loop by writing a byte to a non-blocking
self-pipe instead. A SIGTERM that arrives during boot cancels the boot (rolling back
what started).

A storm of signals must not starve the main loop's other work (a watchdog fed from
``on_idle``): SIGHUPs coalesce (all those recorded before a reload begins are that one
reload, so any number arriving while a reload is pending or running mean one reload
more), and ``on_idle`` also runs between the steps of handling signals.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import weakref
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Unpack

import bussdcc.message as message
from bussdcc.runtime import BootCancelled, RuntimeOptions, ThreadedRuntime

log = logging.getLogger("bussdcc.signals")

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
_ACTIONS = {
    signal.SIGINT: "shutdown",
    signal.SIGTERM: "shutdown",
    signal.SIGHUP: "reload",
    signal.SIGUSR1: "user1",
    signal.SIGUSR2: "user2",
}
_IDLE_EVERY = 64
"""Signals handled between two ``on_idle`` calls in a storm (more often after a reload)."""


class SignalRuntime(ThreadedRuntime):
    """Run on the main thread: ``run()`` returns the process exit status.

    Subclasses override ``on_reload`` (SIGHUP), ``on_user_signal`` and ``on_idle``
    (called on the main thread about every ``idle_interval`` seconds and between the
    steps of handling signals, e.g. to feed a watchdog: it must be cheap and decide
    itself whether something is due).
    """

    idle_interval: float = 1.0

    def __init__(self, **options: Unpack[RuntimeOptions]) -> None:
        super().__init__(**options)
        self._signals: deque[int] = deque()
        self._signal_cancel = False  # a shutdown signal arrived: cancel a boot in progress
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        weakref.finalize(self, _close_fds, self._wake_r, self._wake_w)
        self._previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}

    # -- the handler: record and wake, nothing else -------------------------------------

    def _handle_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)  # deque.append is atomic and takes no lock
        if signum in SHUTDOWN_SIGNALS:
            self._signal_cancel = True
        self._wake_main()

    def _wake_main(self) -> None:
        """Wake the main loop from a signal handler or any thread (lock-free)."""
        with contextlib.suppress(OSError):  # a full pipe: the loop is already due to wake
            os.write(self._wake_w, b"\0")

    def _wait_wake(self, timeout: float) -> None:
        select.select([self._wake_r], [], [], timeout)
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _on_shutdown_requested(self) -> None:
        self._wake_main()

    def _check_cancel(self) -> None:
        if self._signal_cancel:
            raise BootCancelled("shutdown requested by a signal during boot")
        super()._check_cancel()

    def install_signal_handlers(self) -> None:
        for sig in HANDLED_SIGNALS:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._handle_signal)

    def restore_signal_handlers(self) -> None:
        for sig, prev in self._previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        self._previous.clear()

    # -- the main loop ------------------------------------------------------------------

    def run(self) -> int:
        self._signal_cancel = False
        self.install_signal_handlers()
        try:
            try:
                self.boot()
            except BootCancelled:
                log.info("shutdown requested during boot; boot rolled back")
                return self.exit_code
            try:
                # signals recorded before the loop (e.g. during boot) are handled first
                while not (self._process_signals() or self.shutdown_requested):
                    self._wait_wake(self.idle_interval)
                    if self._process_signals() or self.shutdown_requested:
                        break
                    self.on_idle()
            finally:
                self.shutdown()
            return self.exit_code
        finally:
            self.restore_signal_handlers()

    def _process_signals(self) -> bool:
        """Handle the recorded signals in order; True when one of them asks for shutdown.

        The signals recorded so far are one batch: each becomes a ``system.signal``
        message, then each is acted on in order, except that the batch's SIGHUPs are one
        reload (``system.reload``, ``on_reload``), at the place of the first: all of them
        arrived before it read anything. What arrives meanwhile is the next batch.
        ``on_idle`` runs after each reload and every ``_IDLE_EVERY`` signals, so that a
        watchdog fed from it is fed through a storm of signals."""
        signals = self._signals
        while signals:
            batch = [signals.popleft() for _ in range(len(signals))]
            for count, signum in enumerate(batch, 1):
                action = _ACTIONS.get(signal.Signals(signum), "unknown")
                self.emit(message.SystemSignal(signum, action))
                if signum in SHUTDOWN_SIGNALS:
                    del batch[count:]  # what came after it is not acted on
                    break
                if count % _IDLE_EVERY == 0:
                    self.on_idle()
            reloaded = False
            for count, signum in enumerate(batch, 1):
                if signum in SHUTDOWN_SIGNALS:
                    self.request_shutdown(f"received {signal.Signals(signum).name}")
                    return True
                if signum == signal.SIGHUP and reloaded:
                    continue
                try:
                    if signum == signal.SIGHUP:
                        reloaded = True
                        self.emit(message.SystemReload())
                        self.on_reload()
                    else:
                        self.on_user_signal(signum)
                except Exception:
                    log.exception("handling %s failed", signal.Signals(signum).name)
                if signum == signal.SIGHUP or count % _IDLE_EVERY == 0:
                    self.on_idle()
        return False

    def on_reload(self) -> None:
        """SIGHUP, on the main thread. Override to re-read configuration."""

    def on_user_signal(self, signum: int) -> None:
        """SIGUSR1/SIGUSR2, on the main thread (a message has already been emitted)."""

    def on_idle(self) -> None:
        """Called on the main thread about every ``idle_interval`` seconds, and between the
        steps of handling signals (after each reload)."""


def _close_fds(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
