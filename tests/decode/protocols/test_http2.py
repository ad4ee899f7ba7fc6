"""HTTP/2 (h2c) decoder: RFC 7541 HPACK known answers, frames, bounds, hand-over from HTTP/1,
robustness, and the public captures compared with tshark (and with Arkime where tshark 4.0
cannot reassemble CONTINUATION frames)."""

from __future__ import annotations

import gzip
import random
from collections import defaultdict
from pathlib import Path

import pytest

from helpers.captures import tcp_segments
from helpers.events import events_of_type
from helpers.tshark import tshark_fields
from scanner.decode.protocols.base import STREAM_DECODERS, Anomalies, StreamContext
from scanner.decode.protocols.http import HttpDecoder
from scanner.decode.protocols.http2 import MAX_BODY_BYTES, PREFACE, Http2Decoder
from scanner.model import Event, FlowTuple, HttpRequest

FLOW = FlowTuple("tcp", "192.0.2.7", 51000, "198.51.100.80", 80)

# fmt: off
# Three requests from RFC 7541 Appendix C.3 (no Huffman coding), one stream each.  The second and
# third refer to entries the first added to the dynamic table: HPACK state must carry over.
RFC7541_C3 = bytes.fromhex(
    "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a"  # connection preface
    "000000" "04" "00" "00000000"  # SETTINGS, empty, stream 0
    "000014" "01" "05" "00000001"  # HEADERS, 20 bytes, END_STREAM|END_HEADERS, stream 1
    "82" "86" "84"  # :method GET, :scheme http, :path / (static 2, 6, 4)
    "41" "0f" "7777772e6578616d706c652e636f6d"  # :authority (static 1), indexed as 62: www.example.com
    "00000e" "01" "05" "00000003"  # HEADERS, 14 bytes, stream 3
    "82" "86" "84" "be"  # GET, http, /, :authority from dynamic entry 62
    "58" "08" "6e6f2d6361636865"  # cache-control (static 24), indexed: no-cache
    "00001d" "01" "05" "00000005"  # HEADERS, 29 bytes, stream 5
    "82" "87" "85" "bf"  # GET, https, /index.html, :authority now at 63
    "40" "0a" "637573746f6d2d6b6579" "0c" "637573746f6d2d76616c7565"  # custom-key: custom-value (new name)
)
# fmt: on


def ctx() -> StreamContext:
    return StreamContext(capture="test", flow=FLOW)


def run(data: bytes, chunk: int = 0, finish: bool = True) -> tuple[list[HttpRequest], Anomalies, Http2Decoder]:
    """Feed ``data`` whole (chunk 0) or in chunks of ``chunk`` bytes, frame number = chunk index + 1."""
    anomalies = Anomalies()
    decoder = Http2Decoder(ctx(), anomalies)
    events: list[Event] = []
    pieces = [data] if not chunk else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for number, piece in enumerate(pieces, 1):
        events += decoder.feed(piece, float(number), number)
    if finish:
        events += decoder.finish(99.0, 99)
    return events_of_type(events, HttpRequest), anomalies, decoder


# --------------------------------------------------------------------------- building frames

SETTINGS_EMPTY = bytes.fromhex("000000040000000000")


def frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + stream.to_bytes(4, "big") + payload


def literal(name: str, value: str) -> bytes:
    """Literal header field without indexing, new name (RFC 7541 s6.2.2), short strings only."""
    return b"\x00" + bytes((len(name),)) + name.encode() + bytes((len(value),)) + value.encode()


def request_block(method_index: int = 2, path: str = "/", authority: str = "api.example.org") -> bytes:
    # :method (static), :scheme http, :path literal (static name 4), :authority literal (static name 1).
    return (
        bytes((0x80 | method_index, 0x86))
        + b"\x04"
        + bytes((len(path),))
        + path.encode()
        + b"\x01"
        + bytes((len(authority),))
        + authority.encode()
    )


# --------------------------------------------------------------------------- known answers


def test_rfc7541_requests_share_the_dynamic_table() -> None:
    events, anomalies, decoder = run(RFC7541_C3, finish=False)
    assert [(e.method, e.host, e.uri) for e in events] == [
        ("GET", "www.example.com", "/"),
        ("GET", "www.example.com", "/"),
        ("GET", "www.example.com", "/index.html"),
    ]
    assert events[1].headers == (("cache-control", "no-cache"),)
    assert events[2].headers == (("custom-key", "custom-value"),)
    assert all(e.version == "HTTP/2" and e.flow == FLOW for e in events)
    assert events[0].to_record()["type"] == "http"
    assert anomalies.counts == {}
    assert not decoder.done


