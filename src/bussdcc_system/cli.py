"""The ``bussdcc-system`` command: one entry point, one subcommand per job.

Each subcommand lives beside the concept it serves; this module only parses
arguments and hands over, so ``bussdcc-system --help`` stays the one map.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from bussdcc import Runtime
from bussdcc_system import __version__


class _Parser(argparse.ArgumentParser):
    """A usage error is one line and ``EX_USAGE`` (64, sysexits), not argparse's usage
    block and status 2; every subcommand's parser is one of these too."""

    def error(self, message: str) -> NoReturn:
        self.exit(os.EX_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port: use 1 to 65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bussdcc-system",
        description="Raspberry Pi health appliance: telemetry, history and a live dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run the appliance in the foreground (systemd starts this)")
    run.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $BUSSDCC_SYSTEM_CONFIG or "
        "/etc/bussdcc-system/config.yaml)",
    )

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("path", nargs="?", help="file to check (default: the active config)")

    from bussdcc_system.history.cli import add_history_parser, add_replay_parser

    add_history_parser(sub)
    replay = add_replay_parser(sub, setup=_replay_dashboard)
    replay.add_argument(
        "--port",
        type=_port,
        default=8087,
        help="serve the replay dashboard on this port (8087; the live one keeps 8086)",
    )
    replay.add_argument("--config", metavar="PATH", help="configuration file (thresholds, web)")
    return parser


def _replay_dashboard(runtime: Runtime, args: argparse.Namespace) -> None:
    """Replay shows the past day on the live dashboard (state, health and web); a bad
    ``--config`` is one line per problem, as ``check-config`` prints them, and 78."""
    from bussdcc_system.config import ConfigError, load_config, resolve_config_path
    from bussdcc_system.health import HealthProcess
    from bussdcc_system.history.cli import CommandError
    from bussdcc_system.state import StateProcess
    from bussdcc_system.web.interface import WebInterface

    path, explicit = resolve_config_path(getattr(args, "config", None))
    try:
        config = load_config(path, explicit=explicit)
    except ConfigError as exc:
        raise CommandError(os.EX_CONFIG, *(str(issue) for issue in exc.issues)) from None
    runtime.register_process(StateProcess())
    runtime.register_process(HealthProcess(config.health))
    web = dataclasses.replace(config.web, port=args.port)
    runtime.register_interface(WebInterface(web, history_dir=args.dir or config.history.directory))
    print(f"replay dashboard on http://{web.host}:{web.port}/", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        from bussdcc_system.daemon import run_main

        return run_main(args.config)
    if args.command == "check-config":
        from bussdcc_system.config import check_config_main

        return check_config_main(args.path)
    func = getattr(args, "func", None)
    if func is not None:
        return int(func(args))
    parser.error(f"unknown command {args.command!r}")
    return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
