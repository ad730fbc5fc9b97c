"""The checks a setting can declare: each turns one YAML node into a typed value or an issue.

A validator's ``expected`` is the "expected ..." half of its messages and its
``accepts`` is what the reference's "Accepts" column says, so a bound changed here shows
in the messages and, once regenerated, in the docs. Section rules check settings against
each other once each has been checked on its own.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import os
import posixpath
import re
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from yaml.nodes import Node, ScalarNode, SequenceNode

from bussdcc_system.config.issues import INVALID, Invalid, Issues
from bussdcc_system.config.wording import number, one_of, quoted, shortened
from bussdcc_system.config.yaml_nodes import described, node_line, scalar

__all__ = [
    "BOOLEAN",
    "Boolean",
    "Choice",
    "Directory",
    "GpioPin",
    "HostAddress",
    "Integer",
    "ListOf",
    "Nullable",
    "Number",
    "SectionRule",
    "SectionValues",
    "Text",
    "Token",
    "Validator",
    "WarningBelowCritical",
    "absolute_path",
    "block_device",
    "device_id",
    "host_name",
    "non_empty",
    "origin",
    "percentage",
    "seconds",
    "temperature",
    "zone_name",
]

T = TypeVar("T")


class Validator(ABC, Generic[T]):
    """Checks the node of one setting; returns its value or the :data:`INVALID` marker."""

    expected: str

    @property
    def accepts(self) -> str:
        """What the reference says this setting accepts."""
        return self.expected

    @abstractmethod
    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> T | Invalid: ...

    def reject(self, issues: Issues, node: Node, path: str, line: int) -> Invalid:
        return issues.fail(line, path, f"expected {self.expected}, got {described(node)}")


class Number(Validator[float]):
    """An int or float within the bounds; never a boolean, a string, ``.inf`` or ``.nan``."""

    def __init__(
        self,
        what: str,
        *,
        gt: float | None = None,
        ge: float | None = None,
        le: float | None = None,
    ) -> None:
        self.gt, self.ge, self.le = gt, ge, le
        bounds = []
        if gt is not None:
            bounds.append(f"> {number(gt)}")
        if ge is not None:
            bounds.append(f">= {number(ge)}")
        if le is not None:
            bounds.append(f"<= {number(le)}")
        self.expected = f"{what} {' and '.join(bounds)}" if bounds else what

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> float | Invalid:
        kind, value = scalar(node)
        if kind == "int" and abs(value) > 1e300:
            kind = "other"  # would overflow a float
        ok = (
            kind in ("int", "float")
            and math.isfinite(value)
            and (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
        )
        if ok:
            return float(value)
        got = described(node)
        if kind == "str" and _looks_numeric(value):
            unquoted = node.style is None if isinstance(node, ScalarNode) else False
            if unquoted:  # YAML 1.1 reads 1e3 as text
                got += " (text to YAML: write 1000 or 1.0e+3)"
            else:
                got += " (a string: remove the quotes)"
        return issues.fail(line, path, f"expected {self.expected}, got {got}")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def seconds(*, ge: float | None = None, le: float = 86400.0) -> Number:
    """Seconds up to ``le``: at least ``ge`` (a sampling interval's floor, which its
    doc line explains), else anything above zero."""
    if ge is None:
        return Number("a number of seconds", gt=0.0, le=le)
    return Number("a number of seconds", ge=ge, le=le)


def percentage() -> Number:
    return Number("a percentage", gt=0.0, le=100.0)


def temperature() -> Number:
    return Number("a temperature in degrees C", gt=0.0, le=150.0)


class Integer(Validator[int]):
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.expected = f"an integer {low}-{high}"

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> int | Invalid:
        number = self.read(*scalar(node))
        if number is not None and self.low <= number <= self.high:
            return number
        return self.reject(issues, node, path, line)

    def read(self, kind: str, value: Any) -> int | None:
        """The integer a scalar of this ``kind`` stands for, if any (bounds aside)."""
        return int(value) if kind == "int" else None


class Boolean(Validator[bool]):
    """``true``/``false``, and YAML 1.1's ``yes``/``no``/``on``/``off``; never ``1``."""

    expected = "true or false"

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> bool | Invalid:
        kind, value = scalar(node)
        if kind == "bool":
            return bool(value)
        return self.reject(issues, node, path, line)


