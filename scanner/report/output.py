"""Where reports and event logs go: checked before a scan starts, so that a scan of a large
capture does not end in an error about the file it was meant to write, and opened so that a
failure to write (a full disk) is one line naming the file, not a traceback.

A file is written atomically (issue 15), as the audit writes its reports: into a temporary
file beside it, flushed to disk, then renamed over it.  A scan killed while writing, or a
full disk, leaves the previous report whole, never half of a new one that a CI job or a
dashboard would read as complete.  A destination that is not a regular file (``/dev/null``,
a pipe) is written in place: renaming over it would replace the device."""

from __future__ import annotations

import os
import secrets
import stat
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
        if path.exists() and not path.is_file():
            with path.open("wb") if binary else path.open("w", encoding="utf-8", newline="") as stream:
                yield stream
            return
        with _atomic(path, binary) as stream:
            yield stream
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextmanager
def _atomic(path: Path, binary: bool) -> Iterator[IO[Any]]:
    """A temporary file in the same directory (a rename is atomic only within one file
    system), renamed over ``path`` once written and synced; removed on any failure."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)  # replacing a report keeps its permissions
    except FileNotFoundError:
        mode = None
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # 0o666 less the umask, as open() would give the report itself (mkstemp's 0600 would
            # hide it from the web server that publishes it).
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
