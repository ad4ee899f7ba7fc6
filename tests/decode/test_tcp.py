"""TCP stream reassembly (decode/tcp.py) as the HTTP and TLS decoders see it.

Each test plays one connection segment by segment (scapy-built, sequence
numbers given as offsets into each direction's byte stream) and checks what
comes out: the requests, the anomalies, the counters and the flow table.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from scanner.decode import packets, tcp
from scanner.decode.tcp import IGNORE, MAX_PENDING_BYTES, MAX_PENDING_SEGMENTS, PARSING
from scanner.model import HttpRequest, TlsClientHello

SEQ_MASK = 0xFFFFFFFF

REQ_A = (
    b"GET /track?uid=kid-42&adid=38400000-8cf0 HTTP/1.1\r\n"
    b"Host: ads.example\r\n"
    b"User-Agent: KidsApp/1.0\r\n\r\n"
)
REQ_B = (
    b"POST /collect HTTP/1.1\r\n"
    b"Host: stats.example\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 19\r\n\r\n"
    b"email=kid%40mail.tv"
)
REQ_C = b"GET /pixel.gif?u=7 HTTP/1.1\r\nHost: pixel.example\r\n\r\n"


class Conn:
    """One TCP connection.  Offsets count data bytes of a direction from its first one."""

    def __init__(
        self,
        client: tuple[str, int] = ("10.0.0.7", 40000),
        server: tuple[str, int] = ("93.184.216.34", 80),
        isn: int = 1000,
        server_isn: int = 900_000,
    ) -> None:
        self.client, self.server = client, server
        self.isn, self.server_isn = isn, server_isn

    def _packet(self, forward: bool, seq: int, flags: str, payload: bytes) -> bytes:
        (src, sport), (dst, dport) = (self.client, self.server) if forward else (self.server, self.client)
        segment = IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq & SEQ_MASK, flags=flags)
        if payload:
            segment = segment / Raw(payload)
        return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / segment)

    def syn(self, payload: bytes = b"") -> bytes:
        return self._packet(True, self.isn, "S", payload)

    def synack(self) -> bytes:
        return self._packet(False, self.server_isn, "SA", b"")

    def c(self, payload: bytes, offset: int = 0, flags: str = "PA") -> bytes:
        return self._packet(True, self.isn + 1 + offset, flags, payload)

    def s(self, payload: bytes, offset: int = 0, flags: str = "PA") -> bytes:
        return self._packet(False, self.server_isn + 1 + offset, flags, payload)

    def cut(self, data: bytes, *sizes: int, start: int = 0) -> list[bytes]:
        """Client segments of ``data`` cut at the given sizes (the rest in the last one)."""
        out, offset = [], 0
        for size in (*sizes, len(data)):
            if offset >= len(data):
                break
            piece = data[offset : offset + size]
            out.append(self.c(piece, start + offset))
            offset += len(piece)
        return out


def requests(result) -> list[tuple[str, str | None, str]]:
    return [(r.method, r.host, r.uri) for r in result.of(HttpRequest)]


A = ("GET", "ads.example", "/track?uid=kid-42&adid=38400000-8cf0")
B = ("POST", "stats.example", "/collect")
C = ("GET", "pixel.example", "/pixel.gif?u=7")


# ------------------------------------------------------------------------------ segments in order


def test_request_split_inside_a_header_value(decode_frames) -> None:
    conn = Conn()
    cut_at = REQ_A.index(b"ads.exa") + 7  # "ads.exa" | "mple"
    result = decode_frames([conn.syn(), conn.synack(), *conn.cut(REQ_A, cut_at, 5)])
    (request,) = result.of(HttpRequest)
    assert (request.method, request.host, request.uri, request.user_agent) == (*A, "KidsApp/1.0")
    # The event names the frame that completed the request, and where it began.
    assert (request.frame, request.first_frame) == (5, 3)
    assert request.flow.to_record() == {"proto": "tcp", "src": "10.0.0.7", "sport": 40000, "dst": "93.184.216.34", "dport": 80}
    assert result.anomalies == {}


def test_request_one_byte_per_segment(decode_frames) -> None:
    conn = Conn()
    result = decode_frames([conn.syn(), *conn.cut(REQ_B, *([1] * len(REQ_B)))])
    (request,) = result.of(HttpRequest)
    assert (request.method, request.host, request.uri, request.body) == (*B, b"email=kid%40mail.tv")


def test_pipelined_requests_in_one_segment_and_across_segments(decode_frames) -> None:
    conn = Conn()
    stream = REQ_A + REQ_B + REQ_C
    # one segment holding A and the start of B; B's body and C in the next
    cut = len(REQ_A) + 30
    result = decode_frames([conn.syn(), *conn.cut(stream, cut)])
    assert requests(result) == [A, B, C]
    assert [r.frame for r in result.of(HttpRequest)] == [2, 3, 3]


# ------------------------------------------------------------------------ order, loss and overlap


def test_two_adjacent_segments_swapped(decode_frames) -> None:
    conn = Conn()
    first, second, third = conn.cut(REQ_A, 20, 30)
    result = decode_frames([conn.syn(), first, third, second])
    (request,) = result.of(HttpRequest)
    assert (request.method, request.host, request.uri) == A
    # Which frame names a request completed out of order (the segment with its last bytes,
    # 3, or the one that filled the hole, 4, as Wireshark does) is pinned by
    # tests/engines/test_tshark_http.py as a known difference between the engines.
    assert request.frame in (3, 4)
    assert result.decoder.tcp.buffered_bytes == 0
    assert result.anomalies == {}


def test_retransmitted_segment_is_read_once(decode_frames) -> None:
    conn = Conn()
    first, second = conn.cut(REQ_A + REQ_C, 40)
    result = decode_frames([conn.syn(), first, first, second, second])
    assert requests(result) == [A, C]
    assert result.decoder.tcp.retransmitted_segments == 2


def test_overlapping_segments_are_trimmed(decode_frames) -> None:
    conn = Conn()
    data = REQ_A + REQ_C
    frames = [conn.syn(), conn.c(data[:50], 0), conn.c(data[30:90], 30), conn.c(data[85:], 85)]
    result = decode_frames(frames)
    assert requests(result) == [A, C]
    assert result.anomalies == {"tcp_overlap": 2}


def test_overlapping_segments_held_out_of_order(decode_frames) -> None:
    conn = Conn()
    data = REQ_A + REQ_C
    # Two future segments that overlap each other, then the hole before them fills.
    frames = [conn.syn(), conn.c(data[40:100], 40), conn.c(data[90:], 90), conn.c(data[:40], 0)]
    assert requests(decode_frames(frames)) == [A, C]


def test_lost_segment_then_resync_on_the_next_request(decode_frames) -> None:
    conn = Conn()
    stream = REQ_A + REQ_B + REQ_C
    a_end, b_end = len(REQ_A), len(REQ_A) + len(REQ_B)
    frames = [
        conn.syn(),
        conn.c(stream[:a_end], 0),  # A whole
        conn.c(stream[a_end : a_end + 40], a_end),  # B's head begins
        # lost: the rest of B's header section
        conn.c(stream[b_end - 19 : b_end], b_end - 19),  # B's body (held: after the hole)
        conn.c(stream[b_end:], b_end),  # C (held)
    ]
    # A hole is given up when the capture has moved on by more than HOLE_TIMEOUT since the
    # first segment held after it (here when C arrives), not only at the end of the capture.
    result = decode_frames(frames, step=tcp.HOLE_TIMEOUT * 0.75, flush=False)
    assert requests(result) == [A]  # C arrived 0.75 s after B's body: the hole may still fill
    result = decode_frames(frames, step=tcp.HOLE_TIMEOUT * 1.5, flush=False)
    # B's request line was whole before the loss; its Host line was not, and is not invented.
    assert requests(result) == [A, ("POST", None, "/collect"), C]
    assert result.anomalies == {"tcp_gap": 1, "http_lost_bytes": 1}


def test_lost_body_bytes_keep_the_request_that_was_read(decode_frames) -> None:
    conn = Conn()
    body_start = len(REQ_B) - 19
    frames = [
        conn.syn(),
        conn.c(REQ_B[:body_start], 0),  # B's header section, whole
        conn.c(REQ_C, len(REQ_B)),  # C, after B's lost body
    ]
    result = decode_frames(frames)  # the end of the capture gives up the hole
    (b, c) = result.of(HttpRequest)
    assert ((b.method, b.host, b.uri), b.body_truncated) == (B, True)
    assert (c.method, c.host, c.uri) == C


def test_hole_given_up_when_the_direction_closes(decode_frames) -> None:
    conn = Conn()
    frames = [
        conn.syn(),
        conn.c(REQ_A[:20], 0),
        # lost: REQ_A[20:]
        conn.c(REQ_C, len(REQ_A)),  # held after the hole
        conn.c(b"", len(REQ_A) + len(REQ_C), flags="FA"),
    ]
    result = decode_frames(frames, flush=False)
    assert requests(result) == [C]
    # A hole given up never completes anything: the request keeps the frame that holds it.
    assert result.of(HttpRequest)[0].frame == 3
    assert result.decoder.tcp.buffered_bytes == 0


def test_connection_first_seen_mid_stream_keep_alive_byte_then_request(decode_frames) -> None:
    conn = Conn(isn=5_000_000)
    # No SYN: the capture started during the connection.  A TCP keep-alive probe carries
    # one garbage byte at sequence next-1; the next request follows it.
    frames = [conn.c(b"\x00", 0, flags="A"), conn.c(REQ_A, 1), conn.c(REQ_C, 1 + len(REQ_A))]
    assert requests(decode_frames(frames)) == [A, C]


def test_connection_first_seen_in_the_middle_of_a_body(decode_frames) -> None:
    conn = Conn(isn=5_000_000)
    tail = b"x" * 300  # the end of some upload
    frames = [conn.c(tail, 0), conn.c(tail, 300), conn.c(REQ_C, 600)]
    assert requests(decode_frames(frames)) == [C]


def test_syn_with_data_tcp_fast_open(decode_frames) -> None:
    conn = Conn()
    result = decode_frames([conn.syn(REQ_A), conn.synack(), conn.c(REQ_C, len(REQ_A))])
    assert requests(result) == [A, C]


# ---------------------------------------------------------------------------------- FIN and RST


@pytest.mark.parametrize("flags", ["FA", "RA"], ids=["fin", "rst"])
def test_fin_or_rst_flushes_a_request_whose_body_is_incomplete(decode_frames, flags: str) -> None:
    conn = Conn()
    partial = REQ_B[:-9]  # 10 of 19 body bytes
    result = decode_frames([conn.syn(), conn.c(partial, 0), conn.c(b"", len(partial), flags=flags)], flush=False)
    (request,) = result.of(HttpRequest)
    assert (request.method, request.host, request.uri) == B
    assert (request.body, request.body_truncated) == (b"email=kid%", True)
    # Flushed by the FIN/RST segment, named after the segment that carried its last bytes: that is
    # when (and, on a reassigned address, who) sent it.
    assert request.frame == 2
    if flags == "RA":  # a reset forgets the connection at once
        assert result.decoder.tcp_halves == {}


def test_connection_is_forgotten_once_both_sides_closed(decode_frames) -> None:
    conn = Conn()
    frames = [
        conn.syn(),
        conn.synack(),
        conn.c(REQ_A, 0),
        conn.s(b"HTTP/1.1 204 No Content\r\n\r\n", 0),
        conn.c(b"", len(REQ_A), flags="FA"),
    ]
    result = decode_frames(frames, flush=False)
    assert len(result.decoder.tcp_halves) == 2  # half-closed: the server may still talk
    result2 = decode_frames([conn.s(b"", 27, flags="FA")], decoder=result.decoder, flush=False)
    assert result2.decoder.tcp_halves == {}


# ----------------------------------------------------------------------------- sequence wrap-around


@pytest.mark.parametrize("swap", [False, True], ids=["in-order", "out-of-order"])
def test_sequence_numbers_wrap_at_two_to_the_32(decode_frames, swap: bool) -> None:
    conn = Conn(isn=2**32 - 30)  # the first data byte is at 2**32 - 29: the request crosses 0
    pieces = conn.cut(REQ_A + REQ_C, 20, 20)
    if swap:
        pieces[1], pieces[2] = pieces[2], pieces[1]
    result = decode_frames([conn.syn(), *pieces])
    assert requests(result) == [A, C]
    assert result.anomalies == {}
    assert result.decoder.tcp.retransmitted_segments == 0


def test_retransmission_across_the_wrap_is_still_a_retransmission(decode_frames) -> None:
    conn = Conn(isn=2**32 - 10)
    pieces = conn.cut(REQ_A, 30)
    result = decode_frames([conn.syn(), pieces[0], pieces[1], pieces[0]])
    assert requests(result) == [A]
    assert result.decoder.tcp.retransmitted_segments == 1


# --------------------------------------------------------------------------------- bounded buffers


def test_out_of_order_bytes_beyond_the_bound_give_up_the_hole(decode_frames) -> None:
    conn = Conn()
    body, held = 9000, MAX_PENDING_BYTES // 9000 + 1
    head = b"POST /upload HTTP/1.1\r\nHost: up.example\r\nContent-Length: %d\r\n\r\n" % (body * (held + 1))
    frames = [conn.syn(), conn.c(head, 0)]
    # The first body segment is lost; the next ones are held until the bound is passed.
    offset = len(head) + body
    for _ in range(held):
        frames.append(conn.c(b"y" * body, offset))
        offset += body
    frames.append(conn.c(REQ_C, offset))
    result = decode_frames(frames, flush=False)
    assert result.anomalies["tcp_reassembly_overflow"] == 1
    assert result.anomalies["tcp_gap"] == 1
    upload = result.of(HttpRequest)[0]
    assert (upload.host, upload.body_truncated) == ("up.example", True)
    assert requests(result)[1:] == [C]  # read after the given-up hole
    half = next(h for h in result.decoder.tcp_halves.values() if h.ctx.flow.dport == 80)
    assert half.pending_bytes == 0 and not half.pending
    assert result.decoder.tcp.buffered_bytes == 0


def test_out_of_order_segments_beyond_the_bound(decode_frames) -> None:
    conn = Conn()
    frames = [conn.syn(), conn.c(b"GET /", 0)]
    offset = 10  # five bytes lost
    for _ in range(MAX_PENDING_SEGMENTS + 1):
        frames.append(conn.c(b"z", offset))
        offset += 1
    result = decode_frames(frames, flush=False)
    assert result.anomalies.get("tcp_reassembly_overflow") == 1
    assert result.decoder.tcp.buffered_bytes == 0


# ---------------------------------------------------------------------------------------- TLS


def server_hello() -> bytes:
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00"
    return b"\x16\x03\x03" + (len(body) + 4).to_bytes(2, "big") + b"\x02" + len(body).to_bytes(3, "big") + body


APP_DATA = b"\x17\x03\x03\x00\x20" + bytes(32)


def find_halves(decoder):
    return {(h.ctx.flow.sport, h.ctx.flow.dport): h for h in decoder.tcp_halves.values()}


def test_tls_directions_are_ignored_after_the_hellos(decode_frames, tls) -> None:
    conn = Conn(server=("93.184.216.34", 443))
    hello = tls.records(tls.client_hello(sni="kids.example"))
    frames = [conn.syn(), conn.synack(), conn.c(hello, 0), conn.s(server_hello(), 0)]
    client_off, server_off = len(hello), len(server_hello())
    for _ in range(5):
        frames += [conn.c(APP_DATA, client_off), conn.s(APP_DATA, server_off)]
        client_off += len(APP_DATA)
        server_off += len(APP_DATA)
    result = decode_frames(frames, flush=False)
    (event,) = result.of(TlsClientHello)
    assert event.sni == "kids.example"
    halves = find_halves(result.decoder)
    assert halves[(40000, 443)].state == IGNORE  # after the ClientHello: nothing more to read
    assert halves[(443, 40000)].state == IGNORE  # the server side too, from its ServerHello
    assert all(h.pending is None and h.head == b"" for h in halves.values())
    # Every later packet of the connection was dropped right after the flow lookup.
    assert result.decoder.frames_skipped_encrypted == 10
    # A FIN still ends the connection from the fast path.
    end = decode_frames([conn.c(b"", client_off, "FA"), conn.s(b"", server_off, "FA")], decoder=result.decoder, flush=False)
    assert end.decoder.tcp_halves == {}


def test_tls_connection_seen_mid_stream_is_ignored_at_once(decode_frames) -> None:
    conn = Conn(server=("93.184.216.34", 8443), isn=77_000)
    frames = [conn.c(APP_DATA, i * len(APP_DATA)) for i in range(4)]
    result = decode_frames(frames, flush=False)
    assert result.events == []
    (half,) = [h for h in result.decoder.tcp_halves.values() if h.ctx.flow.dport == 8443]
    assert half.state == IGNORE
    assert result.decoder.frames_skipped_encrypted == 3  # all but the first, which decided


def test_client_hello_out_of_order_releases_its_buffered_bytes(decode_frames, tls) -> None:
    # The ClientHello's two halves arrive swapped and encrypted data is already held after
    # them; once the hello is read the direction is ignored and every held byte is let go.
    conn = Conn(server=("93.184.216.34", 443))
    hello = tls.records(tls.client_hello(sni="kids.example"))
    first, second = hello[:50], hello[50:]
    frames = [
        conn.syn(),
        conn.c(second, 50),
        conn.c(APP_DATA, len(hello)),
        conn.c(APP_DATA, len(hello) + len(APP_DATA)),
        conn.c(first, 0),
    ]
    result = decode_frames(frames, flush=False)
    assert [e.sni for e in result.of(TlsClientHello)] == ["kids.example"]
    assert result.decoder.tcp.buffered_bytes == 0


def test_parsing_state_while_a_request_is_open(decode_frames) -> None:
    conn = Conn()
    result = decode_frames([conn.syn(), conn.c(REQ_A[:30], 0)], flush=False)
    half = find_halves(result.decoder)[(40000, 80)]
    assert half.state == PARSING


def test_unknown_protocol_is_ignored_after_a_few_segments(decode_frames) -> None:
    conn = Conn(server=("93.184.216.34", 5222))  # not an HTTP port
    frames = [conn.syn()] + [conn.c(b"\x00\x01binary-proto" + bytes(30), i * 44) for i in range(10)]
    result = decode_frames(frames, flush=False)
    half = find_halves(result.decoder)[(40000, 5222)]
    assert half.state == IGNORE
    assert result.decoder.frames_skipped_encrypted == 10 - tcp.SNIFF_SEGMENTS


# ------------------------------------------------------------------------------------ expiry


def test_idle_flows_expire_on_capture_time_and_the_table_shrinks(decode_frames, frame_type, monkeypatch) -> None:
    monkeypatch.setattr(packets, "SWEEP_EVERY_FRAMES", 8)
    t0 = 1_700_000_000.0
    frames = []
    for i in range(20):
        conn = Conn(client=("10.0.0.7", 41000 + i))
        frames += [frame_type(conn.syn(), ts=t0), frame_type(conn.c(REQ_B[:-5], 0), ts=t0)]  # body incomplete
    busy = Conn(client=("10.0.0.8", 50000))
    frames.append(frame_type(busy.syn(), ts=t0))
    # Only the busy connection goes on talking, past the idle timeout of the others.
    for step in range(1, 16):
        frames.append(frame_type(busy.c(b"x", step - 1, flags="A"), ts=t0 + step * packets.TCP_IDLE_TIMEOUT / 10))
    result = decode_frames(frames, flush=False)
    assert len(result.decoder.tcp_halves) == 2  # 42 directions before; the busy flow's two remain
    assert {h.ctx.flow.sport for h in result.decoder.tcp_halves.values()} == {50000, 80}
    # The expired flows' pending requests were flushed when they expired, not lost.
    flushed = result.of(HttpRequest)
    assert len(flushed) == 20 and all(r.body_truncated and r.host == "stats.example" for r in flushed)


def test_a_silent_direction_does_not_expire_a_talking_one(decode_frames, frame_type) -> None:
    conn = Conn()
    t0 = 1_700_000_000.0
    result = decode_frames(
        [frame_type(conn.syn(), ts=t0), frame_type(conn.c(REQ_A[:20], 0), ts=t0 + packets.TCP_IDLE_TIMEOUT - 1)],
        flush=False,
    )
    result.decoder.sweep(t0 + packets.TCP_IDLE_TIMEOUT + 5)
    assert len(result.decoder.tcp_halves) == 2
    result.decoder.sweep(t0 + 2 * packets.TCP_IDLE_TIMEOUT + 5)
    assert result.decoder.tcp_halves == {}


def test_reset_from_the_server_flushes_the_clients_pending_request(decode_frames) -> None:
    # An upload the server (or a middlebox speaking for it) resets: what the client had sent
    # (its URI, headers and the body so far) is still read.
    conn = Conn()
    partial = REQ_B[:-9]
    result = decode_frames([conn.syn(), conn.synack(), conn.c(partial, 0), conn.s(b"", 0, flags="RA")], flush=False)
    (request,) = result.of(HttpRequest)
    assert ((request.method, request.host, request.uri), request.body_truncated) == (B, True)
    assert result.decoder.tcp_halves == {}


def test_every_hole_is_given_up_when_the_direction_ends(decode_frames) -> None:
    # As in PcapPlusPlus' 4KHttpRequests.pcap: the capture lost a few bytes at the end of
    # each request, so several holes are pending when the capture ends; every request held
    # after them must still be read, not only the one after the first hole.
    conn = Conn()
    a, b = len(REQ_A), len(REQ_A) + len(REQ_B)
    frames = [
        conn.syn(),
        conn.c(REQ_A[:-4], 0),  # the last 4 bytes of A are lost
        conn.c(REQ_B[:-4], a),  # the last 4 body bytes of B are lost
        conn.c(REQ_C, b),
    ]
    result = decode_frames(frames)  # the end of the capture closes the direction
    assert requests(result) == [A, B, C]  # A: its request line and Host line were whole
    assert [r.body_truncated for r in result.of(HttpRequest)] == [True, True, False]
    assert result.decoder.tcp.buffered_bytes == 0


# ------------------------------------------------------------------------------ ports reused


def test_a_new_connection_on_reused_ports_is_read(decode_frames, tls) -> None:
    """NAT and missed FINs reuse a 4-tuple: a SYN with a new sequence number starts a new connection
    instead of inheriting the old one's IGNORE state."""
    old = Conn(isn=5_000)
    frames = [old.c(APP_DATA, i * len(APP_DATA)) for i in range(5)]  # mid-stream junk: ignored
    new = Conn(isn=9_000_000, server_isn=7_000)
    frames += [new.syn(), new.synack(), new.c(REQ_A)]
    result = decode_frames(frames)
    assert requests(result) == [A]
    assert result.decoder.tcp_flows == 2


def test_a_retransmitted_syn_does_not_restart_the_connection(decode_frames) -> None:
    conn = Conn()
    result = decode_frames([conn.syn(), conn.c(REQ_A[:20], 0), conn.syn(), conn.c(REQ_A[20:], 20)])
    assert requests(result) == [A]
    assert result.decoder.tcp_flows == 1


def test_a_request_flushed_at_the_end_keeps_the_time_of_its_last_bytes(decode_frames) -> None:
    """Attribution is time-aware: a request cut short must not take the capture's last time."""
    conn = Conn()
    frames = [conn.syn(), conn.synack(), conn.c(REQ_B[:-5], 0)]
    frames += [Conn(client=("10.0.0.9", 41000)).c(REQ_C)]  # other traffic, 50 s later
    result = decode_frames(frames, step=50.0, start=1_000.0)
    (cut,) = [r for r in result.of(HttpRequest) if r.host == "stats.example"]
    assert cut.body_truncated
    assert (cut.frame, cut.ts) == (3, pytest.approx(1_100.0)), "its own frame and time, not the flush's (1 150 s)"
