"""HTTP/1.x requests (protocols/http.py, decode/content.py): bodies by Content-Length and
chunked coding, content codings, header oddities, resynchronisation, and the hand-overs
to TLS (CONNECT) and HTTP/2 (Upgrade: h2c).

The decoder is fed one client direction's bytes, cut where a test says; a few cases
go through the whole packet decoder to show the hand-over end to end.
"""

from __future__ import annotations

import gzip
import json
import zlib

import brotli
import hpack
import pytest
import zstandard

from helpers.events import events_of_type
from scanner.decode.content import MAX_DECODED_BODY, ChunkedDecoder, decode_content
from scanner.decode.protocols.base import Anomalies, StreamContext
from scanner.decode.protocols.http import MAX_BODY_BYTES, HttpDecoder
from scanner.model import Event, FlowTuple, HttpRequest, TlsClientHello

FLOW = FlowTuple("tcp", "10.0.0.7", 40000, "93.184.216.34", 80)
JSON_BODY = json.dumps({"adid": "38400000-8cf0-11bd-b23e-10b96e40000d", "age": 9, "lat": 48.8584}).encode()


def feed(*pieces: bytes, finish: bool = True) -> tuple[list[Event], dict[str, int]]:
    """Feed the pieces as consecutive segments (frames 1, 2, ...) of one client direction."""
    anomalies = Anomalies()
    decoder = HttpDecoder(StreamContext("test.pcap", FLOW), anomalies)
    events: list[Event] = []
    for frame, piece in enumerate(pieces, 1):
        events.extend(decoder.feed(piece, float(frame), frame))
    if finish:
        events.extend(decoder.finish(float(len(pieces) + 1), len(pieces) + 1))
    return events, anomalies.counts


def one_request(*pieces: bytes) -> HttpRequest:
    events, anomalies = feed(*pieces)
    (request,) = events_of_type(events, HttpRequest)
    assert anomalies == {}
    return request


def post(body: bytes, *headers: str, chunked: bool = False) -> bytes:
    lines = ["POST /v1/collect?app=kids HTTP/1.1", "Host: stats.example", *headers]
    if not chunked:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ----------------------------------------------------------------------------------- bodies


def test_content_length_body_and_the_next_request() -> None:
    events, anomalies = feed(post(JSON_BODY, "Content-Type: application/json") + b"GET /next HTTP/1.1\r\nHost: b\r\n\r\n")
    first, second = events_of_type(events, HttpRequest)
    assert (first.method, first.uri, first.host, first.body, first.body_len) == (
        "POST", "/v1/collect?app=kids", "stats.example", JSON_BODY, len(JSON_BODY)
    )
    assert (first.content_type, first.chunked, first.body_truncated) == ("application/json", False, False)
    assert (second.method, second.uri) == ("GET", "/next")
    assert anomalies == {}


def test_record_shows_the_contract_fields_not_the_body_or_headers() -> None:
    request = one_request(post(JSON_BODY, "User-Agent: KidsApp/2.1", "Cookie: uid=kid-42"))
    record = request.to_record()
    assert (record["type"], record["method"], record["host"], record["uri"], record["user_agent"]) == (
        "http", "POST", "stats.example", "/v1/collect?app=kids", "KidsApp/2.1"
    )
    assert "body" not in record and "headers" not in record  # personal data stays out of `privscan events`
    assert ("Cookie", "uid=kid-42") in request.headers


# fmt: off
CHUNKED = (
    b"1a;name=value\r\n"  # 26 bytes, with a chunk extension
    + JSON_BODY[:26] + b"\r\n"
    + f"{len(JSON_BODY) - 26:X}".encode() + b"\r\n"  # the rest, size in upper-case hex
    + JSON_BODY[26:] + b"\r\n"
    + b"0\r\n"  # last chunk
    + b"X-Checksum: abc\r\n"  # a trailer field
    + b"\r\n"
)
# fmt: on


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = post(CHUNKED, "Transfer-Encoding: chunked", chunked=True) + b"GET /after HTTP/1.1\r\nHost: b\r\n\r\n"
    events, anomalies = feed(data)
    first, second = events_of_type(events, HttpRequest)
    assert (first.body, first.chunked) == (JSON_BODY, True)
    assert second.uri == "/after"  # the trailer section was consumed, not taken for a request
    assert anomalies == {}


