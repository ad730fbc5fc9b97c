"""The ``history`` and ``replay`` subcommands.

``bussdcc-system history segments|export|episodes`` and ``bussdcc-system replay``. The
main parser calls :func:`add_history_parser` and :func:`add_replay_parser`; each
subcommand sets ``func`` (``args.func(args) -> exit status``). Every command takes
``--dir`` (default: ``history.directory`` from the active configuration).

Times (``--since``, ``--until``): ``now``, a duration ago (``90s``, ``15m``, ``24h``,
``7d``, ``2w``), POSIX seconds (``@1767268800``) or ISO 8601 (``2026-01-01``,
``2026-01-01T12:00``; without an offset it is local time, add ``Z`` for UTC).

A command that cannot answer says why in one line on stderr and exits with a sysexits
status (:class:`CommandError`), never with a traceback and never with an answer it
does not have: history it may not read is ``EX_NOPERM`` with the remedy, not "nothing
recorded".
"""

from __future__ import annotations

import argparse
import csv
import errno
import functools
import grp
import json
import math
import os
import pwd
import re
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bussdcc import BootError, Runtime, ThreadedRuntime
from bussdcc_system.formatting import exact_duration, record_time, size, utc_time
from bussdcc_system.history.failure_reports import describe_os_error
from bussdcc_system.history.segment_files import DAY_RE, SEGMENT_RE
from bussdcc_system.throttling_flags import past_words

_REL = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LATEST = 253402300799.0
"""9999-12-31 23:59:59 UTC: the last second a time can be shown (``datetime``)."""
MAX_SPEED = 10000.0
"""A week of history in a minute; much faster and an hour of ``--keep-running`` would
carry the replay clock past the year 9999."""

ReplaySetup = Callable[[Runtime, argparse.Namespace], None]
_Parser = TypeVar("_Parser", bound=argparse.ArgumentParser)


class CommandError(Exception):
    """A command cannot do its job: the lines a person reads and the sysexits status."""

    def __init__(self, status: int, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.status = status
        self.lines = lines


def _reports_errors(command: Callable[..., int]) -> Callable[..., int]:
    """Turn a :class:`CommandError` into its lines on stderr and its status; a reader
    that went away (``| head``) or Ctrl-C ends the command quietly."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> int:
        try:
            status = command(*args, **kwargs)
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise CommandError(
                    os.EX_IOERR, f"bussdcc-system: cannot write the output: {_words(exc)}"
                ) from None
            return status
        except CommandError as exc:
            for line in exc.lines:
                print(line, file=sys.stderr)
            return exc.status
        except BrokenPipeError:
            # Python would complain again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return os.EX_OK
        except KeyboardInterrupt:
            return 128 + signal.SIGINT

    return run


def _words(exc: OSError) -> str:
    if exc.errno == errno.EISDIR:
        return "it is a directory"
    return describe_os_error(exc)


class _Output:
    """Where a command writes: a failed write is a :class:`CommandError` (EX_IOERR)
    naming the file and the reason, e.g. a full disk."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self.stream = stream
        self.name = name

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise CommandError(
                os.EX_IOERR, f"bussdcc-system: cannot write {self.name}: {_words(exc)}"
            ) from None


# -- arguments ------------------------------------------------------------------------


def parse_when(text: str, now: float | None = None) -> float:
    """POSIX seconds from a CLI time (see the module doc).

    A duration reaching before 1970 means from the beginning (nothing is older); a
    time given as such must lie between 1970 and 9999."""
    now = time.time() if now is None else now
    s = text.strip()
    if s == "now":
        return now
    m = _REL.match(s)
    if m:
        return max(0.0, now - float(m.group(1)) * _UNITS[m.group(2)])
    value: float | None = None
    if s.startswith("@"):
        value = _float(s[1:])
        value = value if value is not None and math.isfinite(value) else None
    else:
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            try:
                if dt.tzinfo is None:
                    dt = dt.astimezone()  # local time, as `date` shows it
                value = dt.timestamp()
            except (OverflowError, OSError, ValueError):
                value = math.inf
    if value is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use now, 24h, 7d, @POSIX or 2026-01-01T12:00[Z]"
        )
    if not 0.0 <= value <= LATEST:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: a time lies between 1970-01-01 and 9999-12-31"
        )
    return value


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _when(text: str) -> float:
    return parse_when(text)


