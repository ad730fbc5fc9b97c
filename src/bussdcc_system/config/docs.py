"""The reference tables and the shipped commented file, rendered from the declarations.

``docs/configuration.md`` keeps its hand-written prose; the table under each section's
heading is generated. ``etc/bussdcc-system/config.yaml`` is generated whole: every
setting commented out with its default, so as shipped it parses to exactly the defaults.
A test compares both with these renderings; refresh them from the repository root with::

    python -m bussdcc_system.config.docs --write
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml

from bussdcc_system.config.schema import DEVICE_TYPES, Config, DeviceConfig
from bussdcc_system.config.settings import DeclaredSetting, sections_of, settings_of

__all__ = [
    "CONFFILE",
    "REFERENCE",
    "WRITE_COMMAND",
    "conffile",
    "main",
    "reference",
    "reference_tables",
    "yaml_value",
]

REFERENCE: Final = Path("docs/configuration.md")
CONFFILE: Final = Path("etc/bussdcc-system/config.yaml")
WRITE_COMMAND: Final = "python -m bussdcc_system.config.docs --write"

_WIDTH: Final = 79
_ALIGNED_WIDTH: Final = 28  # a longer "key: value" is not padded: its comment follows it

_HEADER: Final = """\
# bussdcc-system configuration
#
# Every setting is commented out and shows its built-in default: the defaults
# live in the program, so this file as shipped (or no file at all) is a working
# configuration. To change a setting, remove the "#" in front of it and in
# front of its section name, keeping the indentation (two spaces per level).
#
# Check your edits with "bussdcc-system check-config", then apply them without
# a restart with "systemctl reload bussdcc-system". A file with mistakes is
# rejected as a whole, with one line per mistake naming the line, the key and
# what was expected; on reload the running configuration is kept. The full
# reference is /usr/share/doc/bussdcc-system/configuration.md.gz.
#
# If you set web.token below, make this file readable only by root and the
# service: it is a password.
"""

_DEVICES: Final = """\
# Without a "devices:" list the daemon attaches whatever exists on this host:
# throttling flags if vcgencmd works, the CPU thermal zone if there is one.
# A list, even an empty one ("devices: []"), is used as is. Each device has a
# "kind", an optional "id" (lowercase letters, digits, "_" and "-"; defaults
# to the kind) and its kind's settings, shown here with their defaults.
"""


def yaml_value(value: object) -> str:
    """A default as it is written in the file: ``1.0``, ``null``, ``["/"]``, ``0.0.0.0``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(f"key: {value}") if value else None
        except yaml.YAMLError:
            plain = None
        return value if plain == {"key": value} else json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(json.dumps(item) for item in value) + "]"
    raise TypeError(f"no YAML spelling for a default of type {type(value).__name__}")


# ---------------------------------------------------------------- the reference


def _cell(text: str) -> str:
    if "|" in text or "\n" in text:
        raise ValueError(f"a reference table cell cannot hold '|' or a newline: {text!r}")
    return text


def _default(setting: DeclaredSetting) -> str:
    if setting.default_text is not None:
        return setting.default_text
    if setting.required:
        return "required"
    return f"`{yaml_value(setting.default)}`"


def _accepts(setting: DeclaredSetting) -> str:
    """The validator's own words, with its quoted literals as code."""
    return re.sub(r"'([^']*)'", r"`\1`", setting.check.accepts)


def _table(settings: Sequence[DeclaredSetting]) -> str:
    rows = [
        "| Key | Default | Accepts | Meaning |",
        "|-----|---------|---------|---------|",
    ]
    for setting in settings:
        cells = [f"`{setting.name}`", _default(setting), _accepts(setting), setting.doc]
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def reference_tables() -> dict[str, str]:
    """Heading line -> the table that goes under it."""
    tables = {f"## `{s.name}`": _table(s.settings) for s in sections_of(Config)}
    tables["## `devices`"] = _table(settings_of(DeviceConfig, every_field=False))
    for device_type in DEVICE_TYPES:
        tables[f"### `{device_type.kind}`"] = _table(device_type.settings)
    return tables


