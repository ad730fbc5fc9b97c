"""Full disk, read-only and unwritable directories: report in words, keep running, resume.

The full disk is a real 64 KiB tmpfs when this runs as root (as CI does); without root,
RLIMIT_FSIZE in a subprocess gives the same short writes and errors.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bussdcc import Message
from bussdcc_system.history.reader import list_segments, read_records
from tests.bussdcc_system.history.history_helpers import SINK_CHILD, Rig, cpu, rig


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return r.returncode == 0


def _remount(path: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)


@contextlib.contextmanager
def _tmpfs(tmp_path: Path, options: str, needs: str) -> Iterator[Path]:
    mnt = tmp_path / "fs"
    if not _mount(mnt, options):
        pytest.skip(f"needs root to mount a tmpfs ({needs})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with _tmpfs(tmp_path, "size=64k,mode=0755", "the RLIMIT_FSIZE test covers non-root") as mnt:
        yield mnt


def _fill(fs: Path) -> Path:
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096) > 0:
                pass
    finally:
        os.close(fd)
    return filler


def _of(emitted: list[Message], name: str) -> list[dict[str, object]]:
    return [m.to_dict() for m in emitted if m.name == name]


@dataclass(slots=True, frozen=True)
class Noisy(Message):
    """A record gzip cannot shrink much: a flush of 99 of them is several pages."""

    name = "system.cpu.usage.updated"
    percent: float
    noise: str


def noisy(i: int) -> Noisy:
    return Noisy(float(i), os.urandom(64).hex())


def test_full_disk_is_reported_kept_in_memory_and_resumes(small_fs: Path) -> None:
    directory = small_fs / "history"
    with rig(directory, buffer_size=400) as r:
        r.emit(noisy(0))
        r.clock.advance(5)  # the segment exists and has its first record
        filler = _fill(small_fs)
        # leave one page: the next batch is written only in part (a short write)
        os.truncate(filler, max(0, filler.stat().st_size - 4096))
        for i in range(1, 100):
            r.emit(noisy(i))
        r.clock.advance(5)
        (failed,) = _of(r.emitted, "history.write_failed")
        assert failed["reason"] == "the disk is full (no space left on device)"
        assert failed["error"] == "ENOSPC"
        assert failed["directory"] == str(directory)
        assert r.sink.stats().failing
        for i in range(100, 150):
            r.emit(noisy(i))
        r.clock.advance(5)
        r.clock.advance(5)
        assert len(_of(r.emitted, "history.write_failed")) == 1  # said once, not every retry
        assert not _of(r.emitted, "history.write_resumed")
        filler.unlink()  # space returns
        r.clock.advance(5)
        (resumed,) = _of(r.emitted, "history.write_resumed")
        assert resumed["dropped"] == 0 and resumed["failed_for"] == 15.0
        assert not r.sink.stats().failing
        # the flush that was cut short was completed byte for byte: whole gzip members
        raw = (directory / "2026-03-01" / "10-00-00.jsonl.gz").read_bytes()
        assert all(json.loads(line) for line in gzip.decompress(raw).splitlines())
    assert [x.data["percent"] for x in read_records(directory)] == [float(i) for i in range(150)]


def test_full_disk_overflow_drops_oldest_and_says_so(small_fs: Path) -> None:
    directory = small_fs / "history"
    with rig(directory, buffer_size=50) as r:
        filler = _fill(small_fs)
        for i in range(120):
            r.emit(cpu(float(i)))
            if i % 30 == 29:
                r.clock.advance(5)
        r.clock.advance(5)
        assert _of(r.emitted, "history.write_failed")
        (dropped,) = _of(r.emitted, "history.dropped")
        assert "while writing failed" in str(dropped["reason"])
        filler.unlink()
        r.clock.advance(5)
        (resumed,) = _of(r.emitted, "history.write_resumed")
        assert resumed["dropped"] == 70
    got = [x.data["percent"] for x in read_records(directory)]
    assert got == [float(i) for i in range(70, 120)]  # the newest 50 were kept


def test_read_only_file_system_is_reported_and_resumes(small_fs: Path) -> None:
    directory = small_fs / "history"
    directory.mkdir()
    _remount(small_fs, "ro")
    try:
        with rig(directory) as r:
            r.emit(cpu(1.0))
            r.clock.advance(5)
            (failed,) = _of(r.emitted, "history.write_failed")
            assert failed["reason"] == "the file system is read-only"
            assert failed["error"] == "EROFS" and failed["pending"] == 1
            r.emit(cpu(2.0))
            r.clock.advance(5)
            _remount(small_fs, "rw")
            r.clock.advance(5)
            assert _of(r.emitted, "history.write_resumed")
    finally:
        _remount(small_fs, "rw")
    assert [x.data["percent"] for x in read_records(directory)] == [1.0, 2.0]


def _run_child(
    mode: str, directory: Path, prefix: list[str] | None = None
) -> list[dict[str, object]]:
    cmd = [*(prefix or []), sys.executable, str(SINK_CHILD), mode, str(directory)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_file_size_limit_in_a_subprocess_is_reported_and_resumes(tmp_path: Path) -> None:
    out = _run_child("fsize", tmp_path)
    stats = [int(str(o["stats"])) for o in out if "stats" in o]
    failed = [o for o in out if o.get("name") == "history.write_failed"]
    resumed = [o for o in out if o.get("name") == "history.write_resumed"]
    assert failed and failed[0]["error"] == "EFBIG"
    assert "file size limit" in str(failed[0]["reason"])
    assert resumed and resumed[0]["dropped"] == 0
    assert stats[0] < 300 and stats[-1] == 300  # kept in memory, then all written
    ticks = [x.data["i"] for x in read_records(tmp_path)]
    assert ticks == list(range(1, 301))


def test_unwritable_directory_is_reported_and_the_sink_keeps_running(tmp_path: Path) -> None:
    directory = tmp_path / "history"
    directory.mkdir(mode=0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root ignores permissions unless it drops CAP_DAC_OVERRIDE
        if shutil.which("setpriv") is None:
            pytest.skip("needs setpriv to drop CAP_DAC_OVERRIDE as root")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    out = _run_child("unwritable", directory, prefix)
    failed = [o for o in out if o.get("name") == "history.write_failed"]
    assert len(failed) == 1
    assert failed[0]["reason"] == "permission denied" and failed[0]["error"] == "EACCES"
    assert failed[0]["directory"] == str(directory)
    assert out[-1]["stats"] == 0
    assert list_segments(directory) == []
    os.chmod(directory, 0o755)
    assert errno.EACCES == 13


# -- inodes ---------------------------------------------------------------------------


@pytest.fixture
def few_inodes(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs with plenty of space and only 16 inodes."""
    with _tmpfs(tmp_path, "size=1m,nr_inodes=16,mode=0755", "with few inodes") as mnt:
        yield mnt


