"""The dashboard view: state turned into a flat ``key -> display value`` dict.

Formatting happens once, here, in Python (with ``bussdcc_system.formatting``: "3.2 GiB
of 7.6 GiB", "up 4 days"): the page renders these values on the server, and the bridge
pushes only the keys whose *displayed* value changed, so a memory figure that moves by
a few bytes costs nothing on the wire. Values are strings, rounded numbers (meters and
charts: keys ``c.*`` feed the live end of a chart) or lists (of strings, or of small
lists for table rows). Keys of per-disk and per-interface rows embed the mount point or
interface name; ``layout`` lists them, and a browser reloads when it changes.

A reading the host does not have is said in words (``x.*`` keys: "no temperature
sensor on this host"), so a panel never waits for data that cannot come.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

from bussdcc import Event, Message, Severity, StateStore
from bussdcc_system import throttling_flags
from bussdcc_system.formatting import (
    CLOCK,
    DASH,
    HOUR_MINUTE,
    MINUTE,
    celsius,
    duration,
    frequency,
    local_time,
    percent,
    rate,
    size,
    utc_offset,
)
from bussdcc_system.metric_catalog import temperature_zones, zone_name
from bussdcc_system.web.event_words import event_sentence

View = dict[str, Any]

_LEVEL_TEXT = {"ok": "Healthy", "warning": "Warning", "critical": "Critical"}
_RANK: Final = {"unknown": 0, "ok": 1, "warning": 2, "critical": 3}

TOP_STALE: Final = 60.0
"""Seconds after which a process list is old news (nobody watched for a while)."""
PER_DAY_AFTER: Final = 3600.0
"""Uptime before the SD card's average writes per day mean something (boot writes a lot)."""

_KINDS: Final = {
    "throttling": "power sensor",
    "thermal_zone": "temperature sensor",
    "status_led": "status LED",
}
"""What a person calls a device kind."""


def num(x: Any, digits: int = 1) -> float | None:
    """A finite rounded number, or None."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


class Journal:
    """The last notable events (warnings and worse, health changes), kept for the page.

    ``add`` runs on the dispatch thread: it keeps a reference, formatting waits for
    the broadcast thread. ``count`` moves on every add so the bridge sees the change.
    """

    NOTABLE = frozenset(
        {
            "system.health.changed",
            "device.attached",
            "device.detached",
            "config.reloaded",
            "runtime.booted",
        }
    )

    def __init__(self, size: int = 8) -> None:
        self._events: deque[Event[Message]] = deque(maxlen=size)
        self.count = 0

    def wants(self, evt: Event[Message]) -> bool:
        return evt.severity >= Severity.WARNING or evt.name in self.NOTABLE

    def add(self, evt: Event[Message]) -> None:
        self._events.append(evt)
        self.count += 1

    def lines(self) -> list[list[str]]:
        """Newest first: ``[time, severity, sentence]`` for each event."""
        return [describe_event(e) for e in reversed(list(self._events))]


def describe_event(evt: Event[Message]) -> list[str]:
    """One row of the event list: local time (24-hour), severity word, the sentence."""
    return [
        local_time(evt.time, CLOCK),
        evt.severity.name.lower(),
        event_sentence(evt.name, evt.data),
    ]


class ViewBuilder:
    """Builds views, recomputing only the sections whose part of the state changed.

    A telemetry event changes one subtree; comparing each section's input with the
    previous one (dict equality, microseconds) skips the formatting of all the others.
    """

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Any, View]] = {}
        self._log: tuple[int, list[list[str]]] = (-1, [])

    def _section(self, name: str, inputs: Any, fill: Callable[[View], object]) -> View:
        cached = self._memo.get(name)
        if cached is not None and cached[0] == inputs:
            return cached[1]
        out: View = {}
        fill(out)
        self._memo[name] = (inputs, out)
        return out

    def build(
        self,
        state: StateStore,
        journal: Journal | None = None,
        *,
        now: float | None = None,
        started_at: float | None = None,
    ) -> View:
        """The whole dashboard as display values."""
        now = time.time() if now is None else now
        system = _dict(state.get("system"))
        get = system.get
        v: View = {"t": int(now), "tz": utc_offset(now)}
        health, cpu, load = _dict(get("health")), _dict(get("cpu")), _dict(get("load"))
        memory, disk, disk_io = _dict(get("memory")), _dict(get("disk")), _dict(get("disk_io"))
        net, total = _dict(get("network")), _dict(get("network_total"))
        temp, throttling = get("temperature"), get("throttling")
        ident, up, proc = _dict(get("identity")), _dict(get("uptime")), _dict(get("process"))
        top = _dict(get("top_processes"))
        devices = _dict(state.get("devices"))
        reading = throttling_flags.merged_reading(throttling)
        sec = self._section
        failing = _failing(devices)
        v.update(sec("health", (health, failing), lambda o: _health(o, health, failing)))
        v.update(sec("cpu", (cpu, load), lambda o: _cpu(o, cpu, load)))
        v.update(sec("clock", (cpu, reading), lambda o: _clock(o, cpu, reading)))
        v.update(sec("memory", memory, lambda o: _memory(o, memory)))
        v.update(sec("disk", disk, lambda o: o.update(_layout_d=_disks(o, disk))))
        v.update(sec("temperature", (temp, devices), lambda o: _temperature(o, temp, devices)))
        seconds = num(up.get("seconds"), 0)
        v.update(sec("disk_io", (disk_io, seconds), lambda o: _disk_io(o, disk_io, seconds)))
        v.update(sec("net", (net, total), lambda o: o.update(_layout_n=_network(o, net, total))))
        v.update(sec("power", (reading, devices), lambda o: _power(o, reading, devices)))
        v.update(sec("identity", (ident, up), lambda o: _identity(o, ident, up, now)))
        fresh = top if (_epoch(top.get("updated")) or 0) >= now - TOP_STALE else {}
        v.update(sec("top", (fresh, memory.get("total")), lambda o: _top(o, fresh, memory)))
        _daemon(v, proc, now, started_at)
        v.update(sec("devices", devices, lambda o: _devices(o, devices)))
        if journal is None:
            v["log"] = []
        else:
            count = journal.count
            if self._log[0] != count:
                self._log = (count, journal.lines())
            v["log"] = self._log[1]
        v["fault"] = _fault(v)
        v["layout"] = [v.pop("_layout_d"), v.pop("_layout_n")]
        return v


def build_view(
    state: StateStore,
    journal: Journal | None = None,
    *,
    now: float | None = None,
    started_at: float | None = None,
) -> View:
    """The whole dashboard as display values, from scratch."""
    return ViewBuilder().build(state, journal, now=now, started_at=started_at)


def layout_lists(layout: Any) -> tuple[list[str], list[str]]:
    """(mount points, interfaces) from a view's ``layout`` key."""
    if isinstance(layout, list) and len(layout) == 2:
        return [str(x) for x in layout[0]], [str(x) for x in layout[1]]
    return [], []


