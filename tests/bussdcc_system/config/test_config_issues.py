"""How issues render: file, line, key, message; and how many a person is shown."""

from __future__ import annotations

import pytest

from bussdcc_system.config import (
    ConfigError,
    ConfigIssue,
)
from bussdcc_system.config.issues import Issues
from tests.bussdcc_system.config.config_helpers import errors, parse


def test_issue_rendering() -> None:
    assert str(ConfigIssue("/a/b/config.yaml", 3, "web.port", "m")) == "config.yaml:3: web.port: m"
    assert str(ConfigIssue("/a/b/config.yaml", None, "", "m")) == "config.yaml: m"
    assert str(ConfigIssue("<string>", 1, "", "m")) == "<string>:1: m"
    error = ConfigError([ConfigIssue("c.yaml", 1, "a", "x"), ConfigIssue("c.yaml", 2, "b", "y")])
    assert str(error) == "c.yaml:1: a: x\nc.yaml:2: b: y"
    assert isinstance(error, Exception)


def test_the_list_stops_at_20_and_counts_the_rest() -> None:
    # one unknown key a line, in the order of the lines
    text = "".join(f"bogus{index}: 1\n" for index in range(35))
    lines = errors(text)
    assert len(lines) == 21
    assert lines[0] == (
        "config.yaml:1: bogus0: unknown key; expected one of 'sampling', 'disks', 'web',"
        " 'history', 'health', 'logging', 'mqtt', 'notifications', 'devices'"
    )
    assert lines[19].startswith("config.yaml:20: bogus19: unknown key")
    assert lines[20] == "config.yaml: ... and 15 more problems"
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert info.value.omitted == 15


def test_one_more_problem_is_singular() -> None:
    text = "".join(f"bogus{index}: 1\n" for index in range(21))
    assert errors(text)[-1] == "config.yaml: ... and 1 more problem"
    assert len(errors("".join(f"bogus{index}: 1\n" for index in range(20)))) == 20


def test_no_line_is_longer_than_a_terminal_can_take() -> None:
    issues = Issues("/etc/bussdcc-system/config.yaml")
    issues.fail(3, "k" * 10_000, "m" * 10_000)
    (issue,) = issues.error().issues
    assert issue.key == "k" * 120 + "…" and issue.message == "m" * 300 + "…"
    assert len(str(issue)) < 450
