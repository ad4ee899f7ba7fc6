"""Recorded requests (HAR entries, mitmproxy flows) as the events the decoders make from packets.

Shared by scanner/ingest/har.py and scanner/ingest/mitmproxy_flows.py; scanner/ingest/archives.py
says what each event field is taken from.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scanner.decode.http_message import request_from_fields
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.websocket import MAX_MESSAGE_BYTES
from scanner.ingest.archive_format import HAR
from scanner.model import Event, FlowTuple, HttpRequest, WebSocketMessage

UNKNOWN_CLIENT = "unknown"


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