def _fault(v: View) -> str:
    """The worst of health, power and failed devices: when it is not ``ok`` the kiosk
    makes its big figures smaller, to give the faults the room."""
    levels = [str(v.get("h.level") or "unknown"), str(v.get("pw.level") or "unknown")]
    if v.get("dev.failed"):
        levels.append("warning")
    known = [lvl for lvl in levels if lvl != "unknown"]
    return max(known, key=_RANK.__getitem__) if known else "unknown"


def _failing(devices: Mapping[str, Any]) -> bool:
    return any(isinstance(d, dict) and d.get("status") == "failed" for d in devices.values())


def _health(v: View, h: dict[str, Any], failing: bool) -> None:
    level = h.get("level")
    if level not in _LEVEL_TEXT:
        v["h.level"], v["h.text"] = "unknown", "Waiting for readings"
        v["h.reasons"] = ["health has not been evaluated yet"]
        return
    v["h.level"], v["h.text"] = level, _LEVEL_TEXT[level]
    reasons = [str(r) for r in h.get("reasons") or []]
    # A failed sensor's readings no longer count: "all is well" is then only about the rest.
    fine = "the readings are within their limits, but not every sensor is working"
    v["h.reasons"] = reasons or [fine if failing else "every reading is within its limits"]


def _cpu(v: View, c: dict[str, Any], load: dict[str, Any]) -> None:
    busy = num(c.get("percent"))
    v["cpu.pct"], v["cpu.m"], v["c.cpu"] = percent(busy), busy or 0, busy
    parts = []
    for key in ("user", "system", "nice", "iowait", "irq", "softirq", "steal"):
        x = num(c.get(key))
        if x is not None and (x >= 0.05 or key in ("user", "system")):
            parts.append(f"{key} {x:.1f} %")
    v["cpu.detail"] = " · ".join(parts) or "waiting for a second sample"
    cores = c.get("per_core")
    v["cpu.cores"] = [num(x, 0) or 0 for x in cores] if isinstance(cores, list) else []
    count = c.get("count") or load.get("cpu_count") or len(v["cpu.cores"]) or None
    v["cpu.count"] = f"{count} cores" if count else ""
    loads = [num(load.get(k), 2) for k in ("load1", "load5", "load15")]
    v["load.text"] = " · ".join(DASH if x is None else f"{x:.2f}" for x in loads)
    per = num(load.get("per_cpu1"), 2)
    v["load.per"] = DASH if per is None else f"{per:.2f} per core over 1 minute"
    v["load.m"] = min(100.0, round(100 * per, 0)) if per is not None else 0
    v["c.load"] = loads[0]


