"""Helpers for the history tests: a sink on a SimClock, telemetry messages, raw lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bussdcc import EventBus, Message
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.history.sink import HistorySink

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SINK_CHILD = Path(__file__).with_name("sink_child.py")
"""A real process writing through HistorySink (crash and write-failure tests)."""


def cpu(percent: float) -> m.CpuUsageUpdated:
    return m.CpuUsageUpdated(
        percent=percent,
        user=percent / 2,
        nice=0.0,
        system=percent / 2,
        idle=100 - percent,
        iowait=0.1,
        irq=None,
        softirq=None,
        steal=None,
        per_core=(percent, None),
        count=2,
    )


def temp(celsius: float, zone: str = "cpu-thermal") -> m.TemperatureUpdated:
    return m.TemperatureUpdated(device=f"thermal-{zone}", zone=zone, celsius=celsius)


def throttling(raw: int) -> m.ThrottlingUpdated:
    from bussdcc_system.messages import THROTTLING_FLAGS, throttling_updated

    bits = (0, 1, 2, 3, 16, 17, 18, 19)
    flags: dict[str, bool | None] = {
        f: bool(raw >> b & 1) for f, b in zip(THROTTLING_FLAGS, bits, strict=True)
    }
    return throttling_updated(
        device="throttling", source="vcgencmd", raw=raw, flags=flags, changed=()
    )


@dataclass
class Rig:
    """A sink on a SimClock and an EventBus; ``emitted`` collects what the sink reported."""

    clock: SimClock
    bus: EventBus
    sink: HistorySink
    directory: Path
    emitted: list[Message]

    def emit(self, msg: Message) -> None:
        self.bus.emit(msg)

    def names(self) -> list[str]:
        return [e.name for e in self.emitted]

    def sample_cpu(self, seconds: int, step: int = 1) -> None:
        """Emit ``cpu(1.0)`` every ``step`` seconds for ``seconds`` seconds of SimClock time."""
        for _ in range(0, seconds, step):
            self.emit(cpu(1.0))
            self.clock.advance(step)


@contextmanager
def rig(
    directory: Path,
    *,
    clock: SimClock | None = None,
    boot_id: str = "boot-a",
    start: bool = True,
    **kwargs: Any,
) -> Iterator[Rig]:
    clock = clock or SimClock(T0)
    bus = EventBus(clock)
    emitted: list[Message] = []
    kwargs.setdefault("flush_interval", 5.0)  # routine telemetry: a flush every 5 s
    sink = HistorySink(directory, clock=clock, emit=emitted.append, boot_id=boot_id, **kwargs)
    sink.subscribe(bus)
    r = Rig(clock, bus, sink, directory, emitted)
    if start:
        sink.start()
        clock.settle()
    try:
        yield r
    finally:
        sink.close()


def all_lines(directory: Path) -> list[dict[str, Any]]:
    """Every line of every segment file, plain or gzip, in file-name order (all valid)."""
    import gzip

    out = []
    for p in sorted(directory.glob("*/*.jsonl*")):
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        out.extend(json.loads(line) for line in data.splitlines())
    return out


def segment_files(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.glob("*/*.jsonl*"))


def write_segment(
    directory: Path,
    name: str,
    records: list[dict[str, Any]],
    *,
    number: int | None = None,
    boot: str = "boot-x",
    tail: bytes = b"",
    header: dict[str, Any] | None = None,
) -> Path:
    """A hand-made segment (header first when ``number`` is given)."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if number is not None and records:
        first = records[0]
        offset = _epoch(first["time"]) - first.get("mono", 0.0)
        lines.append(
            {
                "time": first["time"],
                "name": "history.segment",
                "data": {
                    "number": number,
                    "reason": "start",
                    "offset": offset,
                    "pid": 1,
                    "version": 1,
                    **(header or {}),
                },
                "boot": boot,
                "mono": first.get("mono", 0.0),
                "seq": 0,
            }
        )
    lines.extend(records)
    data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in lines)
    path.write_bytes(data + tail)
    return path


def cpu_segment(directory: Path, count: int, *, tail: bytes = b"") -> Path:
    """Segment 1, from 10:00 UTC on 1 March 2026: ``count`` CPU records a second apart
    whose ``percent`` is their index (then ``tail``, e.g. a torn line)."""
    start = datetime(2026, 3, 1, 10, tzinfo=UTC).timestamp()
    records = [cpu_rec(start + i, i) for i in range(count)]
    return write_segment(directory, "2026-03-01/10-00-00.jsonl", records, number=1, tail=tail)


def cpu_rec(t: float, percent: float = 1.0, **kw: Any) -> dict[str, Any]:
    """A raw ``system.cpu.usage.updated`` line for ``write_segment``."""
    return rec(t, "system.cpu.usage.updated", {"percent": percent}, **kw)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def rec(
    t: float,
    name: str,
    data: dict[str, Any],
    *,
    boot: str = "boot-x",
    mono: float | None = None,
    seq: int = 1,
) -> dict[str, Any]:
    iso = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
    return {
        "time": iso.replace("+00:00", "Z"),
        "name": name,
        "data": data,
        "boot": boot,
        "mono": t - 1e9 if mono is None else mono,
        "seq": seq,
    }


def until(probe: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Wait (real time) for the writer thread to do what it does without the clock moving
    (an urgent event is written at once); fail saying ``what`` did not happen."""
    end = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        time.sleep(0.005)
