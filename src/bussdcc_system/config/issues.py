"""Problems found in a configuration, collected rather than raised one at a time.

The whole file is checked in one pass, so an admin fixes every mistake in one edit: a
validator records an issue in :class:`Issues` and returns :data:`INVALID`, and the walk
carries on. :class:`ConfigError` carries every issue found.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

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
    """Every problem found in one configuration, one line each in ``str()``."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__(self.issues)

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
        self.found.append(ConfigIssue(self.source, line, key, message))
        return INVALID

    def error(self) -> ConfigError:
        """Every issue, in the order of the lines they are on."""
        return ConfigError(sorted(self.found, key=lambda issue: issue.line or 0))
