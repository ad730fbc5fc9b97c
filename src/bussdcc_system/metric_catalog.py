"""Every exported metric, declared once: where its values are, what it is called, its
type, unit, labels and help, and how the dashboard shows one of its values.

``/metrics`` walks ``METRICS`` (``web/prometheus.py`` turns each into a Prometheus
family), the metrics table of ``docs/telemetry.md`` is generated from it, and the
dashboard's view is tested against each metric's ``shown_as`` keys and ``show``
formatter. Adding a metric is one ``Metric(...)`` here plus the code that samples it (a
message, and its place in the state tree); then run
``python -m bussdcc_system.metric_catalog docs/telemetry.md``.

A metric reads a *snapshot*: ``{"system": ..., "devices": ...}`` as in the state tree,
plus ``"web"`` (the dashboard bridge's counters). ``source`` is a dotted path into it;
``rows`` turns what is there into labelled records (one record, one per mapping key,
one per thermal zone...), and ``fields`` names the record fields that are values, with
the label value each gets (``{"percent": "busy"}`` under label ``mode``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from bussdcc_system import __version__, formatting, throttling_flags
from bussdcc_system.devices.thermal import is_cpu_zone
from bussdcc_system.messages import HEALTH_LEVELS

PREFIX: Final = "bussdcc_system_"
"""Every exported metric's name starts with this."""

MetricType = Literal["gauge", "counter"]
Labels = tuple[str, ...]
Record = Mapping[str, Any]
Rows = Callable[[Any], Iterable[tuple[Labels, Record]]]
Sample = tuple[Labels, float]


# -- reading the state tree ------------------------------------------------------------


def temperature_zones(temperature: Any) -> list[dict[str, Any]]:
    """The thermal readings at ``system.temperature`` (one reading or a mapping of device
    id to reading), the CPU's first."""
    zones: list[dict[str, Any]] = []
    if isinstance(temperature, dict) and "celsius" in temperature:
        zones = [temperature]
    elif isinstance(temperature, dict):
        zones = [z for z in temperature.values() if isinstance(z, dict) and "celsius" in z]
    zones.sort(key=lambda z: (not is_cpu_zone(str(z.get("zone") or "")), str(z.get("zone") or "")))
    return zones


def zone_name(reading: Mapping[str, Any]) -> str:
    """What a thermal reading is called: its zone type, else its device id."""
    return str(reading.get("zone") or reading.get("device") or "")


def whole(value: Any) -> Iterator[tuple[Labels, Record]]:
    """The value is one record (``system.memory``)."""
    if isinstance(value, Mapping):
        yield (), value


def each(value: Any) -> Iterator[tuple[Labels, Record]]:
    """The value maps a name (mount, interface, device) to a record; the name is a label."""
    if isinstance(value, Mapping):
        for key, record in sorted(value.items()):
            if isinstance(record, Mapping):
                yield (str(key),), record


def _zones(value: Any) -> Iterator[tuple[Labels, Record]]:
    for reading in temperature_zones(value):
        yield (zone_name(reading),), reading


def _throttling(value: Any) -> Iterator[tuple[Labels, Record]]:
    reading = throttling_flags.merged_reading(value)
    if reading:
        yield (), reading


def _cores(value: Any) -> Iterator[tuple[Labels, Record]]:
    cores = value.get("per_core") if isinstance(value, Mapping) else None
    for i, busy in enumerate(cores if isinstance(cores, list | tuple) else ()):
        yield (str(i),), {"per_core": busy}


def _identity(value: Any) -> Iterator[tuple[Labels, Record]]:
    ident = value if isinstance(value, Mapping) else {}
    labels = (__version__, str(ident.get("hostname") or ""), str(ident.get("model") or ""))
    yield labels, {"info": 1}


def _health(value: Any) -> Iterator[tuple[Labels, Record]]:
    if isinstance(value, Mapping) and value.get("level") in HEALTH_LEVELS:
        yield (), value