def test_chunked_body_fed_one_byte_at_a_time() -> None:
    data = post(CHUNKED, "Transfer-Encoding: chunked", chunked=True)
    request = one_request(*[data[i : i + 1] for i in range(len(data))])
    assert request.body == JSON_BODY


def test_chunk_boundary_inside_a_value() -> None:
    # The advertising id is cut in two chunks; the detectors must see it whole.
    cut = JSON_BODY.index(b"8cf0") + 2
    chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (cut, JSON_BODY[:cut], len(JSON_BODY) - cut, JSON_BODY[cut:])
    request = one_request(post(chunks, "Transfer-Encoding: chunked", chunked=True))
    assert b"38400000-8cf0-11bd-b23e-10b96e40000d" in request.body


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(b"zz\r\nabc\r\n0\r\n\r\n", id="size-not-hex"),
        pytest.param(b"3\r\nabcdef\r\n0\r\n\r\n", id="chunk-longer-than-announced"),
    ],
)
def test_malformed_chunked_body_is_an_anomaly_then_resync(chunks: bytes) -> None:
    events, anomalies = feed(post(chunks, "Transfer-Encoding: chunked", chunked=True), b"GET /ok HTTP/1.1\r\nHost: b\r\n\r\n")
    assert [r.uri for r in events_of_type(events, HttpRequest)] == ["/v1/collect?app=kids", "/ok"]
    assert anomalies == {"http_chunked_malformed": 1}


def test_chunked_decoder_returns_what_follows_the_message() -> None:
    decoder = ChunkedDecoder()
    body, rest = decoder.feed(b"4\r\nwiki\r\n0\r\n\r\nGET / HTTP/1.1\r\n")
    assert (body, rest, decoder.finished, decoder.malformed) == (b"wiki", b"GET / HTTP/1.1\r\n", True, False)


# ------------------------------------------------------------------------------ content codings


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


CODINGS = [
    pytest.param("gzip", gzip.compress(JSON_BODY), id="gzip"),
    pytest.param("x-gzip", gzip.compress(JSON_BODY), id="x-gzip"),
    pytest.param("deflate", zlib.compress(JSON_BODY), id="deflate-zlib"),  # RFC 9110: zlib-wrapped
    pytest.param("deflate", raw_deflate(JSON_BODY), id="deflate-raw"),  # what many servers send
    pytest.param("br", brotli.compress(JSON_BODY), id="br"),
    pytest.param("zstd", zstandard.ZstdCompressor().compress(JSON_BODY), id="zstd"),
    pytest.param("GZIP", gzip.compress(JSON_BODY), id="coding-names-are-case-insensitive"),
    pytest.param("deflate, gzip", gzip.compress(zlib.compress(JSON_BODY)), id="two-codings-undone-in-reverse"),
    pytest.param("identity", JSON_BODY, id="identity"),
    pytest.param("x-unknown", JSON_BODY, id="unknown-coding-left-alone"),
]


@pytest.mark.parametrize(("coding", "body"), CODINGS)
def test_content_codings_are_undone(coding: str, body: bytes) -> None:
    request = one_request(post(body, f"Content-Encoding: {coding}"))
    assert request.body == JSON_BODY
    assert (request.content_encoding, request.body_len, request.body_truncated) == (coding, len(JSON_BODY), False)


