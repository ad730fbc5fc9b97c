"""The dashboard's vendor assets: committed, pinned by scripts/assets.lock, verified by
scripts/fetch-assets.sh --check without the network (as debian/rules does before every
package build), refreshed from a tarball that must match the pinned sha512, listed in
debian/copyright; and what an owner is told when they are missing anyway."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bussdcc import Runtime
from bussdcc.testing import SimClock
from bussdcc_system.health import HealthProcess
from bussdcc_system.state import StateProcess
from bussdcc_system.web import create_app
from bussdcc_system.web.assets import REQUIRED_VENDOR, Assets

REPO = Path(__file__).resolve().parents[3]
VENDOR = Path("src/bussdcc_system/web/static/vendor")
MISSING_SOURCES = Path("debian/missing-sources")
LOCK = REPO / "scripts/assets.lock"


def lock_entries(lock: Path = LOCK) -> list[list[str]]:
    return [
        line.split()
        for line in lock.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def pinned_paths() -> list[Path]:
    """Where the lock puts each file, relative to the repository."""
    dests = [spec.split("=", 1)[1] for entry in lock_entries() for spec in entry[3:]]
    return [Path(d) if d.startswith("debian/") else VENDOR / d for d in dests]


def test_the_lock_pins_a_socketio_v4_client_with_its_integrity() -> None:
    (name, version, integrity, *files), *_ = lock_entries()
    assert name == "socket.io-client"
    assert version.split(".")[0] == "4"  # Socket.IO protocol v5, as python-socketio 5 speaks
    assert integrity.startswith("sha512-")
    assert "dist/socket.io.min.js=socket.io.min.js" in files
    assert any(f.startswith("LICENSE=") for f in files)
    # lintian wants the readable source of a minified file in the source package.
    assert "dist/socket.io.js=debian/missing-sources/socket.io.js" in files


def test_the_pinned_files_are_committed_with_their_checksums() -> None:
    """A clean checkout holds everything the package build needs: no file is ignored."""
    listed = subprocess.run(
        ["git", "-c", "safe.directory=*", "ls-files", "--", str(VENDOR), str(MISSING_SOURCES)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if listed.returncode != 0:
        pytest.skip(f"not a git checkout: {listed.stderr.strip()}")
    committed = {Path(p) for p in listed.stdout.split()}
    sums = {VENDOR / "SHA256SUMS", VENDOR / "assets.lock", MISSING_SOURCES / "SHA256SUMS"}
    assert committed >= {*pinned_paths(), *sums}, committed
    for path in pinned_paths():
        ignored = subprocess.run(
            ["git", "-c", "safe.directory=*", "check-ignore", "-q", str(path)], cwd=REPO
        )
        assert ignored.returncode == 1, f".gitignore must not hide {path}"
    assert {VENDOR.parent / name for name in REQUIRED_VENDOR} <= committed


def test_debian_copyright_covers_every_pinned_package() -> None:
    """One paragraph whose Files: are both directories, naming each pinned version."""
    paragraphs = (REPO / "debian/copyright").read_text().split("\n\n")
    found = [p for p in paragraphs if p.startswith(f"Files: {VENDOR}/*")]
    assert len(found) == 1, f"debian/copyright has no 'Files: {VENDOR}/*' paragraph"
    paragraph = found[0]
    files = paragraph.split("\nCopyright:", 1)[0].removeprefix("Files:").split()
    assert files == [f"{VENDOR}/*", f"{MISSING_SOURCES}/*"], files
    assert "\nLicense: MIT\n" in paragraph
    for name, version, *_ in lock_entries():
        assert f"{name} {version}" in paragraph, f"{name} {version} not in: {paragraph}"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the script, the lock and the committed assets."""
    (tmp_path / "scripts").mkdir()
    for name in ("fetch-assets.sh", "assets.lock"):
        shutil.copy2(REPO / "scripts" / name, tmp_path / "scripts" / name)
    shutil.copytree(REPO / VENDOR, tmp_path / VENDOR)
    shutil.copytree(REPO / MISSING_SOURCES, tmp_path / MISSING_SOURCES)
    return tmp_path


