"""The tshark engine's protocol builders: one module per protocol.

Importing this package imports every module in it, so that each module's
``LayerBuilder`` subclasses register themselves (scanner/engines/tshark/builder.py),
in module-name order, which is the order a frame's events come out in.  An import
error in a builder module is a bug and is raised, never swallowed.
"""

from __future__ import annotations

import importlib
import pkgutil

from scanner.engines.tshark.builder import BUILDERS

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BUILDERS"]