BOOLEAN: Final = Boolean()


class Text(Validator[str]):
    """A string that ``normal`` accepts, as ``normal`` returns it (None rejects it)."""

    def __init__(self, expected: str, normal: Callable[[str], str | None]) -> None:
        self.expected = expected
        self.normal = normal

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> str | Invalid:
        kind, value = scalar(node)
        result = self.normal(value) if kind == "str" else None
        if result is not None:
            return result
        return self.reject(issues, node, path, line)


class Nullable(Validator[T | None]):
    """What ``inner`` accepts, or ``null`` (None): for settings that can be left unset."""

    def __init__(self, inner: Validator[T]) -> None:
        self.inner = inner
        self.expected = inner.expected

    @property
    def accepts(self) -> str:
        return f"{self.inner.accepts}, or null"

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> T | Invalid | None:
        if scalar(node)[0] == "null":
            return None
        return self.inner(issues, node, path, line)


class ListOf(Validator[tuple[T, ...]]):
    """A YAML list, each item checked by ``item`` (its issues name ``path[index]``)."""

    def __init__(self, what: str, item: Validator[T], *, unique: bool = False) -> None:
        self.item = item
        self.unique = unique
        self.expected = f"a list of {what}"

    @property
    def accepts(self) -> str:
        each = ", each once" if self.unique else ""
        return f"{self.expected}: each {self.item.accepts}{each}"

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> tuple[T, ...] | Invalid:
        if not isinstance(node, SequenceNode):
            return self.reject(issues, node, path, line)
        values: list[T] = []
        first: dict[T, int] = {}
        ok = True
        for index, child in enumerate(node.value):
            child_line = node_line(child)
            value = self.item(issues, child, f"{path}[{index}]", child_line)
            if isinstance(value, Invalid):
                ok = False
            elif self.unique and value in first:
                ok = False
                issues.fail(
                    child_line,
                    f"{path}[{index}]",
                    f"{value!r} is listed twice; first on line {first[value]}",
                )
            else:
                first.setdefault(value, child_line)
                values.append(value)
        return tuple(values) if ok else INVALID


class Choice(Validator[str]):
    """One of fixed names, with a suggestion for a near miss."""

    def __init__(self, options: Sequence[str], *, ignore_case: bool = False) -> None:
        self.options = tuple(options)
        self.ignore_case = ignore_case
        self.expected = f"one of {one_of(self.options)}"

    @property
    def accepts(self) -> str:
        return f"{self.expected} (any case)" if self.ignore_case else self.expected

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> str | Invalid:
        kind, value = scalar(node)
        if kind == "str":
            candidate = value.lower() if self.ignore_case else value
            if candidate in self.options:
                return str(candidate)
        message = f"expected {self.expected}, got {described(node)}"
        if kind == "str":
            match = difflib.get_close_matches(value, self.options, n=1, cutoff=0.6)
            if match:
                message += f"; did you mean {match[0]!r}?"
        return issues.fail(line, path, message)