def test_every_split_of_the_stream_gives_the_same_requests() -> None:
    whole, _, _ = run(RFC7541_C3)
    for chunk in (1, 2, 3, 7, 24, 25, 50):
        events, anomalies, _ = run(RFC7541_C3, chunk=chunk)
        assert [(e.method, e.host, e.uri, e.headers) for e in events] == [
            (e.method, e.host, e.uri, e.headers) for e in whole
        ], chunk
        assert anomalies.counts == {}


SNIFF_CASES = [
    (PREFACE, True),
    (PREFACE + SETTINGS_EMPTY, True),
    (PREFACE[:20], False),
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", False),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", False),
]


@pytest.mark.parametrize(("head", "expected"), SNIFF_CASES)
def test_sniff(head: bytes, expected: bool) -> None:
    assert Http2Decoder.sniff(head) is expected


def test_registered_and_ordered_before_http1() -> None:
    assert STREAM_DECODERS["http2"] is Http2Decoder
    assert Http2Decoder.sniff_bytes == 24
    assert Http2Decoder.sniff_order is not None and HttpDecoder.sniff_order is not None
    assert Http2Decoder.sniff_order < HttpDecoder.sniff_order


# --------------------------------------------------------------------------- frames


def test_post_body_in_padded_data_frames_is_decompressed() -> None:
    body = b'{"gaid":"38400000-8cf0-11bd-b23e-10b96e40000d","lat":48.8584}'
    packed = gzip.compress(body, mtime=0)
    block = (
        request_block(3, "/v1/track")  # :method POST (static 3)
        + b"\x0f\x10" + b"\x10application/json"  # content-type (static 31), literal, not indexed
        + b"\x0f\x0b" + b"\x04gzip"  # content-encoding (static 26): gzip
    )  # fmt: skip
    half = len(packed) // 2
    data = (
        PREFACE
        + SETTINGS_EMPTY
        + frame(1, 0x04, 1, block)  # HEADERS, END_HEADERS (the body follows)
        + frame(0, 0x00, 1, packed[:half])  # DATA
        + frame(0, 0x09, 1, bytes((5,)) + packed[half:] + bytes(5))  # DATA, PADDED|END_STREAM, 5 padding
    )
    for chunk in (0, 1, 10):
        events, anomalies, _ = run(data, chunk=chunk, finish=False)
        (event,) = events
        assert (event.method, event.host, event.uri) == ("POST", "api.example.org", "/v1/track")
        assert event.body == body
        assert event.body_len == len(body)
        assert event.content_type == "application/json"
        assert event.content_encoding == "gzip"
        assert not event.body_truncated
        assert anomalies.counts == {}
        if chunk == 1:
            assert event.first_frame is not None and event.first_frame < event.frame


def test_header_block_over_continuation_with_priority_and_padding() -> None:
    block = request_block(2, "/a") + literal("user-agent", "KidsApp/1.0") + literal("x-device-id", "abc123")
    headers_payload = bytes((3,)) + bytes(5) + block[:5] + bytes(3)  # pad length 3, priority, fragment, padding
    data = (
        PREFACE
        + frame(1, 0x01 | 0x08 | 0x20, 1, headers_payload)  # HEADERS: END_STREAM, PADDED, PRIORITY
        + frame(9, 0x00, 1, block[5:12])  # CONTINUATION
        + frame(9, 0x04, 1, block[12:])  # CONTINUATION, END_HEADERS
    )
    (event,), anomalies, _ = run(data)
    assert event.uri == "/a"
    assert event.user_agent == "KidsApp/1.0"
    assert event.headers == (("user-agent", "KidsApp/1.0"), ("x-device-id", "abc123"))
    assert anomalies.counts == {}


def test_cookie_crumbs_are_joined() -> None:
    block = request_block() + literal("cookie", "uid=42") + literal("cookie", "session=abc")
    (event,), _, _ = run(PREFACE + frame(1, 0x05, 1, block))
    assert event.headers == (("cookie", "uid=42; session=abc"),)


def test_host_header_when_there_is_no_authority() -> None:
    block = b"\x82\x86\x84" + literal("host", "legacy.example.net")
    (event,), _, _ = run(PREFACE + frame(1, 0x05, 1, block))
    assert event.host == "legacy.example.net"


def test_body_is_bounded() -> None:
    big = bytes(MAX_BODY_BYTES + 1000)
    data = PREFACE + frame(1, 0x04, 1, request_block(3)) + frame(0, 0x01, 1, big)
    (event,), _, decoder = run(data, chunk=1400)
    assert event.body_len == MAX_BODY_BYTES
    assert event.body_truncated
    assert len(decoder._buffer) == 0  # DATA is streamed, not buffered


def test_reset_stream_still_reports_the_request() -> None:
    data = PREFACE + frame(1, 0x04, 1, request_block(3, "/upload")) + frame(3, 0, 1, bytes(4))
    (event,), _, _ = run(data, finish=False)
    assert event.uri == "/upload"
    assert event.body_truncated