CAPPING: Final = (throttling_flags.FREQ_CAPPED, throttling_flags.THROTTLED)
"""The flags that hold the CPU clock down."""


def _clock(v: View, c: dict[str, Any], reading: Mapping[str, Any]) -> None:
    mhz, top = num(c.get("freq_mhz"), 0), num(c.get("freq_max_mhz"), 0)
    capped = [flag.now_words for flag in CAPPING if reading.get(flag.field)]
    if mhz is None:
        words = "this host does not report its CPU clock (no cpufreq)" if c else ""
        v["cpu.freq"], v["cpu.freq.m"], v["c.freq"], v["x.freq"] = DASH, 0, None, words
    else:
        v["cpu.freq"] = frequency(mhz * 1e6) + (f" of {frequency(top * 1e6)}" if top else "")
        v["cpu.freq.m"] = min(100.0, round(100 * mhz / top, 0)) if top else 0
        v["c.freq"], v["x.freq"] = mhz, ""
    v["c.freqmax"] = top
    if capped:
        v["cpu.freq.note"] = "held down by the firmware now: " + ", ".join(capped)
    elif mhz is not None and top and mhz < top:
        v["cpu.freq.note"] = "below its maximum (normal when idle)"
    else:
        v["cpu.freq.note"] = ""


def _memory(v: View, mem: dict[str, Any]) -> None:
    total, used = mem.get("total"), mem.get("used")
    p = num(mem.get("percent"))
    v["mem.text"] = f"{size(used)} of {size(total)}" if total else DASH
    v["mem.pct"], v["mem.m"], v["c.mem"] = percent(p, 0), p or 0, p
    avail = mem.get("available")
    v["mem.avail"] = f"{size(avail)} available" if avail is not None else ""
    stotal, sused = mem.get("swap_total"), mem.get("swap_used")
    sp = num(mem.get("swap_percent"))
    if not stotal:
        v["swap.text"], v["swap.m"] = ("no swap" if mem else DASH), 0
    else:
        v["swap.text"], v["swap.m"] = f"{size(sused)} of {size(stotal)}", sp or 0


def _disks(v: View, disks: dict[str, Any]) -> list[str]:
    mounts = sorted(k for k, d in disks.items() if isinstance(d, dict) and "total" in d)
    mounts.sort(key=lambda m: (m != "/", m))
    for m in mounts:
        d = disks[m]
        p = num(d.get("percent"))
        v[f"d.{m}.text"] = f"{size(d.get('used'))} of {size(d.get('total'))}"
        v[f"d.{m}.pct"], v[f"d.{m}.m"] = percent(p, 0), p or 0
        v[f"d.{m}.free"] = f"{size(d.get('free'))} free"
    return mounts


def _failed(devices: Mapping[str, Any], kind: str) -> str | None:
    """The error of a failed device of ``kind``, if one failed."""
    for _, d in sorted(devices.items()):
        if isinstance(d, dict) and d.get("kind") == kind and d.get("status") == "failed":
            return str(d.get("error") or "no reason given")
    return None


def _temperature(v: View, t: Any, devices: Mapping[str, Any]) -> None:
    zones = temperature_zones(t)
    if not zones:
        error = _failed(devices, "thermal_zone")
        words = (
            "the temperature sensor is not working"
            if error is not None
            else "no temperature sensor on this host"
        )
        v["temp.text"], v["temp.m"], v["c.temp"] = DASH, 0, None
        v["temp.zone"] = v["x.temp"] = words
        return
    c = num(zones[0].get("celsius"))
    v["temp.text"] = celsius(c)
    v["temp.m"], v["c.temp"] = c or 0, c
    v["temp.zone"] = zone_name(zones[0])
    v["x.temp"] = ""


