"""ConsoleSink: the seed's structured JSON lines on stdout (the journal, under systemd).

One line per event: ``{"time", "name", "severity", "data"}``. Telemetry samples
(``*.updated``) arrive every second or two; writing each to the journal would double
the SD card's write load, so they are printed only at level ``debug``. Everything
else at or above the configured level (lifecycle, health changes, errors) is printed.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from bussdcc import Event, Message, Severity
from bussdcc_system.formatting import iso_time

TELEMETRY_SUFFIX = ".updated"


class ConsoleSink:
    def __init__(self, level: str = "info", stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.level = Severity.parse(level)
        self.lines = 0

    def set_level(self, level: str) -> None:
        self.level = Severity.parse(level)

    def wants(self, evt: Event[Message]) -> bool:
        if evt.severity < self.level:
            return False
        return not (evt.name.endswith(TELEMETRY_SUFFIX) and self.level > Severity.DEBUG)

    def handle(self, evt: Event[Message]) -> None:
        if not self.wants(evt):
            return
        record = {
            "time": iso_time(evt.time),
            "name": evt.name,
            "severity": evt.severity.name.lower(),
            "data": evt.data,
        }
        self.stream.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self.stream.flush()
        self.lines += 1
