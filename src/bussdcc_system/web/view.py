"""The dashboard view: state turned into a flat ``key -> display value`` dict.

Formatting happens once, here, in Python (with ``bussdcc_system.formatting``: "3.2 GiB
of 7.6 GiB", "up 4 days"): the page renders these values on the server, and the bridge
pushes only the keys whose *displayed* value changed, so a memory figure that moves by
a few bytes costs nothing on the wire. Values are strings, rounded numbers (meters and
charts) or lists of strings. Keys of per-disk and per-interface rows embed the mount
point or interface name; ``layout`` lists them, and a browser reloads when it changes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bussdcc import Event, Message, Severity, StateStore
from bussdcc_system import throttling_flags
from bussdcc_system.formatting import (
    CLOCK,
    DASH,
    MINUTE,
    WEEKDAY_MINUTE,
    celsius,
    duration,
    local_time,
    percent,
    rate,
    size,
)
from bussdcc_system.metric_catalog import temperature_zones, zone_name

View = dict[str, Any]

_LEVEL_TEXT = {"ok": "Healthy", "warning": "Warning", "critical": "Critical"}


def num(x: Any, digits: int = 1) -> float | None:
    """A finite rounded number, or None."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return round(float(x), digits)


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


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

    def lines(self) -> list[str]:
        return [describe_event(e) for e in reversed(list(self._events))]


def describe_event(evt: Event[Message]) -> str:
    """One line for the event log: local time, severity, what happened."""
    data = evt.data
    when = local_time(evt.time, CLOCK)
    sev = evt.severity.name.lower()
    name = evt.name
    if name == "system.health.changed":
        reasons = data.get("reasons") or []
        text = f"health is {data.get('level')}" + (f": {reasons[0]}" if reasons else "")
    elif name.startswith("service.") and "service" in data:
        detail = data.get("error") or data.get("reason") or ""
        text = f"{name.split('.', 1)[1]} {data['service']}" + (f": {detail}" if detail else "")
    elif name.startswith("device.") and "device" in data:
        detail = data.get("error") or ""
        text = f"device {data['device']} {name.split('.')[-1]}" + (f": {detail}" if detail else "")
    else:
        fields = ", ".join(
            f"{k}={v}"
            for k, v in data.items()
            if k not in ("traceback", "changed") and v not in (None, "", [], {})
        )
        text = f"{name}" + (f" ({fields})" if fields else "")
    line = f"{when} {sev} · {text}"
    return line if len(line) <= 160 else line[:159] + "…"


class ViewBuilder:
    """Builds views, recomputing only the sections whose part of the state changed.

    A telemetry event changes one subtree; comparing each section's input with the
    previous one (dict equality, microseconds) skips the formatting of all the others.
    """

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Any, View]] = {}
        self._log: tuple[int, list[str]] = (-1, [])

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
        v: View = {"t": int(now)}
        health, cpu, load = _dict(get("health")), _dict(get("cpu")), _dict(get("load"))
        memory, disk, disk_io = _dict(get("memory")), _dict(get("disk")), _dict(get("disk_io"))
        net, total = _dict(get("network")), _dict(get("network_total"))
        temp, throttling = get("temperature"), get("throttling")
        ident, up, proc = _dict(get("identity")), _dict(get("uptime")), _dict(get("process"))
        devices = _dict(state.get("devices"))
        sec = self._section
        v.update(sec("health", health, lambda o: _health(o, health)))
        v.update(sec("cpu", (cpu, load), lambda o: _cpu(o, cpu, load)))
        v.update(sec("memory", memory, lambda o: _memory(o, memory)))
        v.update(sec("disk", disk, lambda o: o.update(_layout_d=_disks(o, disk))))
        v.update(sec("temperature", temp, lambda o: _temperature(o, temp)))
        v.update(sec("disk_io", disk_io, lambda o: _disk_io(o, disk_io)))
        v.update(sec("net", (net, total), lambda o: o.update(_layout_n=_network(o, net, total))))
        v.update(
            sec(
                "power",
                throttling,
                lambda o: _power(o, throttling_flags.merged_reading(throttling)),
            )
        )
        v.update(sec("identity", (ident, up), lambda o: _identity(o, ident, up, now)))
        _daemon(v, proc, now, started_at)
        v.update(sec("devices", devices, lambda o: _devices(o, devices)))
        if journal is None:
            v["log"] = []
        else:
            count = journal.count
            if self._log[0] != count:
                self._log = (count, journal.lines())
            v["log"] = self._log[1]
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


