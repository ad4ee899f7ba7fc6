"""mitmproxy flow files (``mitmdump -w``, mitmproxy's "Save"), read from their tnetstring serialisation.

A flow file is a sequence of tnetstrings (https://tnetstrings.info/; mitmproxy/io/tnetstring.py),
one per flow: ``<length>:<payload><type>`` where the type byte is ``,`` bytes, ``;`` text
(UTF-8), ``#`` integer, ``^`` float, ``!`` boolean, ``~`` null, ``]`` list and ``}`` dict (keys
and values alternating).  Each flow is the state dict of mitmproxy's flow model
(mitmproxy/io/io.py FlowReader, mitmproxy/http.py HTTPFlow.get_state): ``type`` ("http"),
``version`` (21 in mitmproxy 11), ``client_conn`` (``peername``: the client's address and port),
``server_conn`` (``peername`` / ``address``), ``request`` (``method``, ``scheme``, ``host``,
``port``, ``path``, ``authority``, ``http_version``, ``headers`` as [name, value] pairs,
``content`` as sent on the wire, ``timestamp_start``), ``response``.

Why not mitmproxy's own reader (``mitmproxy.io.FlowReader``): the last mitmproxy for our Python
3.11 (11.0.2) pins cryptography < 44.1, brotli 1.1.0 and zstandard < 0.24, older than the
versions privscan depends on (pip would downgrade them), and pulls in a proxy's worth of
packages (tornado, flask, urwid, mitmproxy_rs); mitmproxy 12 needs Python 3.12.  The format is
small and documented, and the project's test file is written by mitmproxy 11 itself
(captures/inputs/make_archives.py).  The tested format is mitmproxy 11's (flow format 21); older
files are read where their requests have the same fields (the client's address as ``peername``,
or ``address`` before mitmproxy 7); other flow types (tcp, udp, dns) are counted and skipped.

Streaming: one flow is read at a time (bounded: a flow larger than MAX_FLOW_BYTES is skipped
unread, counted); a damaged or cut-off flow ends the file with a warning after the flows before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.decode.protocols.base import Anomalies
from scanner.ingest.archive_format import MITMPROXY
from scanner.ingest.recorded import RecordedMessage, request_event, websocket_events
from scanner.ingest.sources import ByteStream
from scanner.model import Event
from scanner.results import CaptureInfo

MAX_FLOW_BYTES = 64 * 1024 * 1024
MAX_LENGTH_DIGITS = 12
MAX_DEPTH = 64


class TnetstringError(Exception):
    """The bytes are not a well-formed tnetstring."""


def parse_tnetstring(data: bytes | memoryview) -> Any:
    """One complete tnetstring (length, payload, type byte) as Python values."""
    value, rest = _parse(memoryview(data), 0)
    if len(rest):
        raise TnetstringError("bytes after the value")
    return value


def _parse(data: memoryview, depth: int) -> tuple[Any, memoryview]:
    if depth > MAX_DEPTH:
        raise TnetstringError("nested too deep")
    colon = bytes(data[: MAX_LENGTH_DIGITS + 1]).find(b":")
    if colon <= 0:
        raise TnetstringError("no length")
    length_text = bytes(data[:colon])
    if not length_text.isdigit():
        raise TnetstringError("bad length")
    length = int(length_text)
    end = colon + 1 + length
    if end >= len(data):
        raise TnetstringError("cut short")
    payload, kind, rest = data[colon + 1 : end], data[end], data[end + 1 :]
    if kind == 0x2C:  # ,
        return bytes(payload), rest
    if kind == 0x3B:  # ;
        return bytes(payload).decode("utf-8", "surrogateescape"), rest
    if kind == 0x23:  # #
        return int(bytes(payload)), rest
    if kind == 0x5E:  # ^
        return float(bytes(payload)), rest
    if kind == 0x21:  # !
        return bytes(payload) == b"true", rest
    if kind == 0x7E:  # ~
        if length:
            raise TnetstringError("null with a payload")
        return None, rest
    if kind == 0x5D:  # ]
        items = []
        while len(payload):
            item, payload = _parse(payload, depth + 1)
            items.append(item)
        return items, rest
    if kind == 0x7D:  # }
        mapping: dict[Any, Any] = {}
        while len(payload):
            key, payload = _parse(payload, depth + 1)
            if not len(payload):
                raise TnetstringError("dict key without a value")
            value, payload = _parse(payload, depth + 1)
            mapping[key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key] = value
        return mapping, rest
    raise TnetstringError("unknown type")


def read_flows(stream: ByteStream, info: CaptureInfo, anomalies: Anomalies) -> Iterator[Event]:
    index = 0
    skipped: dict[str, int] = {}
    for record in _records(stream, info):
        index += 1
        info.packets = index
        if record is None:
            skipped["too large"] = skipped.get("too large", 0) + 1
            continue
        try:
            state = parse_tnetstring(record)
        except (TnetstringError, ValueError, RecursionError):
            info.warnings.append(f"damaged: mitmproxy flow {index} is not a readable tnetstring; the file ends there")
            break
        event, reason = _flow_event(state, index, info.path, anomalies)
        if event is None:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        yield event
        websocket = state.get("websocket")
        if isinstance(websocket, dict) and isinstance(websocket.get("messages"), list):
            yield from websocket_events(event, _websocket_messages(websocket["messages"], anomalies), anomalies)
    for reason, n in sorted(skipped.items()):
        info.warnings.append(f"{n} mitmproxy flows skipped ({reason})")


def _records(stream: ByteStream, info: CaptureInfo) -> Iterator[bytes | None]:
    """The bytes of each top-level tnetstring; None for one larger than MAX_FLOW_BYTES (skipped)."""
    pending = b""
    while True:
        head = pending
        while b":" not in head:
            chunk = stream.read(MAX_LENGTH_DIGITS + 1 - len(head)) if len(head) <= MAX_LENGTH_DIGITS else b""
            if not chunk:
                if head.strip():
                    info.warnings.append("damaged: mitmproxy flow file ends inside a flow's length")
                return
            head += chunk
        colon = head.index(b":")
        length_text = head[:colon]
        if not length_text.isdigit() or colon > MAX_LENGTH_DIGITS:
            info.warnings.append("damaged: mitmproxy flow file has a flow without a length; the file ends there")
            return
        need = int(length_text) + 1  # the payload and its type byte
        body = head[colon + 1 :]
        if need > MAX_FLOW_BYTES:
            left = need - len(body)
            while left > 0:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    info.warnings.append("damaged: mitmproxy flow file cut short inside a flow")
                    return
                left -= len(chunk)
            pending = b""
            yield None
            continue
        parts = [body]
        have = len(body)
        while have < need:
            chunk = stream.read(need - have)
            if not chunk:
                info.warnings.append("damaged: mitmproxy flow file cut short inside a flow")
                return
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        pending = data[need:]
        yield length_text + b":" + data[:need]


def _websocket_messages(messages: list[Any], anomalies: Anomalies) -> list[RecordedMessage]:
    """mitmproxy's WebSocketMessage states: (type, from_client, content, timestamp, dropped, injected)."""
    out: list[RecordedMessage] = []
    for message in messages:
        if (
            not isinstance(message, list)
            or len(message) < 4
            or not isinstance(message[0], int)
            or not isinstance(message[1], bool)
            or not isinstance(message[2], bytes)
            or not isinstance(message[3], (int, float))
        ):
            anomalies.add("mitmproxy_websocket_message_damaged")
            continue
        if len(message) > 4 and message[4] is True:
            continue  # dropped by the proxy: it never reached the server
        out.append((message[1], message[0], message[2], float(message[3])))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else ""


