"""``bussdcc-system history ...`` and ``replay`` when they cannot answer: a real subprocess,
real files and permissions, and the words a person reads.

An error is one line on stderr and a sysexits status, never a traceback, and never an
answer the command does not have ("no under-voltage" of history it could not read).
"""

from __future__ import annotations

import grp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bussdcc.testing import SimClock
from tests.bussdcc_system.daemon_harness import free_port
from tests.bussdcc_system.history.history_helpers import T0, cpu, rig, throttling

REPO = Path(__file__).resolve().parents[3]
AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
COMMANDS = (
    ("history", "segments"),
    ("history", "export"),
    ("history", "episodes", "--days", "100000"),
    ("replay", "--since", "@0", "--speed", "10000", "--print"),
)
"""Every command that reads history, as a person might type it."""


def bussdcc_system(
    *args: str, user: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bussdcc_system ARGS``, optionally as another user (``setpriv ...``)."""
    return subprocess.run(
        [*user, sys.executable, "-m", "bussdcc_system", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd="/",
        env={
            "PYTHONPATH": str(REPO / "src"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "BUSSDCC_SYSTEM_CONFIG": "/dev/null",  # the built-in defaults, whatever /etc holds
            **(env or {}),
        },
    )


def first_line(out: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in out.stderr, out.stderr
    return out.stderr.splitlines()[0] if out.stderr else ""


EPISODE = (
    "before 2026-03-01 09:43:20  under-voltage: until 2026-03-01 10:01:40 "
    "(18 minutes and 20 seconds) [during boot, before monitoring started]"
)
"""The first line ``history episodes`` prints of what :func:`record` wrote."""


def record(directory: Path, *, episode: bool = True, start: datetime = T0) -> Path:
    """Three segments from ``start`` (2026-03-01 10:00:00), with (``episode``)
    under-voltage seen at the first sample and gone 100 s later."""
    clock = SimClock(start)
    with rig(directory, clock=clock, rotate_interval=60.0) as r:
        if episode:
            r.emit(throttling(0x50005))
        for i in range(150):
            r.emit(cpu(float(i)))
            if i == 100 and episode:
                r.emit(throttling(0x50000))
            clock.advance(1)
    return directory


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record(tmp_path_factory.mktemp("cli-errors") / "history")


@pytest.fixture
def public(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A directory every user may enter (pytest's own temporary root is root's alone), for
    the tests that run a command as ``nobody``."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as another user")
    base = Path(tempfile.mkdtemp(prefix="bussdcc-cli-"))
    base.chmod(0o755)
    probe = bussdcc_system("--version", user=AS_NOBODY)
    if probe.returncode != 0:
        shutil.rmtree(base)
        pytest.skip(f"nobody cannot run the source tree: {probe.stderr.strip()}")
    yield base
    shutil.rmtree(base)


def chown_tree(top: Path, group: int, dir_mode: int, file_mode: int) -> None:
    for path in [top, *top.rglob("*")]:
        os.chown(path, 0, group)
        path.chmod(dir_mode if path.is_dir() else file_mode)


# -- history this user may not read ------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_unreadable_history_is_an_error_with_the_remedy(public: Path, command: tuple[str, ...]):
    """Before: "no under-voltage or throttling in the last 7 days", exit 0."""
    directory = record(public / "history")
    chown_tree(directory, 0, 0o700, 0o600)  # root's alone
    out = bussdcc_system(*command, "--dir", str(directory), user=AS_NOBODY)
    assert (out.returncode, first_line(out)) == (
        os.EX_NOPERM,
        f"bussdcc-system: cannot read the history in {directory}: permission denied; "
        "run it with sudo",
    )
    assert out.stdout == ""  # no answer at all, least of all "no under-voltage"
    port = ("--port", str(free_port())) if command[0] == "replay" else ()
    as_root = bussdcc_system(*command, *port, "--dir", str(directory))
    assert as_root.returncode == 0, as_root.stderr


def test_the_group_named_in_the_remedy_may_read_history(public: Path):
    """The packaged layout: history inside a state directory only its group may enter
    (``StateDirectoryMode=0750``); the message names that group, and joining it works."""
    try:
        adm = grp.getgrnam("adm")
    except KeyError:
        pytest.skip("no group adm to stand in for the daemon's group")
    state = public / "state"
    directory = record(state / "history")
    chown_tree(state, adm.gr_gid, 0o750, 0o640)
    command = ("history", "episodes", "--days", "100000", "--dir", str(directory))
    out = bussdcc_system(*command, user=AS_NOBODY)
    assert (out.returncode, first_line(out)) == (
        os.EX_NOPERM,
        f"bussdcc-system: cannot read the history in {directory}: permission denied "
        f"(at {state}); run it with sudo, or as a member of group adm, which may read it "
        "(sudo usermod -aG adm nobody, then log in again)",
    )
    assert "under-voltage" not in out.stdout
    member = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--groups=adm")
    joined = bussdcc_system(*command, user=member)
    assert joined.returncode == 0, joined.stderr
    assert joined.stdout.splitlines()[0] == EPISODE


def test_one_unreadable_segment_is_not_skipped_silently(public: Path):
    """Before: the catalogue skipped the segment with a warning and the episode it held
    vanished: "no under-voltage or throttling in the last 100000 days", exit 0."""
    directory = record(public / "history")
    chown_tree(directory, 0, 0o755, 0o644)
    first = min(directory.rglob("*.jsonl*"))
    first.chmod(0o600)
    out = bussdcc_system(
        "history", "episodes", "--days", "100000", "--dir", str(directory), user=AS_NOBODY
    )
    assert (out.returncode, first_line(out)) == (
        os.EX_NOPERM,
        f"bussdcc-system: cannot read the history in {directory}: permission denied "
        f"(at {first}); run it with sudo",
    )
    assert out.stdout == ""


# -- history that is not there -----------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_missing_directory_says_so_and_answers_nothing(tmp_path: Path, command: tuple[str, ...]):
    """Before: the words, then "no under-voltage or throttling in the last 7 days", exit 0."""
    missing = tmp_path / "nowhere"
    out = bussdcc_system(*command, "--dir", str(missing))
    assert (out.returncode, first_line(out)) == (
        os.EX_NOINPUT,
        f"bussdcc-system: {missing} does not exist: nothing has been recorded there (--dir)",
    )
    assert out.stdout == ""


def test_a_configured_directory_is_named_with_its_source(tmp_path: Path):
    config = tmp_path / "config.yaml"
    missing = tmp_path / "nowhere"
    config.write_text(f"history:\n  directory: {missing}\n")
    out = bussdcc_system("history", "episodes", env={"BUSSDCC_SYSTEM_CONFIG": str(config)})
    assert (out.returncode, first_line(out)) == (
        os.EX_NOINPUT,
        f"bussdcc-system: {missing} does not exist: nothing has been recorded there "
        f"(history.directory in {config})",
    )
    missing.write_text("")
    # A file where the directory should be is a mistake in the configuration itself.
    out = bussdcc_system("history", "episodes", env={"BUSSDCC_SYSTEM_CONFIG": str(config)})
    assert out.returncode == os.EX_CONFIG
    assert first_line(out).startswith("config.yaml:2: history.directory: expected a directory")
    assert first_line(out).endswith("it is an existing file, not a directory")


def test_an_empty_directory_gives_no_answer_about_power(tmp_path: Path):
    out = bussdcc_system("history", "episodes", "--dir", str(tmp_path))
    assert (out.returncode, first_line(out)) == (
        os.EX_NOINPUT,
        f"bussdcc-system: nothing has been recorded in {tmp_path} yet: no answer about "
        "under-voltage or throttling",
    )


def test_a_short_history_says_where_it_begins(history: Path, tmp_path: Path):
    """A week asked, minutes recorded: "no under-voltage" says what it covers."""
    out = bussdcc_system("history", "episodes", "--dir", str(history), "--days", "1e20")
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.splitlines()[0] == EPISODE  # 1e20 days: from the beginning
    begins = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    quiet = record(tmp_path / "quiet", episode=False, start=begins)
    out = bussdcc_system("history", "episodes", "--dir", str(quiet))
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == (
        f"no under-voltage or throttling since {begins:%Y-%m-%d %H:%M:%S} UTC, when the "
        "history begins (asked: the last 7 days)\n"
    )


# -- every argument bounded: argv -> status and the first line of stderr -------------------

USAGE = os.EX_USAGE
SEE_EXPORT = " (see bussdcc-system history export --help)"
SEE_REPLAY = " (see bussdcc-system replay --help)"
SEE_EPISODES = " (see bussdcc-system history episodes --help)"
NOT_A_TIME = "is not a time: use now, 24h, 7d, @POSIX or 2026-01-01T12:00[Z]"
OUT_OF_RANGE = "is out of range: a time lies between 1970-01-01 and 9999-12-31"
NOT_A_SPEED = "is not a speed: use a number above 0 and at most 10000 (times real time)"
NOT_DAYS = "is not a number of days: use a number above 0, e.g. 7 or 0.5"
EMPTY_NAME = "an empty name: give a message name, e.g. system.signal"
NOT_A_GAP = "is not a number of seconds: use 0 or more (0 keeps every gap)"

CASES: list[tuple[str, int, str]] = [
    # the command line itself
    (
        "",
        USAGE,
        "bussdcc-system: the following arguments are required: COMMAND (see bussdcc-system --help)",
    ),
    (
        "history",
        USAGE,
        "bussdcc-system history: the following arguments are required: COMMAND"
        " (see bussdcc-system history --help)",
    ),
    (
        "history segments --bogus",
        USAGE,
        "bussdcc-system: unrecognized arguments: --bogus (see bussdcc-system --help)",
    ),
    (
        "history export --dir {h} --format xml",
        USAGE,
        "bussdcc-system history export: argument --format: invalid choice: 'xml'"
        " (choose from 'jsonl', 'csv')" + SEE_EXPORT,
    ),
    # --port (70000 used to bind 4464: 70000 mod 65536)
    (
        "replay --dir {h} --port 70000",
        USAGE,
        "bussdcc-system replay: argument --port: '70000' is not a TCP port: use 1 to 65535"
        + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --port 0",
        USAGE,
        "bussdcc-system replay: argument --port: '0' is not a TCP port: use 1 to 65535"
        + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --port -1",
        USAGE,
        "bussdcc-system replay: argument --port: '-1' is not a TCP port: use 1 to 65535"
        + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --port http",
        USAGE,
        "bussdcc-system replay: argument --port: 'http' is not a TCP port: use 1 to 65535"
        + SEE_REPLAY,
    ),
    # --since / --until
    (
        "history export --dir {h} --since 1e400",
        USAGE,
        f"bussdcc-system history export: argument --since: '1e400' {NOT_A_TIME}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --since @99999999999999",
        USAGE,
        f"bussdcc-system history export: argument --since: '@99999999999999' {OUT_OF_RANGE}"
        + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --since @-1",
        USAGE,
        f"bussdcc-system history export: argument --since: '@-1' {OUT_OF_RANGE}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --since @nan",
        USAGE,
        f"bussdcc-system history export: argument --since: '@nan' {NOT_A_TIME}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --until @1e400",
        USAGE,
        f"bussdcc-system history export: argument --until: '@1e400' {NOT_A_TIME}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --until @x",
        USAGE,
        f"bussdcc-system history export: argument --until: '@x' {NOT_A_TIME}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --until 0001-01-01",
        USAGE,
        f"bussdcc-system history export: argument --until: '0001-01-01' {OUT_OF_RANGE}"
        + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --until 9999-12-31T23:59:59-01:00",
        USAGE,
        "bussdcc-system history export: argument --until: '9999-12-31T23:59:59-01:00'"
        f" {OUT_OF_RANGE}" + SEE_EXPORT,
    ),
    (
        "history export --dir {h} --since 2026-03-02T00:00Z --until 2026-03-01T00:00Z",
        USAGE,
        "bussdcc-system: --since 2026-03-02 00:00:00 UTC is after --until 2026-03-01 00:00:00 UTC",
    ),
    (
        "replay --dir {h} --since @99999999999999",
        USAGE,
        f"bussdcc-system replay: argument --since: '@99999999999999' {OUT_OF_RANGE}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --since 2026-03-02T00:00Z --until 2026-03-01T00:00Z",
        USAGE,
        "bussdcc-system: --since 2026-03-02 00:00:00 UTC is after --until 2026-03-01 00:00:00 UTC",
    ),
    # --speed, --max-gap
    (
        "replay --dir {h} --speed 1e309",
        USAGE,
        f"bussdcc-system replay: argument --speed: '1e309' {NOT_A_SPEED}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --speed 1e300",
        USAGE,
        f"bussdcc-system replay: argument --speed: '1e300' {NOT_A_SPEED}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --speed 0",
        USAGE,
        f"bussdcc-system replay: argument --speed: '0' {NOT_A_SPEED}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --speed -1",
        USAGE,
        f"bussdcc-system replay: argument --speed: '-1' {NOT_A_SPEED}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --speed nan",
        USAGE,
        f"bussdcc-system replay: argument --speed: 'nan' {NOT_A_SPEED}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --max-gap -1",
        USAGE,
        f"bussdcc-system replay: argument --max-gap: '-1' {NOT_A_GAP}" + SEE_REPLAY,
    ),
    (
        "replay --dir {h} --max-gap inf",
        USAGE,
        f"bussdcc-system replay: argument --max-gap: 'inf' {NOT_A_GAP}" + SEE_REPLAY,
    ),
    # --days
    (
        "history episodes --dir {h} --days 0",
        USAGE,
        f"bussdcc-system history episodes: argument --days: '0' {NOT_DAYS}" + SEE_EPISODES,
    ),
    (
        "history episodes --dir {h} --days -1",
        USAGE,
        f"bussdcc-system history episodes: argument --days: '-1' {NOT_DAYS}" + SEE_EPISODES,
    ),
    (
        "history episodes --dir {h} --days inf",
        USAGE,
        f"bussdcc-system history episodes: argument --days: 'inf' {NOT_DAYS}" + SEE_EPISODES,
    ),
    (
        "history episodes --dir {h} --days nan",
        USAGE,
        f"bussdcc-system history episodes: argument --days: 'nan' {NOT_DAYS}" + SEE_EPISODES,
    ),
    # --name, --dir
    (
        "history export --dir {h} --name ''",
        USAGE,
        f"bussdcc-system history export: argument --name: {EMPTY_NAME}" + SEE_EXPORT,
    ),
    (
        "replay --dir {h} --name ,",
        USAGE,
        f"bussdcc-system replay: argument --name: {EMPTY_NAME}" + SEE_REPLAY,
    ),
    (
        "history segments --dir ''",
        USAGE,
        "bussdcc-system history segments: argument --dir: an empty path: give the history"
        " directory (see bussdcc-system history segments --help)",
    ),
    (
        "history segments --dir {f}",
        USAGE,
        "bussdcc-system: {f} is not a history directory: it is a file, not a directory (--dir)",
    ),
    (
        "history export --dir {f}",
        USAGE,
        "bussdcc-system: {f} is not a history directory: it is a file, not a directory (--dir)",
    ),
    (
        "history episodes --dir {f}/history",
        USAGE,
        "bussdcc-system: {f}/history is not a history directory:"
        " a part of the path is a file (--dir)",
    ),
    (
        "replay --dir {f}",
        USAGE,
        "bussdcc-system: {f} is not a history directory: it is a file, not a directory (--dir)",
    ),
    # -o
    (
        "history export --dir {h} -o {t}",
        os.EX_CANTCREAT,
        "bussdcc-system: cannot create {t}: it is a directory",
    ),
    (
        "history export --dir {h} -o {t}/missing/out.jsonl",
        os.EX_CANTCREAT,
        "bussdcc-system: cannot create {t}/missing/out.jsonl: the directory does not exist",
    ),
    (
        "history export --dir {h} -o {f}/out.jsonl",
        os.EX_CANTCREAT,
        "bussdcc-system: cannot create {f}/out.jsonl: a part of the path is not a directory",
    ),
    (
        "history export --dir {h} -o /dev/full",
        os.EX_IOERR,
        "bussdcc-system: cannot write /dev/full: the disk is full (no space left on device)",
    ),
    # --config (check-config's own words, below)
    (
        "run --config {t}",
        os.EX_CONFIG,
        "bussdcc-system: {tn}: cannot read {t}: it is a directory, not a file",
    ),
    (
        "check-config {t}/missing.yaml",
        os.EX_CONFIG,
        "missing.yaml: cannot read {t}/missing.yaml: no such file",
    ),
    (
        "replay --dir {h} --since @0 --config {t}/missing.yaml",
        os.EX_CONFIG,
        "missing.yaml: cannot read {t}/missing.yaml: no such file",
    ),
]


@pytest.mark.parametrize(("argv", "status", "words"), CASES, ids=[c[0] or "(none)" for c in CASES])
def test_argument_errors(history: Path, tmp_path: Path, argv: str, status: int, words: str):
    import shlex

    a_file = tmp_path / "a-file"
    a_file.write_text("")
    places = {"h": history, "f": a_file, "t": tmp_path, "tn": tmp_path.name}
    out = bussdcc_system(*shlex.split(argv.format(**places)))
    assert (out.returncode, first_line(out)) == (status, words.format(**places))
    assert len(out.stderr.splitlines()) == 1, out.stderr


def test_export_to_an_unwritable_path(public: Path, history: Path):
    shutil.copytree(history, public / "history")
    chown_tree(public / "history", 0, 0o755, 0o644)
    closed = public / "closed"
    closed.mkdir(mode=0o755)
    target = closed / "out.jsonl"
    out = bussdcc_system(
        "history", "export", "--dir", str(public / "history"), "-o", str(target), user=AS_NOBODY
    )
    assert (out.returncode, first_line(out)) == (
        os.EX_CANTCREAT,
        f"bussdcc-system: cannot create {target}: permission denied",
    )


def test_replay_with_a_bad_config_prints_what_check_config_prints(history: Path, tmp_path: Path):
    """Before: a traceback ending in ConfigError, exit 1."""
    config = tmp_path / "bad.yaml"
    config.write_text("web:\n  port: nope\nhistory:\n  retention_days: -5\n")
    check = bussdcc_system("check-config", str(config))
    assert check.returncode == os.EX_CONFIG and len(check.stderr.splitlines()) == 2
    out = bussdcc_system("replay", "--dir", str(history), "--since", "@0", "--config", str(config))
    assert (out.returncode, out.stderr) == (os.EX_CONFIG, check.stderr)
    assert "Traceback" not in out.stderr


def test_replay_on_a_port_in_use(history: Path):
    """Before: a traceback ending in BootError, exit 1."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = bussdcc_system("replay", "--dir", str(history), "--since", "@0", "--port", str(port))
    assert (out.returncode, out.stderr.splitlines()[-1]) == (
        os.EX_UNAVAILABLE,
        f"bussdcc-system: cannot start the replay: cannot listen on 0.0.0.0:{port}: "
        "address already in use",
    )
    assert "Traceback" not in out.stderr
