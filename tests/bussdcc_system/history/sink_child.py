"""A real process writing history through HistorySink, for the crash and limit tests.

``python sink_child.py crash DIR RUN``: emit ``test.tick`` events forever on the real
clock (flush every 20 ms, rotate every 250 ms, gzip) and print ``ack N`` whenever the
sink's count of written records changes. The parent kills it with SIGKILL.

``python sink_child.py warn DIR RUN``: the daemon's durability rules on the real clock:
routine ``test.tick`` events (200 a second, flushed only every 60 s, so they stay in
memory) and a
WARNING ``test.warn`` about every 0.3 s; prints ``warned N`` when warning N is emitted
and ``synced SIZE PATH`` each time the sink has synced a segment (its size then: what
a power cut cannot take).

``python sink_child.py fsize DIR``: the same sink on a SimClock under RLIMIT_FSIZE (a
"full disk" without root); prints the messages the sink reported, as JSON lines.

``python sink_child.py unwritable DIR``: write into DIR (made unwritable by the parent);
prints the reported messages as JSON lines.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bussdcc import EventBus, Message, Severity, SystemClock
from bussdcc.testing import SimClock
from bussdcc_system.history.segment_writer import OpenSegment, SegmentWriter
from bussdcc_system.history.sink import HistorySink


@dataclass(slots=True, frozen=True)
class Tick(Message):
    name = "test.tick"
    run: int
    i: int
    pad: str


def started(sink: HistorySink, clock: SimClock | None = None) -> EventBus:
    """``sink`` started on a new bus (on ``clock``, else the real one): where to emit."""
    bus = EventBus(clock)
    sink.subscribe(bus)
    sink.start()
    return bus


def unbounded(directory: str, boot_id: str, flush_interval: float, **options: Any) -> HistorySink:
    """A sink on the real clock that neither prunes nor drops: what was written stays."""
    return HistorySink(
        directory,
        clock=SystemClock(),
        boot_id=boot_id,
        flush_interval=flush_interval,
        buffer_size=10**7,
        retention_days=None,
        max_size_mb=None,
        **options,
    )


def crash(directory: str, run: int) -> None:
    sink = unbounded(directory, "crash-boot", 0.02, rotate_interval=0.25, compress=True)
    bus = started(sink)

    def monitor() -> None:
        last = 0
        while True:
            n = sink.stats().records
            if n != last:
                sys.stdout.write(f"ack {n}\n")
                sys.stdout.flush()
                last = n
            time.sleep(0.002)

    threading.Thread(target=monitor, daemon=True).start()
    i = 0
    while True:
        i += 1
        bus.emit(Tick(run, i, "x" * (i % 200)))
        if i % 10 == 0:
            time.sleep(0.001)


@dataclass(slots=True, frozen=True)
class Warn(Message):
    name = "test.warn"
    severity = Severity.WARNING
    run: int
    n: int


def warn(directory: str, run: int) -> None:
    out = threading.Lock()

    def say(text: str) -> None:
        with out:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    real_sync = SegmentWriter.sync

    def sync(self: SegmentWriter, seg: OpenSegment) -> None:
        real_sync(self, seg)
        say(f"synced {os.fstat(seg.fd).st_size} {seg.path}")

    SegmentWriter.sync = sync  # type: ignore[method-assign]
    sink = unbounded(directory, "warn-boot", 60.0)
    bus = started(sink)
    i = n = 0
    next_warning = time.monotonic() + 0.2
    while True:
        i += 1
        bus.emit(Tick(run, i, "x" * (i % 50)))
        if time.monotonic() >= next_warning:
            n += 1
            bus.emit(Warn(run, n))
            say(f"warned {n}")
            next_warning += 0.3
        time.sleep(0.005)  # 200 ticks a second: never enough to flush before 60 s


def _report(emitted: list[Message]) -> None:
    for m in emitted:
        print(json.dumps({"name": m.name, **m.to_dict()}), flush=True)
    emitted.clear()


def fsize(directory: str) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    clock = SimClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    emitted: list[Message] = []
    sink = HistorySink(
        directory,
        clock=clock,
        emit=emitted.append,
        boot_id="fsize",
        compress=False,
        flush_interval=5.0,
    )
    bus = started(sink, clock)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20000, hard))
    for i in range(300):
        bus.emit(Tick(1, i + 1, "y" * 100))
        if i % 60 == 59:
            clock.advance(5)
    clock.advance(5)
    print(json.dumps({"stats": sink.stats().records}), flush=True)
    _report(emitted)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # "space" is back
    clock.advance(5)
    _report(emitted)
    sink.close()
    print(json.dumps({"stats": sink.stats().records}), flush=True)


def unwritable(directory: str) -> None:
    clock = SimClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    emitted: list[Message] = []
    sink = HistorySink(
        directory, clock=clock, emit=emitted.append, boot_id="unwritable", flush_interval=5.0
    )
    bus = started(sink, clock)
    bus.emit(Tick(1, 1, ""))
    clock.advance(5)
    bus.emit(Tick(1, 2, ""))
    clock.advance(5)
    _report(emitted)
    sink.close()
    print(json.dumps({"stats": sink.stats().records, "pending": sink.stats().pending}), flush=True)


if __name__ == "__main__":
    mode, target = sys.argv[1], sys.argv[2]
    if mode == "crash":
        crash(target, int(sys.argv[3]))
    elif mode == "warn":
        warn(target, int(sys.argv[3]))
    elif mode == "fsize":
        fsize(target)
    else:
        unwritable(target)
