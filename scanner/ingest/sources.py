"""Where captures come from: files, directories, globs and standard input.

``expand_inputs`` turns command-line arguments into an ordered list of
``CaptureSource`` (files sorted by name inside a directory, as rotating
capture tools number them).  Opening a source gives a binary stream that
hashes and counts the bytes as they are read, so the report can name the
exact file it scanned without reading it twice, and that is transparently
decompressed when the file is gzip, xz, bzip2 or zstd.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import io
import lzma
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from scanner.errors import InputError
from scanner.ingest.archive_format import SNIFF_BYTES, archive_format

STDIN = "-"

# Magic numbers of what we read (pcap: both byte orders and both resolutions; pcapng SHB).
CAPTURE_MAGICS = (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a",
)
GZIP_MAGIC = b"\x1f\x8b"
XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZIP2_MAGIC = b"BZh"
COMPRESSED_MAGICS = (GZIP_MAGIC, XZ_MAGIC, ZSTD_MAGIC, BZIP2_MAGIC)

_GLOB_CHARS = frozenset("*?[")


class ByteStream(Protocol):
    """What readers need of a stream: files, decompressors and stdin all have it."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CaptureSource:
    """One capture to read.  ``path`` is what the report shows (``-`` for stdin); ``location``,
    when given, is where to open it (a Dask worker opens the absolute path of a capture the
    user named relative to where privscan runs, and the report still shows the name)."""

    path: str
    location: str | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN


class CountingReader(io.RawIOBase):
    """A raw stream that hashes (sha256) and counts every byte read through it."""

    def __init__(self, raw: BinaryIO, hashing: bool = True) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()
        self._hashing = hashing
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._hashing:
            self.sha256.update(data)
        self.bytes_read += n
        return n

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer:
            self._raw.close()
        super().close()


@dataclass(slots=True)
class OpenedCapture:
    """An opened capture: the (decompressed) stream, plus the counter of the stored bytes."""

    stream: ByteStream
    counter: CountingReader
    compression: str | None

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            self.counter.close()


def expand_inputs(arguments: Iterable[str]) -> list[CaptureSource]:
    """Turn CLI arguments into capture sources.  Raises InputError for a missing path."""
    sources: list[CaptureSource] = []
    for argument in arguments:
        if argument == STDIN:
            sources.append(CaptureSource(STDIN))
            continue
        path = Path(argument)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            found = [CaptureSource(str(p)) for p in files if looks_like_capture(p)]
            if not found:
                # Most likely the wrong directory: an audit that scans nothing must not pass.
                raise InputError(f"no capture in directory {argument}")
            sources.extend(found)
            continue
        if path.exists():
            if not path.is_file():
                raise InputError(f"not a regular file: {argument}")
            sources.append(CaptureSource(str(path)))
            continue
        if _GLOB_CHARS & set(argument):
            matches = sorted(m for m in glob.glob(argument, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"no capture matches {argument!r}")
            sources.extend(CaptureSource(m) for m in matches)
            continue
        raise InputError(f"no such file or directory: {argument}")
    return sources


def looks_like_capture(path: Path) -> bool:
    """Whether a file inside a directory is a capture (by its first bytes, not its name)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    # HAR and mitmproxy flow files count too (scanner/ingest/archives.py).
    return head.startswith(CAPTURE_MAGICS) or head.startswith(COMPRESSED_MAGICS) or archive_format(head) is not None


def open_source(source: CaptureSource, hashing: bool = True) -> OpenedCapture:
    """Open a source for streaming; decompression is chosen by magic number, not by name."""
    if source.is_stdin:
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(source.location or source.path, "rb")
        except FileNotFoundError:
            raise InputError(f"no such file: {source.path}") from None
        except IsADirectoryError:
            raise InputError(f"is a directory: {source.path}") from None
        except PermissionError:
            raise InputError(f"permission denied: {source.path}") from None
        except OSError as exc:
            raise InputError(f"cannot open {source.path}: {exc.strerror or exc}") from None
    counter = CountingReader(raw, hashing)
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    head = buffered.peek(8)[:8]
    stream: ByteStream
    compression: str | None = None
    if head.startswith(GZIP_MAGIC):
        stream, compression = gzip.GzipFile(fileobj=buffered, mode="rb"), "gzip"
    elif head.startswith(XZ_MAGIC):
        stream, compression = lzma.LZMAFile(buffered, mode="rb"), "xz"
    elif head.startswith(BZIP2_MAGIC):
        stream, compression = bz2.BZ2File(buffered, mode="rb"), "bzip2"
    elif head.startswith(ZSTD_MAGIC):
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(buffered, read_size=1 << 20)
        compression = "zstd"
    else:
        stream = buffered
    return OpenedCapture(stream=stream, counter=counter, compression=compression)
