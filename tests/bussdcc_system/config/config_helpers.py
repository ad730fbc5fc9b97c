"""What the configuration tests share: the shipped files, a full example, and how an
admin sees a configuration's errors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from bussdcc_system.config import Config, ConfigError, parse_config

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "etc" / "bussdcc-system" / "config.yaml"
DOCS = REPO / "docs" / "configuration.md"
SOURCE = "/etc/bussdcc-system/config.yaml"

EXPANDS = (
    "aliases and merge keys expand to more than 2,000 keys, values and list items"
    " (a full configuration has about a hundred); write the values out instead"
)
"""What check-config says about a file whose aliases or merge keys expand too far."""


def parse(text: str) -> Config:
    return parse_config(textwrap.dedent(text), SOURCE)


def errors(text: str) -> list[str]:
    """The lines a user would see for this text."""
    with pytest.raises(ConfigError) as info:
        parse(text)
    lines = str(info.value).splitlines()
    assert lines == [str(issue) for issue in info.value.issues]
    return lines


def uncomment(text: str) -> str:
    """What an admin gets by removing the '#' in front of every shipped setting."""
    return re.sub(r"(?m)^#(\S|  )", r"\1", text)


FULL = """\
sampling:
  cpu: 0.5
  disk: 60
disks:
  mounts: [/, /boot/firmware/]
  sd_card: mmcblk0
web:
  enabled: yes
  host: "::"
  port: 8443
  token: "0123456789abcdef0123"
  allowed_origins: ["http://pi.local:8086", "*"]
history:
  directory: /data/history
  flush_interval: 1
  min_severity: WARNING
  include: ["system.*", "health.*"]
  exclude: ["system.cpu.*"]
  compress: off
health:
  temperature_warning: 60
  temperature_critical: 75.5
logging:
  level: debug
  console: false
devices:
  - kind: throttling
    interval: 10
  - id: cpu_temp
    kind: thermal_zone
    zone: cpu-thermal
  - id: led-green
    kind: status_led
    pin: GPIO17
  - id: led-red
    kind: status_led
    pin: bcm27
    active_high: false
  - id: led-blue
    kind: status_led
    pin: 4
"""


# ---- hostile documents (bench/bench_config.py times the same shapes)


def nested_merge_keys(levels: int = 8, width: int = 10, into: str = "<<") -> str:
    """``aN: &aN {<<: [*aN-1, *aN-1, ...]}``: 500 bytes standing for 10**levels keys,
    merged into the document (or, with ``into="web"``, into a section)."""
    lines = ["a0: &a0 {x: 1, y: 2}"]
    for level in range(1, levels + 1):
        sources = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} {{<<: [{sources}]}}")
    merged = "[" + ", ".join([f"*a{levels}"] * width) + "]"
    lines.append(f"<<: {merged}" if into == "<<" else f"{into}: {{<<: {merged}}}")
    return "\n".join(lines) + "\n"


def nested_aliases_in_lists(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" of lists, used where lists are expected."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines.append(f"disks: {{mounts: *a{levels}}}")
    return "\n".join(lines) + "\n"


def merge_chain(length: int) -> str:
    """``a1: &a1 {<<: *a0}``, ``a2: &a2 {<<: *a1}``, ... merged into ``web``."""
    lines = ["a0: &a0 {x: 1}"]
    lines += [f"a{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, length)]
    lines.append(f"web: {{<<: *a{length - 1}}}")
    return "\n".join(lines) + "\n"


def unknown_keys(count: int) -> str:
    return "".join(f"key{index:07d}: value\n" for index in range(count))
