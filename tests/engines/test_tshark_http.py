"""HTTP through the tshark engine: the bodies and header fields detection needs, byte for byte.

Each case writes a small capture with scapy and compares the tshark engine's HTTP events with
the native engine's, hidden fields included (every header field and the decoded body), so the
detectors see the same bytes whichever engine ran.  The cases are the ones tshark's output
makes hard: binary bodies (http.file_data is a string that stops at NUL), gzip under chunked
coding split across segments, two requests in one segment, a coding tshark 4.0 cannot undo.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any

import pytest

from scanner.engines.native import NativeEngine
from scanner.engines.tshark import TsharkEngine
from scanner.ingest import expand_inputs
from scanner.model import Event, HttpRequest

pytestmark = [pytest.mark.tshark]

scapy_all = pytest.importorskip("scapy.all")
Ether, IP, TCP, UDP, ICMP, Raw = (scapy_all.Ether, scapy_all.IP, scapy_all.TCP, scapy_all.UDP, scapy_all.ICMP,
                                  scapy_all.Raw)
DNS, DNSQR = scapy_all.DNS, scapy_all.DNSQR

CLIENT, SERVER = "10.0.0.1", "10.0.0.2"
GAID = b"38400000-8cf0-11bd-b23e-10b96e40000d"


def _connection(sport: int, segments: list[bytes], order: list[int] | None = None) -> list[Any]:
    """A handshake, then the client's segments (sent in ``order`` when given)."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    packets = [
        eth / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=80, flags="S", seq=1000),
        eth / IP(src=SERVER, dst=CLIENT) / TCP(sport=80, dport=sport, flags="SA", seq=5000, ack=1001),
        eth / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=80, flags="A", seq=1001, ack=5001),
    ]
    data: list[Any] = []
    seq = 1001
    for segment in segments:
        data.append(eth / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=80, flags="PA", seq=seq, ack=5001) / Raw(segment))
        seq += len(segment)
    for index in order or range(len(data)):
        packets.append(data[index])
    packets.append(eth / IP(src=CLIENT, dst=SERVER) / TCP(sport=sport, dport=80, flags="FA", seq=seq, ack=5001))
    return packets


def _write(tmp_path: Path, packets: list[Any]) -> Path:
    for index, packet in enumerate(packets):
        packet.time = 1_700_000_000 + index * 0.01
    path = tmp_path / "case.pcap"
    scapy_all.wrpcap(str(path), packets)
    return path


def _full(event: Event) -> dict[str, Any]:
    record = event.to_record()
    if isinstance(event, HttpRequest):
        record["headers"] = event.headers
        record["body"] = event.body
    return record


def _both(path: Path) -> tuple[list[Event], list[Event], TsharkEngine]:
    engine = TsharkEngine()
    engine.strict = True
    native = list(NativeEngine().events(expand_inputs([str(path)])))
    tshark = list(engine.events(expand_inputs([str(path)])))
    return native, tshark, engine


