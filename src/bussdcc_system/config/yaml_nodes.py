"""YAML text as composed nodes, which keep their line numbers, and what a node says.

The file is *composed* rather than loaded so that every problem can name its line, and
YAML's own errors are reworded to say what to fix. Composing is bounded (see
:mod:`~bussdcc_system.config.limits`): the nodes are counted as they are made, each
alias counting every node it stands for, so a document that would expand past
``MAX_VALUES`` (a few hundred bytes of nested aliases or ``<<`` merge keys can stand
for billions) is refused before anything walks or builds it; so is one nested past
``MAX_DEPTH``, or an alias inside the node it names.
"""

from __future__ import annotations

import re
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bussdcc_system.config.issues import ConfigError, ConfigIssue
from bussdcc_system.config.limits import (
    MAX_DEPTH,
    MAX_MESSAGE_CHARS,
    MAX_NUMBER_CHARS,
    MAX_QUOTED_CHARS,
    MAX_VALUES,
)
from bussdcc_system.config.wording import quoted, shortened

__all__ = ["MERGE", "compose", "described", "is_null", "node_line", "scalar"]

TAG: Final = "tag:yaml.org,2002:"
MERGE: Final = TAG + "merge"

_NESTED: Final = f"nested more than {MAX_DEPTH} levels deep (a configuration needs 4)"
_TOO_MANY: Final = (
    f"more than {MAX_VALUES:,} keys, values and list items"
    " (a full configuration has about a hundred)"
)
_EXPANDS: Final = (
    f"aliases and merge keys expand to more than {MAX_VALUES:,} keys, values and list"
    " items (a full configuration has about a hundred); write the values out instead"
)


class _Refused(Exception):
    """The document asks for more than the bounds allow; ``mark`` says where."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.line: int | None = mark.line + 1 if mark is not None else None
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, counting what the document stands for as it is composed.

    ``values`` is the size of the document with every alias expanded: each new node
    adds one, each alias adds the size of the node it names (remembered for anchored
    nodes only). Aliases share nodes, so this costs nothing like the expansion itself."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.values = 0
        self.composed = 0  # of which nodes in the file, the rest being what aliases add
        self.depth = 0
        self.sizes: dict[str, int] = {}  # anchor -> how many values its node stands for
        self.open: set[str] = set()  # anchors of the nodes being composed

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = event.anchor
        if isinstance(event, AliasEvent):
            assert anchor is not None  # an alias is its anchor's name
            if anchor in self.open:
                raise _Refused(
                    event.start_mark,
                    f"alias *{shortened(anchor)} is inside the node &{shortened(anchor)}"
                    " it names: a configuration cannot contain itself",
                )
            node = super().compose_node(parent, index)  # raises if it is undefined
            self._count(self.sizes[anchor], event.start_mark)
            return node
        if self.depth >= MAX_DEPTH:
            raise _Refused(event.start_mark, _NESTED)
        self.composed += 1
        self._count(1, event.start_mark)
        before = self.values
        if anchor is not None:
            self.open.add(anchor)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if anchor is not None:
            self.open.discard(anchor)
            self.sizes[anchor] = self.values - before + 1
        return node

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        """Refuse a ``[`` or ``{`` nested too deeply as soon as it is read: the scanner
        looks ahead past each one (it might start a key), at a cost that grows with the
        depth."""
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.get_mark(), _NESTED)
        super().fetch_flow_collection_start(TokenClass)

    def _count(self, values: int, mark: Any) -> None:
        self.values += values
        if self.values > MAX_VALUES:
            aliased = self.values - self.composed  # blamed when they make most of it
            raise _Refused(mark, _EXPANDS if aliased > self.composed else _TOO_MANY)


def compose(text: str, source: str) -> Node | None:
    """The document's root node (None for an empty document), or a :class:`ConfigError`."""
    try:
        loader = _BoundedLoader(text)  # checks every character first
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as exc:
        raise ConfigError([ConfigIssue(source, exc.line, "", exc.message)]) from None
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
        message = shortened(f"invalid YAML: {exc}", MAX_MESSAGE_CHARS)
        raise ConfigError([ConfigIssue(source, None, "", message)]) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops the composer well before
        raise ConfigError([ConfigIssue(source, None, "", _NESTED)]) from None


_PROBLEM_CHARS: Final = 160
_LONG_QUOTE: Final = re.compile(f"'([^']{{{MAX_QUOTED_CHARS + 1},}})'")


def _cut_quotes(problem: str) -> str:
    """PyYAML quotes the file in some problems (an undefined alias's name, a tag): cut
    each quote short like any value, and the whole as a last resort."""
    problem = _LONG_QUOTE.sub(lambda match: quoted(match.group(1)), problem)
    return shortened(problem, _PROBLEM_CHARS)


def _yaml_issue(source: str, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = _cut_quotes(exc.problem or exc.context or "malformed")
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
    if tag in (TAG + "int", TAG + "float") and len(node.value) > MAX_NUMBER_CHARS:
        return "other", None  # no setting takes it, and reading it could take seconds
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
    if kind in ("int", "float") or node.tag in (TAG + "int", TAG + "float"):
        return shortened(raw)  # a number too long to read is cut short like any value
    if node.tag.startswith(TAG):
        name = node.tag[len(TAG) :]
        article = "an" if name[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"{quoted(raw)} ({article} {name})"
    return f"{quoted(raw)} with unsupported tag {node.tag}"