def _devices(value: Any) -> Iterator[tuple[Labels, Record]]:
    for (device,), record in each(value):
        if "online" in record:
            yield (device, str(record.get("kind") or "")), record


# -- values ----------------------------------------------------------------------------


def number(x: Any) -> float | None:
    """A number (or a bool, as 0/1); anything else is absent."""
    if isinstance(x, bool):
        return float(x)
    return float(x) if isinstance(x, int | float) else None


def flag(x: Any) -> float | None:
    """A flag known to be set or clear; ``None`` (not known from this source) is absent."""
    return float(x) if isinstance(x, bool) else None


def level_rank(x: Any) -> float | None:
    return float(HEALTH_LEVELS.index(x)) if x in HEALTH_LEVELS else None


def count(x: Any) -> float | None:
    return float(len(x)) if isinstance(x, list | tuple) else 0.0


def megahertz(x: Any) -> float | None:
    """MHz in the state, hertz for Prometheus (base units)."""
    return float(x) * 1e6 if isinstance(x, int | float) and not isinstance(x, bool) else None


# -- how the dashboard shows a value ---------------------------------------------------

Show = Callable[[float | None], str]


def _plain(x: float | None) -> str:
    return formatting.DASH if x is None else f"{x:g}"


def _seconds(x: float | None) -> str:
    return formatting.DASH if x is None else formatting.duration(x)


def _timestamp(x: float | None) -> str:
    return formatting.DASH if x is None else formatting.local_time(x, formatting.MINUTE)


def _whole_percent(x: float | None) -> str:
    return formatting.percent(x, 0)


def _two_decimals(x: float | None) -> str:
    return formatting.DASH if x is None else f"{x:.2f}"


def _hex(x: float | None) -> str:
    return formatting.DASH if x is None else f"0x{int(x):x}"


UNITS: Final[dict[str, Show]] = {
    "percent": formatting.percent,
    "bytes": formatting.size,
    "bytes_per_second": formatting.rate,
    "hertz": formatting.frequency,
    "celsius": formatting.celsius,
    "seconds": _seconds,
    "timestamp": _timestamp,
    "": _plain,
}
"""The units a metric may have, and how one value of each reads by default."""


# -- the declaration -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    """One exported metric family."""

    name: str
    """The name after ``PREFIX`` (a counter's samples add ``_total``)."""
    type: MetricType
    unit: str
    """A key of ``UNITS``: ``percent``, ``bytes``, ``bytes_per_second``, ``hertz``,
    ``celsius``, ``seconds``, ``timestamp`` (POSIX seconds) or ``""`` (a count, a load,
    a flag)."""
    help: str
    source: str
    """Where in the snapshot: a state path (``system.memory``), ``devices`` or ``web``."""
    fields: Mapping[str, str]
    """Record field -> the value of ``label`` for its samples (``""`` when unlabelled)."""
    label: str | None = None
    """The label that tells the fields apart (``mode``, ``kind``, ``period``...)."""
    rows: Rows = whole
    row_labels: Labels = ()
    """Labels that ``rows`` gives each record (``mountpoint``, ``interface``, ``zone``...)."""
    value: Callable[[Any], float | None] = number
    shown_as: tuple[tuple[str, str], ...] = ()
    """Where the dashboard shows its values: (view key, ``label`` value) pairs; the view
    value contains ``show(value)``. ``{}`` in a key stands for the row label (the mount
    point in ``d.{}.pct``)."""
    formatter: Show | None = None
    """How the dashboard writes one value; None: the unit's default."""
    origin: str = ""
    """What the docs say it is read from, when not simply ``source: fields``."""

    @property
    def full_name(self) -> str:
        return PREFIX + self.name

    @property
    def exposed_name(self) -> str:
        """The samples' name as a scraper sees it."""
        return self.full_name + ("_total" if self.type == "counter" else "")

    @property
    def labels(self) -> Labels:
        return self.row_labels + ((self.label,) if self.label else ())

    def show(self, value: float | None) -> str:
        """One value as the dashboard writes it."""
        return (self.formatter or UNITS[self.unit])(value)

    def samples(self, snapshot: Mapping[str, Any]) -> list[Sample]:
        """(label values, value) of every sample present in ``snapshot``."""
        out: list[Sample] = []
        for row, record in self.rows(lookup(snapshot, self.source)):
            for name, label_value in self.fields.items():
                v = self.value(record.get(name))
                if v is not None:
                    out.append((row + ((label_value,) if self.label else ()), v))
        return out