def fetch_assets(tree: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts/fetch-assets.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", **env},
    )


def test_the_committed_assets_pass_the_check(tree: Path) -> None:
    result = fetch_assets(tree, "--check")
    assert result.returncode == 0, result.stderr
    assert "match scripts/assets.lock" in result.stderr
    assert (tree / VENDOR / "socket.io-client.LICENSE").read_text().startswith("The MIT License")


def test_an_altered_file_fails_the_check_naming_it(tree: Path) -> None:
    js = tree / VENDOR / "socket.io.min.js"
    js.write_bytes(js.read_bytes() + b"\n// edited by hand\n")
    result = fetch_assets(tree, "--check")
    assert result.returncode == 1
    assert f"{VENDOR}/socket.io.min.js: missing or its sha256 differs" in result.stderr
    assert f"git checkout -- {VENDOR} {MISSING_SOURCES}" in result.stderr
    assert "run scripts/fetch-assets.sh" in result.stderr


def test_a_missing_or_unlisted_file_fails_the_check(tree: Path) -> None:
    (tree / VENDOR / "socket.io.min.js").unlink()
    (tree / VENDOR / "extra.js").write_text("// not pinned\n")
    result = fetch_assets(tree, "--check")
    assert result.returncode == 1
    assert f"{VENDOR}/socket.io.min.js is missing" in result.stderr
    assert f"{VENDOR}/extra.js is not named in scripts/assets.lock" in result.stderr


def test_an_altered_readable_source_fails_the_check(tree: Path) -> None:
    source = tree / MISSING_SOURCES / "socket.io.js"
    source.write_text("// not the pinned bundle\n")
    result = fetch_assets(tree, "--check")
    assert result.returncode == 1
    assert f"{MISSING_SOURCES}/socket.io.js: missing or its sha256 differs" in result.stderr


def test_a_file_left_out_of_sha256sums_fails_the_check(tree: Path) -> None:
    sums = tree / VENDOR / "SHA256SUMS"
    sums.write_text("".join(line for line in sums.open() if "LICENSE" not in line))
    result = fetch_assets(tree, "--check")
    assert result.returncode == 1
    assert f"{VENDOR}/socket.io-client.LICENSE is not in SHA256SUMS" in result.stderr


def test_a_changed_pin_makes_the_assets_stale(tree: Path) -> None:
    lock = tree / "scripts/assets.lock"
    lock.write_text(lock.read_text().replace("4.8.3", "4.8.2"))
    result = fetch_assets(tree, "--check")
    assert result.returncode == 1
    assert "differs from scripts/assets.lock (the pin changed)" in result.stderr


def test_the_check_never_fetches(tree: Path) -> None:
    """With nothing there, --check fails at once; it would need a registry to fetch."""
    shutil.rmtree(tree / VENDOR)
    result = fetch_assets(tree, "--check", NPM_REGISTRY="http://127.0.0.1:9")
    assert result.returncode == 1
    assert f"{VENDOR}/ is missing" in result.stderr
    assert f"{VENDOR}/assets.lock is missing" in result.stderr
    assert "fetching" not in result.stderr
    assert not (tree / VENDOR).exists()


