"""WebSocket client messages after an HTTP Upgrade: RFC 6455 s5.7's example frames, masking,
fragmentation with control frames between, permessage-deflate (RFC 7692 s7.2.3.1's example),
bounds, loss, and detection reading a message like a body."""

from __future__ import annotations

import json
import zlib

import pytest

from scanner.decode.protocols.base import Anomalies, StreamContext
from scanner.decode.protocols.http import HttpDecoder
from scanner.decode.protocols.websocket import MAX_MESSAGE_BYTES, WebSocketDecoder, unmask
from scanner.model import FlowTuple, HttpRequest, WebSocketMessage

FLOW = FlowTuple("tcp", "192.0.2.7", 51000, "198.51.100.80", 443)
UPGRADE = (
    b"GET /chat?room=7 HTTP/1.1\r\nHost: ws.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
# RFC 6455 s5.7: a single-frame masked text message "Hello"; a fragmented unmasked "Hel" + "lo";
# an unmasked Ping with "Hello".
MASKED_HELLO = bytes.fromhex("818537fa213d7f9f4d5158")
FRAGMENTED_HELLO = bytes.fromhex("010348656c") + bytes.fromhex("80026c6f")
PING_HELLO = bytes.fromhex("890548656c6c6f")
# RFC 7692 s7.2.3.1: "Hello" compressed, in one unmasked frame with RSV1 set.
DEFLATED_HELLO = bytes.fromhex("c107f248cdc9c90700")


def frame(opcode: int, payload: bytes, fin: bool = True, key: bytes = b"\x01\x02\x03\x04", rsv1: bool = False) -> bytes:
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + key + unmask(payload, key)


def decoder() -> tuple[WebSocketDecoder, Anomalies]:
    anomalies = Anomalies()
    return WebSocketDecoder(StreamContext("t.pcap", FLOW), anomalies).upgraded("ws.example.com", "/chat"), anomalies


@pytest.mark.parametrize(
    ("wire", "text"),
    [(MASKED_HELLO, b"Hello"), (FRAGMENTED_HELLO, b"Hello"), (PING_HELLO + MASKED_HELLO, b"Hello"), (DEFLATED_HELLO, b"Hello")],
)
def test_rfc_examples(wire: bytes, text: bytes) -> None:
    ws, _ = decoder()
    events = list(ws.feed(wire, 1.0, 5))
    assert len(events) == 1
    message = events[0]
    assert isinstance(message, WebSocketMessage)
    assert (message.payload, message.opcode, message.host, message.uri, message.frame) == (text, "text", "ws.example.com", "/chat", 5)


def test_fragments_across_segments_with_a_ping_between_end_in_the_last_frame() -> None:
    ws, _ = decoder()
    wire = frame(2, b"\x00\x01", fin=False) + frame(9, b"p") + frame(0, b"\x02\x03")
    events = []
    for i, byte in enumerate(wire):
        events += ws.feed(bytes((byte,)), float(i), 10 + i)
    assert len(events) == 1
    assert events[0].payload == b"\x00\x01\x02\x03"  # type: ignore[attr-defined]
    assert (events[0].frame, events[0].first_frame) == (10 + len(wire) - 1, 10)  # type: ignore[attr-defined]


def test_deflate_keeps_its_context_across_messages() -> None:
    compressor = zlib.compressobj(wbits=-15)
    wire = b""
    for text in (b'{"email":"kid@example.org"}', b'{"email":"kid@example.org"}'):
        body = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
        wire += frame(1, body[:-4], rsv1=True)
    ws, anomalies = decoder()
    events = list(ws.feed(wire, 1.0, 1))
    assert [e.payload for e in events] == [b'{"email":"kid@example.org"}'] * 2  # type: ignore[attr-defined]
    assert anomalies.counts == {}


def test_sixteen_and_sixty_four_bit_lengths_and_the_message_bound() -> None:
    ws, _ = decoder()
    medium = b"m" * 300
    events = list(ws.feed(frame(2, medium), 1.0, 1))
    assert events[0].payload == medium  # type: ignore[attr-defined]
    big = b"b" * (MAX_MESSAGE_BYTES + 10)
    wire = frame(2, big)
    events = []
    for start in range(0, len(wire), 65536):
        events += ws.feed(wire[start : start + 65536], 2.0, 2)
    events += ws.feed(frame(1, b"after"), 3.0, 3)
    assert [len(e.payload) for e in events] == [MAX_MESSAGE_BYTES, 5]  # type: ignore[attr-defined]
    assert events[0].truncated  # type: ignore[attr-defined]


def test_close_ends_and_bad_frames_are_counted() -> None:
    ws, _ = decoder()
    assert list(ws.feed(frame(8, b"\x03\xe8") + frame(1, b"late"), 1.0, 1)) == []
    assert ws.done
    ws, anomalies = decoder()
    assert list(ws.feed(bytes((0x83, 0x80)) + b"\0\0\0\0", 1.0, 1)) == []  # opcode 3 is reserved
    assert ws.done and anomalies.counts["websocket_bad_frame"] == 1


def test_a_loss_reports_the_message_cut_by_it() -> None:
    ws, anomalies = decoder()
    ws.feed(frame(1, b"part one", fin=False), 1.0, 1)
    ws.gap(2.0, 2)
    events = list(ws.feed(b"garbage", 3.0, 3))
    assert [e.payload for e in events] == [b"part one"]  # type: ignore[attr-defined]
    assert events[0].truncated and ws.done  # type: ignore[attr-defined]
    assert anomalies.counts["websocket_lost_bytes"] == 1


def test_http_hands_the_frames_after_an_upgrade_to_the_websocket_decoder() -> None:
    http = HttpDecoder(StreamContext("t.pcap", FLOW), Anomalies())
    events = list(http.feed(UPGRADE + frame(1, json.dumps({"gaid": "38400000-8cf0-11bd-b23e-10b96e40000d"}).encode()), 1.0, 7))
    assert [type(e) for e in events] == [HttpRequest, WebSocketMessage]
    message = events[1]
    assert isinstance(message, WebSocketMessage)
    assert (message.host, message.uri) == ("ws.example.com", "/chat?room=7")
    events = list(http.feed(frame(1, b"second"), 2.0, 8))
    assert [e.payload for e in events] == [b"second"]  # type: ignore[attr-defined]


def test_detection_reads_a_message_like_a_body() -> None:
    from scanner.detect.fields import FieldExtractor

    message = WebSocketMessage(
        ts=1.0, capture="t", frame=1, flow=FLOW, host="ws.example.com", uri="/", opcode="text", length=0,
        payload=b'{"user": {"email": "kid@example.org"}}',
    )
    fields = FieldExtractor(frozenset()).fields(message)
    assert ("body", "user.email", "kid@example.org") in {(f.location, f.key, f.value) for f in fields}
