"""YAML text as composed nodes, which keep their line numbers, and what a node says.

The file is *composed* rather than loaded so that every problem can name its line, and
YAML's own errors are reworded to say what to fix.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bussdcc_system.config.issues import ConfigError, ConfigIssue
from bussdcc_system.config.wording import quoted

__all__ = ["MERGE", "compose", "described", "is_null", "node_line", "scalar"]

TAG: Final = "tag:yaml.org,2002:"
MERGE: Final = TAG + "merge"


def compose(text: str, source: str) -> Node | None:
    """The document's root node (None for an empty document), or a :class:`ConfigError`."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
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


def node_line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def scalar(node: Node) -> tuple[str, Any]:
    """(kind, value) with kind one of str int float bool null other mapping list."""
    if isinstance(node, MappingNode):
        return "mapping", None
    if isinstance(node, SequenceNode):
        return "list", None
    assert isinstance(node, ScalarNode)
    tag = node.tag
    try:
        if tag == TAG + "str":
            return "str", str(node.value)
        if tag == TAG + "null":
            return "null", None
        if tag == TAG + "bool":
            return "bool", SafeConstructor().construct_yaml_bool(node)
        if tag == TAG + "int":
            return "int", SafeConstructor().construct_yaml_int(node)
        if tag == TAG + "float":
            return "float", SafeConstructor().construct_yaml_float(node)
    except (ValueError, yaml.YAMLError):
        pass
    return "other", None


def is_null(node: Node) -> bool:
    """``key:`` with nothing after it, ``~`` or ``null``."""
    return scalar(node)[0] == "null"


def described(node: Node) -> str:
    """What the file says, in words, for the 'got ...' half of a message."""
    kind, value = scalar(node)
    if kind == "mapping":
        return "a mapping"
    if kind == "list":
        return "a list"
    raw = str(node.value)
    if kind == "str":
        return quoted(value)
    if kind == "null":
        return "an empty value" if raw == "" else "null"
    if kind == "bool":
        return f"{raw} (a boolean)"
    if kind in ("int", "float"):
        return raw
    if node.tag.startswith(TAG):
        return f"{quoted(raw)} (a {node.tag[len(TAG) :]})"
    return f"{quoted(raw)} with unsupported tag {node.tag}"
