"""Problems found in a configuration, collected rather than raised one at a time.

The whole file is checked in one pass, so an admin fixes every mistake in one edit: a
validator records an issue in :class:`Issues` and returns :data:`INVALID`, and the walk
carries on. :class:`ConfigError` carries the issues found, at most ``MAX_ISSUES`` of
them and then one line counting the rest, each line cut short: a file with a million
mistakes gives a screenful, not a million lines (or one 26 MB log line).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bussdcc_system.config.limits import MAX_ISSUES, MAX_KEY_CHARS, MAX_MESSAGE_CHARS
from bussdcc_system.config.wording import shortened

__all__ = ["INVALID", "ConfigError", "ConfigIssue", "Invalid", "Issues"]


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
    """The problems found in one configuration, one line each in ``str()``.

    ``omitted`` problems beyond those listed are counted by a last issue of their own
    ("... and 12 more problems"), so that whoever prints ``issues`` prints it too."""

    def __init__(self, issues: Sequence[ConfigIssue], *, omitted: int = 0) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        self.omitted = omitted
        if omitted:
            source = self.issues[-1].source if self.issues else ""
            more = "problem" if omitted == 1 else "problems"
            self.issues.append(ConfigIssue(source, None, "", f"... and {omitted} more {more}"))
        super().__init__(self.issues)

    @property
    def problems(self) -> int:
        """How many problems there are, listed or not (the count line is not one)."""
        return len(self.issues) - (1 if self.omitted else 0) + self.omitted

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


class Invalid:
    """Marks a value that failed validation (its issue is already recorded)."""


INVALID: Final = Invalid()


class Issues:
    """The issues found so far in one source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[ConfigIssue] = []

    def fail(self, line: int | None, key: str, message: str) -> Invalid:
        """Record one issue; the :data:`INVALID` returned stands for the rejected value."""
        key, message = shortened(key, MAX_KEY_CHARS), shortened(message, MAX_MESSAGE_CHARS)
        self.found.append(ConfigIssue(self.source, line, key, message))
        return INVALID

    def error(self) -> ConfigError:
        """The first ``MAX_ISSUES`` issues in the order of the lines they are on, and how
        many more there are."""
        ordered = sorted(self.found, key=lambda issue: issue.line or 0)
        return ConfigError(ordered[:MAX_ISSUES], omitted=max(0, len(ordered) - MAX_ISSUES))