def _disk_io(v: View, io: dict[str, Any], uptime: float | None) -> None:
    """The SD card (the block device ``disks.sd_card`` names): its rates, and what it
    wrote today and a day on average, which is what tells how fast it wears."""
    devices = sorted(k for k, d in io.items() if isinstance(d, dict))
    if not devices:
        v["sd.dev"], v["x.sd"] = "", "no SD card on this host"
        v["sd.w"] = v["sd.r"] = DASH
        v["sd.today"] = v["sd.day"] = v["sd.boot"] = ""
        v["c.sdw"] = v["c.sdr"] = None
        return
    dev = devices[0]
    d = io[dev]
    w, r = num(d.get("write_bytes_per_s"), 0), num(d.get("read_bytes_per_s"), 0)
    v["sd.dev"], v["x.sd"] = dev, ""
    v["sd.w"], v["sd.r"] = rate(w), rate(r)
    v["c.sdw"], v["c.sdr"] = w, r
    written, today = d.get("bytes_written"), d.get("written_today")
    since = num(d.get("today_since"), 0)
    if isinstance(today, int | float) and since is not None:
        midnight = datetime.fromtimestamp(since).replace(hour=0, minute=0, second=0)
        if abs(since - midnight.timestamp()) < 1:
            v["sd.today"] = f"{size(today)} written today"
        else:
            v["sd.today"] = f"{size(today)} written today since {local_time(since, HOUR_MINUTE)}"
    else:
        v["sd.today"] = ""
    v["sd.boot"] = f"{size(written)} written since boot" if written is not None else ""
    if isinstance(written, int | float) and uptime is not None and uptime >= PER_DAY_AFTER:
        per_day = written / (uptime / 86400)
        v["sd.day"] = f"about {size(per_day)} a day (average since boot, {duration(uptime)} ago)"
    else:
        v["sd.day"] = ""


def _network(v: View, net: dict[str, Any], total: dict[str, Any]) -> list[str]:
    ifaces = sorted(k for k, d in net.items() if isinstance(d, dict) and "rx_bytes" in d)
    rx_sum = tx_sum = 0.0
    any_rate = False
    for name in ifaces:
        d = net[name]
        rx, tx = d.get("rx_bytes_per_s"), d.get("tx_bytes_per_s")
        v[f"n.{name}.rx"], v[f"n.{name}.tx"] = rate(rx), rate(tx)
        v[f"n.{name}.tot"] = f"{size(d.get('rx_bytes'))} in · {size(d.get('tx_bytes'))} out"
        errors = sum(int(d.get(k) or 0) for k in ("rx_errors", "tx_errors", "rx_drops", "tx_drops"))
        v[f"n.{name}.err"] = f"{errors} errors/drops" if errors else ""
        if isinstance(rx, int | float) and isinstance(tx, int | float):
            rx_sum, tx_sum, any_rate = rx_sum + rx, tx_sum + tx, True
    trx, ttx = total.get("rx_bytes_per_s"), total.get("tx_bytes_per_s")
    if isinstance(trx, int | float) and isinstance(ttx, int | float):
        rx_sum, tx_sum, any_rate = trx, ttx, True
    v["net.rx"] = rate(rx_sum) if any_rate else DASH
    v["net.tx"] = rate(tx_sum) if any_rate else DASH
    v["c.rx"] = round(rx_sum) if any_rate else None
    v["c.tx"] = round(tx_sum) if any_rate else None
    return ifaces


def power_state(t: Mapping[str, Any]) -> tuple[str, list[str], list[str]]:
    """(level, problems now, problems since boot) from throttling flags, in words."""
    flags = throttling_flags.FLAGS
    now = [flag for flag in flags if t.get(flag.field)]
    past = [flag.past_words for flag in flags if t.get(flag.occurred_field)]
    if now:
        level = "critical" if any(f.health_level == "critical" for f in now) else "warning"
    else:
        level = "warning" if past else "ok"
    return level, [flag.now_words for flag in now], past


def _power(v: View, t: Mapping[str, Any], devices: Mapping[str, Any]) -> None:
    if not t:
        failed = _failed(devices, "throttling") is not None
        v["pw.level"] = "unknown"
        v["pw.text"] = "the power sensor is not working" if failed else "not available on this host"
        v["pw.now"], v["pw.boot"], v["pw.raw"] = [], [], ""
        return
    level, now, past = power_state(t)
    v["pw.level"] = level
    if not now:
        v["pw.text"] = "power and clocks are fine now"
    elif t.get(throttling_flags.UNDER_VOLTAGE.field):
        v["pw.text"] = "the power supply is too weak now"
    else:
        v["pw.text"] = "the CPU is held back now"
    v["pw.now"] = now
    if past:
        v["pw.boot"] = ["since boot: " + ", ".join(past) + " occurred"]
    elif t.get(throttling_flags.UNDER_VOLTAGE.occurred_field) is None:
        v["pw.boot"] = ["since-boot flags not available (no vcgencmd)"]
    else:
        v["pw.boot"] = ["nothing has happened since boot"]
    raw = t.get("raw")
    source = t.get("source") or ""
    v["pw.raw"] = (
        f"throttled=0x{raw:x} via {source}"
        if isinstance(raw, int)
        else f"via {source}"
        if source
        else ""
    )


