"""Which file is the configuration, and reading it: path, bytes, text, nodes, ``Config``.

Only the default path may be absent (it then means the built-in defaults); a file asked
for explicitly must exist. At most ``MAX_FILE_BYTES`` are read: a larger file (or
``/dev/zero``) is refused without reading the rest. Every failure is a
:class:`ConfigError` naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from bussdcc_system.config.issues import ConfigError, ConfigIssue
from bussdcc_system.config.limits import MAX_FILE_BYTES
from bussdcc_system.config.schema import Config
from bussdcc_system.config.walker import walk
from bussdcc_system.config.yaml_nodes import compose

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "load_config",
    "parse_config",
    "resolve_config_path",
]

DEFAULT_CONFIG_PATH: Final = Path("/etc/bussdcc-system/config.yaml")
CONFIG_ENV: Final = "BUSSDCC_SYSTEM_CONFIG"


def resolve_config_path(
    cli_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, bool]:
    """Which file to read, and whether it was asked for explicitly (``--config`` or
    ``$BUSSDCC_SYSTEM_CONFIG``). Only the default path may be absent."""
    if cli_path is not None:
        return Path(cli_path), True
    env = (os.environ if environ is None else environ).get(CONFIG_ENV, "")
    if env:
        return Path(env), True
    return DEFAULT_CONFIG_PATH, False


def load_config(path: str | os.PathLike[str] | None = None, *, explicit: bool = False) -> Config:
    """Read and validate a configuration file; raise :class:`ConfigError` listing every
    problem. With ``path`` None the file comes from :func:`resolve_config_path`. A
    missing file means the built-in defaults unless it was asked for ``explicit``-ly."""
    if path is None:
        resolved, from_env = resolve_config_path(None)
        explicit = explicit or from_env
    else:
        resolved = Path(path)
    source = str(resolved)

    def fail(message: str, line: int | None = None) -> ConfigError:
        return ConfigError([ConfigIssue(source, line, "", message)])

    try:
        # O_NONBLOCK: a FIFO given as the file must not hang check-config or a reload
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                # (a device reads, non-blocking: /dev/null is an empty file)
                raise fail(f"cannot read {source}: it is {_kind(st.st_mode)}, not a file")
            data = file.read(MAX_FILE_BYTES + 1)
            size = st.st_size
    except FileNotFoundError:
        if not explicit:
            return Config(source=source)
        raise fail(f"cannot read {source}: no such file") from None
    except IsADirectoryError:
        raise fail(f"cannot read {source}: it is a directory, not a file") from None
    except PermissionError:
        raise fail(f"cannot read {source}: permission denied") from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise fail(f"cannot read {source}: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        what = f"{size:,} bytes, more" if size > MAX_FILE_BYTES else "more"
        raise fail(
            f"cannot read {source}: it is {what} than the limit of {MAX_FILE_BYTES:,} bytes"
            f" ({MAX_FILE_BYTES // 1024} KiB; a configuration is a few KiB)"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded", line
        ) from None
    return parse_config(text, source)


def _kind(mode: int) -> str:
    """What a path that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    return "a socket"


def parse_config(text: str, source: str = "<string>") -> Config:
    """Validate YAML text; ``source`` names it in messages (its basename is shown)."""
    return walk(compose(text, source), source)
