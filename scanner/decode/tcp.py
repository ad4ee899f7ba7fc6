"""TCP stream reassembly, one direction at a time (RFC 9293 sequence arithmetic).

Each direction of a connection is a ``HalfStream``.  It delivers in-order
bytes to the protocol decoder chosen for it (by port or by a sniff of its
first bytes), trims retransmissions and overlaps, holds out-of-order segments
until the hole fills, and gives up on a hole when its buffers are full or the
connection ends (the decoder is told of the gap).

What keeps an operator capture fast is the ``IGNORE`` state: a direction no
decoder wants (encrypted bulk data after a ClientHello, media, unknown
protocols) keeps no buffer and is dropped by the engine right after the flow
lookup.  Buffers are bounded per direction and in total.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scanner.decode.protocols.base import Anomalies, DecoderBug, StreamContext, StreamDecoder
from scanner.model import Event

SEQ_MASK = 0xFFFFFFFF
HALF_RANGE = 1 << 31

UNKNOWN = 0  # no decoder chosen yet: sniffing the first bytes
PARSING = 1  # a decoder reads the bytes
IGNORE = 2  # nothing here for us: drop packets without buffering

FIN = 0x01
SYN = 0x02
RST = 0x04
ACK = 0x10

# Bytes a direction may hold out of order before the hole is declared lost.
MAX_PENDING_BYTES = 512 * 1024
MAX_PENDING_SEGMENTS = 256
# Bytes gathered to sniff a direction's protocol (enough for the h2 preface).
SNIFF_BYTES = 24
# A hole that has not filled after this much capture time is lost, not late: real
# reordering resolves within a round trip or a retransmission timeout.
HOLE_TIMEOUT = 1.0
# Segments we look at, on a direction first seen mid-stream, for the start of a
# message (an HTTP request on a keep-alive connection) before ignoring it: many on
# the ports where plain HTTP lives, a few elsewhere.
SNIFF_SEGMENTS = 4
SNIFF_SEGMENTS_HTTP_PORTS = 64
HTTP_PORTS = frozenset({80, 8000, 8008, 8080, 8888, 3128})


class HalfStream:
    """One direction of a TCP connection."""

    __slots__ = (
        "closed",
        "created",
        "ctx",
        "decoder",
        "head",
        "isn",
        "last_frame",
        "last_ts",
        "next_seq",
        "peer",
        "pending",
        "pending_bytes",
        "sniffs",
        "state",
    )

    def __init__(self, ctx: StreamContext, ts: float, created: int = 0) -> None:
        self.ctx = ctx
        # The frame at which this direction entered the flow table: flow-table order, which
        # sweeps follow, told by a number every shard of a capture knows alike (run/sharded.py).
        self.created = created
        self.state = UNKNOWN
        self.next_seq: int | None = None
        self.isn: int | None = None  # the SYN's sequence number, to tell its retransmission from a new connection
        # out-of-order segments by sequence number: (payload, capture time, frame)
        self.pending: dict[int, tuple[bytes, float, int]] | None = None
        self.pending_bytes = 0
        self.decoder: StreamDecoder | None = None
        self.head = b""
        self.sniffs = 0
        self.last_ts = ts
        self.last_frame = 0
        self.closed = False
        self.peer: HalfStream | None = None

    def ignore(self) -> None:
        self.state = IGNORE
        self.decoder = None
        self.pending = None
        self.pending_bytes = 0
        self.head = b""


def _is_tls_record(head: bytes) -> bool:
    """A TLS record header of a type other than handshake (change cipher spec, alert, data)."""
    return len(head) >= 3 and 0x14 <= head[0] <= 0x17 and head[1] == 3 and head[2] <= 4


DecoderChooser = Callable[[HalfStream, bytes], "StreamDecoder | None"]


class TcpReassembler:
    """Feeds reassembled bytes of PARSING/UNKNOWN directions to their decoders."""

    def __init__(self, anomalies: Anomalies, choose_decoder: DecoderChooser) -> None:
        self.anomalies = anomalies
        self.choose_decoder = choose_decoder
        self.buffered_bytes = 0  # out-of-order bytes held by all directions
        self.max_buffered_bytes = 256 * 1024 * 1024
        self.retransmitted_segments = 0

    def segment(
        self, half: HalfStream, seq: int, flags: int, payload: bytes, missing: int, ts: float, frame: int
    ) -> list[Event] | None:
        """One segment of a direction that is not ignored.  ``missing``: payload bytes the
        capture did not keep (snap length), which become a gap after this segment."""
        half.last_ts = ts
        half.last_frame = frame
        events: list[Event] | None = None
        if flags & SYN:
            if half.isn != seq or half.next_seq is None:  # not a retransmission of the SYN we had
                half.isn = seq
                half.next_seq = (seq + 1) & SEQ_MASK
            seq = (seq + 1) & SEQ_MASK  # data on a SYN (TCP Fast Open) follows the SYN's sequence number
            if not payload:
                return None
        if half.next_seq is None:
            half.next_seq = seq  # first seen mid-connection
        if payload or missing:
            events = self._data(half, seq, payload, missing, ts, frame)
        if flags & (FIN | RST) and half.state != IGNORE:
            more = self.close(half, ts, frame)
            if more:
                events = (events or []) + more
        return events

    def _data(self, half: HalfStream, seq: int, payload: bytes, missing: int, ts: float, frame: int) -> list[Event] | None:
        assert half.next_seq is not None
        diff = (seq - half.next_seq) & SEQ_MASK
        if diff == 0:
            events = self._deliver(half, payload, ts, frame)
            half.next_seq = (seq + len(payload) + missing) & SEQ_MASK
            if missing:
                events = self._gap(half, ts, frame, events)
            if half.pending:
                # The hole is filled now: like Wireshark, the message completes in this frame.
                events = self._drain(half, ts, frame, events, own_frames=False)
            return events
        if diff < HALF_RANGE:
            # A segment from the future: hold it until the hole before it fills.
            if missing:
                self.anomalies.add("tcp_snaplen_truncated")
            if half.state == IGNORE:
                return None
            pending = half.pending
            if pending is None:
                pending = half.pending = {}
            old = pending.get(seq)
            if old is None or len(old[0]) < len(payload):
                pending[seq] = (payload, ts, frame)
                grown = len(payload) - (len(old[0]) if old else 0)
                half.pending_bytes += grown
                self.buffered_bytes += grown
            if (
                half.pending_bytes > MAX_PENDING_BYTES
                or len(pending) > MAX_PENDING_SEGMENTS
                or self.buffered_bytes > self.max_buffered_bytes
            ):
                self.anomalies.add("tcp_reassembly_overflow")
                return self._skip_hole(half, ts, frame, None)
            if ts - min(entry[1] for entry in pending.values()) > HOLE_TIMEOUT:
                return self._skip_hole(half, ts, frame, None)
            return None
        # A segment from the past: a retransmission, or one that overlaps what we have.
        back = (half.next_seq - seq) & SEQ_MASK
        if back >= len(payload):
            self.retransmitted_segments += 1
            return None
        self.anomalies.add("tcp_overlap")
        return self._data(half, half.next_seq, payload[back:], missing, ts, frame)

    def _drain(
        self, half: HalfStream, ts: float, frame: int, events: list[Event] | None, own_frames: bool
    ) -> list[Event] | None:
        """Deliver the held segments that now continue the stream.  ``own_frames``: each with
        its own time and frame (after a hole was given up: nothing completed them), else with
        the frame that filled the hole (where Wireshark shows the reassembled message)."""
        pending = half.pending
        while pending and half.state != IGNORE:
            assert half.next_seq is not None
            # The common case first: the segment that starts exactly where the stream is; else one
            # that starts behind it (an overlap, or a retransmission of what was delivered).
            seq = half.next_seq if half.next_seq in pending else _first_behind(pending, half.next_seq)
            if seq is None:
                break  # every held segment is still ahead of a hole
            data, seg_ts, seg_frame = pending.pop(seq)
            half.pending_bytes -= len(data)
            self.buffered_bytes -= len(data)
            back = (half.next_seq - seq) & SEQ_MASK
            if back >= len(data):
                continue  # nothing new in it
            more = self._deliver(half, data[back:], *((seg_ts, seg_frame) if own_frames else (ts, frame)))
            half.next_seq = (half.next_seq + len(data) - back) & SEQ_MASK
            if more:
                events = (events or []) + more
        return events

    def _skip_hole(self, half: HalfStream, ts: float, frame: int, events: list[Event] | None) -> list[Event] | None:
        """Give up on the hole before the earliest held segment and carry on from there."""
        pending = half.pending
        if not pending:
            return events
        assert half.next_seq is not None
        base = half.next_seq
        earliest = min(pending, key=lambda s: (s - base) & SEQ_MASK)
        half.next_seq = earliest
        events = self._gap(half, ts, frame, events)
        return self._drain(half, ts, frame, events, own_frames=True)

    def _gap(self, half: HalfStream, ts: float, frame: int, events: list[Event] | None) -> list[Event] | None:
        self.anomalies.add("tcp_gap")
        if half.decoder is not None:
            try:
                half.decoder.gap(ts, frame)
            except Exception as exc:
                raise DecoderBug(half.decoder.name, exc) from exc
            if half.decoder.done:
                self._ignore(half)
        elif half.state == UNKNOWN:
            half.head = b""
        return events

    def _deliver(self, half: HalfStream, data: bytes, ts: float, frame: int) -> list[Event] | None:
        if half.state == IGNORE or not data:
            return None
        if half.state == UNKNOWN:
            head = half.head + data if half.head else data
            if len(head) < SNIFF_BYTES and not half.closed:
                # Too few bytes to tell the protocol yet; SNIFF_BYTES is small and bounded.
                half.head = head
                decoder = self.choose_decoder(half, head) if len(head) >= 8 else None
                if decoder is None:
                    return None
            else:
                decoder = self.choose_decoder(half, head)
                if decoder is None and head is not data:
                    # What came before may be junk (a keep-alive byte): try this segment alone.
                    decoder = self.choose_decoder(half, data)
                    head = data
            half.head = b""
            if decoder is None:
                half.sniffs += 1
                flow = half.ctx.flow
                limit = SNIFF_SEGMENTS_HTTP_PORTS if flow.dport in HTTP_PORTS or flow.sport in HTTP_PORTS else SNIFF_SEGMENTS
                if half.sniffs >= limit or _is_tls_record(head):
                    # TLS records seen mid-connection can never show a ClientHello again.
                    self._ignore(half)
                return None
            half.decoder = decoder
            half.state = PARSING
            data = head
        decoder = half.decoder
        assert decoder is not None
        try:
            out: Sequence[Event] = decoder.feed(data, ts, frame)
        except Exception as exc:
            raise DecoderBug(decoder.name, exc) from exc
        if decoder.done:
            self._ignore(half)
        return list(out) if out else None

    def close(self, half: HalfStream, ts: float, frame: int) -> list[Event] | None:
        """The direction ended (FIN/RST) or its flow expired: flush what is buffered."""
        half.closed = True
        events: list[Event] | None = None
        # Give up every remaining hole, not only the first: each gives up at least the
        # earliest held segment, and what follows a later hole (the next request) is read.
        while half.pending and half.state != IGNORE:
            events = self._skip_hole(half, ts, frame, events)
        if half.state == UNKNOWN and half.head:
            head, half.head = half.head, b""
            decoder = self.choose_decoder(half, head)
            if decoder is not None:
                half.decoder, half.state = decoder, PARSING
                try:
                    out = decoder.feed(head, ts, frame)
                except Exception as exc:
                    raise DecoderBug(decoder.name, exc) from exc
                if out:
                    events = (events or []) + list(out)
        if half.decoder is not None:
            try:
                out = half.decoder.finish(ts, frame)
            except Exception as exc:
                raise DecoderBug(half.decoder.name, exc) from exc
            if out:
                events = (events or []) + list(out)
        self._ignore(half)
        return events

    def _ignore(self, half: HalfStream) -> None:
        """Stop reading a direction, giving back the out-of-order bytes it held to the
        total bound (a direction may be ignored while segments after the hello are held)."""
        self.buffered_bytes -= half.pending_bytes
        half.ignore()


def _first_behind(pending: dict[int, tuple[bytes, float, int]], next_seq: int) -> int | None:
    """The first held segment (in arrival order) that starts at or behind ``next_seq``."""
    for seq in pending:
        if (seq - next_seq) & SEQ_MASK >= HALF_RANGE:
            return seq
    return None
