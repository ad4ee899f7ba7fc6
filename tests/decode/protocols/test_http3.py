"""HTTP/3 over decrypted QUIC streams: frames, QPACK's dynamic table and blocked streams, SETTINGS
that come late, trailers, bounds.  Header blocks are made by pylsqpack's encoder, the ls-qpack
library that aioquic also uses (the capture test in test_quic_decrypt.py covers a real client)."""

from __future__ import annotations

import pylsqpack

from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.http3 import MAX_REQUEST_STREAMS, Http3Connection
from scanner.model import Event, FlowTuple, HttpRequest

FLOW = FlowTuple("udp", "10.0.0.2", 50000, "198.51.100.7", 443)
REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"https"),
    (b":authority", b"tracker.example"),
    (b":path", b"/collect?idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC"),
    (b"user-agent", b"App/1.0"),
    (b"x-tracking-id", b"abc123"),
    (b"cookie", b"a=1"),
    (b"cookie", b"b=2"),
]


def _varint(value: int) -> bytes:
    for size, prefix in ((1, 0), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if value < 1 << (8 * size - 2):
            return (value | (prefix << (8 * size - 8))).to_bytes(size, "big")
    raise ValueError(value)


def _frame(ftype: int, payload: bytes) -> bytes:
    return _varint(ftype) + _varint(len(payload)) + payload


def _settings(capacity: int, blocked: int) -> bytes:
    """The server's control stream: its type, then SETTINGS (RFC 9114 s7.2.4)."""
    return _varint(0x00) + _frame(0x04, _varint(0x01) + _varint(capacity) + _varint(0x07) + _varint(blocked))


def _at(frame: int) -> PacketContext:
    return PacketContext(float(frame), "t.pcap", frame, FLOW)


def _requests(events: list[Event]) -> list[HttpRequest]:
    return [e for e in events if isinstance(e, HttpRequest)]


def _dynamic(stream_id: int = 8) -> tuple[bytes, bytes]:
    """(encoder-stream bytes, header block) of a request whose block refers to dynamic-table
    entries: ls-qpack inserts a field once it has seen it before, so two requests come first
    (their blocks are dropped: their streams are not the one under test)."""
    encoder = pylsqpack.Encoder()
    stream = encoder.apply_settings(4096, 16)
    for earlier in range(0, stream_id, 4):
        stream += encoder.encode(earlier, REQUEST)[0]
    inserts, block = encoder.encode(stream_id, REQUEST)
    assert block[0] != 0  # Required Insert Count > 0: the dynamic table is used
    return _varint(0x02) + stream + inserts, block


def test_request_with_dynamic_table_and_body() -> None:
    anomalies = Anomalies()
    h3 = Http3Connection(anomalies)
    encoder_stream, block = _dynamic()
    events: list[Event] = []
    events += h3.stream_data(3, _settings(4096, 16), False, False, _at(1))
    events += h3.stream_data(2, encoder_stream, False, True, _at(2))
    body = b'{"email":"kid@example.org"}'
    stream = _frame(0x01, block) + _frame(0x21, b"grease") + _frame(0x00, body[:10]) + _frame(0x00, body[10:])
    events += h3.stream_data(8, stream[:7], False, True, _at(3))
    assert not events
    events += h3.stream_data(8, stream[7:], True, True, _at(4))
    [request] = _requests(events)
    assert (request.method, request.host, request.uri, request.version) == (
        "POST", "tracker.example", "/collect?idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC", "HTTP/3",
    )
    assert dict(request.headers)["cookie"] == "a=1; b=2"  # RFC 9114 s4.2.1: crumbs joined back
    assert request.body == body and request.frame == 4 and request.first_frame == 3
    assert anomalies.counts == {}


def test_blocked_header_block_waits_for_the_encoder_stream() -> None:
    anomalies = Anomalies()
    h3 = Http3Connection(anomalies)
    encoder_stream, block = _dynamic()
    h3.stream_data(3, _settings(4096, 16), False, False, _at(1))
    assert not h3.stream_data(8, _frame(0x01, block), True, True, _at(2))  # blocked (RFC 9204 s2.1.2)
    events = h3.stream_data(2, encoder_stream, False, True, _at(3))
    [request] = _requests(events)
    assert request.host == "tracker.example" and request.frame == 3


def test_header_block_before_the_servers_settings() -> None:
    anomalies = Anomalies()
    h3 = Http3Connection(anomalies)
    encoder_stream, block = _dynamic()
    assert not h3.stream_data(2, encoder_stream, False, True, _at(1))
    assert not h3.stream_data(8, _frame(0x01, block), True, True, _at(2))
    events = h3.stream_data(3, _settings(4096, 16), False, False, _at(3))
    [request] = _requests(events)
    assert request.uri.startswith("/collect") and not h3.needs_server


def test_static_only_block_needs_no_settings() -> None:
    h3 = Http3Connection(Anomalies())
    encoder = pylsqpack.Encoder()  # no settings applied: a table of capacity 0
    _, block = encoder.encode(0, [(b":method", b"GET"), (b":authority", b"a.example"), (b":path", b"/")])
    [request] = _requests(h3.stream_data(0, _frame(0x01, block), True, True, _at(1)))
    assert (request.method, request.host, request.uri) == ("GET", "a.example", "/")


def test_trailers_add_their_fields() -> None:
    h3 = Http3Connection(Anomalies())
    encoder = pylsqpack.Encoder()
    _, block = encoder.encode(0, REQUEST[:4])
    _, trailers = encoder.encode(0, [(b"x-device-id", b"d-42")])
    events = h3.stream_data(0, _frame(0x01, block) + _frame(0x00, b"x=1") + _frame(0x01, trailers), True, True, _at(1))
    [request] = _requests(events)
    assert ("x-device-id", "d-42") in request.headers and request.body == b"x=1"


def test_damaged_and_incomplete_streams_are_counted() -> None:
    anomalies = Anomalies()
    h3 = Http3Connection(anomalies)
    assert not h3.stream_data(0, _frame(0x01, b"\xff\xff\xff\xff"), True, True, _at(1))
    h3.stream_data(3, _settings(4096, 16), False, False, _at(2))  # the block waited for these
    assert not h3.stream_data(4, _frame(0x01, b"\xff\xff\xff\xff"), True, True, _at(3))
    assert not h3.stream_data(8, _frame(0x00, b"body only"), True, True, _at(4))
    _, static_block = pylsqpack.Encoder().encode(12, [(b":method", b"GET")])
    assert not h3.stream_data(12, _frame(0x01, static_block), False, True, _at(5))  # never ended
    h3.close()
    assert anomalies.counts == {
        "http3_qpack_error": 2,
        "http3_request_without_headers": 1,
        "http3_request_incomplete": 1,
    }


def test_request_streams_are_bounded() -> None:
    anomalies = Anomalies()
    h3 = Http3Connection(anomalies)
    for i in range(MAX_REQUEST_STREAMS + 10):
        h3.stream_data(4 * i, _frame(0x00, b"x"), False, True, _at(i + 1))
    assert anomalies.counts == {"http3_stream_evicted": 10}


def test_responses_and_server_streams_are_not_read() -> None:
    h3 = Http3Connection(Anomalies())
    encoder = pylsqpack.Encoder()
    _, block = encoder.encode(0, [(b":status", b"200")])
    assert not h3.stream_data(0, _frame(0x01, block), True, False, _at(1))


def test_static_header_blocks_are_read_without_their_connection() -> None:
    from scanner.decode.protocols.http3 import static_header_block

    _, static = pylsqpack.Encoder().encode(0, REQUEST[:4])
    assert static_header_block(static) == [(k.decode(), v.decode()) for k, v in REQUEST[:4]]
    _, dynamic = _dynamic()
    assert static_header_block(dynamic) is None  # needs the encoder stream's inserts
    assert static_header_block(b"\x00\x00\xff") is None  # damaged
    assert static_header_block(b"") is None
