"""How values are spelt in messages, summaries and the reference: one spelling each.

Anything taken from the file is cut short (``…``) before it goes into a message, so a
megabyte pasted into a value or a key gives a line a terminal, the journal and STATUS=
can show.
"""

from __future__ import annotations

from collections.abc import Sequence

from bussdcc_system.config.limits import MAX_QUOTED_CHARS

__all__ = ["ELLIPSIS", "join_key", "number", "one_of", "quoted", "shortened"]

ELLIPSIS = "…"


def number(value: float) -> str:
    """``86400.0`` as ``86400``, ``0.5`` as ``0.5``: what an admin would write."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return text[:-2] if text.endswith(".0") else text


def shortened(text: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text``, or its first ``limit`` characters and ``…``."""
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


def quoted(text: str) -> str:
    """A value from the file, quoted and cut short enough for one line."""
    return repr(shortened(text))


def one_of(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def join_key(path: str, name: str) -> str:
    """``web`` + ``port`` -> ``web.port``; a top-level key has no path. A key name from
    the file is cut short like a value: no setting's name is near the limit."""
    name = shortened(name)
    return f"{path}.{name}" if path else name
