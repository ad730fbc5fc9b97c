"""Power and throttling flags of a Raspberry Pi, from the firmware.

``vcgencmd get_throttled`` prints ``throttled=0x50005``: bits 0-3 are under-voltage,
ARM frequency capped, throttled and soft temperature limit *now*; bits 16-19 the same
four *since boot*. Without vcgencmd (or without access to ``/dev/vcio``) the
``rpi_volt`` hwmon sensor's ``in0_lcrit_alarm`` still says whether the Pi is
under-voltage now (the driver polls the firmware every 2 s). The firmware forgets
at reboot; the history keeps what happened.

``system.throttling.updated`` is emitted on the first poll after attach and then only
when a flag changes, with ``changed`` naming the flags that did.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Sequence
from typing import Final

from bussdcc import DeviceError
from bussdcc_system import messages as m
from bussdcc_system import throttling_flags
from bussdcc_system.devices import PolledDevice
from bussdcc_system.host import HostRoot

log = logging.getLogger("bussdcc_system.devices.throttling")

DEFAULT_VCGENCMD: Final = "/usr/bin/vcgencmd"

_OUTPUT = re.compile(r"throttled=(0x[0-9a-fA-F]+|\d+)")
_VCIO_HINT: Final = (
    "vcgencmd cannot open /dev/vcio: the user running bussdcc-system must be in group "
    "'video' (and a systemd unit with DevicePolicy= needs DeviceAllow=/dev/vcio rw)"
)

Flags = dict[str, bool | None]


def parse_get_throttled(output: str) -> int:
    """``throttled=0x50005`` -> 0x50005; ``ValueError`` for anything else."""
    match = _OUTPUT.search(output)
    if match is None:
        raise ValueError(f"expected 'throttled=0x...', got {output.strip()[:80]!r}")
    return int(match.group(1), 0)


class _NotInstalled(Exception):
    pass


class ThrottlingDevice(PolledDevice):
    """Reads the flags through ``command`` (an argv list, ``vcgencmd get_throttled``) or,
    failing that, the ``rpi_volt`` hwmon under-voltage alarm found under ``host``."""

    kind = "throttling"

    def __init__(
        self,
        id: str = "throttling",
        *,
        host: HostRoot | None = None,
        command: Sequence[str] | None = (DEFAULT_VCGENCMD, "get_throttled"),
        interval: float = 5.0,
        timeout: float = 2.0,
    ) -> None:
        super().__init__(id, interval=interval)
        self.host = host or HostRoot()
        self.command = tuple(command) if command else None
        self.timeout = timeout
        self.source: str | None = None
        """``"vcgencmd"`` or ``"hwmon"`` once connected."""
        self.alarm_path: str | None = None
        self.last: Flags | None = None

    # -- reading ----------------------------------------------------------------------

    def _run_vcgencmd(self) -> int:
        assert self.command is not None
        try:
            proc = subprocess.run(
                self.command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise _NotInstalled from None
        except PermissionError:
            raise DeviceError(f"{self.command[0]} is not executable (permission denied)") from None
        except subprocess.TimeoutExpired:
            raise DeviceError(
                f"{' '.join(self.command)} did not answer within {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise DeviceError(f"cannot run {self.command[0]}: {exc.strerror or exc}") from None
        output = (proc.stdout or "") + (proc.stderr or "")
        if "Can't open device file" in output or "/dev/vcio" in output:
            raise DeviceError(_VCIO_HINT)
        if proc.returncode != 0:
            first = output.strip().splitlines()[0] if output.strip() else "no output"
            raise DeviceError(
                f"{' '.join(self.command)} failed with exit status {proc.returncode}: {first}"
            )
        try:
            return parse_get_throttled(output)
        except ValueError as exc:
            raise DeviceError(f"{' '.join(self.command)}: {exc}") from None

    def _read_alarm(self) -> bool:
        assert self.alarm_path is not None
        value = self.host.read_int(self.alarm_path)
        if value is None:
            raise DeviceError(f"cannot read {self.alarm_path} (rpi_volt under-voltage alarm)")
        return value != 0

    def read(self) -> tuple[int | None, Flags]:
        """The current raw value (None from hwmon) and flags (None = unknown)."""
        if self.source == "vcgencmd":
            raw = self._run_vcgencmd()
            return raw, dict(throttling_flags.decode(raw))
        flags: Flags = dict.fromkeys(throttling_flags.FIELDS)
        flags[throttling_flags.UNDER_VOLTAGE.field] = self._read_alarm()
        return None, flags

    # -- Device -----------------------------------------------------------------------

    def connect(self) -> None:
        self.source, self.last = None, None
        hwmon = self.host.find_hwmon("rpi_volt")
        self.alarm_path = f"{hwmon}/in0_lcrit_alarm" if hwmon else None
        problem: str | None = None
        if self.command is not None:
            try:
                self._run_vcgencmd()
            except _NotInstalled:
                problem = None
            except DeviceError as exc:
                problem = str(exc)
            else:
                self.source = "vcgencmd"
                return
        if self.alarm_path is not None and self.host.read_int(self.alarm_path) is not None:
            self.source = "hwmon"
            if problem:
                log.warning("%s; reporting under-voltage only, from rpi_volt", problem)
            return
        if problem:
            raise DeviceError(problem)
        where = self.command[0] if self.command else "vcgencmd"
        raise DeviceError(
            f"no throttling information on this host: {where} is not installed "
            "(package raspi-utils) and there is no rpi_volt sensor under /sys/class/hwmon "
            "(not a Raspberry Pi?)"
        )

    def disconnect(self) -> None:
        self.source, self.last = None, None

    def poll(self) -> None:
        raw, flags = self.read()
        last = self.last
        if flags == last:
            return
        if last is None:
            changed = tuple(f for f in throttling_flags.FIELDS if flags.get(f) is not None)
        else:
            changed = tuple(f for f in throttling_flags.FIELDS if flags.get(f) != last.get(f))
        self.last = flags
        assert self.ctx is not None and self.source is not None
        self.ctx.emit(
            m.throttling_updated(
                device=self.id, source=self.source, raw=raw, flags=flags, changed=changed
            )
        )


__all__ = [
    "DEFAULT_VCGENCMD",
    "ThrottlingDevice",
    "parse_get_throttled",
]
