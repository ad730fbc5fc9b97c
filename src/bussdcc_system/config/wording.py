"""How values are spelt in messages, summaries and the reference: one spelling each."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["join_key", "number", "one_of", "quoted"]


def number(value: float) -> str:
    """``86400.0`` as ``86400``, ``0.5`` as ``0.5``: what an admin would write."""
    text = repr(float(value)) if isinstance(value, float) else str(value)
    return text[:-2] if text.endswith(".0") else text


def quoted(text: str) -> str:
    """A value from the file, quoted and cut short enough for one line."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def one_of(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)


def join_key(path: str, name: str) -> str:
    """``web`` + ``port`` -> ``web.port``; a top-level key has no path."""
    return f"{path}.{name}" if path else name
