"""Hard caps on the per-flow tables (issue 15, defects 4 and 5).

Every table that grows with the flows of a capture (TCP directions, UDP flows, IP
fragments in flight) has a hard cap, evicts the least recently active entry first when it
is full, and counts what it evicted; the count becomes a warning of the capture.  The caps
are lowered here so that the tests stay small; bench/resources.py measures the real ones
(peak memory of a million-flow flood).
"""

from __future__ import annotations

import struct

import pytest

from scanner.decode import ip as ip_module
from scanner.decode import packets
from scanner.decode.ip import MAX_DATAGRAM
from scanner.decode.packets import PacketDecoder
from scanner.decode.protocols.base import Anomalies


def _ipv4(src: int, dst: int, proto: int, payload: bytes, ident: int = 1, frag: int = 0x4000) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                         src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + header + payload


def syn(n: int, flags: int = 0x02, data: bytes = b"") -> bytes:
    """A TCP segment of flow number ``n`` (distinct source address and port per flow)."""
    tcp = struct.pack("!HHIIBBHHH", 1024 + n % 60000, 80, 1000, 0, 5 << 4, flags, 65535, 0, 0) + data
    return _ipv4(0x0A000000 + n, 0xC0000201, 6, tcp)


def udp(n: int) -> bytes:
    return _ipv4(0x0A000000 + n, 0xC0000201, 17, struct.pack("!HHHH", 1024 + n % 60000, 9999, 12, 0) + b"abcd")


