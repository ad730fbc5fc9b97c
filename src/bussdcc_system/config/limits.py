"""How much work a configuration file may ask for: the bounds on reading and checking it.

A real configuration is a few KiB and about a hundred values; these bounds are far above
that and far below what would stall the daemon. The file is read by the daemon's main
thread on every reload, so a hostile or mistaken file (a "billion laughs" of aliases and
merge keys, megabytes of comments, a value pasted a million times) must be refused
quickly, with a message that is itself short: each bound here is what keeps one of
those cases under a second and a few tens of MiB, and keeps every line of the error
list, and the list itself, short enough for a terminal, the journal and STATUS=.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_ISSUES",
    "MAX_KEY_CHARS",
    "MAX_MESSAGE_CHARS",
    "MAX_NUMBER_CHARS",
    "MAX_QUOTED_CHARS",
    "MAX_VALUES",
]

MAX_FILE_BYTES: Final = 128 * 1024
"""The file's size. The shipped file, every setting commented and explained, is 5 KiB;
reading YAML in pure Python costs about a second per MiB of comments here."""

MAX_VALUES: Final = 2_000
"""Keys, values and list items in the document with every alias and merge key expanded:
a full configuration has about 110 (the shipped file with every setting set), and an
LED on every GPIO pin adds 200. Each costs about 35 microseconds to read here (four
times that on a Pi 4), so the bound keeps a reload under a second there too. Counted
while the document is composed, before anything is built from it, so a few hundred
bytes of nested aliases cannot expand to billions."""

MAX_DEPTH: Final = 32
"""Levels of nesting, values included; a configuration uses four (the document, the
``devices`` list, a device, its values)."""

MAX_ISSUES: Final = 20
"""Problems listed one per line; the rest are counted in one last line."""

MAX_QUOTED_CHARS: Final = 60
"""Characters of a value from the file shown in a message, before the cut (``…``)."""

MAX_NUMBER_CHARS: Final = 100
"""Characters of a number read as one: a longer one is refused unread (``1:1:1:...`` in
base 60 would cost seconds of big-integer arithmetic)."""

MAX_KEY_CHARS: Final = 120
"""Characters of the key a message names (``devices[3].pin``), before the cut."""

MAX_MESSAGE_CHARS: Final = 300
"""Characters of one message after its key, before the cut: the last guard on line length."""
