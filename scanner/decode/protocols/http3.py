"""HTTP/3 (RFC 9114) requests from the decrypted streams of a QUIC connection, QPACK (RFC 9204) headers.

The QUIC decoder (quic.py) decrypts a connection's 1-RTT packets with the lab's keys, puts each
stream's bytes back in order and hands them here, stream by stream.  What is read:

- client-initiated bidirectional streams (ids 0, 4, 8, ...): the request, as HTTP/3 frames
  (RFC 9114 s7.2): HEADERS (QPACK-compressed fields, the pseudo-header fields carry the
  method, authority and path), DATA (the body, streamed into a bounded buffer), a second
  HEADERS for trailers; other frame types are stepped over (s9: unknown types are ignored);
- unidirectional streams (s6.2): the server's control stream for its SETTINGS, whose
  QPACK_MAX_TABLE_CAPACITY and QPACK_BLOCKED_STREAMS the client's encoder works to (the
  Required Insert Count of every header block is encoded against that capacity, RFC 9204
  s4.5.1.1), and the client's QPACK encoder stream, which fills the dynamic table.

QPACK is decoded by ``pylsqpack`` (the ls-qpack library aioquic uses).  A header block that
refers to dynamic-table entries not yet received is blocked (RFC 9204 s2.1.2) and resumed when
the encoder stream brings them; blocks that arrive before the server's SETTINGS wait for them
(a block that uses no dynamic entry is decoded at once).

One ``http`` event (HttpRequest, version "HTTP/3") is emitted per request stream when the
client ends it (FIN) and its header block is decoded; its frame is the packet that completed it.
Bounded: request streams per connection, header block and body sizes, the encoder bytes held
before SETTINGS; what is dropped is counted, never raised.
"""

from __future__ import annotations

from collections import OrderedDict

import pylsqpack

from scanner.decode.http_message import request_from_fields
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.model import Event

# Frame types (RFC 9114 s7.2) and settings (s7.2.4.1, RFC 9204 s5).
FRAME_DATA, FRAME_HEADERS, FRAME_SETTINGS = 0x00, 0x01, 0x04
SETTINGS_QPACK_MAX_TABLE_CAPACITY, SETTINGS_QPACK_BLOCKED_STREAMS = 0x01, 0x07
# Unidirectional stream types (RFC 9114 s6.2, RFC 9204 s4.2).
STREAM_CONTROL, STREAM_PUSH, STREAM_QPACK_ENCODER, STREAM_QPACK_DECODER = 0x00, 0x01, 0x02, 0x03

MAX_REQUEST_STREAMS = 256  # open request streams per connection; the oldest idle one goes first
MAX_HEADER_BLOCK = 256 * 1024
MAX_CONTROL_FRAME = 64 * 1024
MAX_BODY_BYTES = 256 * 1024  # body bytes kept per request for detection; the rest is counted
MAX_ENCODER_BACKLOG = 256 * 1024  # encoder-stream bytes held while the server's SETTINGS are unseen


def _varint(buf: bytes | bytearray, offset: int) -> tuple[int, int] | None:
    """A QUIC variable-length integer (RFC 9000 s16) at ``offset`` and the offset after it;
    None when the buffer ends inside it (more bytes will come on the stream)."""
    if offset >= len(buf):
        return None
    first = buf[offset]
    size = 1 << (first >> 6)
    end = offset + size
    if end > len(buf):
        return None
    value = first & 0x3F
    for i in range(offset + 1, end):
        value = (value << 8) | buf[i]
    return value, end


class _RequestStream:
    """One request stream: unparsed frame bytes, the header fields, the body so far."""

    __slots__ = (
        "blocked",
        "body_parts",
        "body_size",
        "buffer",
        "data_left",
        "done",
        "fields",
        "fin",
        "first_frame",
        "pending_block",
        "skip_left",
        "truncated",
    )

    def __init__(self, first_frame: int) -> None:
        self.buffer = bytearray()
        self.data_left = 0  # bytes still to come of the DATA frame being read
        self.skip_left = 0  # bytes still to come of a frame that is stepped over
        self.fields: list[tuple[str, str]] | None = None
        self.pending_block: bytes | None = None  # waiting for the server's SETTINGS
        self.blocked = False  # waiting in the QPACK decoder for encoder-stream entries
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.truncated = False
        self.fin = False
        self.done = False
        self.first_frame = first_frame

    def add_body(self, data: bytes) -> None:
        room = MAX_BODY_BYTES - self.body_size
        if len(data) > room:
            data = data[: max(room, 0)]
            self.truncated = True
        if data:
            self.body_parts.append(data)
            self.body_size += len(data)


