"""Where reports and event logs go: checked before a scan starts, so that a scan of a large
capture does not end in an error about the file it was meant to write."""

from __future__ import annotations

import os
from pathlib import Path

from scanner.errors import InputError


def check_writable(destination: str | os.PathLike[str] | None) -> None:
    """Fail before a scan, not after an hour of it, when a report could not be written there."""
    if destination is None or os.fspath(destination) == "-":
        return
    path = Path(destination)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a report file")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{path}: no such directory: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{path}: not writable")