def _headings(lines: Sequence[str]) -> list[int]:
    """The indices of the Markdown heading lines, skipping fenced code."""
    result, fenced = [], False
    for index, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            result.append(index)
    return result


def reference(markdown: str) -> str:
    """``markdown`` with the first table under each declared heading replaced by its
    rendering (a heading without a table yet gets one at the end of its text)."""
    lines = markdown.splitlines(keepends=True)
    for heading, table in reference_tables().items():
        headings = _headings(lines)
        try:
            start = next(i for i in headings if lines[i].rstrip("\n") == heading)
        except StopIteration:
            raise ValueError(f"{REFERENCE} has no heading {heading!r}: add it") from None
        end = next((i for i in headings if i > start), len(lines))
        first = next((i for i in range(start + 1, end) if lines[i].startswith("|")), None)
        if first is None:
            lines[end:end] = [table, "\n"]
            continue
        last = first
        while last < end and lines[last].startswith("|"):
            last += 1
        lines[first:last] = [table]
    return "".join(lines)


# ---------------------------------------------------------------- the shipped file


def _comment(doc: str) -> str:
    return doc.replace("`", "")


def _settings_block(settings: Sequence[DeclaredSetting], indent: str) -> list[str]:
    """``#<indent>key: default   # meaning``, the comments aligned."""
    pairs = []
    for setting in settings:
        value = setting.example if setting.required else setting.default
        pairs.append((f"#{indent}{setting.name}: {yaml_value(value)}", _comment(setting.doc)))
    fitting = [len(text) for text, _ in pairs if len(text) - len(indent) <= _ALIGNED_WIDTH]
    column = max(fitting, default=0) + 2
    return [
        f"{text.ljust(column) if len(text) + 2 <= column else text + '  '}# {doc}"
        for text, doc in pairs
    ]


def _rule(title: str) -> str:
    head = f"# ---- {title} "
    return head + "-" * max(4, _WIDTH - len(head))


def conffile() -> str:
    """The shipped ``config.yaml``: every setting commented out, showing its default."""
    parts = [_HEADER]
    for declared in sections_of(Config):
        lines = ["", "", _rule(f"{declared.name}: {declared.title}")]
        if declared.rule is not None:
            lines.append(f"# {declared.rule.doc}")
        lines.append(f"#{declared.name}:")
        lines += _settings_block(declared.settings, "  ")
        parts.append("\n".join(lines) + "\n")
    lines = ["", "", _rule("devices: hardware to attach"), _DEVICES.rstrip("\n"), "#devices:"]
    for index, device_type in enumerate(DEVICE_TYPES):
        if index:
            lines.append("#")
        lines += [
            f"#  # {device_type.doc}",
            f"#  - kind: {device_type.kind}",
            f"#    id: {device_type.example_id}",
        ]
        lines += _settings_block(device_type.settings, "    ")
    parts.append("\n".join(lines) + "\n")
    return "".join(parts)


# ---------------------------------------------------------------- the command


def main(argv: Sequence[str] | None = None) -> int:
    """Check (exit 1 when stale) or ``--write`` both files under ``--root``."""
    parser = argparse.ArgumentParser(
        prog="python -m bussdcc_system.config.docs",
        description=f"Regenerate {REFERENCE}'s tables and {CONFFILE} from the declarations.",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the files that differ")
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="the repository (default: the current dir)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    reference_path, conffile_path = root / REFERENCE, root / CONFFILE
    if not reference_path.is_file():
        print(f"{reference_path}: no such file; run this from the repository root", file=sys.stderr)
        return 2
    wanted = {
        reference_path: reference(reference_path.read_text(encoding="utf-8")),
        conffile_path: conffile(),
    }
    stale = []
    for path, text in wanted.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if args.write:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale and not args.write:
        for path in stale:
            print(f"{path}: differs from the declarations; run: {WRITE_COMMAND}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
