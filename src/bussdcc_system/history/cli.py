"""The ``history`` and ``replay`` subcommands.

``bussdcc-system history segments|export|episodes`` and ``bussdcc-system replay``. The
main parser calls :func:`add_history_parser` and :func:`add_replay_parser`; each
subcommand sets ``func`` (``args.func(args) -> exit status``). Every command takes
``--dir`` (default: ``history.directory`` from the active configuration).

Times (``--since``, ``--until``): ``now``, a duration ago (``90s``, ``15m``, ``24h``,
``7d``, ``2w``), POSIX seconds (``@1767268800``) or ISO 8601 (``2026-01-01``,
``2026-01-01T12:00``; without an offset it is local time, add ``Z`` for UTC).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TextIO

from bussdcc import Runtime, ThreadedRuntime
from bussdcc_system.formatting import exact_duration, record_time, size, utc_time
from bussdcc_system.throttling_flags import past_words

_REL = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

ReplaySetup = Callable[[Runtime, argparse.Namespace], None]


def parse_when(text: str, now: float | None = None) -> float:
    """POSIX seconds from a CLI time (see the module doc)."""
    now = time.time() if now is None else now
    s = text.strip()
    if s == "now":
        return now
    m = _REL.match(s)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    if s.startswith("@"):
        return float(s[1:])
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use now, 24h, 7d, @POSIX or 2026-01-01T12:00[Z]"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time, as `date` shows it
    return dt.timestamp()


def _when(text: str) -> float:
    return parse_when(text)


def _add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dir",
        metavar="DIR",
        help="history directory (default: history.directory from the configuration)",
    )


def resolve_dir(args: argparse.Namespace, err: TextIO | None = None) -> str | None:
    """``--dir``, else the configured directory; None (after saying why) if unreadable.

    A directory that does not exist is not an error (nothing recorded yet), but it is
    said, so that "no episodes" is not mistaken for "no problems"."""
    directory: str
    if getattr(args, "dir", None):
        directory = str(args.dir)
    else:
        from bussdcc_system.config import ConfigError, load_config

        try:
            directory = load_config().history.directory
        except ConfigError as exc:
            print(f"bussdcc-system: {exc} (or pass --dir)", file=err or sys.stderr)
            return None
    if not os.path.isdir(directory):
        print(
            f"bussdcc-system: {directory} does not exist: nothing has been recorded there",
            file=err or sys.stderr,
        )
    return directory


def add_history_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``history segments|export|episodes``."""
    p = subparsers.add_parser(
        "history",
        help="list, export and summarise the recorded history",
        description="Inspect the JSONL history.",
    )
    sub = p.add_subparsers(dest="history_command", metavar="COMMAND")
    sub.required = True

    seg = sub.add_parser("segments", help="list segments with sizes and time ranges")
    _add_dir(seg)
    seg.add_argument("--json", action="store_true", help="one JSON object per segment")
    seg.set_defaults(func=cmd_segments)

    exp = sub.add_parser("export", help="write records of a time range as JSONL or CSV")
    _add_dir(exp)
    exp.add_argument("--since", type=_when, help="from this time (default: the beginning)")
    exp.add_argument("--until", type=_when, help="up to this time (default: now)")
    exp.add_argument(
        "--name",
        action="append",
        metavar="NAME",
        help="only these message names (repeat, or comma-separate)",
    )
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    exp.set_defaults(func=cmd_export)

    epi = sub.add_parser("episodes", help="under-voltage and throttling episodes")
    _add_dir(epi)
    epi.add_argument("--days", type=float, default=7.0, help="look back this many days (7)")
    epi.add_argument("--json", action="store_true", help="one JSON object per episode")
    epi.set_defaults(func=cmd_episodes)
    return p


