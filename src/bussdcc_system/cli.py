"""The ``bussdcc-system`` command: one entry point, one subcommand per job.

Each subcommand lives beside the concept it serves; this module only parses
arguments and hands over, so ``bussdcc-system --help`` stays the one map.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bussdcc_system import __version__

EX_CONFIG = 78


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
        help="configuration file (default: $BUSSDCC_SYSTEM_CONFIG or /etc/bussdcc-system/config.yaml)",
    )

    check = sub.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("path", nargs="?", help="file to check (default: the active config)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        from bussdcc_system.daemon import run_main

        return run_main(args.config)
    if args.command == "check-config":
        from bussdcc_system.config import check_config_main

        return check_config_main(args.path)
    parser.error(f"unknown command {args.command!r}")
    return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
