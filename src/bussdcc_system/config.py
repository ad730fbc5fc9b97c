"""Configuration: ``/etc/bussdcc-system/config.yaml`` as typed, frozen, validated values.

Defaults live here, in code, so that an empty or missing file is a working configuration
on any Linux host and the shipped conffile can stay all comments (editing a shipped
conffile later would prompt every admin who touched theirs). The file is *composed* to
YAML nodes rather than loaded, so every problem is reported with its line, and the whole
file is checked in one pass so an admin fixes every mistake in one edit, not one per
restart. Reload applies only what changed: see :func:`diff_configs`.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import posixpath
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "DEVICE_KINDS",
    "DEVICE_OPTIONS",
    "EX_CONFIG",
    "SEVERITIES",
    "Config",
    "ConfigDiff",
    "ConfigError",
    "ConfigIssue",
    "DeviceConfig",
    "DeviceKind",
    "DeviceOptions",
    "DisksConfig",
    "HealthConfig",
    "HistoryConfig",
    "LoggingConfig",
    "SamplingConfig",
    "Severity",
    "StatusLedOptions",
    "ThermalZoneOptions",
    "ThrottlingOptions",
    "WebConfig",
    "check_config_main",
    "default_config",
    "describe_config",
    "diff_configs",
    "load_config",
    "parse_config",
    "resolve_config_path",
]

DEFAULT_CONFIG_PATH: Final = Path("/etc/bussdcc-system/config.yaml")
CONFIG_ENV: Final = "BUSSDCC_SYSTEM_CONFIG"
EX_CONFIG: Final = 78  # sysexits.h: configuration error; systemd shows it as "CONFIG"

Severity: TypeAlias = Literal["debug", "info", "warning", "error", "critical"]
SEVERITIES: Final[tuple[Severity, ...]] = ("debug", "info", "warning", "error", "critical")
DeviceKind: TypeAlias = Literal["throttling", "thermal_zone", "status_led"]
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = ("throttling", "thermal_zone", "status_led")


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class SamplingConfig:
    """Seconds between two samples of each telemetry service."""

    cpu: float = 1.0
    memory: float = 2.0
    disk: float = 30.0
    load: float = 5.0
    network: float = 2.0
    identity: float = 300.0
    uptime: float = 60.0


@dataclass(frozen=True)
class DisksConfig:
    """Which filesystems to watch, and which block device is the (wearing) SD card."""

    mounts: tuple[str, ...] = ("/",)
    sd_card: str | None = None  # e.g. "mmcblk0"; None = auto-detect


@dataclass(frozen=True)
class WebConfig:
    """Dashboard server. ``token`` is a secret: kept out of repr and of every message."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8086
    token: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryConfig:
    """Append-only JSONL history: where, how often it is flushed, and how long it is kept."""

    enabled: bool = True
    directory: str = "/var/lib/bussdcc-system/history"
    flush_interval: float = 5.0
    rotate_interval: float = 3600.0
    retention_days: float = 30.0
    max_size_mb: float = 512.0
    compress: bool = True
    min_severity: Severity = "info"
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds (degrees C, percent used) that turn readings into health states."""

    temperature_warning: float = 70.0
    temperature_critical: float = 80.0
    disk_warning: float = 85.0
    disk_critical: float = 95.0
    memory_warning: float = 90.0
    memory_critical: float = 97.0
    undervoltage_recent: float = 3600.0


@dataclass(frozen=True)
class LoggingConfig:
    """Daemon log level; ``console`` = structured JSON lines on stdout (the journal)."""

    level: Severity = "info"
    console: bool = True


@dataclass(frozen=True)
class ThrottlingOptions:
    """Power and throttling flags from ``vcgencmd get_throttled``."""

    interval: float = 5.0
    vcgencmd: str = "/usr/bin/vcgencmd"


@dataclass(frozen=True)
class ThermalZoneOptions:
    """A sysfs thermal zone: ``auto``, a zone type (``cpu-thermal``) or ``thermal_zone0``."""

    interval: float = 5.0
    zone: str = "auto"


@dataclass(frozen=True)
class StatusLedOptions:
    """A GPIO LED showing overall health; ``pin`` is a BCM number (names are normalised)."""

    pin: int
    active_high: bool = True


DeviceOptions: TypeAlias = ThrottlingOptions | ThermalZoneOptions | StatusLedOptions
DEVICE_OPTIONS: Final[Mapping[str, type[DeviceOptions]]] = {
    "throttling": ThrottlingOptions,
    "thermal_zone": ThermalZoneOptions,
    "status_led": StatusLedOptions,
}


@dataclass(frozen=True)
class DeviceConfig:
    """One device to attach. ``line`` is where it was declared (0: not from a file); it
    is left out of equality so that moving a device in the file is not a change."""

    id: str
    kind: DeviceKind
    options: DeviceOptions
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``devices`` None means auto-detect (attach the devices
    whose hardware exists); a tuple, even empty, is used as is. ``source`` names the file
    and is left out of equality: two configurations that say the same thing are equal."""

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    disks: DisksConfig = field(default_factory=DisksConfig)
    web: WebConfig = field(default_factory=WebConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    devices: tuple[DeviceConfig, ...] | None = None
    source: str = field(default="<defaults>", compare=False)


def default_config() -> Config:
    """The built-in configuration: what an empty or absent file means."""
    return Config()


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigIssue:
    """One problem, rendered as ``config.yaml:14: devices[1].pin: expected ..., got ...``."""

    source: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = os.path.basename(self.source) or self.source
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """Every problem found in one configuration, one line each in ``str()``."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self.issues)

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


# --------------------------------------------------------------------------- loading


def resolve_config_path(
    cli_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, bool]:
    """Which file to read, and whether it was asked for explicitly (``--config`` or
    ``$BUSSDCC_SYSTEM_CONFIG``). Only the default path may be absent."""
    if cli_path is not None:
        return Path(cli_path), True
    env = (os.environ if environ is None else environ).get(CONFIG_ENV, "")
    if env:
        return Path(env), True
    return DEFAULT_CONFIG_PATH, False


def load_config(path: str | os.PathLike[str] | None = None, *, explicit: bool = False) -> Config:
    """Read and validate a configuration file; raise :class:`ConfigError` listing every
    problem. With ``path`` None the file comes from :func:`resolve_config_path`. A
    missing file means the built-in defaults unless it was asked for ``explicit``-ly."""
    if path is None:
        resolved, from_env = resolve_config_path(None)
        explicit = explicit or from_env
    else:
        resolved = Path(path)
    source = str(resolved)

    def fail(message: str, line: int | None = None) -> ConfigError:
        return ConfigError([ConfigIssue(source, line, "", message)])

    try:
        data = resolved.read_bytes()
    except FileNotFoundError:
        if not explicit:
            return Config(source=source)
        raise fail(f"cannot read {source}: no such file") from None
    except IsADirectoryError:
        raise fail(f"cannot read {source}: it is a directory, not a file") from None
    except PermissionError:
        raise fail(f"cannot read {source}: permission denied") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise fail(f"cannot read {source}: {reason}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", line
        ) from None
    return parse_config(text, source)


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate YAML text; ``source`` names it in messages (its basename is shown)."""
    parser = _Parser(source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_yaml_issue(source, exc)]) from None
    except yaml.reader.ReaderError as exc:
        position = int(exc.position)
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        message = (
            f"invalid YAML at column {column}: character {chr(exc.character)!r} is not allowed"
        )
        raise ConfigError([ConfigIssue(source, line, "", message)]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above is marked
        raise ConfigError([ConfigIssue(source, None, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError(
            [ConfigIssue(source, None, "", "invalid YAML: nested too deeply")]
        ) from None
    config = parser.config(root)
    if parser.issues:
        raise ConfigError(sorted(parser.issues, key=lambda issue: issue.line or 0))
    assert config is not None
    return config


def _yaml_issue(source: str, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = exc.problem or exc.context or "malformed"
    context = exc.context if exc.problem else None
    if context == "expected a single document in the stream":
        problem, context = "a configuration is one YAML document, found a second ('---')", None
    message = f"invalid YAML at column {mark.column + 1}: {problem}" if mark else problem
    if context:
        context_line = exc.context_mark.line + 1 if exc.context_mark else None
        started = f" started on line {context_line}" if context_line not in (None, line) else ""
        message += f" ({context}{started})"
    if "'\\t'" in problem:
        message += "; indent with spaces, not tabs"
    elif problem == "mapping values are not allowed here":
        message += "; quote a value that contains ': '"
    return ConfigIssue(source, line, "", message)


# --------------------------------------------------------------------------- validation

_TAG: Final = "tag:yaml.org,2002:"
_MERGE: Final = _TAG + "merge"


class _Invalid:
    """Marks a value that failed validation (its issue is already recorded)."""


_INVALID: Final = _Invalid()
_Validator: TypeAlias = Callable[["_Parser", Node, str, int], Any]


def _line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _scalar(node: Node) -> tuple[str, Any]:
    """(kind, value) with kind one of str int float bool null other mapping list."""
    if isinstance(node, MappingNode):
        return "mapping", None
    if isinstance(node, SequenceNode):
        return "list", None
    assert isinstance(node, ScalarNode)
    tag = node.tag
    try:
        if tag == _TAG + "str":
            return "str", str(node.value)
        if tag == _TAG + "null":
            return "null", None
        if tag == _TAG + "bool":
            return "bool", SafeConstructor().construct_yaml_bool(node)
        if tag == _TAG + "int":
            return "int", SafeConstructor().construct_yaml_int(node)
        if tag == _TAG + "float":
            return "float", SafeConstructor().construct_yaml_float(node)
    except (ValueError, yaml.YAMLError):
        pass
    return "other", None


def _quote(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _got(node: Node) -> str:
    """What the file says, in words, for the 'got ...' half of a message."""
    kind, value = _scalar(node)
    if kind == "mapping":
        return "a mapping"
    if kind == "list":
        return "a list"
    raw = str(node.value)
    if kind == "str":
        return _quote(value)
    if kind == "null":
        return "an empty value" if raw == "" else "null"
    if kind == "bool":
        return f"{raw} (a boolean)"
    if kind in ("int", "float"):
        return raw
    if node.tag.startswith(_TAG):
        return f"{_quote(raw)} (a {node.tag[len(_TAG) :]})"
    return f"{_quote(raw)} with unsupported tag {node.tag}"


def _fmt(number: float) -> str:
    text = repr(float(number)) if isinstance(number, float) else str(number)
    return text[:-2] if text.endswith(".0") else text


@dataclass
class _Entry:
    line: int  # line of the key
    node: Node  # the value


class _Parser:
    """One validation pass over a composed document, collecting every issue."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[ConfigIssue] = []

    def fail(self, line: int | None, key: str, message: str) -> _Invalid:
        self.issues.append(ConfigIssue(self.source, line, key, message))
        return _INVALID

    # ---- mappings

    def entries(self, node: MappingNode, path: str) -> dict[str, _Entry]:
        """Key -> entry, honouring ``<<`` merges; reports duplicate and non-name keys."""
        result: dict[str, _Entry] = {}
        for key, entry in self._merged(node, path, set()):
            result[key] = entry
        first: dict[str, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, ScalarNode):
                continue
            name, line = str(key_node.value), _line(key_node)
            if name in first:
                self.fail(
                    line, _join(path, name), f"duplicate key; first set on line {first[name]}"
                )
            else:
                first[name] = line
        return result

    def _merged(self, node: MappingNode, path: str, seen: set[int]) -> list[tuple[str, _Entry]]:
        seen = seen | {id(node)}
        merged: list[tuple[str, _Entry]] = []
        own: list[tuple[str, _Entry]] = []
        for key_node, value in node.value:
            if key_node.tag == _MERGE:
                sources = value.value if isinstance(value, SequenceNode) else [value]
                # earlier sources win, so the later ones go first
                for source in reversed(sources):
                    if not isinstance(source, MappingNode):
                        self.fail(
                            _line(key_node),
                            _join(path, "<<"),
                            f"expected a mapping to merge, got {_got(source)}",
                        )
                    elif id(source) not in seen:
                        merged.extend(self._merged(source, path, seen))
            elif isinstance(key_node, ScalarNode):
                own.append((str(key_node.value), _Entry(_line(key_node), value)))
            else:
                self.fail(_line(key_node), path, f"expected a key name, got {_got(key_node)}")
        return merged + own

    def section(
        self, entries: Mapping[str, _Entry], path: str, validators: Mapping[str, _Validator]
    ) -> dict[str, Any]:
        """Validate the known keys of a mapping; report the unknown ones."""
        values: dict[str, Any] = {}
        for name, entry in entries.items():
            validator = validators.get(name)
            if validator is None:
                self.unknown(entry.line, _join(path, name), name, list(validators))
                continue
            value = validator(self, entry.node, _join(path, name), entry.line)
            if value is not _INVALID:
                values[name] = value
        return values

    def unknown(self, line: int, key: str, name: str, known: Sequence[str]) -> None:
        match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        if match:
            self.fail(line, key, f"unknown key; did you mean {match[0]!r}?")
        else:
            self.fail(line, key, f"unknown key; expected one of {_one_of(known)}")

    def mapping(self, node: Node, path: str, line: int, what: str) -> dict[str, _Entry] | None:
        """The entries of a section; an empty (all commented-out) section is an empty one."""
        if isinstance(node, MappingNode):
            return self.entries(node, path)
        if _scalar(node)[0] == "null":
            return {}
        self.fail(line, path, f"expected {what}, got {_got(node)}")
        return None

    # ---- the document

    def config(self, root: Node | None) -> Config | None:
        if root is None or (isinstance(root, ScalarNode) and _scalar(root)[0] == "null"):
            return Config(source=self.source)
        if not isinstance(root, MappingNode):
            self.fail(
                _line(root),
                "",
                f"expected a mapping of settings such as 'web:' or 'devices:', got {_got(root)}",
            )
            return None
        entries = self.entries(root, "")
        sections: dict[str, Any] = {}
        known = [*_SECTIONS, "devices"]
        for name, entry in entries.items():
            if name == "devices":
                devices = self.devices(entry.node, entry.line)
                if devices is not _INVALID:
                    sections["devices"] = devices
                continue
            spec = _SECTIONS.get(name)
            if spec is None:
                self.unknown(entry.line, name, name, known)
                continue
            cls, validators = spec
            items = self.mapping(entry.node, name, entry.line, f"a mapping of {name} settings")
            if items is None:
                continue
            values = self.section(items, name, validators)
            if cls is HealthConfig:
                self.check_health(items, values)
            sections[name] = cls(**values)
        return Config(**sections, source=self.source)

    def check_health(self, entries: Mapping[str, _Entry], values: Mapping[str, Any]) -> None:
        """Each warning threshold must sit below its critical one."""
        defaults = HealthConfig()
        for metric in ("temperature", "disk", "memory"):
            low_name, high_name = f"{metric}_warning", f"{metric}_critical"
            if (low_name in entries and low_name not in values) or (
                high_name in entries and high_name not in values
            ):
                continue  # already reported
            low = values.get(low_name, getattr(defaults, low_name))
            high = values.get(high_name, getattr(defaults, high_name))
            if low < high:
                continue
            if low_name in entries:
                note = "" if high_name in entries else ", the default"
                self.fail(
                    entries[low_name].line,
                    f"health.{low_name}",
                    f"expected less than health.{high_name} ({_fmt(high)}{note}), got {_fmt(low)}",
                )
            else:
                self.fail(
                    entries[high_name].line,
                    f"health.{high_name}",
                    f"expected more than health.{low_name} ({_fmt(low)}, the default),"
                    f" got {_fmt(high)}",
                )

    # ---- devices

    def devices(self, node: Node, line: int) -> tuple[DeviceConfig, ...] | _Invalid | None:
        if _scalar(node)[0] == "null":
            return None  # `devices:` with every example commented out: auto-detect
        if not isinstance(node, SequenceNode):
            return self.fail(line, "devices", f"expected a list of devices, got {_got(node)}")
        result: list[DeviceConfig] = []
        ids: dict[str, tuple[str, int]] = {}
        pins: dict[int, tuple[str, int]] = {}
        for index, item in enumerate(node.value):
            path = f"devices[{index}]"
            parsed = self.device(item, path)
            if parsed is None:
                continue
            device, id_line, pin_line = parsed
            if device.id in ids:
                other, other_line = ids[device.id]
                hint = (
                    ""
                    if id_line != device.line
                    else " (taken from its kind: set 'id:' to tell them apart)"
                )
                self.fail(
                    id_line,
                    f"{path}.id",
                    f"duplicate device id {device.id!r}{hint};"
                    f" {other} on line {other_line} has the same id",
                )
                continue
            ids[device.id] = (path, id_line)
            if isinstance(device.options, StatusLedOptions):
                pin = device.options.pin
                if pin in pins:
                    other, other_line = pins[pin]
                    self.fail(
                        pin_line,
                        f"{path}.pin",
                        f"GPIO{pin} is already used by {other} on line {other_line}",
                    )
                    continue
                pins[pin] = (path, pin_line)
            result.append(device)
        return tuple(result)

    def device(self, node: Node, path: str) -> tuple[DeviceConfig, int, int] | None:
        """One device, with the lines of its id and pin (for duplicate reports)."""
        line = _line(node)
        if not isinstance(node, MappingNode):
            self.fail(
                line, path, f"expected a mapping with 'kind:' and its settings, got {_got(node)}"
            )
            return None
        entries = self.entries(node, path)
        kind: DeviceKind | None = None
        kind_entry = entries.pop("kind", None)
        if kind_entry is None:
            self.fail(
                line, path, f"missing required key 'kind'; expected one of {_one_of(DEVICE_KINDS)}"
            )
        else:
            value = _choice(DEVICE_KINDS)(self, kind_entry.node, f"{path}.kind", kind_entry.line)
            kind = None if value is _INVALID else value
        device_id: str | None = kind
        id_entry = entries.pop("id", None)
        if id_entry is not None:
            value = _device_id(self, id_entry.node, f"{path}.id", id_entry.line)
            device_id = None if value is _INVALID else value
        if kind is None:
            return None  # its other keys cannot be checked without knowing the kind
        validators = _DEVICE_VALIDATORS[kind]
        for name, entry in entries.items():
            if name not in validators:
                self.unknown(entry.line, f"{path}.{name}", name, ["id", "kind", *validators])
        known = {name: entry for name, entry in entries.items() if name in validators}
        values = self.section(known, path, validators)
        complete = True
        for required, expected in _REQUIRED_OPTIONS.get(kind, {}).items():
            if required not in entries:
                self.fail(line, f"{path}.{required}", f"missing; expected {expected}")
            complete = complete and required in values
        if device_id is None or not complete:
            return None  # reported; the device still takes part in the duplicate checks otherwise
        device = DeviceConfig(
            id=device_id, kind=kind, options=DEVICE_OPTIONS[kind](**values), line=line
        )
        pin_entry = entries.get("pin")
        return device, id_entry.line if id_entry else line, pin_entry.line if pin_entry else line


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _one_of(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


# --------------------------------------------------------------------------- validators


def _number(
    what: str, *, gt: float | None = None, le: float | None = None, ge: float | None = None
) -> _Validator:
    bounds = []
    if gt is not None:
        bounds.append(f"> {_fmt(gt)}")
    if ge is not None:
        bounds.append(f">= {_fmt(ge)}")
    if le is not None:
        bounds.append(f"<= {_fmt(le)}")
    expected = f"{what} {' and '.join(bounds)}" if bounds else what

    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        kind, value = _scalar(node)
        if kind == "int" and abs(value) > 1e300:
            kind = "other"  # would overflow a float
        ok = (
            kind in ("int", "float")
            and math.isfinite(value)
            and (gt is None or value > gt)
            and (ge is None or value >= ge)
            and (le is None or value <= le)
        )
        if ok:
            return float(value)
        got = _got(node)
        if kind == "str" and _looks_numeric(value):
            unquoted = node.style is None if isinstance(node, ScalarNode) else False
            if unquoted:  # YAML 1.1 reads 1e3 as text
                got += " (text to YAML: write 1000 or 1.0e+3)"
            else:
                got += " (a string: remove the quotes)"
        return parser.fail(line, path, f"expected {expected}, got {got}")

    return check


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _integer(expected: str, low: int, high: int) -> _Validator:
    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        kind, value = _scalar(node)
        if kind == "int" and low <= value <= high:
            return int(value)
        return parser.fail(line, path, f"expected {expected}, got {_got(node)}")

    return check


def _boolean(parser: _Parser, node: Node, path: str, line: int) -> Any:
    kind, value = _scalar(node)
    if kind == "bool":
        return bool(value)
    return parser.fail(line, path, f"expected true or false, got {_got(node)}")


def _text(expected: str, valid: Callable[[str], str | None]) -> _Validator:
    """A string that ``valid`` accepts, returning its normal form (None rejects)."""

    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        kind, value = _scalar(node)
        normal = valid(value) if kind == "str" else None
        if normal is not None:
            return normal
        return parser.fail(line, path, f"expected {expected}, got {_got(node)}")

    return check


def _optional(validator: _Validator) -> _Validator:
    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        if _scalar(node)[0] == "null":
            return None
        return validator(parser, node, path, line)

    return check


def _list_of(what: str, item: _Validator, *, unique: bool = False) -> _Validator:
    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        if not isinstance(node, SequenceNode):
            return parser.fail(line, path, f"expected a list of {what}, got {_got(node)}")
        values: list[Any] = []
        first: dict[Any, int] = {}
        ok = True
        for index, child in enumerate(node.value):
            child_line = _line(child)
            value = item(parser, child, f"{path}[{index}]", child_line)
            if value is _INVALID:
                ok = False
            elif unique and value in first:
                ok = False
                parser.fail(
                    child_line,
                    f"{path}[{index}]",
                    f"{value!r} is listed twice; first on line {first[value]}",
                )
            else:
                first.setdefault(value, child_line)
                values.append(value)
        return tuple(values) if ok else _INVALID

    return check


def _choice(options: Sequence[str], *, ignore_case: bool = False) -> _Validator:
    def check(parser: _Parser, node: Node, path: str, line: int) -> Any:
        kind, value = _scalar(node)
        if kind == "str":
            candidate = value.lower() if ignore_case else value
            if candidate in options:
                return candidate
        message = f"expected one of {_one_of(options)}, got {_got(node)}"
        if kind == "str":
            match = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
            if match:
                message += f"; did you mean {match[0]!r}?"
        return parser.fail(line, path, message)

    return check


def _absolute_path(value: str) -> str | None:
    if not value.startswith("/") or "\0" in value:
        return None
    return posixpath.normpath(value)


_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_ORIGIN = re.compile(r"https?://[^/\s?#@]+")
_BLOCK_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ZONE = re.compile(r"[A-Za-z0-9_.-]+")
_DEVICE_ID = re.compile(r"[a-z0-9_-]+")
_PIN_NAME = re.compile(r"(?:GPIO|BCM)?([0-9]{1,2})", re.IGNORECASE)
_TOKEN_MIN = 16


def _host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return value if _HOSTNAME.fullmatch(value) else None
    return value


def _token(parser: _Parser, node: Node, path: str, line: int) -> Any:
    """A secret: the message says what is wrong with it, never what it is."""
    kind, value = _scalar(node)
    expected = f"expected a secret string of at least {_TOKEN_MIN} characters"
    if kind == "null":
        return None
    if kind != "str":
        described = {"mapping": "a mapping", "list": "a list", "bool": "a boolean"}.get(
            kind, "a number"
        )
        return parser.fail(line, path, f"{expected} (quote it), got {described}")
    if len(value) < _TOKEN_MIN:
        return parser.fail(line, path, f"{expected}, got {len(value)} characters")
    return value


def _pin(parser: _Parser, node: Node, path: str, line: int) -> Any:
    kind, value = _scalar(node)
    pin: int | None = None
    if kind == "int":
        pin = value
    elif kind == "str":
        match = _PIN_NAME.fullmatch(value.strip())
        pin = int(match.group(1)) if match else None
    if pin is not None and 0 <= pin <= 27:
        return pin
    return parser.fail(
        line, path, f"expected a GPIO pin number 0-27 or a name like 'GPIO17', got {_got(node)}"
    )


_device_id = _text(
    "an id of lowercase letters, digits, '_' and '-'",
    lambda value: value if _DEVICE_ID.fullmatch(value) else None,
)


def _seconds(le: float = 86400.0) -> _Validator:
    return _number("a number of seconds", gt=0.0, le=le)


def _percent() -> _Validator:
    return _number("a percentage", gt=0.0, le=100.0)


def _temperature() -> _Validator:
    return _number("a temperature in degrees C", gt=0.0, le=150.0)


_SECTIONS: Final[dict[str, tuple[type[Any], dict[str, _Validator]]]] = {
    "sampling": (SamplingConfig, {f.name: _seconds() for f in fields(SamplingConfig)}),
    "disks": (
        DisksConfig,
        {
            "mounts": _list_of(
                "mount points",
                _text("a mount point (an absolute path)", _absolute_path),
                unique=True,
            ),
            "sd_card": _optional(
                _text(
                    "a block device name like 'mmcblk0' (without /dev/)",
                    lambda value: value if _BLOCK_DEVICE.fullmatch(value) else None,
                )
            ),
        },
    ),
    "web": (
        WebConfig,
        {
            "enabled": _boolean,
            "host": _text("an IP address or host name to listen on", _host),
            "port": _integer("an integer 1-65535", 1, 65535),
            "token": _token,
            "allowed_origins": _list_of(
                "origins",
                _text(
                    "an origin like 'http://pi.local:8086' (scheme://host[:port], no path) or '*'",
                    lambda value: value if value == "*" or _ORIGIN.fullmatch(value) else None,
                ),
                unique=True,
            ),
        },
    ),
    "history": (
        HistoryConfig,
        {
            "enabled": _boolean,
            "directory": _text("a directory (an absolute path)", _absolute_path),
            "flush_interval": _seconds(le=3600.0),
            "rotate_interval": _seconds(),
            "retention_days": _number("a number of days", gt=0.0, le=36500.0),
            "max_size_mb": _number("a size in megabytes", gt=0.0, le=1e9),
            "compress": _boolean,
            "min_severity": _choice(SEVERITIES, ignore_case=True),
            "include": _list_of(
                "message name patterns",
                _text("a glob pattern like 'system.*'", lambda v: v or None),
            ),
            "exclude": _list_of(
                "message name patterns",
                _text("a glob pattern like 'system.*'", lambda v: v or None),
            ),
        },
    ),
    "health": (
        HealthConfig,
        {
            "temperature_warning": _temperature(),
            "temperature_critical": _temperature(),
            "disk_warning": _percent(),
            "disk_critical": _percent(),
            "memory_warning": _percent(),
            "memory_critical": _percent(),
            "undervoltage_recent": _seconds(le=30 * 86400.0),
        },
    ),
    "logging": (
        LoggingConfig,
        {"level": _choice(SEVERITIES, ignore_case=True), "console": _boolean},
    ),
}

_DEVICE_VALIDATORS: Final[dict[str, dict[str, _Validator]]] = {
    "throttling": {
        "interval": _seconds(),
        "vcgencmd": _text("the path of vcgencmd (an absolute path)", _absolute_path),
    },
    "thermal_zone": {
        "interval": _seconds(),
        "zone": _text(
            "'auto', a zone type like 'cpu-thermal' or a directory like 'thermal_zone0'",
            lambda value: value if _ZONE.fullmatch(value) else None,
        ),
    },
    "status_led": {"pin": _pin, "active_high": _boolean},
}
_REQUIRED_OPTIONS: Final[dict[str, dict[str, str]]] = {
    "status_led": {"pin": "a GPIO pin number 0-27 or a name like 'GPIO17'"},
}


# --------------------------------------------------------------------------- reload


@dataclass(frozen=True)
class ConfigDiff:
    """What a reload must apply. Section dicts map a field name to (old, new)."""

    devices_added: tuple[DeviceConfig, ...] = ()
    devices_removed: tuple[DeviceConfig, ...] = ()
    devices_changed: tuple[DeviceConfig, ...] = ()  # the new versions; same id, new settings
    sampling_changed: dict[str, tuple[float, float]] = field(default_factory=dict)
    disks_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    web_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    history_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    health_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    logging_changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    @property
    def needs_web_restart(self) -> bool:
        """Any web change (bind, port, token, origins, on/off) means a new server."""
        return bool(self.web_changed)

    def describe(self) -> list[str]:
        """One line per change, for the log; the token is never shown."""
        lines = [f"devices: added {d.id} ({d.kind})" for d in self.devices_added]
        lines += [f"devices: removed {d.id} ({d.kind})" for d in self.devices_removed]
        lines += [f"devices: changed {d.id} ({d.kind})" for d in self.devices_changed]
        for section in ("sampling", "disks", "web", "history", "health", "logging"):
            changes: dict[str, tuple[Any, Any]] = getattr(self, f"{section}_changed")
            for name, (old, new) in changes.items():
                if section == "web" and name == "token":
                    state = "set" if old is None else "removed" if new is None else "changed"
                    lines.append(f"web.token: {state}")
                else:
                    lines.append(f"{section}.{name}: {_show(old)} -> {_show(new)}")
        return lines


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float | int):
        return _fmt(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _field_changes(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    return {
        f.name: (getattr(old, f.name), getattr(new, f.name))
        for f in fields(old)
        if getattr(old, f.name) != getattr(new, f.name)
    }


def diff_configs(
    old: Config, new: Config, *, auto_devices: Sequence[DeviceConfig] = ()
) -> ConfigDiff:
    """What changed from ``old`` to ``new``, so reload applies only that.

    ``devices`` None (auto-detect) stands for ``auto_devices``: pass the devices that
    auto-detection attached, or switching between auto-detect and a list is misread."""
    old_devices = tuple(auto_devices) if old.devices is None else old.devices
    new_devices = tuple(auto_devices) if new.devices is None else new.devices
    old_by_id = {d.id: d for d in old_devices}
    new_by_id = {d.id: d for d in new_devices}
    return ConfigDiff(
        devices_added=tuple(d for d in new_devices if d.id not in old_by_id),
        devices_removed=tuple(d for d in old_devices if d.id not in new_by_id),
        devices_changed=tuple(d for d in new_devices if d.id in old_by_id and old_by_id[d.id] != d),
        sampling_changed=_field_changes(old.sampling, new.sampling),
        disks_changed=_field_changes(old.disks, new.disks),
        web_changed=_field_changes(old.web, new.web),
        history_changed=_field_changes(old.history, new.history),
        health_changed=_field_changes(old.health, new.health),
        logging_changed=_field_changes(old.logging, new.logging),
    )


# --------------------------------------------------------------------------- check-config


def describe_config(config: Config) -> list[str]:
    """A short summary (devices, web, history), one line each; never shows the token."""
    if config.devices is None:
        devices = "devices: auto-detect"
    elif not config.devices:
        devices = "devices: none"
    else:
        names = ", ".join(d.id if d.id == d.kind else f"{d.id} ({d.kind})" for d in config.devices)
        devices = f"devices: {len(config.devices)} configured: {names}"
    web = config.web
    if web.enabled:
        host = f"[{web.host}]" if ":" in web.host else web.host
        access = "write actions enabled (token set)" if web.token else "read-only (no token)"
        web_line = f"web: {host}:{web.port}, {access}"
    else:
        web_line = "web: disabled"
    history = config.history
    if history.enabled:
        history_line = (
            f"history: {history.directory}, kept {_fmt(history.retention_days)} days"
            f" or {_fmt(history.max_size_mb)} MB"
        )
    else:
        history_line = "history: disabled"
    return [devices, web_line, history_line]


def check_config_main(path: str | None) -> int:
    """``bussdcc-system check-config [PATH]``: 0 and a summary, or 78 and every error."""
    resolved, explicit = resolve_config_path(path)
    try:
        config = load_config(resolved, explicit=explicit)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return EX_CONFIG
    note = "" if resolved.exists() else " (no such file: built-in defaults)"
    print(f"OK: {resolved}{note}")
    for line in describe_config(config):
        print(f"  {line}")
    return 0