def _health(v: View, h: dict[str, Any]) -> None:
    level = h.get("level")
    if level not in _LEVEL_TEXT:
        v["h.level"], v["h.text"] = "unknown", "Waiting for readings"
        v["h.reasons"] = ["health has not been evaluated yet"]
        return
    v["h.level"], v["h.text"] = level, _LEVEL_TEXT[level]
    reasons = [str(r) for r in h.get("reasons") or []]
    v["h.reasons"] = reasons or ["every reading is within its limits"]


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


def _temperature(v: View, t: Any) -> None:
    zones = temperature_zones(t)
    if not zones:
        v["temp.text"], v["temp.m"], v["c.temp"], v["temp.zone"] = DASH, 0, None, "no sensor"
        return
    c = num(zones[0].get("celsius"))
    v["temp.text"] = celsius(c)
    v["temp.m"], v["c.temp"] = c or 0, c
    v["temp.zone"] = zone_name(zones[0])


def _disk_io(v: View, io: dict[str, Any]) -> None:
    lines = []
    for dev, d in sorted(io.items()):
        if not isinstance(d, dict):
            continue
        w, r = d.get("write_bytes_per_s"), d.get("read_bytes_per_s")
        lines.append(
            f"{dev}: {size(d.get('bytes_written'))} written since boot"
            + (f" · writing {rate(w)}, reading {rate(r)}" if w is not None else "")
        )
    v["d.io"] = lines


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


def _power(v: View, t: dict[str, Any]) -> None:
    if not t:
        v["pw.level"], v["pw.text"] = "unknown", "not available on this host"
        v["pw.now"], v["pw.boot"], v["pw.raw"] = [], [], ""
        return
    level, now, past = power_state(t)
    v["pw.level"] = level
    v["pw.text"] = "power and clocks are fine now" if not now else "problem now"
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


def _daemon(v: View, p: dict[str, Any], now: float, started_at: float | None) -> None:
    cpu = num(p.get("cpu_percent"))
    v["self.cpu"] = DASH if cpu is None else f"{cpu:.1f} % of one core"
    v["self.rss"] = f"{size(p.get('rss'))} resident" if p.get("rss") else DASH
    threads = p.get("threads")
    v["self.threads"] = f"{threads} threads" if threads else ""
    v["self.up"] = "" if started_at is None else f"running for {duration(now - started_at)}"


def _devices(v: View, devices: dict[str, Any]) -> None:
    lines = []
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
    v["dev"] = lines or ["no hardware devices attached"]


def episode_sentence(episode: Mapping[str, Any], *, now: float) -> str | None:
    """One power episode from history in words ("Sun 01 Mar 10:00: under-voltage for 3
    minutes"), in this host's local time; None without a start."""
    start, end = num(episode.get("start"), 0), num(episode.get("end"), 0)
    if start is None:
        return None
    what = throttling_flags.past_words(str(episode.get("kind") or "under_voltage"))
    when = local_time(start, WEEKDAY_MINUTE)
    if end is None:
        return f"{when}: {what}, still going on ({duration(now - start)} so far)"
    return f"{when}: {what} for {duration(end - start)}"


def power_words(episodes: Iterable[Mapping[str, Any]], *, now: float) -> list[str]:
    """Power episodes from history as sentences, in the order given (newest first)."""
    sentences = (episode_sentence(ep, now=now) for ep in episodes)
    return [s for s in sentences if s is not None]