def test_gzip_and_chunked_together() -> None:
    compressed = gzip.compress(JSON_BODY)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(compressed[i : i + 10]), compressed[i : i + 10]) for i in range(0, len(compressed), 10))
    request = one_request(
        post(chunks + b"0\r\n\r\n", "Transfer-Encoding: chunked", "Content-Encoding: gzip", chunked=True)
    )
    assert (request.body, request.chunked) == (JSON_BODY, True)


@pytest.mark.parametrize(
    "compress",
    [
        pytest.param(gzip.compress, id="gzip"),
        pytest.param(zlib.compress, id="deflate"),
        pytest.param(lambda d: brotli.compress(d, quality=1), id="br"),
        pytest.param(lambda d: zstandard.ZstdCompressor().compress(d), id="zstd"),
    ],
)
def test_decompression_bomb_is_bounded(compress) -> None:
    bomb = compress(b"\x00" * (16 * 1024 * 1024))  # 16 MiB of zeros in a few kB
    assert len(bomb) < 100_000
    coding = {b"\x1f\x8b": "gzip", b"\x78\x9c": "deflate", b"\x28\xb5": "zstd"}.get(bomb[:2], "br")
    body, cut = decode_content(bomb, coding)
    assert (len(body), cut) == (MAX_DECODED_BODY, True)


def test_decompression_bomb_in_a_request() -> None:
    events, anomalies = feed(post(gzip.compress(b"A" * (8 * 1024 * 1024), compresslevel=1), "Content-Encoding: gzip"))
    (request,) = events_of_type(events, HttpRequest)
    assert (request.body_len, request.body_truncated) == (MAX_DECODED_BODY, True)
    assert anomalies == {"http_body_truncated": 1}  # becomes a warning of the capture (issue 15)


def test_body_that_does_not_decode_is_kept_raw_with_an_anomaly() -> None:
    garbage = b"\x1f\x8b\x08\x00not really gzip"
    events, anomalies = feed(post(garbage, "Content-Encoding: gzip"))
    (request,) = events_of_type(events, HttpRequest)
    assert request.body == garbage
    assert anomalies == {"http_content_encoding_error": 1}


def test_body_beyond_the_kept_bound_is_skipped_and_the_next_request_read() -> None:
    big = b"k" * (MAX_BODY_BYTES + 5000)
    events, _ = feed(post(big)[: 200_000], post(big)[200_000:], b"GET /after HTTP/1.1\r\nHost: b\r\n\r\n")
    first, second = events_of_type(events, HttpRequest)
    assert (first.body_len, first.body_truncated) == (MAX_BODY_BYTES, True)
    assert second.uri == "/after"


def test_multipart_body_stays_raw_bytes() -> None:
    boundary = "----privscanBoundary7MA4YWxkTrZu0gW"
    multipart = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="email"\r\n\r\n'
        "kid@example.org\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="photo"; filename="me.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + f"\r\n--{boundary}--\r\n".encode()
    request = one_request(post(multipart, f"Content-Type: multipart/form-data; boundary={boundary}"))
    assert request.body == multipart  # bytes as sent: the detectors split the parts
    assert request.content_type == f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------------- head oddities


