"""Code-backed policy rules: one module per rule, named ``ps<id>_<slug>.py``.

Importing this package imports every module in it, so that declaring a
``CodeRule`` subclass is all it takes to add a rule.  An import error is a bug
and is raised, never swallowed.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")
