"""Ingest: captures in, frame records out, in bounded memory.

``open_capture`` yields the frames of one capture source and fills its
``CaptureInfo`` (format, link types, sha256 and size of the stored file,
warnings).  See sources.py for inputs and decompression, readers.py for the
pcap / pcapng formats, archives.py (har.py, mitmproxy_flows.py) for HAR and
mitmproxy flow files, which the engines read as requests instead of frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from scanner.ingest.readers import FrameRecord, SecretsCallback, read_frames
from scanner.ingest.sources import CaptureSource, OpenedCapture, expand_inputs, open_source
from scanner.results import CaptureInfo

__all__ = ["CaptureSource", "FrameRecord", "ReadingCapture", "SecretsCallback", "expand_inputs", "open_capture"]


@dataclass(slots=True)
class ReadingCapture:
    """A capture being read: its info (filled as it streams) and its frames."""

    info: CaptureInfo
    frames: Iterator[FrameRecord]
    _opened: OpenedCapture

    def bytes_read(self) -> int:
        """Bytes of the stored file read so far, for progress bars."""
        return self._opened.counter.bytes_read


@contextmanager
def open_capture(
    source: CaptureSource, hashing: bool = True, secrets: SecretsCallback | None = None
) -> Iterator[ReadingCapture]:
    """Open a capture; on exit the info holds the sha256 (unless not ``hashing``: a second
    reader of the same file, run/sharded.py) and size of the whole stored file.  ``secrets``
    gets the pcapng Decryption Secrets Blocks as the reading meets them."""
    info = CaptureInfo(path=source.path)
    opened = open_source(source, hashing)
    finished = False
    try:
        if opened.compression:
            info.format = opened.compression
        yield ReadingCapture(info, read_frames(opened.stream, info, secrets), opened)
        finished = True
    finally:
        counter = opened.counter
        if finished and hashing:
            # Hash what was not read (a capture abandoned at a damaged record) so the digest
            # names the whole file, as sha256sum would.  Not when the scan itself stopped (an
            # error, ^C, a closed pipe): reading on would only delay the exit.
            try:
                while counter.read(1 << 20):
                    pass
            except OSError:
                pass
        info.sha256 = counter.sha256.hexdigest()
        info.bytes = counter.bytes_read
        if opened.compression and info.format and not info.format.endswith(opened.compression):
            info.format = f"{info.format}+{opened.compression}"
        opened.close()