def _address(conn: Any) -> tuple[str | None, int]:
    """(host, port) of a client_conn / server_conn: ``peername`` since mitmproxy 7, ``address`` before."""
    if not isinstance(conn, dict):
        return None, 0
    for key in ("peername", "address"):
        value = conn.get(key)
        if isinstance(value, list) and len(value) >= 2 and isinstance(value[0], (str, bytes)):
            return _text(value[0]) or None, value[1] if isinstance(value[1], int) else 0
    return None, 0


def _flow_event(state: Any, index: int, capture: str, anomalies: Anomalies) -> tuple[Event | None, str]:
    if not isinstance(state, dict):
        return None, "not a flow"
    if state.get("type", "http") != "http":
        return None, f"{_text(state.get('type')) or 'other'} flows are not HTTP"
    request = state.get("request")
    if not isinstance(request, dict):
        return None, "no request"
    method = _text(request.get("method"))
    headers = request.get("headers")
    if not method or not isinstance(headers, list):
        return None, "damaged request"
    fields: list[tuple[str, str]] = []
    for pair in headers:
        if not isinstance(pair, list) or len(pair) != 2:
            return None, "damaged request"
        fields.append((_text(pair[0]).lower(), _text(pair[1])))
    scheme = _text(request.get("scheme")) or "http"
    # The host the client asked for: HTTP/2's :authority, else the Host header, else the
    # connection's host (mitmproxy's pretty_host does the same).
    authority = _text(request.get("authority")) or next((v for k, v in fields if k == "host"), "")
    if not authority:
        host = _text(request.get("host"))
        port = request.get("port")
        authority = f"[{host}]" if ":" in host else host
        if isinstance(port, int):
            authority += f":{port}"
    path = _text(request.get("path")) or "/"
    if method.upper() == "CONNECT":
        path = ""
    content = request.get("content")
    body = content if isinstance(content, bytes) else b""
    ts = request.get("timestamp_start")
    if not isinstance(ts, (int, float)):
        return None, "damaged request"
    client, client_port = _address(state.get("client_conn"))
    server, _ = _address(state.get("server_conn"))
    event = request_event(
        method=method,
        url=f"{scheme}://{authority}{path}",
        version=_text(request.get("http_version")),
        fields=fields,
        body=body,
        ts=float(ts),
        capture=capture,
        index=index,
        client=client,
        client_port=client_port,
        server=server,
        tool=MITMPROXY,
        anomalies=anomalies,
    )
    return event, "damaged request"