def test_open_stream_is_reported_at_finish() -> None:
    (event,), anomalies, _ = run(PREFACE + frame(1, 0x04, 1, request_block(3, "/slow")))
    assert event.uri == "/slow"
    assert event.body_truncated
    assert anomalies.counts == {"http2_incomplete_request": 1}


# --------------------------------------------------------------------------- errors are anomalies

ERROR_CASES = [
    (b"GET / HTTP/1.1\r\n\r\n" + bytes(10), "http2_no_preface"),
    (PREFACE + frame(1, 0x05, 1, b"\xff\xff\xff\xff"), "http2_hpack_error"),
    (PREFACE + frame(1, 0x00, 1, request_block()) + frame(4, 0, 0, b""), "http2_continuation_expected"),
    (PREFACE + frame(9, 0x04, 1, request_block()), "http2_unexpected_continuation"),
    (PREFACE + frame(1, 0x0D, 1, b"\x40\x82\x86"), "http2_frame_malformed"),  # padding longer than the frame
    (PREFACE + frame(5, 0x04, 1, bytes(4) + request_block()), "http2_push_promise_from_client"),
    (PREFACE + (300 * 1024).to_bytes(3, "big") + b"\x01\x04\x00\x00\x00\x01", "http2_frame_too_large"),
    (PREFACE + frame(0, 0x08, 1, b""), "http2_bad_padding"),  # PADDED DATA without room for the pad length
]


@pytest.mark.parametrize(("data", "anomaly"), ERROR_CASES, ids=[c[1] for c in ERROR_CASES])
def test_errors_are_counted_and_end_the_direction(data: bytes, anomaly: str) -> None:
    events, anomalies, decoder = run(data, finish=False)
    assert events == []
    assert anomalies.counts == {anomaly: 1}
    assert decoder.done


def test_padding_longer_than_the_data_is_counted() -> None:
    data = (
        PREFACE
        + frame(1, 0x04, 1, request_block(3))
        + frame(0, 0x09, 1, b"\x09abc")
        + frame(1, 0x05, 3, request_block())
    )
    events, anomalies, _ = run(data, finish=False)
    assert [(e.uri, e.body_len) for e in events] == [("/", 0), ("/", 0)]
    assert anomalies.counts == {"http2_bad_padding": 1}


def test_hpack_error_reports_what_was_read_before() -> None:
    data = PREFACE + frame(1, 0x04, 1, request_block(3, "/first")) + frame(1, 0x05, 3, b"\xff\xff\xff\xff")
    (event,), anomalies, decoder = run(data, finish=False)
    assert event.uri == "/first" and event.body_truncated
    assert anomalies.counts == {"http2_hpack_error": 1}
    assert decoder.done


def test_gap_reports_pending_requests_then_stops() -> None:
    anomalies = Anomalies()
    decoder = Http2Decoder(ctx(), anomalies)
    assert not decoder.feed(PREFACE + frame(1, 0x04, 1, request_block(3, "/x")), 1.0, 1)
    decoder.gap(2.0, 2)
    assert not decoder.done  # it still owes the request it read
    (event,) = events_of_type(decoder.feed(b"garbage after the hole", 3.0, 3), HttpRequest)
    assert event.uri == "/x" and event.body_truncated
    assert decoder.done


def test_truncation_and_flipped_bytes_never_raise() -> None:
    body = gzip.compress(b"x=1&y=2", mtime=0)
    block = request_block(3) + b"\x0f\x0b\x04gzip" + literal("cookie", "a=b")
    fixture = RFC7541_C3 + frame(1, 0x04, 7, block) + frame(0, 0x09, 7, b"\x02" + body + b"\x00\x00")
    rng = random.Random(7541)
    for cut in range(len(fixture) + 1):
        run(fixture[:cut])
    for _ in range(600):
        mutated = bytearray(fixture)
        for _ in range(rng.randrange(1, 5)):
            mutated[rng.randrange(len(PREFACE) - 2, len(mutated))] = rng.randrange(256)
        run(bytes(mutated), chunk=rng.choice((0, 1, 9, 100)))


# --------------------------------------------------------------------------- hand-over from HTTP/1

UPGRADE_REQUEST = (
    b"GET /robots.txt HTTP/1.1\r\n"
    b"Host: h2c.example.org\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
    b"\r\n"
)


