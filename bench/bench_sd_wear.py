"""SD-card wear of the real daemon: what the storage device writes per hour.

    sudo .venv/bin/python bench/bench_sd_wear.py [--minutes 10] [--src DIR]

Needs root (it makes a loop device). As PLATFORM.md says: a 256 MiB image file,
``mkfs.ext4 -E lazy_itable_init=0,lazy_journal_init=0``, ``losetup -f --show``, ``mount``
with the default options (so ext4 commits its journal every 5 s, as on a Pi). The real
daemon (``python -m bussdcc_system run``, the code under ``--src``) runs with the
product's defaults except ``history.directory`` (on that file system) and the web
address (127.0.0.1, a free port), for ``--minutes`` of real time, then gets SIGTERM.
``--sampling 1`` samples everything every second instead (a heavier load, about 10
events a second here, like a Pi with several interfaces and sensors).

Figures, from ``/sys/block/loopN/stat`` (field 7: 512-byte sectors written, field 5:
write I/Os), all read after ``sync``:

- start-up: from the mount to one minute after the daemon started (boot messages, the
  first segment and directory created);
- steady state, the headline: from that minute to the end, stop included (the last
  flush, fsync, the sidecar), scaled to an hour;
- bytes kept per day: the history directory's size at the end (after what the next
  start does to the files: compress, index), scaled to a day.

The mount, the loop device and the image are removed whatever happens. Prints figures;
asserts nothing (goal: <= 1 MB an hour).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE_MB = 256


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def device_stat(loop: str) -> tuple[int, int]:
    """(write I/Os, bytes written) of ``/dev/loopN`` so far, after ``sync``."""
    os.sync()
    fields = Path(f"/sys/block/{Path(loop).name}/stat").read_text().split()
    return int(fields[4]), int(fields[6]) * 512


def kept_bytes(directory: Path) -> tuple[int, int, int]:
    """(bytes of all files, bytes of segments, bytes of sidecars) under the directory."""
    total = segments = sidecars = 0
    for p in directory.rglob("*"):
        if p.is_file():
            size = p.stat().st_size
            total += size
            if ".jsonl" in p.name:
                segments += size
            elif ".idx" in p.name:
                sidecars += size
    return total, segments, sidecars


def count_records(directory: Path) -> int:
    n = 0
    for p in directory.rglob("*.jsonl*"):
        raw = p.read_bytes()
        if p.name.endswith(".gz"):
            d = []
            while raw:  # members; a torn last one yields what is there
                z = zlib.decompressobj(wbits=31)
                try:
                    d.append(z.decompress(raw))
                except zlib.error:
                    break
                if not z.eof:
                    break
                raw = z.unused_data
            raw = b"".join(d)
        n += raw.count(b"\n")
    return n


def finalize(history: Path, src: Path, python: str, env: dict[str, str]) -> None:
    """What the next start does to the files the daemon left (compress, index), so that
    "kept" counts what stays on the card, whichever version wrote it."""
    code = (
        "import sys\n"
        "from bussdcc_system.history.sink import HistorySink\n"
        "sink = HistorySink(sys.argv[1], retention_days=None, max_size_mb=None)\n"
        "sink.start()\n"
        "sink.close()\n"
    )
    subprocess.run([python, "-c", code, str(history)], env=env, check=True)


def write_config(path: Path, history: Path, port: int, sampling: float | None) -> None:
    text = f"web:\n  host: 127.0.0.1\n  port: {port}\nhistory:\n  directory: {history}\n"
    if sampling is not None:
        keys = ("cpu", "memory", "disk", "load", "network", "uptime")
        text += "sampling:\n" + "".join(f"  {key}: {sampling}\n" for key in keys)
    path.write_text(text)


class LoopFs:
    """A fresh ext4 on a loop device, mounted with the default options."""

    def __init__(self, workdir: Path) -> None:
        self.image = workdir / "ext4.img"
        self.mnt = workdir / "mnt"
        self.loop: str | None = None
        self.mounted = False

    def __enter__(self) -> LoopFs:
        self.mnt.mkdir()
        with self.image.open("wb") as f:
            f.truncate(IMAGE_MB * 2**20)
        run(
            "mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(self.image)
        )
        self.loop = run("losetup", "-f", "--show", str(self.image))
        run("mount", self.loop, str(self.mnt))
        self.mounted = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.mnt)], check=False)
        if self.loop is not None:
            subprocess.run(["losetup", "-d", self.loop], check=False)
        self.image.unlink(missing_ok=True)


def measure(minutes: float, src: Path, python: str, sampling: float | None) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-sd-wear-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        with LoopFs(workdir) as fs:
            assert fs.loop is not None
            history = fs.mnt / "history"
            config = workdir / "config.yaml"
            write_config(config, history, free_port(), sampling)
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))
            }
            env["PYTHONPATH"] = str(src)
            ios0, bytes0 = device_stat(fs.loop)
            out = (workdir / "daemon.out").open("wb")
            started = time.monotonic()
            proc = subprocess.Popen(
                [python, "-m", "bussdcc_system", "run", "--config", str(config)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
            warmup = min(60.0, minutes * 60 / 4)
            time.sleep(warmup)
            ios1, bytes1 = device_stat(fs.loop)
            mark = time.monotonic()
            end = started + minutes * 60
            while (left := end - time.monotonic()) > 0:
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {proc.returncode}")
                time.sleep(min(left, 5.0))
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(60)
            ios2, bytes2 = device_stat(fs.loop)
            elapsed = time.monotonic() - mark
            total = time.monotonic() - started
            finalize(history, src, python, env)
            kept, segs, sidecars = kept_bytes(history)
            records = count_records(history)
            proc = None
        hour = 3600 / elapsed
        load = "defaults" if sampling is None else f"every sampling interval {sampling:g} s"
        print(
            f"real daemon ({src}, {load}), {total / 60:.1f} min on a loop-mounted ext4, exit {code}"
        )
        print(f"  records written               {records:>12,}  ({records / total:.1f} a second)")
        print(
            f"  start-up ({warmup:.0f} s)              {bytes1 - bytes0:>12,} bytes, "
            f"{ios1 - ios0} write I/Os"
        )
        per_hour = (bytes2 - bytes1) * hour
        print(
            f"  device bytes per hour         {per_hour:>12,.0f}  ({per_hour / 1e6:.2f} MB, "
            f"{per_hour * 24 / 1e6:.0f} MB a day; steady state and stop, "
            f"{elapsed / 60:.1f} min)"
        )
        print(f"  device write I/Os per hour    {(ios2 - ios1) * hour:>12,.0f}")
        day = 86400 / total
        print(
            f"  bytes kept per day            {kept * day:>12,.0f}  ({kept * day / 1e6:.1f} MB: "
            f"segments {segs * day / 1e6:.1f} MB, sidecars {sidecars * day / 1e6:.1f} MB)"
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0, help="how long the daemon runs")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="the code to run")
    p.add_argument(
        "--sampling",
        type=float,
        metavar="SECONDS",
        help="a heavier load: every telemetry sampling interval set to this (default: the "
        "product's defaults)",
    )
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root: it makes and mounts a loop device", file=sys.stderr)
        return 1
    for tool in ("mkfs.ext4", "losetup", "mount", "umount"):
        if shutil.which(tool) is None:
            print(f"needs {tool}", file=sys.stderr)
            return 1
    measure(args.minutes, args.src.resolve(), sys.executable, args.sampling)
    return 0


if __name__ == "__main__":
    sys.exit(main())
