"""HAR files (HTTP Archive 1.2, W3C Web Performance WG draft, http://www.softwareishard.com/blog/har-12-spec/).

Written by browsers' developer tools (Chrome, Firefox, Safari), mitmproxy (``hardump``), HTTP
Toolkit, Charles, Fiddler.  What is read of each ``log.entries[]`` entry:

- ``request``: ``method``, ``url``, ``httpVersion``, ``headers[]`` (names compared in lower case;
  Chrome records HTTP/2's pseudo-header fields among them), ``cookies[]`` (used when no Cookie
  header was recorded), ``postData`` (``text``, base64 when ``encoding`` says so, or ``params[]``
  rebuilt as a form);
- ``startedDateTime`` (ISO 8601): the event's time;
- ``serverIPAddress`` (IPv6 in brackets in Chrome's): the destination address;
- the client address, which HAR 1.2 has no field for: the custom ``_clientAddress`` /
  ``_clientIPAddress`` fields where a writer adds one.

Streaming: the file is parsed with ijson (the yajl2 C backend), one entry at a time, and each
entry's ``response`` is skipped event by event without being built: responses hold most of a
HAR's bytes (base64 images, scripts) and carry nothing the device sent.  Memory is one request.

A damaged entry (no method or URL, a field of the wrong type, a bad date) is skipped and counted;
a file cut short or with a JSON syntax error ends with a warning after the entries before it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import ijson
from ijson.common import ObjectBuilder

from scanner.decode.protocols.base import Anomalies
from scanner.ingest.archive_format import HAR
from scanner.ingest.recorded import RecordedMessage, request_event, websocket_events
from scanner.ingest.sources import ByteStream
from scanner.model import Event
from scanner.results import CaptureInfo

ENTRY = "log.entries.item"
_SKIPPED = ("log.entries.item.response", "log.entries.item.timings", "log.entries.item.cache")
# A request body larger than this (in the file's text) is cut: detection reads the start of bodies.
MAX_BODY_BYTES = 4 * 1024 * 1024
CLIENT_ADDRESS_FIELDS = ("_clientAddress", "_clientIPAddress")


class _WithoutBom:
    """The stream without a leading UTF-8 byte-order mark (Windows tools write one; yajl rejects it)."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        head = stream.read(3)
        self._head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head

    def read(self, size: int = -1, /) -> bytes:
        if size == 0:
            return b""  # ijson reads nothing first, to learn whether the stream gives bytes
        if self._head:
            head, self._head = self._head, b""
            if size < 0:
                return head + self._stream.read()
            return head + self._stream.read(max(size - len(head), 0))
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()


def read_har(stream: ByteStream, info: CaptureInfo, anomalies: Anomalies) -> Iterator[Event]:
    unmarked = _WithoutBom(stream)
    index = 0
    damaged = 0
    try:
        for entry in _entries(unmarked):
            index += 1
            info.packets = index
            event = _entry_event(entry, index, info.path, anomalies)
            if event is None:
                damaged += 1
                continue
            yield event
            messages = entry.get("_webSocketMessages")
            if isinstance(messages, list) and messages:
                yield from websocket_events(event, _websocket_messages(messages, anomalies), anomalies)
    except ijson.JSONError:
        # Not the parser's message: yajl quotes the text around the error, which may be personal data.
        info.warnings.append(f"damaged: HAR file cut short or not valid JSON after entry {index}")
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        info.warnings.append(f"damaged: HAR file unreadable after entry {index} ({type(exc).__name__})")
    if damaged:
        info.warnings.append(f"{damaged} damaged HAR entries skipped (no method or URL, or fields of the wrong type)")