def test_http1_hands_over_after_upgrade() -> None:
    """The HTTP/1 decoder keeps the upgrading request and passes the rest, from the preface, to http2."""
    anomalies = Anomalies()
    http1 = HttpDecoder(ctx(), anomalies)
    events = list(http1.feed(UPGRADE_REQUEST, 1.0, 1))
    events += http1.feed(PREFACE + SETTINGS_EMPTY, 2.0, 3)
    events += http1.feed(frame(1, 0x05, 3, request_block(2, "/humans.txt", "h2c.example.org")), 3.0, 4)
    requests = events_of_type(events, HttpRequest)
    assert [(e.version, e.uri, e.frame) for e in requests] == [
        ("HTTP/1.1", "/robots.txt", 1),
        ("HTTP/2", "/humans.txt", 4),
    ]
    assert anomalies.counts == {}


def test_documented_hand_over_call() -> None:
    """What the module docstring tells the HTTP/1 decoder to do."""
    decoder = STREAM_DECODERS["http2"](ctx(), Anomalies())
    (event,) = events_of_type(decoder.feed(PREFACE + frame(1, 0x05, 3, request_block()), 1.0, 7), HttpRequest)
    assert event.frame == 7


# --------------------------------------------------------------------------- public captures


def tcp_requests(path: Path) -> list[HttpRequest]:
    """Every request in a capture: each client direction's payload in sequence order, fed segment by
    segment to the decoder its first bytes call for (HTTP/2 preface, or HTTP/1 and its hand-over)."""
    segments: dict[FlowTuple, dict[int, tuple[int, float, bytes]]] = defaultdict(dict)
    for packet_ctx, seq, data in tcp_segments(path):
        # retransmissions keep the first copy
        segments[packet_ctx.flow].setdefault(seq, (packet_ctx.frame, packet_ctx.ts, data))
    requests: list[HttpRequest] = []
    anomalies = Anomalies()
    for flow, by_seq in segments.items():
        first_seq = min(by_seq)  # these captures do not wrap the sequence space
        ordered = [by_seq[seq] for seq in sorted(by_seq, key=lambda s: s - first_seq)]
        head = ordered[0][2]
        stream_ctx = StreamContext(path.name, flow)
        if Http2Decoder.sniff(head):
            decoder: Http2Decoder | HttpDecoder = Http2Decoder(stream_ctx, anomalies)
        elif HttpDecoder.sniff(head):
            decoder = HttpDecoder(stream_ctx, anomalies)
        else:
            continue  # a server direction
        for number, ts, payload in ordered:
            requests += events_of_type(decoder.feed(payload, ts, number), HttpRequest)
        requests += events_of_type(decoder.finish(ordered[-1][1], ordered[-1][0]), HttpRequest)
    assert anomalies.counts == {}
    return requests


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", ["scapy__http2_h2c.pcap", "sv__http2-range__http2-range.pcap"])
def test_h2c_captures_match_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    fields = ["frame.number", "http2.headers.authority", "http2.headers.path"]
    rows = tshark_fields(tshark, path, "http2.type == 1 && http2.headers.method", fields)
    expected = {(int(f), authority, p) for f, authority, p in rows}
    got = {(e.frame, e.host, e.uri) for e in tcp_requests(path) if e.version == "HTTP/2"}
    assert got == expected


@pytest.mark.shared
def test_h2c_upgrade_capture(real_captures: Path) -> None:
    requests = tcp_requests(real_captures / "scapy__http2_h2c.pcap")
    assert [(e.version, e.method, e.host, e.uri) for e in requests] == [
        ("HTTP/1.1", "GET", "nghttp2.org", "/robots.txt"),
        ("HTTP/2", "GET", "nghttp2.org", "/humans.txt"),
    ]


@pytest.mark.shared
@pytest.mark.tshark
def test_continuation_capture(real_captures: Path, tshark: str) -> None:
    """nghttp2 client sending a 16 KiB+ header block over HEADERS + CONTINUATION (Arkime's test capture).

    tshark 4.0 leaves that block unreassembled (checked below, so the test notices a newer tshark);
    the reference is Arkime's own expected output for this capture (tests/pcap/http2-nghttp2.test):
    GET nghttp2.org / with user-agent nghttp2/1.41.0 and headers continuation-test-1..6."""
    path = real_captures / "arkime__http2-nghttp2.pcap"
    display_filter = "http2.type == 1 && http2.headers.method && tcp.dstport == 80"
    from_tshark = {p for (p,) in tshark_fields(tshark, path, display_filter, ["http2.headers.path"]) if p}
    (request,) = tcp_requests(path)
    assert from_tshark <= {request.uri}
    assert (request.method, request.host, request.uri, request.user_agent) == (
        "GET",
        "nghttp2.org",
        "/",
        "nghttp2/1.41.0",
    )
    names = [name for name, _ in request.headers]
    assert [n for n in names if n.startswith("continuation-test-")] == [f"continuation-test-{i}" for i in range(1, 7)]
    assert {"accept", "accept-encoding"} <= set(names)
    assert request.first_frame == 4  # the HEADERS frame; the block ends in a later segment
