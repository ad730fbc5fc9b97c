"""Malformed YAML: YAML's own errors, reworded to name the line and what to fix; and
documents refused for the work they would ask for (aliases, merges, nesting, size)."""

from __future__ import annotations

import pytest

from bussdcc_system.config import StatusLedOptions
from tests.bussdcc_system.config.config_helpers import (
    EXPANDS,
    errors,
    merge_chain,
    nested_aliases_in_lists,
    nested_merge_keys,
    parse,
    unknown_keys,
)

NESTED = "nested more than 32 levels deep (a configuration needs 4)"
MAX_DEPTH, MAX_VALUES = 32, 2_000  # as the messages say (test_config_limits checks them)


MALFORMED = {
    "a key outdented": (
        "web:\n  port: 8086\n host: x\n",
        "config.yaml:3: invalid YAML at column 2: expected <block end>, but found"
        " '<block mapping start>' (while parsing a block mapping started on line 1)",
    ),
    "an unclosed flow mapping": (
        "web: {port: 8086\n",
        "config.yaml:2: invalid YAML at column 1: expected ',' or '}', but got '<stream end>'"
        " (while parsing a flow mapping started on line 1)",
    ),
    "': ' in a plain value": (
        "web:\n  host: a: b\n",
        "config.yaml:2: invalid YAML at column 10: mapping values are not allowed here;"
        " quote a value that contains ': '",
    ),
    "a tab indenting": (
        "web:\n\tport: 80\n",
        "config.yaml:2: invalid YAML at column 1: found character '\\t' that cannot start"
        " any token (while scanning for the next token); indent with spaces, not tabs",
    ),
    "an unterminated quote": (
        "web:\n  host: 'oops\n",
        "config.yaml:3: invalid YAML at column 1: found unexpected end of stream"
        " (while scanning a quoted scalar started on line 2)",
    ),
    "a second document": (
        "web: {}\n---\nweb: {}\n",
        "config.yaml:2: invalid YAML at column 1: a configuration is one YAML document,"
        " found a second ('---')",
    ),
    "an undefined alias": (
        "web: *nope\n",
        "config.yaml:1: invalid YAML at column 6: found undefined alias 'nope'",
    ),
    "a control character": (
        "web:\n  host: a\x07b\n",
        "config.yaml:2: invalid YAML at column 10: character '\\x07' is not allowed",
    ),
    "an undefined alias with a long name, cut short": (
        f"web: {{port: *{'a' * 100_000}}}\n",
        f"config.yaml:1: invalid YAML at column 13: found undefined alias '{'a' * 60}…'",
    ),
}
"""YAML's own errors as an admin reads them: the line, the column, and what to fix."""


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_yaml_names_line_column_and_what_to_fix(case: str) -> None:
    text, message = MALFORMED[case]
    assert errors(text) == [message]


# ---- the expansion budget: counted while composing, never expanded


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(nested_merge_keys(), id="merge keys into the document"),
        pytest.param(nested_merge_keys(into="web"), id="merge keys into a section"),
        pytest.param(nested_aliases_in_lists(), id="aliases in lists"),
    ],
)
def test_nested_aliases_and_merge_keys_are_refused_where_they_pass_the_budget(
    text: str,
) -> None:
    # 500 bytes standing for 10**8 keys or 9**9 list items; a3 is the first past 2,000
    assert len(text) < 700
    assert errors(text) == [f"config.yaml:4: {EXPANDS}"]


def test_a_long_merge_chain_is_refused_not_a_recursion_error() -> None:
    # each link stands for all the links before it: link 44 passes the budget
    assert errors(merge_chain(10_000)) == [f"config.yaml:44: {EXPANDS}"]


def test_aliases_and_merges_within_the_budget_still_work() -> None:
    # an LED on every GPIO pin, each merging the first one's settings
    leds = "".join(f"  - {{<<: *led, id: led{pin}, pin: {pin}}}\n" for pin in range(1, 28))
    config = parse(
        "devices:\n  - &led {kind: status_led, id: led0, pin: 0, active_high: false}\n" + leds
    )
    assert config.devices is not None and len(config.devices) == 28
    assert config.devices[27].options == StatusLedOptions(pin=27, active_high=False)


def test_too_many_values_without_aliases() -> None:
    # the mapping, then a key and a value a line: line 1000 holds the 2,001st
    assert errors(unknown_keys(1_500)) == [
        "config.yaml:1000: more than 2,000 keys, values and list items"
        " (a full configuration has about a hundred)"
    ]


def test_plain_values_past_the_budget_are_not_blamed_on_an_alias() -> None:
    text = "a: &a 1\nb: *a\n" + unknown_keys(1_500)
    assert errors(text)[0] == (
        "config.yaml:1000: more than 2,000 keys, values and list items"
        " (a full configuration has about a hundred)"
    )


def test_the_budget_is_counted_exactly() -> None:
    under = unknown_keys((MAX_VALUES - 1) // 2)  # the root mapping and 999 pairs: 1,999
    assert len(errors(under)) == 20 + 1  # unknown keys, listed (and counted), not refused
    over = unknown_keys(MAX_VALUES // 2)  # 2,001
    assert errors(over)[0].endswith("(a full configuration has about a hundred)")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a: &a [*a]\n", id="a list in itself"),
        pytest.param("web: &w {<<: *w}\n", id="a mapping merged into itself"),
        pytest.param("a: &a {b: [*a]}\n", id="a mapping in its own list"),
    ],
)
def test_an_alias_inside_the_node_it_names_is_refused(text: str) -> None:
    name = text.split("&")[1][0]
    assert errors(text) == [
        f"config.yaml:1: alias *{name} is inside the node &{name} it names:"
        " a configuration cannot contain itself"
    ]


# ---- nesting


@pytest.mark.parametrize("depth", [33, 10_000, 65_000])
def test_deep_flow_nesting_is_refused_with_its_line(depth: int) -> None:
    assert errors("web:\n  mounts: " + "[" * depth + "]" * depth + "\n") == [
        f"config.yaml:2: {NESTED}"
    ]


def test_nesting_up_to_the_limit_is_only_checked_as_usual() -> None:
    # the document's mapping is the first level, so 31 lists reach the limit exactly
    text = "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    assert errors(text) == [
        "config.yaml:1: x: unknown key; expected one of 'sampling', 'disks', 'web',"
        " 'history', 'health', 'logging', 'mqtt', 'notifications', 'devices'"
    ]
    assert errors("x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n") == [f"config.yaml:1: {NESTED}"]


def test_deep_block_nesting_is_refused_with_its_line() -> None:
    text = "".join(" " * level + f"k{level}:\n" for level in range(40))
    assert errors(text) == [f"config.yaml:32: {NESTED}"]


# ---- numbers too long to read


def test_a_number_too_long_to_read_is_not_read() -> None:
    # YAML 1.1 reads 1:1:1:... as base 60: computing it is quadratic in its length
    assert errors("web: {port: " + ":".join(["1"] * 40_000) + "}\n") == [
        f"config.yaml:1: web.port: expected an integer 1-65535, got {'1:' * 30}…"
    ]
    assert errors("web: {port: 1." + "1" * 100_000 + "}\n") == [
        f"config.yaml:1: web.port: expected an integer 1-65535, got 1.{'1' * 58}…"
    ]
