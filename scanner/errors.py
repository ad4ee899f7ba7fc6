"""The exceptions privscan raises on purpose, and the exit status each one means.

Errors *from traffic* are never exceptions (they are counted and reported, see
docs/cli.md); these are for what a user must fix before a scan can run: a bad
command line or an unreadable capture (``InputError``), a broken signature file
(``SignatureError``) or configuration file (``ConfigError``).  The command line
catches ``PrivscanError``, prints ``str(error)`` as one line on stderr and exits
with ``error.exit_code``: no traceback.

``SignatureError`` and ``ConfigError`` name the file and the 1-based line, in the
``file:line: message`` form that editors and CI annotations understand.
"""

from __future__ import annotations

from pathlib import Path


class PrivscanError(Exception):
    """Base of every error privscan reports to its user instead of a traceback."""

    exit_code: int = 2


class InputError(PrivscanError):
    """Bad usage or unreadable input (a capture that cannot be opened, a bad option): exit 2."""


class _LocatedError(PrivscanError):
    """An error in a data file, located by file and 1-based line (``None`` when unknown)."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[type[_LocatedError], tuple[str, int | None, str]]:
        # Keeps the three fields when the error crosses a process boundary (parallel scans).
        return (type(self), (self.file, self.line, self.message))


class SignatureError(_LocatedError):
    """A signature file (``signatures/**``) that cannot be parsed or does not follow its schema."""


class ConfigError(_LocatedError):
    """A configuration file (inventory, allowlist, settings) that cannot be parsed or is invalid."""
