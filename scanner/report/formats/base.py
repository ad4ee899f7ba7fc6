"""The report-format interface: one class per format, registered by being declared.

A format is a subclass of ``ReportFormat`` in its own module of this package
(``scanner/report/formats/<name>.py``) with three class attributes and one
method::

    class CsvReport(ReportFormat):
        name = "csv"                 # what --format takes
        extensions = (".csv",)       # how -o report.csv picks it
        binary = False               # render() returns str (bytes when True)

        def render(self, result: ScanResult) -> str: ...

Declaring the class is enough: ``__init_subclass__`` puts it in ``FORMATS``,
and the package ``__init__`` imports every module of the package, so the
command line never keeps a list of formats (mitmproxy's and bandit's way).
A format receives only the ``ScanResult``: it never sees the engine, the
pipeline or the settings, so every output is a pure function of the result
and of the few ``RenderOptions`` below.

How the command line uses it::

    from scanner.report.formats import get_format, format_for_path, write_report
    fmt = get_format(name)(RenderOptions(stable=..., width=...))   # or format_for_path("out.sarif")
    write_report(result, fmt, path_or_None)                         # None or "-" = stdout

Determinism: every format's bytes depend only on the ``ScanResult``; nothing
reads the clock.  The one run-dependent value in a result is
``stats["elapsed_s"]``; ``RenderOptions(stable=True)`` (the command line sets it
when ``PRIVSCAN_STABLE_REPORT=1``, scanner/settings.py) writes it as ``null`` / leaves it out,
so the serial and the parallel scans of the same input give byte-identical
reports, and golden files need no blanking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from scanner.errors import InputError
from scanner.report.output import open_output
from scanner.results import ScanResult

# name -> format class; filled by ReportFormat.__init_subclass__
FORMATS: dict[str, type[ReportFormat]] = {}


DEFAULT_FORMAT = "table"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a caller may choose about an output, beyond the ScanResult itself.

    ``stable``: leave out what differs between two runs over the same input
    (``stats.elapsed_s``), for byte-for-byte comparisons; the command line sets it from
    its settings (scanner.settings, ``PRIVSCAN_STABLE_REPORT``); ``None`` = not stable.
    ``width``: the table's width in columns; ``None`` = the terminal's, or 100
    when the output is not a terminal.
    ``color``: the table's colours; ``None`` = colours only when writing to a
    terminal (and ``NO_COLOR`` unset, which rich honours).
    """

    stable: bool | None = None
    width: int | None = None
    color: bool | None = None

    @property
    def is_stable(self) -> bool:
        return bool(self.stable)


class ReportFormat:
    """Base of every report format.  Subclasses set the class attributes and ``render``."""

    name: ClassVar[str] = ""
    extensions: ClassVar[tuple[str, ...]] = ()
    binary: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            return  # an abstract intermediate class
        if cls.name in FORMATS and FORMATS[cls.name].__qualname__ != cls.__qualname__:
            # Two modules claiming one name is a bug, not something to resolve by import order.
            raise TypeError(f"report format {cls.name!r} declared twice: {FORMATS[cls.name]!r} and {cls!r}")
        FORMATS[cls.name] = cls

    def __init__(self, options: RenderOptions | None = None) -> None:
        self.options = options if options is not None else RenderOptions()

    def render(self, result: ScanResult) -> str | bytes:
        """The whole report: ``str`` for text formats, ``bytes`` when ``binary``."""
        raise NotImplementedError

    def write(self, result: ScanResult, stream: IO[Any]) -> None:
        """Write the report to an open stream: a text stream for text formats, a binary one when ``binary``.

        Formats that behave differently on a terminal (the table) override this.
        """
        stream.write(self.render(result))


def available_formats() -> list[str]:
    """Every format name, sorted (for --format's choices and help)."""
    return sorted(FORMATS)


def get_format(name: str) -> type[ReportFormat]:
    """The format class called ``name``; ``InputError`` (exit 2) when there is none."""
    try:
        return FORMATS[name.strip().lower()]
    except KeyError:
        raise InputError(f"unknown report format {name!r}; choose one of: {', '.join(available_formats())}") from None


def format_for_path(path: str | os.PathLike[str]) -> type[ReportFormat] | None:
    """The format whose extension ends ``path`` (longest extension first), or None.

    ``report.sarif.json`` is SARIF, not JSON: extensions are compared longest first.
    """
    lowered = os.fspath(path).lower()
    candidates = [(ext, cls) for cls in FORMATS.values() for ext in cls.extensions]
    for ext, cls in sorted(candidates, key=lambda item: (-len(item[0]), item[0])):
        if lowered.endswith(ext):
            return cls
    return None


def write_report(result: ScanResult, fmt: ReportFormat, destination: str | os.PathLike[str] | None) -> None:
    """Write one report to a file, or to standard output when ``destination`` is None or ``-``
    (``scanner.report.output.open_output``)."""
    with open_output(destination, binary=fmt.binary) as stream:
        fmt.write(result, stream)

