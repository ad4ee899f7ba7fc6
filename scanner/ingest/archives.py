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
import re
import stat
from collections.abc import Iterator
from urllib.parse import urlsplit

from scanner.decode.http_message import request_from_fields
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.websocket import MAX_MESSAGE_BYTES
from scanner.ingest.sources import SNIFF_BYTES, CaptureSource, open_source
from scanner.model import CaptureInfo, Event, FlowTuple, HttpRequest, WebSocketMessage

HAR = "har"
MITMPROXY = "mitmproxy"

_HAR_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"log"\s*:')
# A tnetstring (mitmproxy's serialisation): "<length>:" then a dict whose first key is a string
# ("<length>:<key>;"), the key in lower case ASCII (mitmproxy's field names).
_MITMPROXY_HEAD = re.compile(rb"\A[1-9][0-9]{0,11}:[1-9][0-9]{0,2}:[a-z_]{1,40};")
UNKNOWN_CLIENT = "unknown"


def archive_format(head: bytes) -> str | None:
    """``"har"``, ``"mitmproxy"`` or None, from the first bytes of a (decompressed) file."""
    if _HAR_HEAD.match(head):
        return HAR
    if _MITMPROXY_HEAD.match(head):
        return MITMPROXY
    return None


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
    from scanner.ingest.har import read_har
    from scanner.ingest.mitmproxy_flows import read_flows

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


def request_event(
    *,
    method: str,
    url: str,
    version: str,
    fields: list[tuple[str, str]],
    body: bytes,
    ts: float,
    capture: str,
    index: int,
    client: str | None,
    client_port: int,
    server: str | None,
    tool: str,
    anomalies: Anomalies,
) -> Event | None:
    """The ``http`` event of one recorded request (the URL gives scheme, authority and path)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port if _valid_port(parts) else None
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    host = parts.hostname or ""
    authority = parts.netloc.rpartition("@")[2]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    # HTTP/3 travels over QUIC (UDP); everything else a proxy or browser records, over TCP.
    proto = "udp" if version.lower() in ("http/3", "http/3.0", "h3") else "tcp"
    pseudo = [(":method", method), (":authority", authority), (":path", path)]
    flow = FlowTuple(proto, client or UNKNOWN_CLIENT, client_port, (server or host).strip("[]"), port)
    return request_from_fields(
        pseudo + fields,
        body,
        ts=ts,
        capture=capture,
        frame=index,
        flow=flow,
        version=_version_name(version),
        anomalies=anomalies,
        anomaly_prefix=tool,
        decrypted=("HAR" if tool == HAR else "mitmproxy") if scheme in ("https", "wss") else None,
    )


# One message: (sent by the client, opcode: 1 text / 2 binary, payload, time).
RecordedMessage = tuple[bool, int, bytes, float]


def websocket_events(upgrade: Event, messages: list[RecordedMessage], anomalies: Anomalies) -> list[Event]:
    """The messages a client sent on a recorded WebSocket (RFC 6455), as the ``websocket`` events
    the native decoder makes after an Upgrade: host and target from the upgrading request, the
    same frame (the entry or flow), each message's own time.  The server's messages are not read,
    as in captures; payloads are kept up to the decoder's bound."""
    if not isinstance(upgrade, HttpRequest):
        return []
    events: list[Event] = []
    for from_client, opcode, payload, ts in messages:
        if not from_client or opcode not in (1, 2):
            continue
        truncated = len(payload) > MAX_MESSAGE_BYTES
        events.append(
            WebSocketMessage(
                ts=ts,
                capture=upgrade.capture,
                frame=upgrade.frame,
                flow=upgrade.flow,
                tunnel=None,
                host=upgrade.host,
                uri=upgrade.uri,
                opcode="text" if opcode == 1 else "binary",
                length=len(payload),
                truncated=truncated,
                decrypted=upgrade.decrypted,
                payload=payload[:MAX_MESSAGE_BYTES],
            )
        )
    return events


def _valid_port(parts: object) -> bool:
    try:
        return getattr(parts, "port", None) is not None
    except ValueError:  # a port out of range in the URL
        return False


def _version_name(version: str) -> str:
    """HAR writers say "HTTP/2.0", "h2", "http/2.0"; the events say HTTP/2 as the decoders do."""
    lowered = version.strip().lower()
    if lowered in ("http/2", "http/2.0", "h2", "h2c"):
        return "HTTP/2"
    if lowered in ("http/3", "http/3.0", "h3"):
        return "HTTP/3"
    if lowered in ("http/1.0", "http/1.1"):
        return lowered.upper()
    return "HTTP/1.1"
