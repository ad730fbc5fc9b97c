"""``bussdcc-system check-config``: validate a file as the daemon would, and summarise it."""

from __future__ import annotations

import os
import sys

from bussdcc_system.config.issues import ConfigError
from bussdcc_system.config.loader import load_config, resolve_config_path
from bussdcc_system.config.schema import Config
from bussdcc_system.config.wording import number

__all__ = ["check_config_main", "describe_config"]


def describe_config(config: Config) -> list[str]:
    """A short summary (devices, web, history), one line each; never shows the token."""
    if config.devices is None:
        devices = "devices: auto-detect"
    elif not config.devices:
        devices = "devices: none"
    else:
        names = ", ".join(d.id if d.id == d.kind else f"{d.id} ({d.kind})" for d in config.devices)
        devices = f"devices: {len(config.devices)} configured: {names}"
    web = config.web
    if web.enabled:
        host = f"[{web.host}]" if ":" in web.host else web.host
        access = "write actions enabled (token set)" if web.token else "read-only (no token)"
        web_line = f"web: {host}:{web.port}, {access}"
    else:
        web_line = "web: disabled"
    history = config.history
    if history.enabled:
        history_line = (
            f"history: {history.directory}, kept {number(history.retention_days)} days"
            f" or {number(history.max_size_mb)} MB"
        )
    else:
        history_line = "history: disabled"
    return [devices, web_line, history_line]


def check_config_main(path: str | None) -> int:
    """``bussdcc-system check-config [PATH]``: 0 and a summary, or ``EX_CONFIG`` (78) and
    every error."""
    resolved, explicit = resolve_config_path(path)
    try:
        config = load_config(resolved, explicit=explicit)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return os.EX_CONFIG
    note = "" if resolved.exists() else " (no such file: built-in defaults)"
    print(f"OK: {resolved}{note}")
    for line in describe_config(config):
        print(f"  {line}")
    return os.EX_OK