def _speed(text: str) -> float:
    value = _float(text)
    if value is None or not 0.0 < value <= MAX_SPEED:  # NaN fails both comparisons
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a speed: use a number above 0 and at most {MAX_SPEED:g} "
            "(times real time)"
        )
    return value


def _days(text: str) -> float:
    value = _float(text)
    if value is None or not 0.0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of days: use a number above 0, e.g. 7 or 0.5"
        )
    return value


def _gap(text: str) -> float:
    value = _float(text)
    if value is None or not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds: use 0 or more (0 keeps every gap)"
        )
    return value


def _name(text: str) -> str:
    if not any(n.strip() for n in text.split(",")):
        raise argparse.ArgumentTypeError("an empty name: give a message name, e.g. system.signal")
    return text


def _directory(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty path: give the history directory")
    return text


def _add_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dir",
        metavar="DIR",
        type=_directory,
        help="history directory (default: history.directory from the configuration)",
    )


# -- the history directory ------------------------------------------------------------


def history_directory(args: argparse.Namespace) -> str:
    """``--dir``, else ``history.directory`` of the configuration (``--config`` where the
    command has one); a :class:`CommandError` unless every segment there can be read.

    Nothing recorded (the directory does not exist) is ``EX_NOINPUT``; a directory this
    user may not read is ``EX_NOPERM`` with the remedy, so that "no episodes" is never
    said of history that was not read."""
    if getattr(args, "dir", None):
        directory, source = str(args.dir), "--dir"
    else:
        from bussdcc_system.config import ConfigError, load_config, resolve_config_path

        path, explicit = resolve_config_path(getattr(args, "config", None))
        try:
            directory = load_config(path, explicit=explicit).history.directory
        except ConfigError as exc:
            raise CommandError(
                os.EX_CONFIG,
                *(str(issue) for issue in exc.issues),
                "bussdcc-system: the history directory comes from that file (or pass --dir)",
            ) from None
        source = f"history.directory in {path}"
    _check_readable(Path(os.path.abspath(directory)), directory, source)
    return directory