class _UniStream:
    """A unidirectional stream: its type once read, and (control streams) unparsed frame bytes."""

    __slots__ = ("buffer", "kind")

    def __init__(self) -> None:
        self.kind: int | None = None
        self.buffer = bytearray()


class Http3Connection:
    """The HTTP/3 layer of one decrypted QUIC connection (both directions)."""

    def __init__(self, anomalies: Anomalies, decrypted_from: str = "QUICv1") -> None:
        self.anomalies = anomalies
        self.decrypted_from = decrypted_from  # HttpRequest.decrypted: the transport the keys opened
        self._requests: OrderedDict[int, _RequestStream] = OrderedDict()
        self._uni: dict[int, _UniStream] = {}
        self._decoder: pylsqpack.Decoder | None = None
        self._static_decoder: pylsqpack.Decoder | None = None
        self._encoder_backlog = bytearray()
        self._awaiting_settings: list[int] = []
        self.settings_seen = False
        self.requests = 0

    @property
    def needs_server(self) -> bool:
        """Whether the server's packets still matter: only until its SETTINGS are read."""
        return not self.settings_seen

    # ------------------------------------------------------------------ input

    def stream_data(self, stream_id: int, data: bytes, fin: bool, from_client: bool, at: PacketContext) -> list[Event]:
        """In-order bytes of one stream (``fin``: they end it); ``at``'s flow is oriented from the client."""
        events: list[Event] = []
        if stream_id & 0x02:
            self._uni_data(stream_id, data, from_client, at, events)
        elif from_client and not stream_id & 0x01:
            self._request_data(stream_id, data, fin, at, events)
        # Server-initiated bidirectional streams do not exist in HTTP/3 (RFC 9114 s6.1) and
        # responses are not read: identifiers leave the device in requests.
        return events

    def buffered(self) -> int:
        """Bytes held for the requests still open (frame bytes not yet read, bodies)."""
        return sum(len(s.buffer) + s.body_size for s in self._requests.values())

    def close(self) -> None:
        """The connection is let go: requests still waiting (for a QPACK insert, for SETTINGS,
        for their end) are counted, not lost silently."""
        for stream in self._requests.values():
            if not stream.done:
                self.anomalies.add("http3_request_incomplete")
        self._requests.clear()

    def stream_reset(self, stream_id: int) -> None:
        """The stream's bytes were lost or reset: what it held is dropped, counted."""
        if self._requests.pop(stream_id, None) is not None:
            self.anomalies.add("http3_request_incomplete")

    # ------------------------------------------------------------------ requests

    def _request_data(self, stream_id: int, data: bytes, fin: bool, at: PacketContext, events: list[Event]) -> None:
        stream = self._requests.get(stream_id)
        if stream is None:
            stream = _RequestStream(at.frame)
            self._requests[stream_id] = stream
            if len(self._requests) > MAX_REQUEST_STREAMS:
                self._requests.popitem(last=False)
                self.anomalies.add("http3_stream_evicted")
        else:
            self._requests.move_to_end(stream_id)
        if stream.done:
            return
        if data:
            self._frames(stream_id, stream, data, at, events)
        if fin and not stream.done:
            stream.fin = True
            self._maybe_emit(stream_id, stream, at, events)

    def _frames(self, stream_id: int, stream: _RequestStream, data: bytes, at: PacketContext, events: list[Event]) -> None:
        """Read the frames of a request stream as far as its bytes go (RFC 9114 s7.1)."""
        view = memoryview(data)
        while view:
            if stream.data_left:
                take = view[: stream.data_left]
                stream.add_body(bytes(take))
                stream.data_left -= len(take)
                view = view[len(take) :]
                continue
            if stream.skip_left:
                skipped = min(stream.skip_left, len(view))
                stream.skip_left -= skipped
                view = view[skipped:]
                continue
            stream.buffer += view
            view = memoryview(b"")
            buf = stream.buffer
            while True:
                head = _varint(buf, 0)
                if head is None:
                    return
                ftype, pos = head
                size = _varint(buf, pos)
                if size is None:
                    return
                length, pos = size
                if ftype == FRAME_DATA:
                    stream.data_left = length
                    rest = bytes(buf[pos:])
                    del buf[:]
                    view = memoryview(rest)
                    break
                if ftype == FRAME_HEADERS:
                    if length > MAX_HEADER_BLOCK:
                        self._fail(stream, "http3_header_block_too_large")
                        return
                    if len(buf) < pos + length:
                        return  # the rest of the block is still to come
                    block = bytes(buf[pos : pos + length])
                    del buf[: pos + length]
                    self._header_block(stream_id, stream, block, at, events)
                    if stream.done:
                        return
                    continue
                # Any other frame on a request stream (unknown, reserved, PUSH_PROMISE) is skipped.
                stream.skip_left = length
                rest = bytes(buf[pos:])
                del buf[:]
                view = memoryview(rest)
                break

    def _header_block(self, stream_id: int, stream: _RequestStream, block: bytes, at: PacketContext, events: list[Event]) -> None:
        if stream.fields is not None or stream.blocked or stream.pending_block is not None:
            # Trailers (RFC 9114 s4.1): read for their fields when the table allows it now.
            fields = self._decode_now(stream_id, block)
            if fields is not None and stream.fields is not None:
                stream.fields.extend(f for f in fields if not f[0].startswith(":"))
            return
        if self._decoder is None:
            if not block or block[0] != 0:
                # Required Insert Count > 0: the dynamic table's capacity comes with SETTINGS.
                stream.pending_block = block
                self._awaiting_settings.append(stream_id)
                return
            fields = self._decode_static(block)
            if fields is None:
                self._fail(stream, "http3_qpack_error")
                return
            stream.fields = fields
            return
        self._decode_into(stream_id, stream, block)

    def _decode_into(self, stream_id: int, stream: _RequestStream, block: bytes) -> None:
        assert self._decoder is not None
        try:
            _, headers = self._decoder.feed_header(stream_id, block)
        except pylsqpack.StreamBlocked:
            stream.blocked = True
            return
        except pylsqpack.DecompressionFailed:
            self._fail(stream, "http3_qpack_error")
            return
        stream.fields = _text_fields(headers)

    def _decode_now(self, stream_id: int, block: bytes) -> list[tuple[str, str]] | None:
        """Trailers: decoded only if nothing blocks them (they rarely matter)."""
        if self._decoder is None:
            return self._decode_static(block) if block[:1] == b"\x00" else None
        try:
            # A different id: the request's own id may still be blocked in the decoder.
            _, headers = self._decoder.feed_header(stream_id | (1 << 61), block)
        except (pylsqpack.StreamBlocked, pylsqpack.DecompressionFailed):
            return None
        return _text_fields(headers)

    def _decode_static(self, block: bytes) -> list[tuple[str, str]] | None:
        if self._static_decoder is None:
            self._static_decoder = pylsqpack.Decoder(0, 0)
        try:
            _, headers = self._static_decoder.feed_header(0, block)
        except (pylsqpack.StreamBlocked, pylsqpack.DecompressionFailed):
            return None
        return _text_fields(headers)

    def _fail(self, stream: _RequestStream, anomaly: str) -> None:
        self.anomalies.add(anomaly)
        stream.done = True
        stream.buffer = bytearray()
        stream.body_parts = []

    def _maybe_emit(self, stream_id: int, stream: _RequestStream, at: PacketContext, events: list[Event]) -> None:
        """Emit the request once the client ended the stream and its headers are decoded."""
        if not stream.fin or stream.done or stream.blocked or stream.pending_block is not None:
            return
        stream.done = True
        self._requests.pop(stream_id, None)
        if stream.fields is None:
            self.anomalies.add("http3_request_without_headers")
            return
        if stream.data_left or stream.buffer:
            self.anomalies.add("http3_frame_truncated")
        event = request_from_fields(
            stream.fields,
            b"".join(stream.body_parts),
            ts=at.ts,
            capture=at.capture,
            frame=at.frame,
            flow=at.flow,
            tunnel=at.tunnel,
            version="HTTP/3",
            anomalies=self.anomalies,
            anomaly_prefix="http3",
            truncated=stream.truncated,
            first_frame=stream.first_frame,
            decrypted=self.decrypted_from,
        )
        if event is not None:
            self.requests += 1
            events.append(event)

    # ------------------------------------------------------------------ unidirectional streams

    def _uni_data(self, stream_id: int, data: bytes, from_client: bool, at: PacketContext, events: list[Event]) -> None:
        uni = self._uni.get(stream_id)
        if uni is None:
            if len(self._uni) >= 64:
                # RFC 9114 s6.2: a handful per connection (control, QPACK, push); more is abuse.
                self.anomalies.add("http3_too_many_unidirectional_streams")
                return
            uni = self._uni[stream_id] = _UniStream()
        if uni.kind is None:
            uni.buffer += data
            head = _varint(uni.buffer, 0)
            if head is None:
                return
            uni.kind, pos = head
            data = bytes(uni.buffer[pos:])
            uni.buffer = bytearray()
        if uni.kind == STREAM_QPACK_ENCODER and from_client:
            self._encoder_data(data, at, events)
        elif uni.kind == STREAM_CONTROL and not from_client and not self.settings_seen:
            uni.buffer += data
            self._control(uni, at, events)
        # Everything else (the client's control stream, decoder streams, push, reserved types) is
        # not needed to read requests.

    def _control(self, uni: _UniStream, at: PacketContext, events: list[Event]) -> None:
        buf = uni.buffer
        head = _varint(buf, 0)
        if head is None:
            return
        ftype, pos = head
        size = _varint(buf, pos)
        if size is None:
            return
        length, pos = size
        if ftype != FRAME_SETTINGS or length > MAX_CONTROL_FRAME:
            # RFC 9114 s6.2.1: SETTINGS is the control stream's first frame.
            self.anomalies.add("http3_control_stream_malformed")
            self._settings(0, 0, at, events)
            return
        if len(buf) < pos + length:
            return
        capacity = blocked = 0
        i, end = pos, pos + length
        while i < end:
            ident = _varint(buf, i)
            value = _varint(buf, ident[1]) if ident is not None else None
            if ident is None or value is None or value[1] > end:
                self.anomalies.add("http3_settings_malformed")
                break
            if ident[0] == SETTINGS_QPACK_MAX_TABLE_CAPACITY:
                capacity = value[0]
            elif ident[0] == SETTINGS_QPACK_BLOCKED_STREAMS:
                blocked = value[0]
            i = value[1]
        uni.buffer = bytearray()
        self._settings(capacity, blocked, at, events)

    def _settings(self, capacity: int, blocked: int, at: PacketContext, events: list[Event]) -> None:
        """The server's QPACK limits are known: make the decoder, replay what waited for it."""
        self.settings_seen = True
        self._decoder = pylsqpack.Decoder(min(capacity, 1 << 20), min(blocked, 1 << 10))
        backlog = bytes(self._encoder_backlog)
        self._encoder_backlog = bytearray()
        if backlog:
            self._encoder_data(backlog, at, events)
        waiting, self._awaiting_settings = self._awaiting_settings, []
        for stream_id in waiting:
            stream = self._requests.get(stream_id)
            if stream is None or stream.pending_block is None:
                continue
            block, stream.pending_block = stream.pending_block, None
            self._decode_into(stream_id, stream, block)
            self._maybe_emit(stream_id, stream, at, events)

    def _encoder_data(self, data: bytes, at: PacketContext, events: list[Event]) -> None:
        if self._decoder is None:
            if len(self._encoder_backlog) + len(data) > MAX_ENCODER_BACKLOG:
                self.anomalies.add("http3_encoder_backlog_overflow")
                return
            self._encoder_backlog += data
            return
        try:
            unblocked = self._decoder.feed_encoder(data)
        except pylsqpack.EncoderStreamError:
            # The dynamic table is lost: blocks that need it can no longer be read.
            self.anomalies.add("http3_qpack_encoder_stream_error")
            return
        for stream_id in unblocked:
            stream = self._requests.get(stream_id)
            if stream is None:
                continue
            try:
                _, headers = self._decoder.resume_header(stream_id)
            except pylsqpack.DecompressionFailed:
                self._fail(stream, "http3_qpack_error")
                continue
            stream.blocked = False
            stream.fields = _text_fields(headers)
            self._maybe_emit(stream_id, stream, at, events)


def static_header_block(block: bytes) -> list[tuple[str, str]] | None:
    """The fields of a QPACK header block that refers to no dynamic-table entry (its Required
    Insert Count, the first byte, is 0: RFC 9204 s4.5.1.1); None for any other block, which
    cannot be read without the connection's encoder stream, and for a damaged one.  For readers
    that see header blocks without their connection (tshark's HTTP/3 frames)."""
    if not block or block[0] != 0:
        return None
    try:
        _, headers = pylsqpack.Decoder(0, 0).feed_header(0, block)
    except (pylsqpack.StreamBlocked, pylsqpack.DecompressionFailed):
        return None
    return _text_fields(headers)


def _text_fields(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Field names are lower-case ASCII (RFC 9114 s4.2); values are decoded as Latin-1 so that no
    byte is lost, as the HTTP/1 decoder does."""
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in headers]