def _identity(v: View, ident: dict[str, Any], up: dict[str, Any], now: float) -> None:
    v["id.host"] = ident.get("hostname") or DASH
    v["id.model"] = ident.get("model") or "not a Raspberry Pi (no device-tree model)"
    v["id.os"] = ident.get("os_release") or DASH
    v["id.kernel"] = ident.get("kernel") or DASH
    v["id.serial"] = ident.get("serial") or DASH
    addrs = []
    for a in ident.get("addresses") or []:
        if isinstance(a, dict) and a.get("address"):
            addrs.append(f"{a['address']} ({a.get('interface', '?')})")
    v["id.addr"] = addrs
    seconds = num(up.get("seconds"), 0)
    v["id.up"] = DASH if seconds is None else f"up {duration(seconds)}"
    boot = num(up.get("boot_time"), 0)
    v["id.boot"] = "" if boot is None else f"booted {local_time(boot, MINUTE)}"


def _top(v: View, top: dict[str, Any], memory: dict[str, Any]) -> None:
    """What is using the Pi: two short tables, by CPU and by memory."""
    total = memory.get("total")

    def rows(key: str, cell: Callable[[dict[str, Any]], str]) -> list[list[str]]:
        out = []
        for p in top.get(key) or []:
            if isinstance(p, dict):
                out.append([f"{p.get('name') or '?'} ({p.get('pid')})", cell(p)])
        return out

    def cpu(p: dict[str, Any]) -> str:
        x = num(p.get("cpu_percent"))
        return DASH if x is None else f"{x:.1f} %"

    def mem(p: dict[str, Any]) -> str:
        rss = p.get("rss")
        share = f" · {100 * rss / total:.0f} %" if isinstance(rss, int) and total else ""
        return size(rss) + share

    if not top:
        v["top.cpu"], v["top.mem"], v["top.count"] = [], [], ""
        v["x.top"] = "looking at the processes… (only while a dashboard is open)"
        v["x.topcpu"] = ""
        return
    v["top.cpu"], v["top.mem"] = rows("by_cpu", cpu), rows("by_memory", mem)
    count = top.get("count")
    v["top.count"] = f"{count} processes" if isinstance(count, int) else ""
    v["x.top"] = ""
    v["x.topcpu"] = "" if v["top.cpu"] else "measuring CPU use…"


def _daemon(v: View, p: dict[str, Any], now: float, started_at: float | None) -> None:
    cpu = num(p.get("cpu_percent"))
    v["self.cpu"] = DASH if cpu is None else f"{cpu:.1f} % of one core"
    v["self.rss"] = f"{size(p.get('rss'))} resident" if p.get("rss") else DASH
    v["c.rss"] = p.get("rss") if isinstance(p.get("rss"), int) else None
    threads = p.get("threads")
    v["self.threads"] = f"{threads} threads" if threads else ""
    v["self.up"] = "" if started_at is None else f"running for {duration(now - started_at)}"


def _devices(v: View, devices: dict[str, Any]) -> None:
    lines, failed = [], []
    for dev_id, d in sorted(devices.items()):
        if not isinstance(d, dict):
            continue
        status = str(d.get("status") or "")
        text = f"{dev_id} ({d.get('kind') or 'device'}): {status or 'unknown'}"
        if d.get("pattern"):
            text += f", LED {str(d['pattern']).replace('_', ' ')}"
            if d.get("pin") is not None:
                text += f" on GPIO{d['pin']}"
        if d.get("error") and status != "online":
            text += f" ({d['error']})"
        lines.append(text)
        if status == "failed":
            kind = _KINDS.get(str(d.get("kind") or ""), str(d.get("kind") or "device"))
            failed.append(
                f"The {kind} ({dev_id}) is not working: {d.get('error') or 'no reason given'}"
            )
    v["dev"] = lines or ["no hardware devices attached"]
    v["dev.failed"] = failed
