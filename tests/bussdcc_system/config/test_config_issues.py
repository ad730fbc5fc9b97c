"""How issues render: file, line, key, message."""

from __future__ import annotations

from bussdcc_system.config import (
    ConfigError,
    ConfigIssue,
)


def test_issue_rendering() -> None:
    assert str(ConfigIssue("/a/b/config.yaml", 3, "web.port", "m")) == "config.yaml:3: web.port: m"
    assert str(ConfigIssue("/a/b/config.yaml", None, "", "m")) == "config.yaml: m"
    assert str(ConfigIssue("<string>", 1, "", "m")) == "<string>:1: m"
    error = ConfigError([ConfigIssue("c.yaml", 1, "a", "x"), ConfigIssue("c.yaml", 2, "b", "y")])
    assert str(error) == "c.yaml:1: a: x\nc.yaml:2: b: y"
    assert isinstance(error, Exception)
