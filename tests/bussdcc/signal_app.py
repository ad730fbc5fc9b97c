"""A tiny SignalRuntime program for the signal tests: prints one JSON line per event.

Usage: python signal_app.py [--block-boot PATH] [--idle SECONDS] [--inject N]
                            [--slow-reload SECONDS] [--say-idle]

Every event on the bus is printed as {"event": name, "data": {...}}; the hooks print
{"hook": ...}. With --block-boot, a process's start() waits until PATH exists (so a test
can send SIGTERM while boot is blocked). With --inject N, the signal handler is also
called, as Python's signal machinery would call it, between lines of ``threading`` code
that the main thread runs (N times, then SIGTERM): the handler must not take a lock the
interrupted code may hold. --slow-reload makes each reload take SECONDS; --say-idle
prints {"hook": "idle"} from every ``on_idle``. The exit status is what ``run()`` returned.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from bussdcc import Context, Event, Message, Process, SignalRuntime


def say(**record: Any) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


class App(SignalRuntime):
    inject = 0
    slow_reload = 0.0
    say_idle = False

    def on_idle(self) -> None:
        if self.say_idle:
            say(hook="idle")
        if self.inject and sys.gettrace() is None:
            sys.settrace(self._tracer)  # traces the main thread only

    def _tracer(self, frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename != threading.__file__:
            return None
        return self._between_lines

    def _between_lines(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "line" and self.inject > 0:
            self.inject -= 1
            self._handle_signal(signal.SIGUSR1, None)
            if self.inject == 0:
                sys.settrace(None)
                os.kill(os.getpid(), signal.SIGTERM)
        return self._between_lines

    def on_reload(self) -> None:
        say(hook="reload", main_thread=threading.current_thread() is threading.main_thread())
        if self.slow_reload:
            time.sleep(self.slow_reload)

    def on_user_signal(self, signum: int) -> None:
        say(hook="user", signum=signum)


class BlockingStart(Process):
    name = "blocking-start"

    def __init__(self, path: str) -> None:
        self.path = path

    def start(self, ctx: Context) -> None:
        say(hook="blocking", pid=os.getpid())
        while not os.path.exists(self.path):
            time.sleep(0.01)
        say(hook="unblocked")

    def stop(self, ctx: Context) -> None:
        say(hook="stop", process=self.name)


class Later(Process):
    name = "later"

    def start(self, ctx: Context) -> None:
        say(hook="start", process=self.name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block-boot")
    parser.add_argument("--idle", type=float, default=1.0)
    parser.add_argument("--inject", type=int, default=0)
    parser.add_argument("--slow-reload", type=float, default=0.0)
    parser.add_argument("--say-idle", action="store_true")
    args = parser.parse_args()
    app = App()
    app.idle_interval = args.idle
    app.inject = args.inject
    app.slow_reload = args.slow_reload
    app.say_idle = args.say_idle

    def printer(evt: Event[Message]) -> None:
        say(event=evt.name, data=evt.data)

    app.events.subscribe(printer, name="printer")
    if args.block_boot:
        app.register_process(BlockingStart(args.block_boot))
        app.register_process(Later())
    say(hook="pid", pid=os.getpid())
    code = app.run()
    say(hook="exit", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