def _split(data: bytes, parts: int) -> list[bytes]:
    size = -(-len(data) // parts)
    return [data[i : i + size] for i in range(0, len(data), size)]


BINARY_BODY = b"id=\x00\x01\xff\xfe caf\xc3\xa9 gaid=" + GAID + b"\x00end"
JSON_BODY = b'{"gaid":"' + GAID + b'","name":"Zo\xc3\xab"}'
CHUNKED_GZIP = (lambda gz: b"a\r\n" + gz[:10] + b"\r\n" + f"{len(gz) - 10:x}".encode() + b"\r\n" + gz[10:] + b"\r\n0\r\n\r\n")(
    gzip.compress(JSON_BODY, mtime=0)
)

CASES: dict[str, tuple[list[bytes], list[int] | None]] = {
    # http.file_data would stop at the NUL and mangle the non-ASCII bytes: the raw bytes are exact.
    "binary body": (
        [b"POST /b HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/octet-stream\r\n"
         b"Content-Length: %d\r\n\r\n" % len(BINARY_BODY) + BINARY_BODY],
        None,
    ),
    # gzip under chunked coding, a chunk-size line and the gzip stream cut across three segments.
    "gzip chunked across segments": (
        _split(
            b"POST /g HTTP/1.1\r\nHost: b.example\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_GZIP,
            3,
        ),
        None,
    ),
    # two requests in one segment: two events, each with its own header fields.
    "pipelined": (
        [b"GET /p?adid=" + GAID + b" HTTP/1.1\r\nHost: c.example\r\nCookie: uid=42; x=\xc3\xa9\r\n\r\n"
         b"GET /q HTTP/1.1\r\nHost: d.example\r\nUser-Agent: t/1\r\nX-Id: " + GAID + b"\r\n\r\n"],
        None,
    ),
    # raw deflate (no zlib header), which servers and SDKs send for "deflate".
    "raw deflate": (
        (lambda body: [b"POST /d HTTP/1.1\r\nHost: e.example\r\nContent-Encoding: deflate\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body) + body])(zlib.compress(b"imei=356938035643809")[2:-4]),
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_http_events_are_the_native_ones_byte_for_byte(tshark: str, tmp_path: Path, case: str) -> None:
    segments, order = CASES[case]
    native, found, engine = _both(_write(tmp_path, _connection(40000, segments, order)))
    assert native and [_full(e) for e in found] == [_full(e) for e in native]
    assert not engine.stats.anomalies


def test_a_coding_tshark_cannot_undo_is_decoded_like_native(tshark: str, tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    body = zstandard.ZstdCompressor().compress(JSON_BODY)
    request = b"POST /z HTTP/1.1\r\nHost: f.example\r\nContent-Encoding: zstd\r\nContent-Length: %d\r\n\r\n" % len(body)
    native, found, _ = _both(_write(tmp_path, _connection(40001, [request + body])))
    assert [_full(e) for e in found] == [_full(e) for e in native]
    assert isinstance(found[0], HttpRequest) and found[0].body == JSON_BODY


def test_out_of_order_segments_same_request_frames_named_differently(tshark: str, tmp_path: Path) -> None:
    """With two segments swapped on the wire both engines name the frame that completed the
    request in arrival order (the one that filled the hole).  Documented difference: first_frame
    is the first to arrive for tshark, the one that carried the first bytes for the native engine."""
    request = b"GET /o?email=a%40b.example HTTP/1.1\r\nHost: g.example\r\nUser-Agent: t/1\r\n\r\n"
    native, found, _ = _both(_write(tmp_path, _connection(40002, _split(request, 2), order=[1, 0])))
    assert len(native) == len(found) == 1
    strip = ("frame", "first_frame", "ts")
    assert {k: v for k, v in _full(found[0]).items() if k not in strip} == {
        k: v for k, v in _full(native[0]).items() if k not in strip
    }
    # frames 4 and 5 carry the second and the first half
    assert (native[0].frame, native[0].first_frame) == (5, None)  # None: first bytes came in frame 5 too
    assert (found[0].frame, found[0].first_frame) == (5, 4)


def test_icmp_quoted_dns_and_gtp_echo_on_the_user_plane_are_not_events(tshark: str, tmp_path: Path) -> None:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    query = IP(src=CLIENT, dst=SERVER) / UDP(sport=40000, dport=53) / DNS(rd=1, qd=DNSQR(qname="quoted.example"))
    echo = bytes.fromhex("3201000400000000" + "00010000")  # GTPv1 Echo Request, sequence number 1
    packets = [
        eth / IP(src=SERVER, dst=CLIENT) / ICMP(type=3, code=3) / query,
        eth / IP(src=CLIENT, dst=SERVER) / UDP(sport=2152, dport=2152) / Raw(echo),
    ]
    native, found, engine = _both(_write(tmp_path, packets))
    assert native == found == []
    assert engine.stats.counters == {"tshark_frames_icmp_quoted": 1, "tshark_gtpu_path_messages": 1}