def fake_package(directory: Path, name: str, version: str, files: dict[str, bytes]) -> str:
    """An npm-style tarball (members under package/) in ``directory``; its SRI sha512."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for member, body in files.items():
            info = tarfile.TarInfo(f"package/{member}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    data = buf.getvalue()
    (directory / f"{name}-{version}.tgz").write_bytes(data)
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_a_refresh_takes_the_pinned_tarball_and_checks_its_sha512(
    tree: Path, tmp_path: Path
) -> None:
    tarballs = tmp_path / "tarballs"
    tarballs.mkdir()
    files = {
        "dist/socket.io.min.js": b"/*! new client */\n",
        "dist/socket.io.js": b"/*! new client, readable */\n",
        "LICENSE": b"The MIT License\n",
    }
    integrity = fake_package(tarballs, "socket.io-client", "4.9.0", files)
    lock = tree / "scripts/assets.lock"
    pin = (
        f"socket.io-client 4.9.0 {integrity} dist/socket.io.min.js=socket.io.min.js "
        "LICENSE=socket.io-client.LICENSE dist/socket.io.js=debian/missing-sources/socket.io.js\n"
    )
    lock.write_text(pin)
    refreshed = fetch_assets(tree, ASSETS_TARBALL_DIR=str(tarballs))
    assert refreshed.returncode == 0, refreshed.stderr
    vendor = tree / VENDOR
    assert (vendor / "socket.io.min.js").read_bytes() == files["dist/socket.io.min.js"]
    assert (vendor / "socket.io-client.LICENSE").read_bytes() == files["LICENSE"]
    assert (tree / MISSING_SOURCES / "socket.io.js").read_bytes() == files["dist/socket.io.js"]
    assert (vendor / "assets.lock").read_text() == pin
    assert sorted(p.name for p in vendor.iterdir()) == [
        "SHA256SUMS",
        "assets.lock",
        "socket.io-client.LICENSE",
        "socket.io.min.js",
    ]
    assert fetch_assets(tree, "--check").returncode == 0
    # A second run finds them up to date and fetches nothing.
    again = fetch_assets(tree, ASSETS_TARBALL_DIR=str(tarballs))
    assert again.returncode == 0 and "fetching" not in again.stderr

    # A tarball that is not the pinned one is refused, and the assets stay as they were.
    fake_package(tarballs, "socket.io-client", "4.9.0", {**files, "LICENSE": b"changed\n"})
    forced = fetch_assets(tree, "--force", ASSETS_TARBALL_DIR=str(tarballs))
    assert forced.returncode == 1
    assert "integrity mismatch" in forced.stderr
    assert (vendor / "socket.io-client.LICENSE").read_bytes() == files["LICENSE"]


# --------------------------------------------------------------------------- missing anyway


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = Runtime(clock=SimClock(), join_timeout=2.0)
    runtime.register_process(StateProcess())
    runtime.register_process(HealthProcess())
    runtime.boot()
    yield runtime
    runtime.shutdown()


def without_vendor(root: Path, caplog: pytest.LogCaptureFixture) -> Assets:
    """The assets of a static directory at ``root`` with app.js but no vendor/ (what
    they log on the way is in ``caplog``)."""
    root.mkdir(parents=True)
    (root / "app.js").write_text("/* app */")
    with caplog.at_level(logging.ERROR, logger="bussdcc_system.web"):
        return Assets(root)


def test_an_installed_package_missing_them_says_reinstall_not_run_a_script(
    rt: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The package has no scripts/: the owner of a damaged install is told to reinstall."""
    static = tmp_path / "usr/lib/python3/dist-packages/bussdcc_system/web/static"
    assets = without_vendor(static, caplog)
    assert "apt install --reinstall bussdcc-system" in caplog.text
    assert "scripts/" not in caplog.text
    resp = create_app(state=rt.state, assets=assets).test_client().get("/")
    assert resp.status_code == 503
    page = resp.get_data(as_text=True)
    assert "sudo apt install --reinstall bussdcc-system" in page
    assert "scripts/" not in page and "git checkout" not in page


def test_a_checkout_missing_them_says_how_to_restore_them(
    rt: Runtime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assets = without_vendor(tmp_path / "checkout/src/bussdcc_system/web/static", caplog)
    assert f"git checkout -- {VENDOR}" in caplog.text
    page = create_app(state=rt.state, assets=assets).test_client().get("/").get_data(as_text=True)
    assert f"git checkout -- {VENDOR}" in page and "scripts/fetch-assets.sh" in page
    assert "apt install" not in page
