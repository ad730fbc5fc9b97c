"""One validation pass over a composed document, driven by the declarations in the schema.

Every section and device kind is checked with the validators its fields declare; unknown
keys get a did-you-mean, duplicate keys name the first line, and every issue is collected
so that the admin sees them all at once. The walk follows aliases and ``<<`` merges as
often as they are used; it stays cheap because the composer has already refused any
document that would expand past ``MAX_VALUES``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bussdcc_system.config.issues import Invalid, Issues
from bussdcc_system.config.schema import (
    DEVICE_TYPES,
    Config,
    DeviceConfig,
    DeviceKind,
    StatusLedOptions,
)
from bussdcc_system.config.settings import DeclaredSetting, sections_of, settings_of
from bussdcc_system.config.validators import SectionValues, Validator
from bussdcc_system.config.wording import join_key, one_of
from bussdcc_system.config.yaml_nodes import MERGE, described, is_null, node_line

__all__ = ["walk"]

_SECTIONS: Final = {declared.name: declared for declared in sections_of(Config)}
_TOP_LEVEL: Final = [*_SECTIONS, "devices"]
_DEVICE_KEYS: Final = {
    declared.name: declared for declared in settings_of(DeviceConfig, every_field=False)
}
_KIND: Final = _DEVICE_KEYS["kind"].check
_ID: Final = _DEVICE_KEYS["id"].check
_DEVICE_TYPES: Final = {device_type.kind: device_type for device_type in DEVICE_TYPES}


def walk(root: Node | None, source: str) -> Config:
    """The configuration the document describes, or a ``ConfigError`` listing every issue."""
    walker = _Walker(source)
    config = walker.config(root)
    if walker.issues.found:
        raise walker.issues.error()
    assert config is not None
    return config


def _validators(declared: Sequence[DeclaredSetting]) -> dict[str, Validator[Any]]:
    return {setting.name: setting.check for setting in declared}


@dataclass
class _Entry:
    line: int  # line of the key
    node: Node  # the value


class _Walker:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues = Issues(source)

    def fail(self, line: int | None, key: str, message: str) -> Invalid:
        return self.issues.fail(line, key, message)

    # ---- mappings

    def entries(self, node: MappingNode, path: str) -> dict[str, _Entry]:
        """Key -> entry, honouring ``<<`` merges; reports duplicate and non-name keys."""
        result: dict[str, _Entry] = {}
        for key, entry in self._merged(node, path, set()):
            result[key] = entry
        first: dict[str, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == MERGE or not isinstance(key_node, ScalarNode):
                continue
            name, line = str(key_node.value), node_line(key_node)
            if name in first:
                self.fail(
                    line, join_key(path, name), f"duplicate key; first set on line {first[name]}"
                )
            else:
                first[name] = line
        return result

    def _merged(self, node: MappingNode, path: str, seen: set[int]) -> list[tuple[str, _Entry]]:
        seen = seen | {id(node)}
        merged: list[tuple[str, _Entry]] = []
        own: list[tuple[str, _Entry]] = []
        for key_node, value in node.value:
            if key_node.tag == MERGE:
                sources = value.value if isinstance(value, SequenceNode) else [value]
                # earlier sources win, so the later ones go first
                for source in reversed(sources):
                    if not isinstance(source, MappingNode):
                        self.fail(
                            node_line(key_node),
                            join_key(path, "<<"),
                            f"expected a mapping to merge, got {described(source)}",
                        )
                    elif id(source) not in seen:
                        merged.extend(self._merged(source, path, seen))
            elif isinstance(key_node, ScalarNode):
                own.append((str(key_node.value), _Entry(node_line(key_node), value)))
            else:
                self.fail(
                    node_line(key_node), path, f"expected a key name, got {described(key_node)}"
                )
        return merged + own

    def section(
        self, entries: Mapping[str, _Entry], path: str, validators: Mapping[str, Validator[Any]]
    ) -> dict[str, Any]:
        """Validate the known keys of a mapping; report the unknown ones."""
        values: dict[str, Any] = {}
        for name, entry in entries.items():
            validator = validators.get(name)
            if validator is None:
                self.unknown(entry.line, join_key(path, name), name, list(validators))
                continue
            value = validator(self.issues, entry.node, join_key(path, name), entry.line)
            if not isinstance(value, Invalid):
                values[name] = value
        return values

    def unknown(self, line: int, key: str, name: str, known: Sequence[str]) -> None:
        # a name three times the longest known one is close to none (and slow to compare)
        close = len(name) <= 3 * max(map(len, known))
        match = difflib.get_close_matches(name, known, n=1, cutoff=0.6) if close else []
        if match:
            self.fail(line, key, f"unknown key; did you mean {match[0]!r}?")
        else:
            self.fail(line, key, f"unknown key; expected one of {one_of(known)}")

    def mapping(self, node: Node, path: str, line: int, what: str) -> dict[str, _Entry] | None:
        """The entries of a section; an empty (all commented-out) section is an empty one."""
        if isinstance(node, MappingNode):
            return self.entries(node, path)
        if is_null(node):
            return {}
        self.fail(line, path, f"expected {what}, got {described(node)}")
        return None

    # ---- the document

    def config(self, root: Node | None) -> Config | None:
        if root is None or (isinstance(root, ScalarNode) and is_null(root)):
            return Config(source=self.source)
        if not isinstance(root, MappingNode):
            self.fail(
                node_line(root),
                "",
                "expected a mapping of settings such as 'web:' or 'devices:',"
                f" got {described(root)}",
            )
            return None
        entries = self.entries(root, "")
        sections: dict[str, Any] = {}
        for name, entry in entries.items():
            if name == "devices":
                devices = self.devices(entry.node, entry.line)
                if not isinstance(devices, Invalid):
                    sections["devices"] = devices
                continue
            declared = _SECTIONS.get(name)
            if declared is None:
                self.unknown(entry.line, name, name, _TOP_LEVEL)
                continue
            items = self.mapping(entry.node, name, entry.line, f"a mapping of {name} settings")
            if items is None:
                continue
            values = self.section(items, name, _validators(declared.settings))
            if declared.rule is not None:
                given = {key: item.line for key, item in items.items()}
                declared.rule(self.issues, SectionValues(name, given, values, declared.cls()))
            sections[name] = declared.cls(**values)
        return Config(**sections, source=self.source)

    # ---- devices

    def devices(self, node: Node, line: int) -> tuple[DeviceConfig, ...] | Invalid | None:
        if is_null(node):
            return None  # `devices:` with every example commented out: auto-detect
        if not isinstance(node, SequenceNode):
            return self.fail(line, "devices", f"expected a list of devices, got {described(node)}")
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
        line = node_line(node)
        if not isinstance(node, MappingNode):
            self.fail(
                line,
                path,
                f"expected a mapping with 'kind:' and its settings, got {described(node)}",
            )
            return None
        entries = self.entries(node, path)
        kind: str | None = None
        kind_entry = entries.pop("kind", None)
        if kind_entry is None:
            self.fail(line, path, f"missing required key 'kind'; expected {_KIND.expected}")
        else:
            value = _KIND(self.issues, kind_entry.node, f"{path}.kind", kind_entry.line)
            kind = None if isinstance(value, Invalid) else value
        device_id: str | None = kind
        id_entry = entries.pop("id", None)
        if id_entry is not None:
            value = _ID(self.issues, id_entry.node, f"{path}.id", id_entry.line)
            device_id = None if isinstance(value, Invalid) else value
        if kind is None:
            return None  # its other keys cannot be checked without knowing the kind
        device_type = _DEVICE_TYPES[kind]
        validators = _validators(device_type.settings)
        for name, entry in entries.items():
            if name not in validators:
                self.unknown(entry.line, join_key(path, name), name, [*_DEVICE_KEYS, *validators])
        known = {name: entry for name, entry in entries.items() if name in validators}
        values = self.section(known, path, validators)
        complete = True
        for declared in device_type.settings:
            if declared.required:
                if declared.name not in entries:
                    self.fail(
                        line,
                        f"{path}.{declared.name}",
                        f"missing; expected {declared.check.expected}",
                    )
                complete = complete and declared.name in values
        if device_id is None or not complete:
            return None  # reported; the device still takes part in the duplicate checks otherwise
        device = DeviceConfig(
            id=device_id,
            kind=cast(DeviceKind, kind),  # _KIND accepts only DEVICE_KINDS
            options=device_type.options(**values),
            line=line,
        )
        pin_entry = entries.get("pin")
        return device, id_entry.line if id_entry else line, pin_entry.line if pin_entry else line
