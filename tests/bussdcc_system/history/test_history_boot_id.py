"""The boot id the sink stamps on every record."""

from __future__ import annotations

from pathlib import Path

import pytest

from bussdcc_system.history.boot_id import read_boot_id


def _host_boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def test_read_under_the_system_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "proc/sys/kernel/random/boot_id"
    f.parent.mkdir(parents=True)
    f.write_text("125bc2f0-51f5-4525-8b33-d23d36742ba5\n")
    assert read_boot_id(str(tmp_path)) == "125bc2f0-51f5-4525-8b33-d23d36742ba5"
    monkeypatch.setenv("BUSSDCC_SYSTEM_ROOT", str(tmp_path))
    assert read_boot_id() == "125bc2f0-51f5-4525-8b33-d23d36742ba5"


def test_falls_back_to_the_host_then_to_a_unique_made_up_id(tmp_path: Path) -> None:
    got = read_boot_id(str(tmp_path / "empty-root"))
    host = _host_boot_id()
    if host is not None:
        assert got == host
    else:
        assert got.startswith("unknown-") and got != read_boot_id(str(tmp_path / "empty-root"))
