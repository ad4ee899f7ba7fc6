"""WebSocket messages a client sends after an HTTP/1.1 Upgrade (RFC 6455), in clear or decrypted TLS.

The HTTP decoder hands a client direction over to this decoder when a request asks for
``Upgrade: websocket`` (RFC 6455 s4.1); the bytes after the request are frames (s5.2): FIN, RSV1,
opcode, MASK, a 7/16/64-bit payload length and, from a client, a 4-byte masking key the payload
is XORed with (s5.3).  A message is one frame, or a first frame and continuation frames up to
the one with FIN set (s5.4); control frames (close, ping, pong) may come between them.  With
permessage-deflate (RFC 7692) RSV1 on a message's first frame says its payload is DEFLATE'd:
the frames' payloads plus 00 00 ff ff inflate with one raw inflater kept for the direction
(context takeover, s7.2.2).

Each text or binary message becomes a ``websocket`` event whose payload detection reads like
an HTTP body (JSON, form, text); its frame is the one that completed the message.  Messages
are kept up to ``MAX_MESSAGE_BYTES``; the rest is skipped without buffering and counted.
Nothing here raises on bad traffic: oddities are counted anomalies.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from scanner.decode.protocols.base import Anomalies, StreamContext, StreamDecoder
from scanner.model import Event, WebSocketMessage

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN, RSV1 = 0x80, 0x40
MAX_MESSAGE_BYTES = 1024 * 1024
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 s7.2.2


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR with the repeated 4-byte key (RFC 6455 s5.3), as one big-integer operation."""
    n = len(payload)
    if not n:
        return payload
    stream = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


class WebSocketDecoder(StreamDecoder):
    """The client's frames after an Upgrade (found only through the HTTP decoder's hand-over)."""

    name = "websocket"

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self.host: str | None = None
        self.uri = ""
        self._buffer = b""
        self._parts: list[bytes] = []
        self._size = 0
        self._opcode = 0
        self._compressed = False
        self._truncated = False
        self._first_frame: int | None = None
        self._skip = 0  # payload bytes of an oversized frame still to skip
        self._inflater: zlib._Decompress | None = None
        self._lost = False
        self._buffer_frame = 0  # the frame in which the buffered bytes began

    def upgraded(self, host: str | None, uri: str) -> WebSocketDecoder:
        """Where the Upgrade request went: every message names its host and URI."""
        self.host = host
        self.uri = uri
        return self

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        events: list[Event] = []
        if self._lost:
            # After lost bytes no frame boundary can be trusted: report the message cut there.
            self._end(events, ts, frame)
            self.done = True
            return events
        if self._skip:
            skipped = min(self._skip, len(data))
            self._skip -= skipped
            data = data[skipped:]
            if self._skip:
                return events
        carried = len(self._buffer)  # bytes from earlier segments, which began in self._buffer_frame
        buf = self._buffer + data if carried else data
        offset = 0
        n = len(buf)
        while n - offset >= 2 and not self.done:
            b0, b1 = buf[offset], buf[offset + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - offset < 4:
                    break
                length = int.from_bytes(buf[offset + 2 : offset + 4], "big")
                head = 4
            elif length == 127:
                if n - offset < 10:
                    break
                length = int.from_bytes(buf[offset + 2 : offset + 10], "big")
                head = 10
            masked = b1 & 0x80
            if masked:
                head += 4
            if n - offset < head:
                break
            opcode = b0 & 0x0F
            if opcode not in (CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG) or (opcode >= CLOSE and (length > 125 or not b0 & FIN)):
                self.anomalies.add("websocket_bad_frame")
                self._end(events, ts, frame)
                self.done = True
                break
            if not masked:
                self.anomalies.add("websocket_unmasked_client_frame")  # s5.1: a client MUST mask
            if self._first_frame is None and opcode in (TEXT, BINARY):
                self._first_frame = self._buffer_frame if offset < carried else frame
            if length > MAX_MESSAGE_BYTES and MAX_MESSAGE_BYTES <= n - offset - head < length:
                # Too big to hold: keep the bound's worth, skip the rest as it streams by.
                key = buf[offset + head - 4 : offset + head] if masked else b""
                here = buf[offset + head :]
                self._skip = length - len(here)
                self._message_part(b0, opcode, unmask(here, key) if key else here, events, ts, frame, last=False)
                self._truncated = True
                if b0 & FIN:
                    self._end(events, ts, frame)
                offset = n
                break
            if n - offset - head < length:
                break
            payload = buf[offset + head : offset + head + length]
            if masked:
                payload = unmask(payload, buf[offset + head - 4 : offset + head])
            offset += head + length
            if opcode == CLOSE:
                self._end(events, ts, frame)
                self.done = True
            elif opcode in (PING, PONG):
                continue
            else:
                self._message_part(b0, opcode, payload, events, ts, frame, last=bool(b0 & FIN))
        self._buffer = buf[offset:] if not self.done else b""
        if offset >= carried:
            self._buffer_frame = frame
        return events

    def _message_part(self, b0: int, opcode: int, payload: bytes, events: list[Event], ts: float, frame: int, last: bool) -> None:
        if opcode != CONTINUATION:
            if self._parts:
                self.anomalies.add("websocket_message_interrupted")
                self._end(events, ts, frame)
            self._opcode = opcode
            self._compressed = bool(b0 & RSV1)
        elif not self._opcode:
            self.anomalies.add("websocket_continuation_without_start")
            return
        room = MAX_MESSAGE_BYTES - self._size
        if len(payload) > room:
            payload = payload[: max(room, 0)]
            self._truncated = True
        if payload:
            self._parts.append(payload)
            self._size += len(payload)
        if last:
            self._end(events, ts, frame)

    def _end(self, events: list[Event], ts: float, frame: int) -> None:
        """Emit the message read so far (complete, or cut by a close, a loss, the end)."""
        if not self._opcode:
            return
        payload = b"".join(self._parts)
        if self._compressed:
            if self._inflater is None:
                self._inflater = zlib.decompressobj(-15)
            try:
                payload = self._inflater.decompress(payload + DEFLATE_TAIL, MAX_MESSAGE_BYTES)
            except zlib.error:
                self.anomalies.add("websocket_inflate_error")
                self._inflater = None
        events.append(
            WebSocketMessage(
                **self.ctx.at(ts, frame).header(),
                host=self.host,
                uri=self.uri,
                opcode="text" if self._opcode == TEXT else "binary",
                length=len(payload),
                compressed=self._compressed,
                truncated=self._truncated,
                first_frame=self._first_frame if self._first_frame != frame else None,
                payload=payload,
            )
        )
        self._parts = []
        self._size = 0
        self._opcode = 0
        self._compressed = False
        self._truncated = False
        self._first_frame = None

    def gap(self, ts: float, frame: int) -> None:
        # Frame boundaries are lost; what was read of a message is kept for finish.
        self.anomalies.add("websocket_lost_bytes")
        self._buffer = b""
        self._skip = 0
        self._truncated = True
        self._lost = True

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        events: list[Event] = []
        if self._opcode:
            self.anomalies.add("websocket_incomplete_message")
            self._truncated = True
            self._end(events, ts, frame)
        return events
