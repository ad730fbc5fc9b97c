"""History benchmark: SD-card wear, writer throughput and the 24-hour chart query.

    .venv/bin/python bench/bench_history.py [--hours-of-data 24]

1. One simulated hour at 1-second sampling of every metric (12 events a second, the
   appliance's real message types) through HistorySink with the default settings:
   bytes written, write() and fsync() calls per hour (including the hourly rotation and
   sidecar index). What the storage device writes (the journal commits these cost) is
   measured on a real ext4 by ``bench_sd_wear.py``.
2. Writer throughput: records per second the writer thread sustains (serialise,
   compress, rollup, write, rotate), and the cost of ``handle()`` on the dispatch thread.
3. 24 hours of synthetic data in a temporary directory (the last hour in the still open
   segment, as on a running Pi), then ``query_series`` for a 24-hour chart: cold (caches
   cleared) and warm, for several metrics.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bussdcc import Event, EventBus, Message, SystemClock
from bussdcc.testing import SimClock
from bussdcc_system import messages as m
from bussdcc_system.history.catalogue import list_segments
from bussdcc_system.history.query import clear_caches, query_series
from bussdcc_system.history.sink import HistorySink

START = datetime(2026, 3, 1, tzinfo=UTC)


def sample(rnd: random.Random, t: int) -> list[Message]:
    """One second of telemetry: 12 messages, as the services emit them."""
    busy = 5 + 20 * rnd.random()

    def iface(name: str) -> m.InterfaceUsage:
        return m.InterfaceUsage(
            name,
            10**9 + t * 1500,
            10**8 + t * 300,
            t * 10,
            t * 4,
            0,
            0,
            0,
            0,
            1500.0 * rnd.random(),
            300.0 * rnd.random(),
        )

    return [
        m.CpuUsageUpdated(
            round(busy, 2),
            round(busy * 0.6, 2),
            0.0,
            round(busy * 0.4, 2),
            round(100 - busy, 2),
            0.3,
            0.0,
            0.1,
            0.0,
            tuple(round(busy + rnd.uniform(-5, 5), 2) for _ in range(4)),
            4,
        ),
        m.MemoryUsageUpdated(
            4_124_000_000,
            3_100_000_000 - t % 1000,
            1_024_000_000 + t % 1000,
            24.8,
            104_853_504,
            0,
            0.0,
        ),
        m.LoadUpdated(0.42, 0.35, 0.3, 0.105, 0.0875, 0.075, 4),
        m.UptimeUpdated(3600.0 + t, 1_772_323_200.0),
        m.DiskUsageUpdated("/", 31_000_000_000, 9_000_000_000 + t, 20_000_000_000, 29.0),
        m.DiskUsageUpdated("/boot/firmware", 534_000_000, 66_000_000, 468_000_000, 12.4),
        m.DiskIoUpdated("mmcblk0", 10**9, 2 * 10**9 + t * 4096, 0.0, 4096.0),
        m.DiskIoUpdated("sda", 10**8, 10**8, 0.0, 0.0),
        m.NetworkUsageUpdated((iface("eth0"), iface("wlan0")), 3000.0, 600.0),
        m.TemperatureUpdated("cpu-thermal", "cpu-thermal", round(48 + 4 * rnd.random(), 1)),
        m.TemperatureUpdated("rp1-adc", "rp1_adc", round(42 + 2 * rnd.random(), 1)),
        m.ProcessUsageUpdated(1234, 2.5, 41_000_000, 9),
    ]


def wear(hours: float) -> None:
    clock = SimClock(START)
    bus = EventBus(clock)
    with tempfile.TemporaryDirectory() as d:
        sink = HistorySink(d, clock=clock, boot_id="bench-boot")
        sink.subscribe(bus)
        sink.start()
        rnd = random.Random(1)
        seconds = int(hours * 3600)
        events = 0
        for t in range(seconds):
            for msg in sample(rnd, t):
                bus.emit(msg)
                events += 1
            clock.advance(1)
        clock.advance(sink.flush_interval)  # the hourly rotation: the last flush, sync, index
        s = sink.stats()
        stored = sum(seg.total_size for seg in list_segments(d))
        sink.close()
    per_hour = 3600 / seconds
    print(
        f"SD wear, 1 s sampling of all metrics ({events / seconds:.0f} events/s), default "
        f"settings (flush {sink.flush_interval:.0f} s, rotate 1 h, gzip members):"
    )
    print(f"  events per hour            {events * per_hour:>12,.0f}")
    print(
        f"  bytes written per hour     {s.bytes * per_hour:>12,.0f}  "
        f"({s.bytes * per_hour / 2**20:.2f} MiB; segment "
        f"{s.segment_bytes * per_hour / 2**20:.2f} MiB + index; "
        f"{s.segment_bytes / events:.0f} bytes/event)"
    )
    print(f"  write() calls per hour     {s.writes * per_hour:>12,.0f}")
    print(f"  fsync() calls per hour     {s.fsyncs * per_hour:>12,.0f}")
    print(
        f"  kept on disk per hour      {stored * per_hour:>12,.0f}  "
        f"({stored * per_hour / 2**20:.2f} MiB gzip members + index; "
        f"{stored * per_hour * 24 * 30 / 2**30:.2f} GiB for 30 days)"
    )


def throughput(n: int) -> None:
    rnd = random.Random(2)
    msgs = [msg for t in range(200) for msg in sample(rnd, t)]
    base = START.timestamp()
    events = [
        Event(
            msgs[i % len(msgs)], datetime.fromtimestamp(base + i / 12, UTC), 1000.0 + i / 12, i + 1
        )
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as d:
        sink = HistorySink(
            d, clock=SystemClock(), boot_id="bench", flush_interval=3600.0, buffer_size=n + 1
        )
        t0 = time.perf_counter()
        for evt in events:
            sink.handle(evt)
        handle = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        sink.close()  # the writer's work: serialise, rollup, write, rotate, index, gzip
        elapsed = time.perf_counter() - t0
        assert sink.stats().records == n
    print(
        f"Writer: {n / elapsed:,.0f} records/s sustained ({n:,} records, "
        f"{n / 12 / 3600:.1f} h of data, {elapsed:.1f} s incl. rotation, index and gzip); "
        f"handle() on the dispatch thread: {handle * 1e6:.2f} µs/event"
    )


def generate(directory: Path, hours: int) -> HistorySink:
    """``hours`` of data less two minutes; the sink stays open, as on a running Pi, so the
    last hour is the open segment (no index yet)."""
    clock = SimClock(START, monotonic_start=100.0)
    sink = HistorySink(
        directory, clock=clock, boot_id="bench-boot", flush_interval=60.0, buffer_size=10**6
    )
    sink.start()
    clock.settle()
    rnd = random.Random(3)
    seq = 0
    for t in range(hours * 3600 - 120):
        for msg in sample(rnd, t):
            seq += 1
            sink.handle(Event(msg, START + timedelta(seconds=t), 100.0 + t, seq))
        if t % 60 == 59:
            clock.advance(60)
    clock.advance(60)
    return sink


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:]) if repeat > 1 else times[0]


def chart(hours: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        sink = generate(Path(d), hours)
        gen = time.perf_counter() - t0
        segs = list_segments(d)
        size = sum(s.total_size for s in segs)
        print(
            f"{hours} h of synthetic data: {sink.stats().records:,} records, {len(segs)} "
            f"segments, {size / 2**20:.1f} MiB on disk (generated in {gen:.0f} s)"
        )
        start, end = START, START + timedelta(hours=hours)
        for metric, points in [
            ("system.cpu.usage.updated:percent", 300),
            ("system.temperature.updated[zone=cpu-thermal]:celsius", 300),
            ("system.network.usage.updated:interfaces.eth0.rx_bytes_per_s", 1440),
            ("system.memory.usage.updated:percent", 100),
        ]:

            def query(metric: str = metric, points: int = points) -> object:
                return query_series(d, metric, start, end, points)

            def cold(q: Callable[[], object] = query) -> object:
                clear_caches()
                return q()

            first, _ = timed(cold, 1)
            _, cold_med = timed(cold, 4)
            _, warm = timed(query, 6)
            series = query_series(d, metric, start, end, points)
            n = sum(b.count for b in series)
            print(
                f"  {hours} h chart {metric} points={points}: step {series.step:.0f} s, "
                f"{len(series)} buckets, {n:,} samples; cold {first * 1e3:.0f} ms "
                f"(median {cold_med * 1e3:.0f} ms), warm {warm * 1e3:.0f} ms"
            )
        code = (
            "import sys, time\n"
            "from bussdcc_system.history.query import query_series\n"
            "t0 = time.perf_counter()\n"
            "s = query_series(sys.argv[1], 'system.cpu.usage.updated:percent', float(sys.argv[2]),"
            " float(sys.argv[3]), 300)\n"
            "print(f'{(time.perf_counter() - t0) * 1e3:.0f}')\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, d, str(start.timestamp()), str(end.timestamp())],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(
            f"  {hours} h chart from another process (e.g. the CLI: no live rollup, the open "
            f"hour is scanned): cold {out} ms"
        )
        last = START + timedelta(hours=hours - 1)
        clear_caches()
        one, _ = timed(
            lambda: query_series(d, "system.cpu.usage.updated:percent", last, end, 360), 1
        )
        print(f"  last hour at 10 s steps (scans the open segment): cold {one * 1e3:.0f} ms")
        sink.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours-of-data", type=int, default=24)
    p.add_argument("--throughput-records", type=int, default=200_000)
    p.add_argument("--wear-hours", type=float, default=1.0)
    args = p.parse_args(argv)
    print(f"python {sys.version.split()[0]} on {sys.platform}")
    wear(args.wear_hours)
    throughput(args.throughput_records)
    chart(args.hours_of_data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