def _use_up_inodes(fs: Path) -> list[Path]:
    made = []
    with contextlib.suppress(OSError):
        for i in range(1000):
            path = fs / f"empty-{i}"
            path.touch()
            made.append(path)
    return made


def test_no_free_inodes_is_not_called_a_full_disk(few_inodes: Path) -> None:
    directory = few_inodes / "history"
    empties = _use_up_inodes(few_inodes)
    assert os.statvfs(few_inodes).f_bfree > 0  # `df` shows free space
    with rig(directory) as r:
        r.emit(cpu(1.0))
        r.clock.advance(5)
        (failed,) = _of(r.emitted, "history.write_failed")
        assert failed["error"] == "ENOSPC"
        assert failed["reason"] == (
            "the file system has no free inodes left (it cannot hold more files although"
            " `df` may show free space; `df -i` shows it)"
        )
        assert r.sink.problem() == (
            f"history cannot be written to {directory}: {failed['reason']} (ENOSPC) for 0 seconds"
        )
        r.clock.advance(5)
        assert "(ENOSPC) for 5 seconds" in str(r.sink.problem())
        for path in empties:
            path.unlink()
        r.clock.advance(5)
        assert _of(r.emitted, "history.write_resumed")
        assert r.sink.problem() is None
    assert [x.data["percent"] for x in read_records(directory)] == [1.0]