def _check_readable(path: Path, directory: str, source: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CommandError(
            os.EX_NOINPUT,
            f"bussdcc-system: {directory} does not exist: nothing has been recorded there "
            f"({source})",
        ) from None
    except NotADirectoryError:
        raise _not_a_directory(directory, source, "a part of the path is a file") from None
    except PermissionError:
        above = next((p for p in reversed(path.parents) if not os.access(p, os.X_OK)), path)
        raise _permission_denied(directory, above) from None
    if not stat.S_ISDIR(st.st_mode):
        raise _not_a_directory(directory, source, "it is a file, not a directory")
    inside = _first_unreadable(path)
    if inside is not None:
        raise _permission_denied(directory, inside)


def _not_a_directory(directory: str, source: str, why: str) -> CommandError:
    status = os.EX_USAGE if source == "--dir" else os.EX_CONFIG
    return CommandError(
        status, f"bussdcc-system: {directory} is not a history directory: {why} ({source})"
    )


def _first_unreadable(path: Path) -> Path | None:
    """The directory, a day directory or a segment this user may not read, if any."""
    if not os.access(path, os.R_OK | os.X_OK):
        return path
    try:
        with os.scandir(path) as listing:
            days = [e.path for e in listing if DAY_RE.match(e.name) and e.is_dir()]
    except PermissionError:
        return path
    for day in sorted(days):
        if not os.access(day, os.R_OK | os.X_OK):
            return Path(day)
        try:
            with os.scandir(day) as listing:
                entries = list(listing)
        except PermissionError:
            return Path(day)
        for entry in entries:
            if SEGMENT_RE.match(entry.name) and not os.access(entry.path, os.R_OK):
                return Path(entry.path)
    return None


def _permission_denied(directory: str, blocked: Path) -> CommandError:
    where = "" if blocked == Path(os.path.abspath(directory)) else f" (at {blocked})"
    return CommandError(
        os.EX_NOPERM,
        f"bussdcc-system: cannot read the history in {directory}: permission denied{where}; "
        + _remedy(blocked),
    )


def _remedy(blocked: Path) -> str:
    """Sudo, or the group whose members may read what stopped us (named from the file
    itself, so it is right whatever the packaging chose)."""
    sudo = "run it with sudo"
    try:
        st = os.stat(blocked)
        group = grp.getgrgid(st.st_gid)
    except (OSError, KeyError):
        return sudo
    need = stat.S_IRGRP | (stat.S_IXGRP if stat.S_ISDIR(st.st_mode) else 0)
    if st.st_gid == 0 or st.st_mode & need != need:
        return sudo  # no group may read it (or only root's)
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    if user in group.gr_mem:
        return (
            f"{sudo}, or log in again: you are in group {group.gr_name}, which may read it, "
            "but this login is not yet"
        )
    return (
        f"{sudo}, or as a member of group {group.gr_name}, which may read it "
        f"(sudo usermod -aG {group.gr_name} {user}, then log in again)"
    )


def add_history_parser(subparsers: argparse._SubParsersAction[_Parser]) -> _Parser:
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
        type=_name,
        metavar="NAME",
        help="only these message names (repeat, or comma-separate)",
    )
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    exp.set_defaults(func=cmd_export)

    epi = sub.add_parser("episodes", help="under-voltage and throttling episodes")
    _add_dir(epi)
    epi.add_argument("--days", type=_days, default=7.0, help="look back this many days (7)")
    epi.add_argument("--json", action="store_true", help="one JSON object per episode")
    epi.set_defaults(func=cmd_episodes)
    return p


