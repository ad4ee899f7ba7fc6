"""Where captures come from: files, directories, globs and standard input.

``expand_inputs`` turns command-line arguments into an ordered list of
``CaptureSource`` (files sorted by name inside a directory, as rotating
capture tools number them; pipes and devices named on the command line, such
as a shell's ``<(zcat x.pcap.gz)``, are streams like ``-``).  Opening a source gives a binary stream that
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
import stat
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
    # A pipe or a character device named by path (``<(zcat x.pcap.gz)`` is ``/dev/fd/63``):
    # read once, front to back, like standard input.
    stream: bool = False

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN

    @property
    def is_stream(self) -> bool:
        """Read only once and in order: never reopened, never handed to another process."""
        return self.stream or self.path == STDIN


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


class ZstdStream:
    """A zstd decompressor that notices a file cut short, as gzip, xz and bzip2 do.

    zstandard's stream reader ends silently when its input ends inside a frame (a
    capture cut at 2/3 read as 1,267 of 1,723 packets, no warning; a small cut file
    as "not a capture file").  Here the compressed bytes pass through ``_ZstdFrames``,
    which follows the frame layout (RFC 8878 s3.1: frame header, block headers with
    their sizes, optional checksum; skippable frames); when the decompressed stream
    ends and the input did not end on a frame boundary, ``read`` raises ``EOFError``
    like ``gzip``.  Output stays bounded by the size asked of each read.
    """

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._frames = _ZstdFrames(raw)
        self._reader = zstandard.ZstdDecompressor().stream_reader(self._frames, read_size=1 << 20, read_across_frames=True)  # type: ignore[arg-type]  # it needs only read()

    def _check(self, data: bytes) -> bytes:
        if not data and not self._frames.at_boundary:
            raise EOFError("zstd stream cut short: the file ends inside a frame")
        return data

    def read(self, size: int = -1, /) -> bytes:
        parts = []
        have = 0
        while size < 0 or have < size:
            data = self._reader.read(size - have if size > 0 else 1 << 20)
            if not data:
                break
            parts.append(data)
            have += len(data)
        # What was read is returned; the next read, at the end, says the file was cut.
        return b"".join(parts) if parts else self._check(b"")

    def read1(self, size: int = -1, /) -> bytes:
        return self._check(self._reader.read1(size if size > 0 else 1 << 20))

    def close(self) -> None:
        self._reader.close()


_ZSTD_FRAME = 0xFD2FB528
_SKIPPABLE_MASK, _SKIPPABLE = 0xFFFFFFF0, 0x184D2A50


class _ZstdFrames:
    """Passes compressed bytes through while tracking where zstd frames end (RFC 8878)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._header = bytearray()  # bytes of the structure being read
        self._need = 4  # bytes that structure needs
        self._skip = 0  # bytes of content (block or skippable frame) to pass over
        self._state = "magic"
        self._checksum = 0
        self.valid = True  # False once the input is not zstd: the decompressor will say why

    @property
    def at_boundary(self) -> bool:
        return not self.valid or (self._state == "magic" and not self._header and not self._skip)

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if self.valid:
            self._follow(memoryview(data))
        return data

    def _follow(self, data: memoryview) -> None:
        position = 0
        while position < len(data):
            if self._skip:
                step = min(self._skip, len(data) - position)
                self._skip -= step
                position += step
                continue
            take = min(self._need - len(self._header), len(data) - position)
            self._header += data[position : position + take]
            position += take
            if len(self._header) == self._need:
                header = bytes(self._header)
                self._header.clear()
                self._advance(header)
                if not self.valid:
                    return

    def _advance(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(header, "little")
            if magic == _ZSTD_FRAME:
                self._state, self._need = "descriptor", 1
            elif magic & _SKIPPABLE_MASK == _SKIPPABLE:
                self._state, self._need = "skippable", 4
            else:
                self.valid = False
        elif state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
        elif state == "descriptor":
            descriptor = header[0]
            single_segment = descriptor >> 5 & 1
            content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
            self._checksum = 4 if descriptor & 0x04 else 0
            self._skip = (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 0x03] + content_size
            self._state, self._need = "block", 3
        elif state == "block":
            value = int.from_bytes(header, "little")
            last, kind, size = value & 1, value >> 1 & 3, value >> 3
            self._skip = 1 if kind == 1 else size  # an RLE block holds one byte, repeated
            if last:
                self._state, self._need = ("checksum", self._checksum) if self._checksum else ("magic", 4)
        elif state == "checksum":
            self._state, self._need = "magic", 4


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
            mode = path.stat().st_mode
            if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
                sources.append(CaptureSource(str(path), stream=True))
            elif not stat.S_ISREG(mode):
                raise InputError(f"not a regular file, pipe or device: {argument}")
            else:
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
        stream, compression = ZstdStream(buffered), "zstd"
    else:
        stream = buffered
    return OpenedCapture(stream=stream, counter=counter, compression=compression)