def lookup(snapshot: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = snapshot
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _same(*names: str) -> dict[str, str]:
    return {n: n for n in names}


METRICS: Final[tuple[Metric, ...]] = (
    Metric(
        name="info",
        type="gauge",
        unit="",
        help="Version and host identity (always 1).",
        source="system.identity",
        fields={"info": ""},
        rows=_identity,
        row_labels=("version", "hostname", "model"),
        origin="`system.identity`: `hostname`, `model` as labels, and the version",
    ),
    Metric(
        name="cpu_usage_percent",
        type="gauge",
        unit="percent",
        help="CPU time share over the last sample, by mode (busy = not idle).",
        source="system.cpu",
        fields={
            "percent": "busy",
            **_same("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"),
        },
        label="mode",
        shown_as=(("cpu.pct", "busy"), ("cpu.detail", "user"), ("cpu.detail", "system")),
    ),
    Metric(
        name="cpu_core_usage_percent",
        type="gauge",
        unit="percent",
        help="Busy percent per CPU core.",
        source="system.cpu",
        fields={"per_core": ""},
        rows=_cores,
        row_labels=("core",),
    ),
    Metric(
        name="cpu_frequency_hertz",
        type="gauge",
        unit="hertz",
        help="CPU clock now, and the hardware's lowest and highest.",
        source="system.cpu",
        fields={"freq_mhz": "current", "freq_min_mhz": "min", "freq_max_mhz": "max"},
        label="kind",
        value=megahertz,
        shown_as=(("cpu.freq", "current"), ("cpu.freq", "max")),
        origin=(
            "`system.cpu`: `freq_mhz` (current), `freq_min_mhz` (min), `freq_max_mhz` (max),"
            " in MHz there"
        ),
    ),
    Metric(
        name="load_average",
        type="gauge",
        unit="",
        help="Load average.",
        source="system.load",
        fields={"load1": "1m", "load5": "5m", "load15": "15m"},
        label="period",
        shown_as=(("load.text", "1m"), ("load.text", "5m"), ("load.text", "15m")),
        formatter=_two_decimals,
    ),
    Metric(
        name="memory_bytes",
        type="gauge",
        unit="bytes",
        help="Memory and swap in bytes.",
        source="system.memory",
        fields=_same("total", "used", "available", "swap_total", "swap_used"),
        label="kind",
        shown_as=(
            ("mem.text", "used"),
            ("mem.text", "total"),
            ("mem.avail", "available"),
            ("swap.text", "swap_used"),
            ("swap.text", "swap_total"),
        ),
    ),
    Metric(
        name="memory_usage_percent",
        type="gauge",
        unit="percent",
        help="Memory in use.",
        source="system.memory",
        fields={"percent": ""},
        shown_as=(("mem.pct", ""),),
        formatter=_whole_percent,
    ),
    Metric(
        name="disk_bytes",
        type="gauge",
        unit="bytes",
        help="Filesystem size, use and free space in bytes.",
        source="system.disk",
        fields=_same("total", "used", "free"),
        label="kind",
        rows=each,
        row_labels=("mountpoint",),
        shown_as=(("d.{}.text", "used"), ("d.{}.text", "total"), ("d.{}.free", "free")),
    ),
    Metric(
        name="disk_usage_percent",
        type="gauge",
        unit="percent",
        help="Filesystem use as df shows it.",
        source="system.disk",
        fields={"percent": ""},
        rows=each,
        row_labels=("mountpoint",),
        shown_as=(("d.{}.pct", ""),),
        formatter=_whole_percent,
    ),
    Metric(
        name="disk_io_bytes",
        type="counter",
        unit="bytes",
        help="Bytes read from and written to the block device since boot.",
        source="system.disk_io",
        fields={"bytes_read": "read", "bytes_written": "write"},
        label="direction",
        rows=each,
        row_labels=("device",),
        shown_as=(("sd.boot", "write"),),
    ),
    Metric(
        name="disk_io_bytes_per_second",
        type="gauge",
        unit="bytes_per_second",
        help="Bytes per second read from and written to the block device (last sample).",
        source="system.disk_io",
        fields={"read_bytes_per_s": "read", "write_bytes_per_s": "write"},
        label="direction",
        rows=each,
        row_labels=("device",),
        shown_as=(("sd.r", "read"), ("sd.w", "write")),
    ),
    Metric(
        name="disk_written_today_bytes",
        type="gauge",
        unit="bytes",
        help="Bytes written to the block device today, local time (from today_since).",
        source="system.disk_io",
        fields={"written_today": ""},
        rows=each,
        row_labels=("device",),
        shown_as=(("sd.today", ""),),
    ),
    Metric(
        name="temperature_celsius",
        type="gauge",
        unit="celsius",
        help="Thermal zone temperature.",
        source="system.temperature",
        fields={"celsius": ""},
        rows=_zones,
        row_labels=("zone",),
        shown_as=(("temp.text", ""),),
        origin="`system.temperature`: `celsius` of each zone, labelled with its zone type",
    ),
    Metric(
        name="throttling_flag",
        type="gauge",
        unit="",
        help="Firmware throttling flags (1 set, 0 clear; absent = unknown).",
        source="system.throttling",
        fields=_same(*throttling_flags.FIELDS),
        label="flag",
        rows=_throttling,
        value=flag,
    ),
    Metric(
        name="throttled_raw",
        type="gauge",
        unit="",
        help="vcgencmd get_throttled value.",
        source="system.throttling",
        fields={"raw": ""},
        rows=_throttling,
        shown_as=(("pw.raw", ""),),
        formatter=_hex,
    ),
    Metric(
        name="health_level",
        type="gauge",
        unit="",
        help="Health: 0 ok, 1 warning, 2 critical.",
        source="system.health",
        fields={"level": ""},
        rows=_health,
        value=level_rank,
    ),
    Metric(
        name="health_reasons",
        type="gauge",
        unit="",
        help="Number of reasons for the level.",
        source="system.health",
        fields={"reasons": ""},
        rows=_health,
        value=count,
    ),
    Metric(
        name="network_bytes",
        type="counter",
        unit="bytes",
        help="Bytes through the interface since boot.",
        source="system.network",
        fields={"rx_bytes": "rx", "tx_bytes": "tx"},
        label="direction",
        rows=each,
        row_labels=("interface",),
        shown_as=(("n.{}.tot", "rx"), ("n.{}.tot", "tx")),
    ),
    *(
        Metric(
            name=f"network_{what}",
            type="counter",
            unit="",
            help=help,
            source="system.network",
            fields={f"rx_{what}": "rx", f"tx_{what}": "tx"},
            label="direction",
            rows=each,
            row_labels=("interface",),
        )
        for what, help in (
            ("packets", "Packets through the interface since boot."),
            ("errors", "Receive/transmit errors since boot."),
            ("drops", "Dropped packets since boot."),
        )
    ),
    Metric(
        name="uptime_seconds",
        type="gauge",
        unit="seconds",
        help="Seconds since the host booted.",
        source="system.uptime",
        fields={"seconds": ""},
        shown_as=(("id.up", ""),),
    ),
    Metric(
        name="boot_time_seconds",
        type="gauge",
        unit="timestamp",
        help="Host boot time (POSIX seconds).",
        source="system.uptime",
        fields={"boot_time": ""},
        shown_as=(("id.boot", ""),),
    ),
    Metric(
        name="process_cpu_percent",
        type="gauge",
        unit="percent",
        help="The daemon's CPU use, percent of one core.",
        source="system.process",
        fields={"cpu_percent": ""},
        shown_as=(("self.cpu", ""),),
    ),
    Metric(
        name="process_resident_bytes",
        type="gauge",
        unit="bytes",
        help="The daemon's resident memory.",
        source="system.process",
        fields={"rss": ""},
        shown_as=(("self.rss", ""),),
    ),
    Metric(
        name="process_threads",
        type="gauge",
        unit="",
        help="The daemon's thread count.",
        source="system.process",
        fields={"threads": ""},
        shown_as=(("self.threads", ""),),
    ),
    Metric(
        name="web_clients",
        type="gauge",
        unit="",
        help="Dashboards connected now.",
        source="web",
        fields={"clients": ""},
    ),
    Metric(
        name="web_pushes",
        type="counter",
        unit="",
        help="Dashboard pushes sent.",
        source="web",
        fields={"pushes": ""},
    ),
    Metric(
        name="device_online",
        type="gauge",
        unit="",
        help="Hardware device attached and working.",
        source="devices",
        fields={"online": ""},
        rows=_devices,
        row_labels=("device", "kind"),
        origin="`devices`: `online` of each device, labelled with its id and kind",
    ),
)
"""In exposition order."""

BY_NAME: Final[dict[str, Metric]] = {metric.name: metric for metric in METRICS}


# -- the reference table in docs/telemetry.md --------------------------------------------

DOCS_COMMAND: Final = "python -m bussdcc_system.metric_catalog docs/telemetry.md"
"""What regenerates the table (from the repository's root, with ``src`` importable)."""
DOCS_BEGIN: Final = f"<!-- metric-catalog:begin: generated by {DOCS_COMMAND}; do not edit -->"
DOCS_END: Final = "<!-- metric-catalog:end -->"
_DOCS_PART: Final = re.compile(r"<!-- metric-catalog:begin.*?-->.*?" + re.escape(DOCS_END), re.S)


def markdown_table() -> str:
    """The metrics table, one row per metric, as docs/telemetry.md carries it."""
    lines = [
        "| metric | type | unit | labels | from | help |",
        "|---|---|---|---|---|---|",
    ]
    for metric in METRICS:
        fields = ", ".join(
            f"`{name}`" + (f" ({value})" if metric.label and value != name else "")
            for name, value in metric.fields.items()
        )
        origin = metric.origin or f"`{metric.source}`: {fields}"
        labels = ", ".join(f"`{label}`" for label in metric.labels) or formatting.DASH
        unit = metric.unit or formatting.DASH
        lines.append(
            f"| `{metric.exposed_name}` | {metric.type} | {unit} | {labels} "
            f"| {origin} | {metric.help} |"
        )
    return "\n".join(lines) + "\n"


def render_docs(text: str) -> str:
    """``text`` with the part between the markers replaced by ``markdown_table()``."""
    if _DOCS_PART.search(text) is None:
        raise ValueError(f"no {DOCS_BEGIN!r} ... {DOCS_END!r} part to fill")
    part = f"{DOCS_BEGIN}\n{markdown_table()}{DOCS_END}"
    return _DOCS_PART.sub(lambda _match: part, text, count=1)


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check``, verify) the metrics table of a Markdown file."""
    parser = argparse.ArgumentParser(
        prog="python -m bussdcc_system.metric_catalog", description=main.__doc__
    )
    parser.add_argument("path", type=Path, help="the Markdown file (docs/telemetry.md)")
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = args.path.read_text(encoding="utf-8")
    new = render_docs(text)
    if args.check:
        if new != text:
            print(f"{args.path}: the metrics table is out of date", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