def add_replay_parser(
    subparsers: argparse._SubParsersAction[_Parser], setup: ReplaySetup | None = None
) -> _Parser:
    """Register ``replay``. ``setup(runtime, args)`` adds e.g. the web dashboard to the
    replay runtime (raising :class:`CommandError` if it cannot); without it (or with
    ``--print``) events are printed as JSON lines."""
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded range through a runtime (e.g. the dashboard)",
        description="Feed recorded events back through a bussdcc runtime whose clock "
        "follows the recorded times.",
    )
    _add_dir(p)
    p.add_argument("--since", type=_when, default=None, help="from this time (default: 24h)")
    p.add_argument("--until", type=_when, default=None, help="up to this time (default: now)")
    p.add_argument(
        "--speed", type=_speed, default=1.0, help=f"times real time (1; at most {MAX_SPEED:g})"
    )
    p.add_argument(
        "--name", action="append", type=_name, metavar="NAME", help="only these message names"
    )
    p.add_argument(
        "--max-gap",
        type=_gap,
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


def _range(since: float | None, until: float) -> None:
    if since is not None and since > until:
        raise CommandError(
            os.EX_USAGE,
            f"bussdcc-system: --since {utc_time(since)} UTC is after --until {utc_time(until)} UTC",
        )


# -- segments -------------------------------------------------------------------------


@_reports_errors
def cmd_segments(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.reader import list_segments

    directory = history_directory(args)
    write = _Output(out or sys.stdout, "the output").write
    segs = list_segments(directory)
    if args.json:
        for s in segs:
            write(
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
        write(f"no history segments in {directory}\n")
        return 0
    write(
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
        write(
            f"{s.number if s.number is not None else '-':>5}  {s.name:<32} "
            f"{size(s.total_size):>9} {s.records if s.records is not None else '?':>8}  "
            f"{utc_time(s.start):<19}  {utc_time(s.end):<19}  {(s.boot or '-')[:8]:<8}  "
            f"{', '.join(notes)}\n"
        )
    total = sum(s.total_size for s in segs)
    write(f"{len(segs)} segments, {size(total)} in {directory}\n")
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


@_reports_errors
def cmd_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.reader import list_segments, read_records

    directory = history_directory(args)
    names = _names(args.name)
    until = args.until if args.until is not None else time.time()
    _range(args.since, until)
    segs = list_segments(directory)
    stream: TextIO
    if args.output:
        try:
            stream = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(
                os.EX_CANTCREAT, f"bussdcc-system: cannot create {args.output}: {_words(exc)}"
            ) from None
    else:
        stream = out or sys.stdout
    output = _Output(stream, args.output or "the output")
    try:
        if args.format == "jsonl":
            for rec in read_records(directory, args.since, until, names, segments=segs):
                output.write(
                    json.dumps(rec.to_json(), ensure_ascii=False, separators=(",", ":")) + "\n"
                )
        else:
            columns: dict[str, None] = {}
            for rec in read_records(directory, args.since, until, names, segments=segs):
                flat: dict[str, Any] = {}
                _flat("", rec.data, flat)
                columns.update(dict.fromkeys(flat))
            head = ["time", "name", "boot", "mono", "seq"]
            writer = csv.writer(output)
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
    finally:
        if args.output:
            try:
                stream.close()  # flushes: a full disk shows here
            except OSError as exc:
                raise CommandError(
                    os.EX_IOERR, f"bussdcc-system: cannot write {args.output}: {_words(exc)}"
                ) from None
    return 0


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


# -- episodes --------------------------------------------------------------------------


@_reports_errors
def cmd_episodes(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from bussdcc_system.history.episodes import find_episodes
    from bussdcc_system.history.reader import list_segments

    directory = history_directory(args)
    write = _Output(out or sys.stdout, "the output").write
    segs = list_segments(directory)
    if not segs:
        raise CommandError(
            os.EX_NOINPUT,
            f"bussdcc-system: nothing has been recorded in {directory} yet: "
            "no answer about under-voltage or throttling",
        )
    now = time.time()
    since = max(0.0, now - args.days * 86400)
    eps = find_episodes(directory, since, None, segments=segs)
    if args.json:
        for e in eps:
            write(json.dumps(e.to_dict()) + "\n")
        return 0
    if not eps:
        begins = min((s.start for s in segs if s.start is not None), default=None)
        if begins is not None and begins > since:
            write(
                f"no under-voltage or throttling since {utc_time(begins)} UTC, when the "
                f"history begins (asked: the last {args.days:g} days)\n"
            )
        else:
            write(f"no under-voltage or throttling in the last {args.days:g} days\n")
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
        write(f"{start}  {what}: {span}{extra}\n")
    return 0


# -- replay ---------------------------------------------------------------------------


@_reports_errors
def cmd_replay(
    args: argparse.Namespace, *, setup: ReplaySetup | None = None, out: TextIO | None = None
) -> int:
    from bussdcc_system.history.reader import read_records
    from bussdcc_system.history.replay import ReplayClock, rebuild_message, replay

    out = out or sys.stdout
    directory = history_directory(args)
    now = time.time()
    since = args.since if args.since is not None else now - 86400
    until = args.until if args.until is not None else now
    _range(since, until)
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
    max_gap = args.max_gap if args.max_gap > 0 else None
    try:
        rt.boot()
    except BootError as exc:
        raise CommandError(
            os.EX_UNAVAILABLE, f"bussdcc-system: cannot start the replay: {exc.__cause__ or exc}"
        ) from None
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