class Token(Validator[str | None]):
    """A secret, or ``null``: the message says what is wrong with it, never what it is.

    Printable ASCII without spaces only: a client presents it in an HTTP header, which
    WSGI decodes as latin-1 (a UTF-8 client's ``é`` arrives as ``Ã©``), and a space is
    where such headers are split: no client could be relied on to present it."""

    def __init__(self, *, min_length: int) -> None:
        self.min_length = min_length
        self.expected = f"a secret string of at least {min_length} characters"

    _CHARACTERS: Final = "ASCII letters, digits and punctuation (printable ASCII, no spaces)"

    @property
    def accepts(self) -> str:
        return f"{self.expected}: {self._CHARACTERS}; or null"

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> str | Invalid | None:
        kind, value = scalar(node)
        if kind == "null":
            return None
        if kind != "str":
            kinds = {"mapping": "a mapping", "list": "a list", "bool": "a boolean"}
            got = kinds.get(kind, "a number")
            return issues.fail(line, path, f"expected {self.expected} (quote it), got {got}")
        if len(value) < self.min_length:
            return issues.fail(line, path, f"expected {self.expected}, got {len(value)} characters")
        position = next((i for i, c in enumerate(value) if not "!" <= c <= "~"), None)
        if position is not None:
            character = value[position]
            if character == " ":
                what = "a space"
            elif character.isascii():
                what = "a control character"
            else:
                what = "a non-ASCII character"
            return issues.fail(
                line,
                path,
                f"expected a secret of {self._CHARACTERS}, got {what} at position"
                f" {position + 1}: it cannot be sent reliably in an 'Authorization: Bearer' header",
            )
        return str(value)


_PIN_NAME: Final = re.compile(r"(?:GPIO|BCM)?([0-9]{1,2})", re.IGNORECASE)


class GpioPin(Integer):
    """A BCM pin number, or its name ``GPIO17`` / ``BCM17`` in any case."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(low, high)
        self.expected = f"a GPIO pin number {low}-{high} or a name like 'GPIO17'"

    def read(self, kind: str, value: Any) -> int | None:
        if kind == "str":
            match = _PIN_NAME.fullmatch(value.strip())
            return int(match.group(1)) if match else None
        return super().read(kind, value)


class HostAddress(Validator[str]):
    """An IP address (v4 or v6, as :mod:`ipaddress` reads it) or a host name: dot-separated
    RFC 1123 labels, the last of which is not a number. ``999.999.999.999`` or ``1.2.3``
    is neither (the resolver would read some such names as an address, others not at
    all): the message says what an address is."""

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> str | Invalid:
        kind, value = scalar(node)
        if kind != "str":
            return self.reject(issues, node, path, line)
        if host_name(value) is not None:
            return str(value)
        hint = _host_hint(value)
        if hint is None:
            return self.reject(issues, node, path, line)
        return issues.fail(line, path, f"expected {self.expected}, got {described(node)}: {hint}")


def _host_hint(value: str) -> str | None:
    inner = value[1:-1]
    if value.startswith("[") and value.endswith("]") and host_name(inner):
        return f'write it without the brackets, in quotes: "{shortened(inner)}"'
    if _HOSTNAME.fullmatch(value) and _NUMBER_LABEL.fullmatch(value.rsplit(".", 1)[-1]):
        if re.fullmatch(r"[0-9]+(?:\.[0-9]+){3}", value):
            return "an IPv4 address is four numbers 0-255, and a host name cannot end in a number"
        return "a host name cannot end in a number"
    return None


class Directory(Validator[str]):
    """An absolute path (normalised) that is a directory or does not exist yet (the daemon
    creates it): a file there, or on the way there, or a path no file system takes, is
    refused now rather than when the daemon starts."""

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def __call__(self, issues: Issues, node: Node, path: str, line: int) -> str | Invalid:
        kind, value = scalar(node)
        directory = absolute_path(value) if kind == "str" else None
        if directory is None:
            return self.reject(issues, node, path, line)
        problem = _not_a_directory(directory)
        if problem is None:
            return directory
        return issues.fail(
            line, path, f"expected {self.expected}, got {described(node)}: {problem}"
        )


_NAME_MAX: Final = 255  # bytes in one name, and in a whole path, on Linux file systems
_PATH_MAX: Final = 4096


def _not_a_directory(directory: str) -> str | None:
    """Why ``directory`` can never be one, or None: it, or its nearest existing parent,
    is something else; or it is too long to be a path."""
    encoded = directory.encode("utf-8", "surrogateescape")
    if len(encoded) >= _PATH_MAX or any(len(n) > _NAME_MAX for n in encoded.split(b"/")):
        return f"a path has at most {_PATH_MAX - 1} bytes, {_NAME_MAX} in each name"
    candidate = directory
    while True:
        try:
            is_directory = stat.S_ISDIR(os.stat(candidate).st_mode)
        except (FileNotFoundError, NotADirectoryError):  # look further up
            parent = posixpath.dirname(candidate)
            if parent == candidate:
                return None
            candidate = parent
            continue
        except OSError:  # not ours to search (permission, a loop): the daemon will say
            return None
        if is_directory:
            return None
        where = "it" if candidate == directory else quoted(candidate)
        return f"{where} is an existing file, not a directory"


# ---- normal forms for Text: the value as it is used, or None to reject it

_HOSTNAME: Final = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_NUMBER_LABEL: Final = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")  # what inet_aton reads
_ORIGIN: Final = re.compile(r"https?://[^/\s?#@]+")
_BLOCK_DEVICE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ZONE: Final = re.compile(r"[A-Za-z0-9_.-]+")
_DEVICE_ID: Final = re.compile(r"[a-z0-9_-]+")


def absolute_path(value: str) -> str | None:
    """Normalised: ``/boot/firmware/`` is ``/boot/firmware``."""
    if not value.startswith("/") or "\0" in value:
        return None
    return posixpath.normpath(value)


def host_name(value: str) -> str | None:
    """An IP address (v4 or v6) or a DNS host name whose last label is not a number."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value):
            return None
        return None if _NUMBER_LABEL.fullmatch(value.rsplit(".", 1)[-1]) else value
    return value


