"""The source tree as a clean checkout holds it, and the plain Debian build of it.

git's view of the working tree (tracked files and untracked ones, none that .gitignore
hides) is what a clone plus the uncommitted work would hold: a file only this machine has
(a fetched asset, a build product) must never make a build pass. The build is the one
Debian and every downstream builder runs, ``dpkg-buildpackage -us -uc -b``, with no
network at all (``unshare -n``), as Debian policy wants.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from nspawn_container import clean_env

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path("src/bussdcc_system/web/static/vendor")
LITTER = (
    ".git", ".venv", "dist", "build", "artifacts", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".hypothesis", ".cache", ".pybuild",
)  # fmt: skip


def copy_source_tree(dest: Path) -> None:
    """Copy the files a clean checkout has (git's view; without git, all but litter)."""
    dest.mkdir(parents=True)
    listed = subprocess.run(
        ["git", "-c", "safe.directory=*", "ls-files", "-z", "--cached", "--others",
         "--exclude-standard"],
        cwd=REPO, capture_output=True, env=clean_env(), check=False,
    )  # fmt: skip
    if listed.returncode != 0:
        shutil.copytree(
            REPO, dest, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*LITTER)
        )
        return
    for name in filter(None, listed.stdout.decode().split("\0")):
        src = REPO / name
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the working tree, not yet in the index
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            target.symlink_to(src.readlink())
        else:
            shutil.copy2(src, target)


def offline() -> list[str]:
    """A command prefix that runs its command with no network: a new network namespace
    holding only a loopback device that is down. Unprivileged, through a user namespace."""
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-r", "-n"]


def offline_interfaces() -> list[str]:
    """The network interfaces a command under :func:`offline` sees (only ``lo``)."""
    out = subprocess.run(
        [*offline(), "cat", "/proc/net/dev"], capture_output=True, text=True, check=True
    ).stdout
    return [line.split(":", 1)[0].strip() for line in out.splitlines()[2:] if ":" in line]


@dataclass(frozen=True)
class Build:
    returncode: int
    log: str
    seconds: float
    debs: dict[str, Path]
    """Binary package name -> the .deb dpkg-buildpackage left next to the tree."""


def dpkg_buildpackage(tree: Path, timeout: float = 900.0) -> Build:
    """``dpkg-buildpackage -us -uc -b`` in ``tree`` with no network, as a builder runs it.

    PATH is Debian's own (pybuild runs the ``python3.X`` it finds first: PLATFORM.md)."""
    start = time.monotonic()
    result = subprocess.run(
        [*offline(), "dpkg-buildpackage", "-us", "-uc", "-b"],
        cwd=tree,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - start
    debs = {p.name.split("_", 1)[0]: p for p in sorted(tree.parent.glob("*.deb"))}
    return Build(result.returncode, result.stdout, seconds, debs)
