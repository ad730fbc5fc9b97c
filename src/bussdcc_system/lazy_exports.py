"""A package's public names, each loaded from its module on first use (PEP 562).

Importing a light module of a package (``web.listener``, ``history.sink``) runs the
package's ``__init__``; if that imported everything it names, the daemon's start-up
would load Flask and the query stack before ``READY=1``. Instead the package lists where
each name lives and lets this module's ``__getattr__`` import it when it is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: name -> the module it lives in."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__


__all__ = ["lazy_exports"]
