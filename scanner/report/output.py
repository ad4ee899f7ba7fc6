"""Where reports and event logs go: checked before a scan starts, so that a scan of a large
capture does not end in an error about the file it was meant to write, and opened so that a
failure to write (a full disk) is one line naming the file, not a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from scanner.errors import InputError

Destination = str | os.PathLike[str] | None  # None or "-": standard output


def is_stdout(destination: Destination) -> bool:
    return destination is None or os.fspath(destination) == "-"


def check_writable(destination: Destination) -> None:
    """Fail before a scan, not after an hour of it, when a report could not be written there."""
    if is_stdout(destination):
        return
    assert destination is not None
    path = Path(destination)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a report file")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{path}: no such directory: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{path}: not writable")


@contextmanager
def open_output(destination: Destination, *, binary: bool = False) -> Iterator[IO[Any]]:
    """The stream to write to: the file, as UTF-8 with no newline translation (CSV's CRLF
    stays CRLF), or standard output.  Opening, writing or closing the file fails with an
    ``InputError`` naming it.  On standard output, the reader leaving (``privscan events x |
    head``) ends the command with status 0; its other errors (a full disk) go up to the
    command line."""
    if is_stdout(destination):
        try:
            yield sys.stdout.buffer if binary else sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            # Not an error: what is left to write, and the interpreter's last flush, go nowhere
            # instead of raising again (click would otherwise turn it into status 1).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(0) from None
        return
    assert destination is not None
    path = Path(destination)
    try:
        with path.open("wb") if binary else path.open("w", encoding="utf-8", newline="") as stream:
            yield stream
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
