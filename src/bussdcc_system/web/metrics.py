"""``/metrics``: the current state in Prometheus text format, for fleet scraping.

A custom prometheus-client collector reads the ``StateStore`` at scrape time (nothing
is kept twice, nothing is updated on the dispatch path) into a private registry, so
several apps in one process (tests) never collide in the global one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flask import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bussdcc_system import __version__
from bussdcc_system.messages import HEALTH_LEVELS, THROTTLING_FLAGS
from bussdcc_system.web.view import temperature_zones, throttling_flags

if TYPE_CHECKING:
    from bussdcc_system.web.app import Web

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
P = "bussdcc_system_"


def _n(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    return float(x) if isinstance(x, int | float) else None


def _d(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


class StateCollector(Collector):
    """Every scrape: one consistent read of ``system.*`` turned into metric families."""

    def __init__(self, web: Web) -> None:
        self.web = web

    def collect(self) -> Iterator[Metric]:
        system = _d(self.web.state.get("system"))
        ident = _d(system.get("identity"))
        info = GaugeMetricFamily(
            P + "info",
            "Version and host identity (always 1).",
            labels=["version", "hostname", "model"],
        )
        info.add_metric(
            [__version__, str(ident.get("hostname") or ""), str(ident.get("model") or "")], 1
        )
        yield info
        yield from self._cpu(_d(system.get("cpu")), _d(system.get("load")))
        yield from self._memory(_d(system.get("memory")))
        yield from self._disks(_d(system.get("disk")))
        yield from self._temperature(system.get("temperature"))
        yield from self._throttling(throttling_flags(system.get("throttling")))
        yield from self._health(_d(system.get("health")))
        yield from self._network(_d(system.get("network")))
        yield from self._host(_d(system.get("uptime")), _d(system.get("process")))
        devices = GaugeMetricFamily(
            P + "device_online", "Hardware device attached and working.", labels=["device", "kind"]
        )
        for dev_id, d in sorted(_d(self.web.state.get("devices")).items()):
            if isinstance(d, dict) and "online" in d:
                devices.add_metric([dev_id, str(d.get("kind") or "")], float(bool(d["online"])))
        yield devices

    def _cpu(self, cpu: dict[str, Any], load: dict[str, Any]) -> Iterator[Metric]:
        g = GaugeMetricFamily(
            P + "cpu_usage_percent",
            "CPU time share over the last sample, by mode (busy = not idle).",
            labels=["mode"],
        )
        for mode in (
            "percent",
            "user",
            "nice",
            "system",
            "idle",
            "iowait",
            "irq",
            "softirq",
            "steal",
        ):
            v = _n(cpu.get(mode))
            if v is not None:
                g.add_metric(["busy" if mode == "percent" else mode], v)
        yield g
        cores = GaugeMetricFamily(
            P + "cpu_core_usage_percent", "Busy percent per CPU core.", labels=["core"]
        )
        for i, x in enumerate(cpu.get("per_core") or []):
            v = _n(x)
            if v is not None:
                cores.add_metric([str(i)], v)
        yield cores
        ld = GaugeMetricFamily(P + "load_average", "Load average.", labels=["period"])
        for key, period in (("load1", "1m"), ("load5", "5m"), ("load15", "15m")):
            v = _n(load.get(key))
            if v is not None:
                ld.add_metric([period], v)
        yield ld

    def _memory(self, mem: dict[str, Any]) -> Iterator[Metric]:
        g = GaugeMetricFamily(P + "memory_bytes", "Memory and swap in bytes.", labels=["kind"])
        for key in ("total", "used", "available", "swap_total", "swap_used"):
            v = _n(mem.get(key))
            if v is not None:
                g.add_metric([key], v)
        yield g
        p = _n(mem.get("percent"))
        if p is not None:
            yield GaugeMetricFamily(P + "memory_usage_percent", "Memory in use.", value=p)

    def _disks(self, disks: dict[str, Any]) -> Iterator[Metric]:
        g = GaugeMetricFamily(
            P + "disk_bytes",
            "Filesystem size, use and free space in bytes.",
            labels=["mountpoint", "kind"],
        )
        pc = GaugeMetricFamily(
            P + "disk_usage_percent", "Filesystem use as df shows it.", labels=["mountpoint"]
        )
        for mount, d in sorted(disks.items()):
            if not isinstance(d, dict):
                continue
            for key in ("total", "used", "free"):
                v = _n(d.get(key))
                if v is not None:
                    g.add_metric([mount, key], v)
            v = _n(d.get("percent"))
            if v is not None:
                pc.add_metric([mount], v)
        yield g
        yield pc

    def _temperature(self, t: Any) -> Iterator[Metric]:
        g = GaugeMetricFamily(
            P + "temperature_celsius", "Thermal zone temperature.", labels=["zone"]
        )
        for z in temperature_zones(t):
            v = _n(z.get("celsius"))
            if v is not None:
                g.add_metric([str(z.get("zone") or z.get("device") or "")], v)
        yield g

    def _throttling(self, t: dict[str, Any]) -> Iterator[Metric]:
        g = GaugeMetricFamily(
            P + "throttling_flag",
            "Firmware throttling flags (1 set, 0 clear; absent = unknown).",
            labels=["flag"],
        )
        for flag in THROTTLING_FLAGS:
            v = t.get(flag)
            if isinstance(v, bool):
                g.add_metric([flag], float(v))
        yield g
        raw = _n(t.get("raw"))
        if raw is not None:
            yield GaugeMetricFamily(P + "throttled_raw", "vcgencmd get_throttled value.", value=raw)

    def _health(self, h: dict[str, Any]) -> Iterator[Metric]:
        level = h.get("level")
        if level in HEALTH_LEVELS:
            yield GaugeMetricFamily(
                P + "health_level",
                "Health: 0 ok, 1 warning, 2 critical.",
                value=HEALTH_LEVELS.index(level),
            )
            yield GaugeMetricFamily(
                P + "health_reasons",
                "Number of reasons for the level.",
                value=len(h.get("reasons") or []),
            )

    def _network(self, net: dict[str, Any]) -> Iterator[Metric]:
        families = {
            key: CounterMetricFamily(P + f"network_{what}", doc, labels=["interface", "direction"])
            for key, what, doc in (
                ("bytes", "bytes", "Bytes through the interface since boot."),
                ("packets", "packets", "Packets through the interface since boot."),
                ("errors", "errors", "Receive/transmit errors since boot."),
                ("drops", "drops", "Dropped packets since boot."),
            )
        }
        for name, d in sorted(net.items()):
            if not isinstance(d, dict):
                continue
            for key, fam in families.items():
                for direction in ("rx", "tx"):
                    v = _n(d.get(f"{direction}_{key}"))
                    if v is not None:
                        fam.add_metric([name, direction], v)
        yield from families.values()

    def _host(self, up: dict[str, Any], proc: dict[str, Any]) -> Iterator[Metric]:
        for key, name, doc in (
            ("seconds", "uptime_seconds", "Seconds since the host booted."),
            ("boot_time", "boot_time_seconds", "Host boot time (POSIX seconds)."),
        ):
            v = _n(up.get(key))
            if v is not None:
                yield GaugeMetricFamily(P + name, doc, value=v)
        for key, name, doc in (
            ("cpu_percent", "process_cpu_percent", "The daemon's CPU use, percent of one core."),
            ("rss", "process_resident_bytes", "The daemon's resident memory."),
            ("threads", "process_threads", "The daemon's thread count."),
        ):
            v = _n(proc.get(key))
            if v is not None:
                yield GaugeMetricFamily(P + name, doc, value=v)
        stats = self.web.bridge.stats()
        yield GaugeMetricFamily(P + "web_clients", "Dashboards connected now.", value=stats.clients)
        yield CounterMetricFamily(P + "web_pushes", "Dashboard pushes sent.", value=stats.pushes)


def metrics_response(web: Web) -> Response:
    registry = web.extras.get("registry")
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StateCollector(web))
        web.extras["registry"] = registry
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)
