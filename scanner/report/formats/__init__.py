"""Report formats: one module per format, each declaring a ``ReportFormat`` subclass.

Importing this package imports every module in it, so that declaring a format
class is all it takes to add one (see ``base``).  An import error in a format
module propagates: a broken format is a bug to see at once, never a format
that silently disappears from ``--format``'s choices.
"""

from __future__ import annotations

import importlib
import pkgutil

from scanner.report.formats.base import (
    DEFAULT_FORMAT,
    FORMATS,
    RenderOptions,
    ReportFormat,
    available_formats,
    format_for_path,
    get_format,
    write_report,
)

__all__ = [
    "DEFAULT_FORMAT",
    "FORMATS",
    "RenderOptions",
    "ReportFormat",
    "available_formats",
    "format_for_path",
    "get_format",
    "write_report",
]


def _import_every_format() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        importlib.import_module(f"{__name__}.{module.name}")


_import_every_format()
