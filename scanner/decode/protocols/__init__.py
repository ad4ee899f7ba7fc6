"""Application protocols of the native decoder: one module per protocol.

Importing this package imports every module in it, so that each module's
decoder classes register themselves (see base.py).  An import error in a
protocol module is a bug and is raised, never swallowed.
"""

from __future__ import annotations

import importlib
import pkgutil

from scanner.decode.protocols.base import DATAGRAM_DECODERS, STREAM_DECODERS

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DATAGRAM_DECODERS", "STREAM_DECODERS"]
