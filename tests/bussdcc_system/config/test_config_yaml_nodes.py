"""Malformed YAML: YAML's own errors, reworded to name the line and what to fix."""

from __future__ import annotations

from tests.bussdcc_system.config.config_helpers import (
    errors,
)


def test_malformed_yaml_names_line_and_column() -> None:
    assert errors("web:\n  port: 8086\n host: x\n") == [
        "config.yaml:3: invalid YAML at column 2: expected <block end>, but found"
        " '<block mapping start>' (while parsing a block mapping started on line 1)"
    ]
    assert errors("web: {port: 8086\n") == [
        "config.yaml:2: invalid YAML at column 1: expected ',' or '}', but got '<stream end>'"
        " (while parsing a flow mapping started on line 1)"
    ]
    assert errors("web:\n  host: a: b\n") == [
        "config.yaml:2: invalid YAML at column 10: mapping values are not allowed here;"
        " quote a value that contains ': '"
    ]


def test_tab_indentation_is_explained() -> None:
    assert errors("web:\n\tport: 80\n") == [
        "config.yaml:2: invalid YAML at column 1: found character '\\t' that cannot start"
        " any token (while scanning for the next token); indent with spaces, not tabs"
    ]


def test_unterminated_quote_points_at_its_start() -> None:
    assert errors("web:\n  host: 'oops\n") == [
        "config.yaml:3: invalid YAML at column 1: found unexpected end of stream"
        " (while scanning a quoted scalar started on line 2)"
    ]


def test_second_document_is_an_error() -> None:
    assert errors("web: {}\n---\nweb: {}\n") == [
        "config.yaml:2: invalid YAML at column 1: a configuration is one YAML document,"
        " found a second ('---')"
    ]


def test_undefined_alias_and_control_characters() -> None:
    assert errors("web: *nope\n") == [
        "config.yaml:1: invalid YAML at column 6: found undefined alias 'nope'"
    ]
    assert errors("web:\n  host: a\x07b\n") == [
        "config.yaml:2: invalid YAML at column 10: character '\\x07' is not allowed"
    ]
