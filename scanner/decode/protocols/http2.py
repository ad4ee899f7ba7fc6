"""HTTP/2 over cleartext TCP, "h2c" (RFC 9113), with HPACK header compression (RFC 7541).

Reads the client direction of a connection: the connection preface, then
frames (RFC 9113 s4.1).  Header blocks (HEADERS + CONTINUATION) are
decompressed with one ``hpack.Decoder`` per direction, because HPACK is
stateful: every block may add to a dynamic table the next blocks refer to.  A
block that cannot be decoded therefore ends the direction (its table is lost),
counted as an anomaly, never raised.  DATA frames are streamed into a bounded
per-stream body, never buffered whole.  One ``http`` event (HttpRequest,
version "HTTP/2") is emitted per request stream when the client ends it
(END_STREAM), when it resets it, or when the direction ends; the body is
decoded per its Content-Encoding (bounded, scanner.decode.content).

Two ways in:

- prior knowledge: the direction starts with the preface
  ``PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n``, which ``sniff`` recognises (before
  HTTP/1, which would not know the method "PRI");
- upgrade (RFC 7540 s3.2, ``Upgrade: h2c``): the HTTP/1 decoder keeps the
  upgrading request (stream 1) as its own event, then hands over::

      decoder = Http2Decoder(ctx, anomalies)   # or STREAM_DECODERS["http2"](ctx, anomalies)
      events = decoder.feed(rest, ts, frame)   # rest: the client's bytes from the preface on

  and keeps feeding, forwarding ``gap`` and ``finish``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import hpack
from hpack.exceptions import HPACKError

from scanner.decode.content import ContentError, decode_content
from scanner.decode.protocols.base import Anomalies, StreamContext, StreamDecoder
from scanner.decode.protocols.http import header_text
from scanner.model import Event, HttpRequest

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 s3.4

# Frame types (RFC 9113 s6) and flags.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
FLAG_END_STREAM = 0x01
FLAG_END_HEADERS = 0x04
FLAG_PADDED = 0x08
FLAG_PRIORITY = 0x20

_FRAME_HEADER = struct.Struct("!HBBBI")  # length is 24 bits: read as 16 + 8
FRAME_HEADER_SIZE = 9

# Bounds on what one direction holds.
MAX_CONTROL_FRAME = 256 * 1024  # any frame but DATA is read whole; DATA is streamed
MAX_HEADER_BLOCK = 256 * 1024
MAX_BODY_BYTES = 256 * 1024  # body bytes kept per request for detection; the rest is counted
MAX_OPEN_STREAMS = 128
# The client's encoder may use a table as large as the server allowed in SETTINGS, which this
# direction does not see: accept up to this much instead of HPACK's default 4096.
MAX_HPACK_TABLE = 64 * 1024


class _Stream:
    """One request stream: its header fields and the body read so far."""

    __slots__ = ("body_parts", "body_size", "first_frame", "headers", "truncated")

    def __init__(self, headers: list[tuple[str, str]], first_frame: int) -> None:
        self.headers = headers
        self.first_frame = first_frame
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.truncated = False

    def add_body(self, data: bytes) -> None:
        room = MAX_BODY_BYTES - self.body_size
        if len(data) > room:
            data = data[: max(room, 0)]
            self.truncated = True
        if data:
            self.body_parts.append(data)
            self.body_size += len(data)


class Http2Decoder(StreamDecoder):
    name = "http2"
    sniff_order = 15  # before HTTP/1 (20): a preface is not an HTTP/1 request
    sniff_bytes = len(PREFACE)

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._buffer = bytearray()
        self._buffer_frame = 0  # the frame in which the buffered bytes began
        self._preface_seen = False
        self._hpack = hpack.Decoder()
        self._hpack.max_allowed_table_size = MAX_HPACK_TABLE
        self._streams: dict[int, _Stream] = {}  # insertion order: oldest first
        # A header block still waiting for CONTINUATION frames.
        self._block: bytearray | None = None
        self._block_stream = 0
        self._block_end_stream = False
        self._block_frame = 0
        # The DATA frame being streamed: its stream, payload bytes and padding still to come.
        self._in_data = False
        self._data_stream = 0
        self._data_left = 0
        self._pad_left = 0
        self._data_end_stream = False
        self._lost = False  # bytes were lost: frame boundaries and the HPACK table are gone

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(PREFACE)

    # ------------------------------------------------------------------ feeding

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        events: list[Event] = []
        if self._lost:
            self._stop(events, ts, frame)
            return events
        buf = self._buffer
        carried = len(buf)  # bytes from earlier segments, which began in self._buffer_frame
        buf += data
        pos = 0
        if not self._preface_seen:
            if len(buf) < len(PREFACE):
                if not PREFACE.startswith(bytes(buf)):
                    self.anomalies.add("http2_no_preface")
                    self.done = True
                elif not carried:
                    self._buffer_frame = frame
                return events
            if not buf.startswith(PREFACE):
                self.anomalies.add("http2_no_preface")
                self.done = True
                return events
            self._preface_seen = True
            pos = len(PREFACE)
        n = len(buf)
        while not self.done:
            if self._in_data:
                take = min(self._data_left, n - pos)
                if take:
                    stream = self._streams.get(self._data_stream)
                    if stream is not None:
                        stream.add_body(bytes(buf[pos : pos + take]))
                    pos += take
                    self._data_left -= take
                skip = min(self._pad_left, n - pos) if not self._data_left else 0
                pos += skip
                self._pad_left -= skip
                if self._data_left or self._pad_left:
                    break  # the rest of this DATA frame is in later segments
                self._in_data = False
                if self._data_end_stream:
                    self._end_stream(self._data_stream, events, ts, frame)
                continue
            if n - pos < FRAME_HEADER_SIZE:
                break
            length_hi, length_lo, ftype, flags, stream_id = _FRAME_HEADER.unpack_from(buf, pos)
            length = (length_hi << 8) | length_lo
            stream_id &= 0x7FFFFFFF
            if ftype == DATA:
                if flags & FLAG_PADDED and not length:
                    self._fail("http2_bad_padding", events, ts, frame)  # no room for the pad length
                    break
                if not self._start_data(buf, pos, n, length, flags, stream_id):
                    break
                pos += FRAME_HEADER_SIZE + (1 if flags & FLAG_PADDED else 0)
                continue
            if length > MAX_CONTROL_FRAME:
                self._fail("http2_frame_too_large", events, ts, frame)
                break
            if n - pos < FRAME_HEADER_SIZE + length:
                break
            payload = bytes(buf[pos + FRAME_HEADER_SIZE : pos + FRAME_HEADER_SIZE + length])
            started = self._buffer_frame if pos < carried else frame  # where the request began, as HTTP/1
            pos += FRAME_HEADER_SIZE + length
            self._frame(ftype, flags, stream_id, payload, started, events, ts, frame)
        del buf[:pos]
        if pos >= carried:
            self._buffer_frame = frame
        if self.done:
            self._buffer = bytearray()
        return events

    def _start_data(self, buf: bytearray, pos: int, n: int, length: int, flags: int, stream_id: int) -> bool:
        """Set up streaming of the DATA frame at ``pos``; False when its first bytes are not here yet."""
        pad = 0
        if flags & FLAG_PADDED:
            if n - pos < FRAME_HEADER_SIZE + 1:
                return False
            pad = buf[pos + FRAME_HEADER_SIZE]
            if pad >= length:
                self.anomalies.add("http2_bad_padding")
                pad = max(length - 1, 0)
            length -= 1
        if stream_id not in self._streams:
            self.anomalies.add("http2_data_without_headers")
        self._in_data = True
        self._data_stream = stream_id
        self._data_left = length - pad
        self._pad_left = pad
        self._data_end_stream = bool(flags & FLAG_END_STREAM)
        return True

    def _frame(
        self,
        ftype: int,
        flags: int,
        stream_id: int,
        payload: bytes,
        started: int,
        events: list[Event],
        ts: float,
        frame: int,
    ) -> None:
        if self._block is not None and ftype != CONTINUATION:
            # RFC 9113 s6.10: nothing may come between HEADERS and its CONTINUATION frames.
            self._fail("http2_continuation_expected", events, ts, frame)
            return
        if ftype == HEADERS:
            self._headers(flags, stream_id, payload, started, events, ts, frame)
        elif ftype == CONTINUATION:
            if self._block is None or stream_id != self._block_stream:
                self._fail("http2_unexpected_continuation", events, ts, frame)
                return
            self._block += payload
            if len(self._block) > MAX_HEADER_BLOCK:
                self._fail("http2_header_block_too_large", events, ts, frame)
            elif flags & FLAG_END_HEADERS:
                self._header_block_done(events, ts, frame)
        elif ftype == RST_STREAM:
            stream = self._streams.get(stream_id)
            if stream is not None:
                stream.truncated = True  # the client gave up, but the request left the device
                self._end_stream(stream_id, events, ts, frame)
        elif ftype == PUSH_PROMISE:
            # Only servers push; a header block we do not decode would desynchronise HPACK.
            self._fail("http2_push_promise_from_client", events, ts, frame)
        # SETTINGS, PING, PRIORITY, WINDOW_UPDATE, GOAWAY and unknown types (s5.5) carry nothing for us.

    def _headers(
        self, flags: int, stream_id: int, payload: bytes, started: int, events: list[Event], ts: float, frame: int
    ) -> None:
        start = 0
        pad = 0
        if flags & FLAG_PADDED:
            if not payload:
                self._fail("http2_frame_malformed", events, ts, frame)
                return
            pad = payload[0]
            start = 1
        if flags & FLAG_PRIORITY:
            start += 5  # stream dependency and weight
        if start + pad > len(payload):
            self._fail("http2_frame_malformed", events, ts, frame)
            return
        self._block = bytearray(payload[start : len(payload) - pad])
        self._block_stream = stream_id
        self._block_end_stream = bool(flags & FLAG_END_STREAM)
        self._block_frame = started
        if flags & FLAG_END_HEADERS:
            self._header_block_done(events, ts, frame)

    def _header_block_done(self, events: list[Event], ts: float, frame: int) -> None:
        block, self._block = self._block, None
        assert block is not None
        stream_id = self._block_stream
        try:
            fields = self._hpack.decode(bytes(block), raw=True)
        except (HPACKError, ValueError, IndexError):
            # The dynamic table may now differ from the client's: no later block can be trusted.
            self._fail("http2_hpack_error", events, ts, frame)
            return
        headers = [(header_text(bytes(name)), header_text(bytes(value))) for name, value in fields]
        stream = self._streams.get(stream_id)
        if stream is None:
            if len(self._streams) >= MAX_OPEN_STREAMS:
                self.anomalies.add("http2_too_many_streams")
                oldest = next(iter(self._streams))
                self._streams[oldest].truncated = True
                self._end_stream(oldest, events, ts, frame)
            self._streams[stream_id] = _Stream(headers, self._block_frame)
        else:
            stream.headers += [(k, v) for k, v in headers if not k.startswith(":")]  # trailers
        if self._block_end_stream:
            self._end_stream(stream_id, events, ts, frame)

    # ------------------------------------------------------------------ events

    def _end_stream(self, stream_id: int, events: list[Event], ts: float, frame: int) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is not None:
            event = self._event(stream, ts, frame)
            if event is not None:
                events.append(event)

    def _event(self, stream: _Stream, ts: float, frame: int) -> HttpRequest | None:
        pseudo: dict[str, str] = {}
        headers: list[tuple[str, str]] = []
        cookies: list[str] = []
        for name, value in stream.headers:
            if name.startswith(":"):
                pseudo.setdefault(name, value)
            elif name == "cookie":
                cookies.append(value)  # RFC 9113 s8.2.3: split crumbs are joined back with "; "
            else:
                headers.append((name, value))
        if cookies:
            headers.append(("cookie", "; ".join(cookies)))
        method = pseudo.get(":method")
        if method is None:
            self.anomalies.add("http2_no_method")
            return None

        def header(name: str) -> str | None:
            return next((v for k, v in headers if k == name), None)

        body = b"".join(stream.body_parts)
        truncated = stream.truncated
        content_encoding = header("content-encoding")
        if body and content_encoding:
            try:
                body, cut = decode_content(body, content_encoding)
                truncated = truncated or cut
            except ContentError:
                self.anomalies.add("http2_content_encoding_error")
        authority = pseudo.get(":authority") or header("host")
        return HttpRequest(
            **self.ctx.at(ts, frame).header(),
            method=method,
            host=authority,
            # CONNECT names its target in :authority and has no :path (RFC 9113 s8.5).
            uri=pseudo.get(":path") or (authority or "" if method == "CONNECT" else ""),
            user_agent=header("user-agent"),
            version="HTTP/2",
            content_type=header("content-type"),
            body_len=len(body),
            body_truncated=truncated,
            content_encoding=content_encoding,
            first_frame=stream.first_frame if stream.first_frame != frame else None,
            headers=tuple(headers),
            body=body,
        )

    def _fail(self, anomaly: str, events: list[Event], ts: float, frame: int) -> None:
        """A protocol or HPACK error: report the requests read so far and stop reading."""
        self.anomalies.add(anomaly)
        self._stop(events, ts, frame)

    def _stop(self, events: list[Event], ts: float, frame: int) -> None:
        for stream_id in list(self._streams):
            self._streams[stream_id].truncated = True
            self._end_stream(stream_id, events, ts, frame)
        self._block = None
        self._in_data = False
        self.done = True

    # ------------------------------------------------------------------ loss and end

    def gap(self, ts: float, frame: int) -> None:
        # Frame boundaries and the HPACK table are lost.  Not done yet: the requests already read
        # are reported on the next feed or at finish, which a done direction would never get.
        if not self._streams:
            self.done = True
        self._lost = True
        self._buffer = bytearray()

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        events: list[Event] = []
        if self._block is not None or self._streams:
            self.anomalies.add("http2_incomplete_request")
        self._stop(events, ts, frame)
        return events
