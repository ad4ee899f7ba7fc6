"""HTTP archives as inputs: HAR files and mitmproxy flow files, recognised by content.

A lab may hand over what a proxy or a browser recorded instead of packets: a HAR file (HTTP
Archive 1.2, from browsers, mitmproxy, HTTP Toolkit, Charles) or a mitmproxy flow file
(``mitmdump -w``).  Like the capture formats, they are recognised by their first bytes, not by
their names, also inside gzip/xz/bzip2/zstd, and mix freely with captures on one command line.
Their requests become the same ``http`` events the decoders make (scanner.decode.http_message),
so detection, attribution, policy and reports see no difference:

- ``ts``: when the request was sent; ``frame``: the entry's or flow's 1-based index in the file;
- ``flow``: the client address where the file records one (mitmproxy's client connection, a HAR
  entry's ``_clientAddress``), else ``unknown``; the server address the file records, else the
  URL's host; the URL's port;
- ``decrypted``: ``"HAR"`` / ``"mitmproxy"`` when the URL is https: the request travelled
  encrypted and the recording tool read it, so the channel is encrypted and decrypted;
- WebSocket messages the client sent (mitmproxy's ``websocket.messages``, Chrome's and mitmproxy's
  HAR ``_webSocketMessages``) become ``websocket`` events after their Upgrade request's.

Damaged entries are counted warnings on the capture; a file cut short ends with a warning after
the entries before the cut.  A file that is no archive at all never gets here (it is not
recognised, and the capture readers say so).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from scanner.decode.protocols.base import Anomalies
from scanner.ingest.archive_format import HAR, MITMPROXY, SNIFF_BYTES, archive_format
from scanner.ingest.har import read_har
from scanner.ingest.mitmproxy_flows import read_flows
from scanner.ingest.sources import CaptureSource, open_source
from scanner.model import Event
from scanner.results import CaptureInfo

__all__ = ["HAR", "MITMPROXY", "archive_events", "archive_format", "sniff_archive"]


def sniff_archive(source: CaptureSource) -> str | None:
    """The archive format of a file, or None for anything else (captures; standard input and
    FIFOs, which cannot be read twice: archives are given as regular files)."""
    if source.is_stdin:
        return None
    try:
        regular = stat.S_ISREG(os.stat(source.path).st_mode)
    except OSError:
        return None  # the capture reader says what is wrong with it
    if not regular:
        return None  # a FIFO or a device: reading its head here would take it from the capture reader
    opened = open_source(source)
    try:
        head = opened.stream.read(SNIFF_BYTES)
    except Exception:  # a damaged compressed file: the capture reader reports it
        return None
    finally:
        opened.close()
    return archive_format(head)


def archive_events(source: CaptureSource, kind: str, info: CaptureInfo, anomalies: Anomalies) -> Iterator[Event]:
    """The requests of a HAR or mitmproxy file, filling ``info`` (format, entries as packets,
    times, sha256 and size of the stored file, warnings) as they stream."""
    info.format = kind if not info.format else f"{kind}+{info.format}"
    opened = open_source(source)
    if opened.compression:
        info.format = f"{kind}+{opened.compression}"
    reader = read_har if kind == HAR else read_flows
    try:
        for event in reader(opened.stream, info, anomalies):
            if info.first_ts is None:
                info.first_ts = event.ts
            info.last_ts = event.ts if info.last_ts is None else max(info.last_ts, event.ts)
            yield event
        while opened.counter.read(1 << 20):  # hash the rest, as the capture readers do
            pass
    finally:
        info.sha256 = opened.counter.sha256.hexdigest()
        info.bytes = opened.counter.bytes_read
        opened.close()
