"""scripts/fetch-assets.sh: pinned vendor assets, verified without the network."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VENDOR = Path("src/bussdcc_system/web/static/vendor")


def test_the_lock_pins_a_socketio_v4_client_with_its_integrity() -> None:
    lines = [
        line.split()
        for line in (REPO / "scripts/assets.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    (name, version, integrity, *files), *_ = lines
    assert name == "socket.io-client"
    assert version.split(".")[0] == "4"  # Socket.IO protocol v5, as python-socketio 5 speaks
    assert integrity.startswith("sha512-")
    assert "dist/socket.io.min.js=socket.io.min.js" in files
    assert any(f.startswith("LICENSE=") for f in files)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the script, the lock and the fetched vendor directory."""
    if not (REPO / VENDOR / "SHA256SUMS").exists():
        pytest.skip("vendor assets not fetched: run scripts/fetch-assets.sh")
    (tmp_path / "scripts").mkdir()
    for name in ("fetch-assets.sh", "assets.lock"):
        shutil.copy2(REPO / "scripts" / name, tmp_path / "scripts" / name)
    shutil.copytree(REPO / VENDOR, tmp_path / VENDOR)
    return tmp_path


def check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts/fetch-assets.sh"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_passes_on_fetched_assets_and_licenses_ship_with_them(tree: Path) -> None:
    result = check(tree)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr
    assert (tree / VENDOR / "socket.io-client.LICENSE").read_text().startswith("The MIT License")


def test_an_altered_or_missing_file_fails_the_check(tree: Path) -> None:
    js = tree / VENDOR / "socket.io.min.js"
    js.write_bytes(js.read_bytes() + b"\n// edited by hand\n")
    result = check(tree)
    assert result.returncode == 1
    assert "run scripts/fetch-assets.sh" in result.stderr
    js.unlink()
    assert check(tree).returncode == 1


def test_a_changed_pin_makes_the_assets_stale(tree: Path) -> None:
    lock = tree / "scripts/assets.lock"
    lock.write_text(lock.read_text().replace("4.8.3", "4.8.2"))
    assert check(tree).returncode == 1