def add_replay_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    setup: ReplaySetup | None = None,
) -> argparse.ArgumentParser:
    """Register ``replay``. ``setup(runtime, args)`` adds e.g. the web dashboard to the
    replay runtime; without it (or with ``--print``) events are printed as JSON lines."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded range through a runtime (e.g. the dashboard)",
        description="Feed recorded events back through a bussdcc runtime whose clock "
        "follows the recorded times.",
    )
    _add_dir(p)
    p.add_argument("--since", type=_when, default=None, help="from this time (default: 24h)")
    p.add_argument("--until", type=_when, default=None, help="up to this time (default: now)")
    p.add_argument("--speed", type=float, default=1.0, help="times real time (1)")
    p.add_argument("--name", action="append", metavar="NAME", help="only these message names")
    p.add_argument(
        "--max-gap",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="skip recorded gaps longer than this (60; 0 keeps them)",
    )
    p.add_argument("--print", action="store_true", help="also print events as JSON lines")
    p.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the runtime (dashboard) up after the replay ends, until Ctrl-C",
    )
    p.set_defaults(func=lambda args: cmd_replay(args, setup=setup))
    return p


# -- segments -------------------------------------------------------------------------


def cmd_segments(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.reader import list_segments

    out = out or sys.stdout
    directory = resolve_dir(args)
    if directory is None:
        return os.EX_CONFIG
    segs = list_segments(directory)
    if args.json:
        for s in segs:
            out.write(
                json.dumps(
                    {
                        "segment": s.name,
                        "number": s.number,
                        "size": s.size,
                        "index_size": s.index_size,
                        "records": s.records,
                        "compressed": s.compressed,
                        "indexed": s.indexed,
                        "boot": s.boot,
                        "start": s.start,
                        "end": s.end,
                        "shift": s.shift,
                        "plausible": s.plausible,
                    }
                )
                + "\n"
            )
        return 0
    if not segs:
        out.write(f"no history segments in {directory}\n")
        return 0
    out.write(
        f"{'#':>5}  {'SEGMENT':<32} {'SIZE':>9} {'RECORDS':>8}  "
        f"{'START (UTC)':<19}  {'END (UTC)':<19}  BOOT      NOTES\n"
    )
    for s in segs:
        notes = []
        if not s.indexed:
            notes.append("open or unfinished")
        if s.shift:
            notes.append(
                f"clock corrected by {exact_duration(abs(s.shift))}{'' if s.shift > 0 else ' back'}"
            )
        if not s.plausible:
            notes.append(
                "clock was not set" if (s.start or 0) < 1577836800 else "implausible times"
            )
        out.write(
            f"{s.number if s.number is not None else '-':>5}  {s.name:<32} "
            f"{size(s.total_size):>9} {s.records if s.records is not None else '?':>8}  "
            f"{utc_time(s.start):<19}  {utc_time(s.end):<19}  {(s.boot or '-')[:8]:<8}  "
            f"{', '.join(notes)}\n"
        )
    total = sum(s.total_size for s in segs)
    out.write(f"{len(segs)} segments, {size(total)} in {directory}\n")
    return 0


# -- export ---------------------------------------------------------------------------


def _names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        out[prefix] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        out[prefix] = value


def cmd_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.reader import list_segments, read_records

    directory = resolve_dir(args)
    if directory is None:
        return os.EX_CONFIG
    names = _names(args.name)
    until = args.until if args.until is not None else time.time()
    segs = list_segments(directory)
    stream: TextIO
    if args.output:
        stream = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    else:
        stream = out or sys.stdout
    try:
        if args.format == "jsonl":
            for rec in read_records(directory, args.since, until, names, segments=segs):
                stream.write(
                    json.dumps(rec.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
                )
        else:
            columns: dict[str, None] = {}
            for rec in read_records(directory, args.since, until, names, segments=segs):
                flat: dict[str, Any] = {}
                _flat("", rec.data, flat)
                columns.update(dict.fromkeys(flat))
            head = ["time", "name", "boot", "mono", "seq"]
            writer = csv.writer(stream)
            writer.writerow(head + list(columns))
            for rec in read_records(directory, args.since, until, names, segments=segs):
                flat = {}
                _flat("", rec.data, flat)
                writer.writerow(
                    [
                        record_time(rec.time),
                        rec.name,
                        rec.boot,
                        rec.mono,
                        rec.seq,
                        *(_cell(flat.get(c)) for c in columns),
                    ]
                )
    except BrokenPipeError:
        return 0
    finally:
        if args.output:
            stream.close()
    return 0


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


# -- episodes --------------------------------------------------------------------------


def cmd_episodes(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.episodes import find_episodes

    out = out or sys.stdout
    directory = resolve_dir(args)
    if directory is None:
        return os.EX_CONFIG
    now = time.time()
    eps = find_episodes(directory, now - args.days * 86400, None)
    if args.json:
        for e in eps:
            out.write(json.dumps(e.to_dict()) + "\n")
        return 0
    if not eps:
        out.write(f"no under-voltage or throttling in the last {args.days:g} days\n")
        return 0
    for e in eps:
        what = past_words(e.kind)
        start = ("before " if not e.start_known else "") + utc_time(e.start)
        if e.end is None:
            span = f"ongoing ({exact_duration(now - e.start)} so far)"
        else:
            span = f"until {utc_time(e.end)} ({exact_duration(e.end - e.start)})"
        notes = []
        if e.before_monitoring:
            notes.append("during boot, before monitoring started")
        if e.between_samples:
            notes.append("between two samples")
        if e.end_reason == "reboot":
            notes.append("ended by a reboot")
        extra = f" [{'; '.join(notes)}]" if notes else ""
        out.write(f"{start}  {what}: {span}{extra}\n")
    return 0


# -- replay ---------------------------------------------------------------------------


def cmd_replay(
    args: argparse.Namespace, *, setup: ReplaySetup | None = None, out: TextIO | None = None
) -> int:
    from bussdcc_system.history.reader import read_records
    from bussdcc_system.history.replay import ReplayClock, rebuild_message, replay

    out = out or sys.stdout
    directory = resolve_dir(args)
    if directory is None:
        return os.EX_CONFIG
    if not args.speed > 0 or not math.isfinite(args.speed):
        print("bussdcc-system: --speed must be a positive number", file=sys.stderr)
        return os.EX_USAGE
    now = time.time()
    since = args.since if args.since is not None else now - 86400
    until = args.until if args.until is not None else now
    records = iter(read_records(directory, since, until, _names(args.name)))
    head = next(records, None)
    if head is None:
        print(
            f"bussdcc-system: nothing recorded in {directory} between {utc_time(since)} and "
            f"{utc_time(until)} UTC",
            file=sys.stderr,
        )
        return 1

    def chain() -> Iterator[Any]:
        yield head
        yield from records

    clock = ReplayClock(head.time, speed=args.speed)
    rt = ThreadedRuntime(clock=clock)
    if setup is not None:
        setup(rt, args)
    if setup is None or args.print:

        def show(evt: Any) -> None:
            out.write(json.dumps(evt.to_record(), ensure_ascii=False, separators=(",", ":")) + "\n")
            out.flush()

        rt.events.subscribe(show, name="replay-print")
    cancel = threading.Event()
    max_gap = args.max_gap if args.max_gap and args.max_gap > 0 else None
    rt.boot()
    rebuild_message(head.name, head.data)  # learn the message types before the clock runs
    clock.anchor(head.time)  # booting took (speed x) some replay time: start on the record
    try:
        result = replay(rt.emit, clock, chain(), max_gap=max_gap, cancel=cancel)
        print(
            f"replayed {result.events} events from {utc_time(result.first)} "
            f"to {utc_time(result.last)} UTC",
            file=sys.stderr,
        )
        if args.keep_running:
            threading.Event().wait()
    except (KeyboardInterrupt, BrokenPipeError):
        cancel.set()
    finally:
        rt.shutdown("replay finished")
    return 0
