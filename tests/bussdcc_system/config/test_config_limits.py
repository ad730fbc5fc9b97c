"""The bounds are the numbers the messages and the reference state."""

from __future__ import annotations

from bussdcc_system.config import limits
from tests.bussdcc_system.config.config_helpers import DOCS, SHIPPED


def test_the_bounds_are_as_documented() -> None:
    assert limits.MAX_FILE_BYTES == 131_072
    assert limits.MAX_VALUES == 2_000
    assert limits.MAX_DEPTH == 32
    assert limits.MAX_ISSUES == 20
    assert limits.MAX_QUOTED_CHARS == 60
    reference = DOCS.read_text(encoding="utf-8")
    assert "| file size | 128 KiB (131,072 bytes; no more is read) |" in reference
    assert "| 2,000 |" in reference and "| levels of nesting | 32 |" in reference
    assert "at most 20 problems are listed" in reference
    assert "first 60 characters" in reference


def test_the_shipped_file_is_far_inside_them() -> None:
    assert SHIPPED.stat().st_size * 10 < limits.MAX_FILE_BYTES