def _entries(stream: ByteStream) -> Iterator[Any]:
    """Each element of ``log.entries`` as Python objects, its response left unbuilt (an element
    that is no object is given as None: it is counted, and keeps its place in the numbering)."""
    builder: ObjectBuilder | None = None
    skip_depth = 0  # inside a subtree that is stepped over, how deep
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if skip_depth:
            if event in ("start_map", "start_array"):
                skip_depth += 1
            elif event in ("end_map", "end_array"):
                skip_depth -= 1
                if not skip_depth and builder is None:
                    yield None  # an entry that was an array
            continue
        if builder is None:
            if prefix == ENTRY:
                if event == "start_map":
                    builder = ObjectBuilder()
                    builder.event(event, value)
                elif event == "start_array":
                    skip_depth = 1
                else:
                    yield None  # a string, number, boolean or null where an entry should be
            continue
        if prefix in _SKIPPED and event in ("start_map", "start_array"):
            skip_depth = 1
            builder.event("null", None)  # the key stays, without its bulk
            continue
        builder.event(event, value)
        if prefix == ENTRY and event == "end_map":
            yield builder.value
            builder = None


def _entry_event(entry: Any, index: int, capture: str, anomalies: Anomalies) -> Event | None:
    if not isinstance(entry, dict):
        return None
    request = entry.get("request")
    if not isinstance(request, dict):
        return None
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method or not isinstance(url, str) or not url:
        return None
    try:
        ts = datetime.fromisoformat(str(entry.get("startedDateTime"))).timestamp()
    except ValueError:
        return None
    fields: list[tuple[str, str]] = []
    headers = request.get("headers") or []
    if not isinstance(headers, list):
        return None
    for header in headers:
        if not isinstance(header, dict) or not isinstance(header.get("name"), str):
            return None
        fields.append((header["name"].lower(), str(header.get("value", ""))))
    if not any(name == "cookie" for name, _ in fields):
        cookies = request.get("cookies") or []
        crumbs = [f"{c.get('name')}={c.get('value', '')}" for c in cookies if isinstance(c, dict) and c.get("name")]
        if crumbs:
            fields.append(("cookie", "; ".join(crumbs)))
    body = _body(request.get("postData"))
    if body is None:
        return None
    client = next((entry[k] for k in CLIENT_ADDRESS_FIELDS if isinstance(entry.get(k), str) and entry[k]), None)
    server = entry.get("serverIPAddress") if isinstance(entry.get("serverIPAddress"), str) else None
    return request_event(
        method=method,
        url=url,
        version=str(request.get("httpVersion") or ""),
        fields=fields,
        body=body,
        ts=ts,
        capture=capture,
        index=index,
        client=client,
        client_port=0,
        server=server or None,
        tool=HAR,
        anomalies=anomalies,
    )


def _websocket_messages(messages: list[Any], anomalies: Anomalies) -> list[RecordedMessage]:
    """Chrome's (and mitmproxy's) ``_webSocketMessages``: type send/receive, time (epoch seconds),
    opcode, data (text as is, binary in base64)."""
    out: list[RecordedMessage] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            anomalies.add("har_websocket_message_damaged")
            continue
        opcode = message.get("opcode")
        data: str = message["data"]
        if opcode == 2:
            try:
                payload = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                anomalies.add("har_websocket_message_damaged")
                continue
        else:
            payload = data.encode("utf-8", "surrogatepass")
        ts = message.get("time")
        out.append((message.get("type") == "send", opcode if isinstance(opcode, int) else 1, payload, float(ts) if isinstance(ts, (int, float)) else 0.0))
    return out


def _body(post: Any) -> bytes | None:
    """The request body of ``postData``; b"" when there is none, None when it is damaged."""
    if post is None:
        return b""
    if not isinstance(post, dict):
        return None
    text = post.get("text")
    if isinstance(text, str) and text:
        if str(post.get("encoding", "")).lower() == "base64":
            try:
                return base64.b64decode(text[: MAX_BODY_BYTES * 4 // 3 + 4], validate=False)
            except (binascii.Error, ValueError):
                return None
        return text[:MAX_BODY_BYTES].encode("utf-8", "surrogatepass")
    params = post.get("params")
    if isinstance(params, list) and params:
        pairs = [(str(p.get("name", "")), str(p.get("value", ""))) for p in params if isinstance(p, dict)]
        return urlencode(pairs).encode()[:MAX_BODY_BYTES]
    return b""