def fragment(ident: int, offset: int, more: bool, data: bytes, src: int = 0x0A000001) -> bytes:
    field = (offset // 8) | (0x2000 if more else 0)
    return _ipv4(src, 0xC0000201, 17, data, ident=ident, frag=field)


@pytest.fixture
def decoder() -> PacketDecoder:
    return PacketDecoder(Anomalies())


def test_tcp_directions_are_capped_and_evictions_counted(decoder: PacketDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packets, "MAX_TCP_HALVES", 200)
    for n in range(1000):
        decoder.decode(float(n) / 1000, 1, syn(n), n + 1)
        assert len(decoder.tcp_halves) <= 200
    evicted = decoder.anomalies.counts.get("tcp_flows_evicted", 0)
    assert evicted >= 1000 - 100, decoder.anomalies.counts
    warnings = decoder.limit_warnings()
    assert any("TCP" in w and str(evicted) in w for w in warnings), warnings


def test_tcp_eviction_takes_the_longest_idle_flow_first(decoder: PacketDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packets, "MAX_TCP_HALVES", 100)
    ts = 0.0
    decoder.decode(ts, 1, syn(0), 1)  # the oldest flow, kept busy below
    keep = packets.PacketDecoder._key_of(decoder.tcp_halves[next(iter(decoder.tcp_halves))].ctx.flow)
    for n in range(1, 1000):
        ts += 0.01
        decoder.decode(ts, 1, syn(n), n + 1)
        decoder.decode(ts, 1, syn(0, flags=0x10, data=b"x"), n + 1)  # flow 0 moves again
    assert keep in decoder.tcp_halves, "the busiest flow was evicted although it was the least idle"


def test_udp_flows_are_capped_and_evictions_counted(decoder: PacketDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packets, "MAX_UDP_FLOWS", 300)
    for n in range(2000):
        decoder.decode(float(n) / 1000, 1, udp(n), n + 1)
        assert len(decoder.udp_flows) <= 300
    assert decoder.udp_flow_count == 2000  # the count of flows seen is not the table's size
    assert decoder.anomalies.counts.get("udp_flows_evicted", 0) >= 1700 - 150
    assert any("UDP" in w for w in decoder.limit_warnings())


def test_overlapping_fragments_are_bounded_and_counted(decoder: PacketDecoder) -> None:
    # One datagram, sent as thousands of overlapping 1,400-byte pieces at every 8-byte offset:
    # each was kept before (148 MB for a 93 MB capture of 64 datagrams).
    for offset in range(0, 60_000, 8):
        decoder.decode(0.0, 1, fragment(7, offset, True, b"A" * 1400), offset + 1)
    held = decoder.frags.held_bytes()
    assert held <= MAX_DATAGRAM + 8192, held
    assert decoder.anomalies.counts.get("ip_fragment_overlap", 0) > 1000
    assert any("overlap" in w for w in decoder.limit_warnings())


def test_exact_duplicate_fragments_still_reassemble(decoder: PacketDecoder) -> None:
    payload = struct.pack("!HHHH", 5000, 9999, 8 + 32, 0) + bytes(range(32))
    first, second = payload[:24], payload[24:]
    decoder.decode(0.0, 1, fragment(9, 0, True, first), 1)
    decoder.decode(0.0, 1, fragment(9, 0, True, first), 2)  # a retransmitted copy
    decoder.decode(0.0, 1, fragment(9, 24, False, second), 3)
    assert decoder.frags.reassembled == 1
    assert decoder.anomalies.counts.get("ip_fragment_overlap", 0) == 0


def test_fragment_bytes_in_flight_are_capped(decoder: PacketDecoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ip_module, "MAX_FRAGMENT_BYTES", 200_000)
    for ident in range(500):  # 500 first fragments of 1,400 bytes, never completed
        decoder.decode(0.0, 1, fragment(ident, 0, True, b"B" * 1400), ident + 1)
        assert decoder.frags.held_bytes() <= 200_000 + 1400
    assert decoder.anomalies.counts.get("ip_fragments_evicted", 0) > 0


def test_fragments_pending_at_the_end_of_a_capture_are_counted(decoder: PacketDecoder) -> None:
    for ident in range(5):
        decoder.decode(0.0, 1, fragment(ident, 0, True, b"C" * 64), ident + 1)
    decoder.sweep(1.0, everything=True)
    assert decoder.anomalies.counts.get("ip_fragments_incomplete", 0) == 5
    assert len(decoder.frags) == 0
    assert any("fragment" in w for w in decoder.limit_warnings())


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_body_cut_at_its_cap_is_a_warning_of_the_scan(tmp_path: pytest.TempPathFactory, coding: str) -> None:
    from fuzz.resource_cases import body_bomb

    from scanner.ingest import expand_inputs
    from scanner.pipeline import ScanSettings, run_scan

    capture = body_bomb(tmp_path / f"bomb-{coding}.pcap", coding, 8)  # type: ignore[operator]
    result = run_scan(expand_inputs([str(capture)]), ScanSettings())
    assert any("HTTP bodies cut" in w for w in result.warnings), result.warnings


def test_a_flood_becomes_a_warning_of_the_scan(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from fuzz.resource_cases import syn_flood

    from scanner.ingest import expand_inputs
    from scanner.pipeline import ScanSettings, run_scan

    monkeypatch.setattr(packets, "MAX_TCP_HALVES", 1000)
    capture = syn_flood(tmp_path / "flood.pcap", 3000)  # type: ignore[operator]
    result = run_scan(expand_inputs([str(capture)]), ScanSettings())
    assert any("TCP flows evicted" in w for w in result.warnings), result.warnings


def test_http2_open_streams_share_one_body_budget() -> None:
    # 16 streams of 200 KiB each, all open at once: 3.2 MB kept before (each under its own cap).
    from scanner.decode.protocols.base import StreamContext
    from scanner.decode.protocols.http2 import MAX_CONNECTION_BODY_BYTES, PREFACE, Http2Decoder
    from scanner.model import FlowTuple

    def frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + stream.to_bytes(4, "big") + payload

    block = bytes((0x83, 0x86)) + b"\x04\x01/" + b"\x01\x0bapi.example"  # POST http / api.example
    anomalies = Anomalies()
    decoder = Http2Decoder(StreamContext("t", FlowTuple("tcp", "10.0.0.1", 5000, "10.0.0.2", 80)), anomalies)
    decoder.feed(PREFACE, 0.0, 1)
    streams = range(1, 33, 2)
    for stream in streams:
        decoder.feed(frame(1, 0x04, stream, block), 0.0, 2)
    for _ in range(13):  # 13 DATA frames of 16 kB (the default maximum frame size) a stream
        for stream in streams:
            decoder.feed(frame(0, 0, stream, bytes(16_000)), 0.0, 3)
    held = sum(s.body_size for s in decoder._streams.values())
    assert held <= MAX_CONNECTION_BODY_BYTES, held
    events = list(decoder.finish(1.0, 4))
    assert len(events) == len(streams)
    assert anomalies.counts.get("http_body_truncated", 0) > 0