def test_a_full_disk_is_still_a_full_disk(small_fs: Path) -> None:
    filler = _fill(small_fs)
    assert os.statvfs(small_fs).f_favail > 0
    with rig(small_fs / "history") as r:
        r.emit(noisy(1))
        r.clock.advance(5)
        (failed,) = _of(r.emitted, "history.write_failed")
        assert failed["reason"] == "the disk is full (no space left on device)"
        assert "the disk is full" in str(r.sink.problem())
    filler.unlink()


# -- the directory deleted or replaced under the writer --------------------------------


def test_a_deleted_directory_is_made_again_and_the_open_segment_carried_over(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "history"
    with rig(directory, flush_interval=300.0) as r:
        for i in range(3):
            r.emit(cpu(float(i)))
        r.clock.advance(300)  # written: the segment is open
        (segment,) = directory.glob("*/*.jsonl.gz")
        shutil.rmtree(directory)
        for i in range(3, 6):
            r.emit(cpu(float(i)))
        r.clock.advance(300)  # one flush interval later
        (lost,) = _of(r.emitted, "history.directory_lost")
        assert lost["how"] == "deleted"
        assert lost["directory"] == str(directory)
        assert lost["segment"] == f"{segment.parent.name}/{segment.name}"
        assert int(str(lost["carried"])) > 0
        assert not _of(r.emitted, "history.write_failed")
        r.emit(cpu(6.0))
        r.clock.advance(300)
        assert len(_of(r.emitted, "history.directory_lost")) == 1  # said once
    # nothing the writer held is lost: what was in the deleted file, and what came after
    assert [x.data["percent"] for x in read_records(directory)] == [float(i) for i in range(7)]
    assert [p.name for p in directory.glob("*/*.jsonl.gz")] == [segment.name]


@contextlib.contextmanager
def _written_once(tmp_path: Path) -> Iterator[tuple[Path, Rig]]:
    """A sink writing in ``tmp_path/history`` whose open segment holds ``cpu(1.0)``."""
    directory = tmp_path / "history"
    with rig(directory) as r:
        r.emit(cpu(1.0))
        r.clock.advance(5)
        yield directory, r


def test_a_replaced_directory_is_noticed_and_writing_goes_on_in_the_new_one(
    tmp_path: Path,
) -> None:
    with _written_once(tmp_path) as (directory, r):
        directory.rename(tmp_path / "history.old")  # an admin's "restore from backup"
        directory.mkdir()
        r.emit(cpu(2.0))
        r.clock.advance(5)
        (lost,) = _of(r.emitted, "history.directory_lost")
        assert lost["how"] == "replaced"
    assert [x.data["percent"] for x in read_records(directory)] == [1.0, 2.0]
    assert [x.data["percent"] for x in read_records(tmp_path / "history.old")] == [1.0]


def test_a_directory_deleted_between_segments_is_made_again_at_once(tmp_path: Path) -> None:
    directory = tmp_path / "history"
    with rig(directory, rotate_interval=10.0) as r:
        r.emit(cpu(1.0))
        r.clock.advance(10)  # the segment is closed at its interval; none is open now
        shutil.rmtree(directory)
        r.clock.advance(5)
        (lost,) = _of(r.emitted, "history.directory_lost")
        assert lost["how"] == "deleted" and lost["segment"] == "" and lost["carried"] == 0
        assert directory.is_dir()  # there again before anything needs it
        r.emit(cpu(2.0))
        r.clock.advance(5)
    assert [x.data["percent"] for x in read_records(directory)] == [2.0]


def test_a_file_in_place_of_the_directory_is_reported_until_it_is_moved_away(
    tmp_path: Path,
) -> None:
    with _written_once(tmp_path) as (directory, r):
        shutil.rmtree(directory)
        directory.write_text("oops\n")  # `cp notes.txt /var/lib/bussdcc-system/history`
        r.emit(cpu(2.0))
        r.clock.advance(5)
        (failed,) = _of(r.emitted, "history.write_failed")
        assert failed["reason"] == "a file that is not a directory is in the way"
        assert failed["error"] == "EEXIST"
        assert "a file that is not a directory is in the way (EEXIST)" in str(r.sink.problem())
        directory.unlink()
        r.clock.advance(5)
        assert _of(r.emitted, "history.write_resumed")
        (lost,) = _of(r.emitted, "history.directory_lost")
        assert lost["how"] == "deleted"
    assert [x.data["percent"] for x in read_records(directory)] == [1.0, 2.0]