def test_obsolete_line_folding_joins_the_value() -> None:
    request = one_request(b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Device: kid-tablet\r\n  model=SM-T220\r\n\tos=12\r\n\r\n")
    assert ("X-Device", "kid-tablet model=SM-T220 os=12") in request.headers


def test_absolute_form_uri_of_a_proxy_request() -> None:
    request = one_request(b"GET http://ads.example/track?adid=1 HTTP/1.1\r\nHost: ads.example\r\n\r\n")
    assert (request.uri, request.host) == ("http://ads.example/track?adid=1", "ads.example")


def test_absolute_form_without_host_takes_the_host_from_the_uri() -> None:
    # HTTP/1.0 through a proxy: no Host field; RFC 9112 s3.2.2: the target's authority is the host.
    request = one_request(b"GET http://ads.example:8080/track?adid=1 HTTP/1.0\r\nUser-Agent: x\r\n\r\n")
    assert (request.uri, request.host, request.version) == ("http://ads.example:8080/track?adid=1", "ads.example:8080", "HTTP/1.0")


def test_lf_only_line_endings() -> None:
    request = one_request(b"GET /lf HTTP/1.1\nHost: lf.example\nUser-Agent: nc\n\n")
    assert (request.uri, request.host, request.user_agent) == ("/lf", "lf.example", "nc")


def test_empty_lines_before_a_request_are_ignored() -> None:
    # RFC 9112 s2.2: a server SHOULD ignore at least one empty line before the request-line;
    # some clients send CRLF after a POST body, in the same segment or in the next one.
    events, anomalies = feed(post(b"a=1") + b"\r\n", b"GET /second HTTP/1.1\r\nHost: b\r\n\r\n", b"\r\n\r\nGET /third HTTP/1.1\r\nHost: c\r\n\r\n")
    assert [r.uri for r in events_of_type(events, HttpRequest)] == ["/v1/collect?app=kids", "/second", "/third"]
    assert anomalies == {}


def test_request_line_without_version() -> None:
    request = one_request(b"GET /old\r\n\r\n")
    assert (request.uri, request.version, request.host) == ("/old", "HTTP/1.0", None)


def test_header_values_in_utf8_and_latin1() -> None:
    request = one_request(b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: Zo\xc3\xab\r\nX-Old: Zo\xeb\r\n\r\n")
    assert ("X-Name", "Zoë") in request.headers and ("X-Old", "Zoë") in request.headers


def test_bad_request_line_is_an_anomaly_and_the_decoder_resyncs() -> None:
    events, anomalies = feed(
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x16\x03\x01garbage that is not a request\r\n\r\nGET /lost HTTP/1.1\r\n\r\n",  # same segment: dropped
        b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n",  # a segment that starts a request
    )
    assert [r.uri for r in events_of_type(events, HttpRequest)] == ["/one", "/two"]
    assert anomalies == {"http_bad_request_line": 1}


def test_header_section_without_end_is_bounded() -> None:
    events, anomalies = feed(b"GET / HTTP/1.1\r\n", b"X-Pad: " + b"p" * (70 * 1024), b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
    assert [r.uri for r in events_of_type(events, HttpRequest)] == ["/two"]
    assert anomalies == {"http_header_too_long": 1}


def test_request_cut_by_the_end_of_the_capture_is_still_reported() -> None:
    events, _ = feed(post(JSON_BODY)[:-10])
    (request,) = events_of_type(events, HttpRequest)
    assert (request.uri, request.body_truncated) == ("/v1/collect?app=kids", True)


def test_first_frame_of_a_request_spread_over_segments() -> None:
    data = post(JSON_BODY)
    events, _ = feed(data[:20], data[20:60], data[60:])
    (request,) = events_of_type(events, HttpRequest)
    assert (request.frame, request.first_frame) == (3, 1)


# ------------------------------------------------------------------------------------ hand-overs


def test_connect_then_client_hello_gives_a_tls_event(tls) -> None:
    hello = tls.records(tls.client_hello(sni="tracker.example"))
    events, anomalies = feed(
        b"CONNECT tracker.example:443 HTTP/1.1\r\nHost: tracker.example:443\r\n\r\n",
        hello[:100],  # the proxy answered 200; the tunnel's first bytes are the ClientHello
        hello[100:],
    )
    connect, hello_event = events
    assert isinstance(connect, HttpRequest) and (connect.method, connect.uri) == ("CONNECT", "tracker.example:443")
    assert isinstance(hello_event, TlsClientHello) and hello_event.sni == "tracker.example"
    assert hello_event.flow == FLOW  # the TLS inside the tunnel is the same client direction
    assert anomalies == {}


def h2_frame(frame_type: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([frame_type, flags]) + stream.to_bytes(4, "big") + payload


def test_upgrade_h2c_then_preface_gives_http2_requests() -> None:
    upgrade = (
        b"GET /index HTTP/1.1\r\nHost: h2.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )
    headers = hpack.Encoder().encode(
        [(":method", "GET"), (":scheme", "http"), (":authority", "h2.example"), (":path", "/ads?adid=1"), ("user-agent", "KidsApp/3")]
    )
    client_after_101 = (
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + h2_frame(0x4, 0, 0, b"")  # SETTINGS
        + h2_frame(0x1, 0x5, 3, headers)  # HEADERS, END_STREAM|END_HEADERS, stream 3
    )
    events, anomalies = feed(upgrade, client_after_101)
    first, second = events_of_type(events, HttpRequest)
    assert (first.version, first.uri) == ("HTTP/1.1", "/index")
    assert (second.version, second.method, second.host, second.uri, second.user_agent) == (
        "HTTP/2", "GET", "h2.example", "/ads?adid=1", "KidsApp/3"
    )
    assert anomalies == {}


def test_connect_through_the_packet_decoder(decode_frames, tls) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    def segment(payload: bytes, seq: int, flags: str = "PA", forward: bool = True) -> bytes:
        ends = (("10.0.0.7", 40000), ("203.0.113.8", 3128))
        (src, sport), (dst, dport) = ends if forward else ends[::-1]
        return bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq, flags=flags) / Raw(payload))

    connect = b"CONNECT tracker.example:443 HTTP/1.1\r\nHost: tracker.example:443\r\n\r\n"
    hello = tls.records(tls.client_hello(sni="tracker.example"))
    app_data = b"\x17\x03\x03\x00\x10" + bytes(16)
    frames = [
        segment(connect, 1),
        segment(b"HTTP/1.1 200 Connection established\r\n\r\n", 1, forward=False),
        segment(hello, 1 + len(connect)),
        segment(app_data, 1 + len(connect) + len(hello)),
        segment(app_data, 1 + len(connect) + len(hello) + len(app_data)),
    ]
    result = decode_frames(frames)
    assert [e.type for e in result.events] == ["http", "tls"]
    assert result.of(TlsClientHello)[0].sni == "tracker.example"
    assert result.decoder.frames_skipped_encrypted == 2  # the tunnel is ignored after its hello


def test_header_section_cut_by_lost_bytes_keeps_its_complete_lines() -> None:
    # The capture lost the end of the header section: the request line and the whole header
    # lines before the loss still say where the request went and what it carried.
    anomalies = Anomalies()
    decoder = HttpDecoder(StreamContext("test.pcap", FLOW), anomalies)
    assert decoder.feed(b"GET /track?adid=38400000 HTTP/1.1\r\nHost: ads.example\r\nCookie: uid=k", 1.0, 1) == []
    decoder.gap(2.0, 2)
    events = events_of_type(list(decoder.feed(b"GET /next HTTP/1.1\r\nHost: b\r\n\r\n", 3.0, 3)), HttpRequest)
    cut, after = events
    assert (cut.uri, cut.host, cut.body_truncated) == ("/track?adid=38400000", "ads.example", True)
    # reported at the next request, named after its own last bytes (frame 1 at 1.0 s), not frame 3
    assert (cut.frame, cut.ts, cut.first_frame) == (1, 1.0, None)
    assert all(name != "Cookie" for name, _ in cut.headers)  # the cut line is not guessed at
    assert after.uri == "/next"
    assert anomalies.counts == {"http_lost_bytes": 1}


def test_bytes_lost_before_a_request_line_was_whole_invent_nothing() -> None:
    anomalies = Anomalies()
    decoder = HttpDecoder(StreamContext("test.pcap", FLOW), anomalies)
    decoder.feed(b"GET /trac", 1.0, 1)
    decoder.gap(2.0, 2)
    assert list(decoder.finish(3.0, 3)) == []