def origin(value: str) -> str | None:
    """``scheme://host[:port]`` with no path, or ``*``."""
    return value if value == "*" or _ORIGIN.fullmatch(value) else None


def block_device(value: str) -> str | None:
    return value if _BLOCK_DEVICE.fullmatch(value) else None


def zone_name(value: str) -> str | None:
    return value if _ZONE.fullmatch(value) else None


def device_id(value: str) -> str | None:
    return value if _DEVICE_ID.fullmatch(value) else None


def non_empty(value: str) -> str | None:
    return value or None


# ---- rules across the settings of one section


@dataclass(frozen=True, slots=True)
class SectionValues:
    """One section as a rule sees it: ``given`` is the line of each key in the file,
    ``values`` the ones that passed their own check, ``defaults`` the section's defaults."""

    path: str
    given: Mapping[str, int]
    values: Mapping[str, Any]
    defaults: object

    def rejected(self, name: str) -> bool:
        """Set in the file but already reported as invalid (a rule says nothing more)."""
        return name in self.given and name not in self.values

    def value(self, name: str) -> Any:
        """What the setting will be: the file's valid value, else the default."""
        return self.values.get(name, getattr(self.defaults, name))


class SectionRule(ABC):
    """Checks settings of one section against each other, after each was checked alone."""

    doc: str  # the rule in one sentence, for the shipped file

    @abstractmethod
    def __call__(self, issues: Issues, section: SectionValues) -> None: ...


class WarningBelowCritical(SectionRule):
    """Each ``<metric>_warning`` below its ``<metric>_critical``, defaults included."""

    doc = "Each warning threshold must be lower than its critical one."

    def __init__(self, *metrics: str) -> None:
        self.metrics = metrics

    def __call__(self, issues: Issues, section: SectionValues) -> None:
        path, given = section.path, section.given
        for metric in self.metrics:
            low_name, high_name = f"{metric}_warning", f"{metric}_critical"
            if section.rejected(low_name) or section.rejected(high_name):
                continue  # already reported
            low, high = section.value(low_name), section.value(high_name)
            if low < high:
                continue
            if low_name in given:
                note = "" if high_name in given else ", the default"
                issues.fail(
                    given[low_name],
                    f"{path}.{low_name}",
                    f"expected less than {path}.{high_name} ({number(high)}{note}),"
                    f" got {number(low)}",
                )
            else:
                issues.fail(
                    given[high_name],
                    f"{path}.{high_name}",
                    f"expected more than {path}.{low_name} ({number(low)}, the default),"
                    f" got {number(high)}",
                )
