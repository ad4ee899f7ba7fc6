"""HTTP/1.x requests (RFC 9112): request line, header fields, and the message body
(Content-Length or chunked transfer coding, then Content-Encoding gzip/deflate/br/zstd).

One decoder reads one client direction.  Requests are parsed incrementally as
bytes arrive, so a request split across segments (or reordered and then
reassembled by tcp.py) is read whole; pipelined requests follow one another in
the same buffer.  The event carries the header fields and the decoded body for
the detectors; ``privscan events`` prints only method, host, uri and user agent.

Three hand-overs keep one direction readable end to end: the HTTP/2 connection
preface (after ``Upgrade: h2c``, or with prior knowledge) goes to the http2
decoder, the bytes after a ``CONNECT`` request (a TLS tunnel through a proxy)
go to the TLS decoder, and the bytes after a request with ``Upgrade:
websocket`` (RFC 6455 s4.1) are WebSocket frames for websocket.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.content import ChunkedDecoder, ContentError, decode_content
from scanner.decode.protocols.base import STREAM_DECODERS, Anomalies, StreamContext, StreamDecoder
from scanner.decode.protocols.websocket import WebSocketDecoder
from scanner.model import Event, HttpRequest

METHODS = (
    b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"REPORT", b"SEARCH",
)
_METHOD_PREFIXES = tuple(m + b" " for m in METHODS)
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

MAX_HEADER_BYTES = 64 * 1024
# Body bytes kept per request for detection; the rest is counted and skipped.
MAX_BODY_BYTES = 1024 * 1024

_HEADERS, _BODY, _CHUNKED, _SKIP_BODY = 0, 1, 2, 3


def header_text(raw: bytes) -> str:
    """Header field octets as text: UTF-8, which is what apps send, else latin-1, which never fails."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _is_websocket_upgrade(request: _Request) -> bool:
    upgrade = request.header("upgrade")
    return request.method == "GET" and upgrade is not None and "websocket" in upgrade.lower()


class _Request:
    """A request whose header section is read and whose body is being read."""

    __slots__ = (
        "body_parts",
        "body_size",
        "chunked",
        "first_frame",
        "headers",
        "host",
        "method",
        "remaining",
        "truncated",
        "uri",
        "version",
    )

    def __init__(self, method: str, uri: str, version: str, headers: list[tuple[str, str]], first_frame: int) -> None:
        self.method = method
        self.uri = uri
        self.version = version
        self.headers = headers
        self.first_frame = first_frame
        self.host: str | None = None
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.remaining = 0
        self.chunked: ChunkedDecoder | None = None
        self.truncated = False

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def add_body(self, data: bytes) -> None:
        room = MAX_BODY_BYTES - self.body_size
        if room <= 0:
            self.truncated = True
        elif len(data) > room:
            self.body_parts.append(data[:room])
            self.body_size += room
            self.truncated = True
        else:
            self.body_parts.append(data)
            self.body_size += len(data)


class HttpDecoder(StreamDecoder):
    name = "http"
    sniff_order = 20
    sniff_bytes = 8

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._buffer = b""
        self._state = _HEADERS
        self._request: _Request | None = None
        self._first_frame: int | None = None
        self._delegate: StreamDecoder | None = None
        self._resync = False
        # A request whose body lost bytes: reported at the next feed or at the end, with the
        # time and frame of the last bytes it got (not those of whatever came next).
        self._orphan: _Request | None = None
        self._orphan_at: tuple[float, int] = (0.0, 0)
        self._last_at: tuple[float, int] | None = None  # time and frame of the last bytes fed

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        return head.startswith(_METHOD_PREFIXES)

    # ------------------------------------------------------------------ feeding

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        if self._delegate is not None:
            return self._feed_delegate(data, ts, frame)
        events: list[Event] = []
        if self._orphan is not None:
            events.append(self._emit(self._orphan, *self._orphan_at))
            self._orphan = None
        self._last_at = (ts, frame)
        if self._resync:
            # After lost bytes, wait for a segment that starts a request.
            if not data.startswith(_METHOD_PREFIXES):
                return events
            self._resync = False
        buf = self._buffer + data if self._buffer else data
        self._buffer = b""
        while buf and not self.done:
            if self._state == _HEADERS:
                if buf[0] == 0x0D or buf[0] == 0x0A:
                    # RFC 9112 s2.2: empty lines before a request-line are ignored (some
                    # clients send CRLF after a POST body).
                    buf = buf.lstrip(b"\r\n")
                    continue
                if self._first_frame is None:
                    self._first_frame = frame
                if buf.startswith(b"PRI * HTTP/2.0"):
                    return events + list(self._hand_over("http2", buf, ts, frame))
                end = buf.find(b"\r\n\r\n")
                sep = 4
                if end < 0:
                    end = buf.find(b"\n\n")
                    sep = 2
                if end < 0:
                    if len(buf) > MAX_HEADER_BYTES:
                        self.anomalies.add("http_header_too_long")
                        self._start_resync()
                        return events
                    self._buffer = buf
                    return events
                request = self._parse_head(buf[:end], self._first_frame)
                buf = buf[end + sep :]
                if request is None:
                    self._start_resync()
                    return events
                self._request = request
                self._begin_body(request)
                if self._state == _HEADERS:  # no body
                    events.append(self._finish_request(ts, frame))
                    if request.method == "CONNECT":
                        return events + list(self._hand_over("tls", buf, ts, frame))
                    if _is_websocket_upgrade(request):
                        return events + list(self._websocket(request, buf, ts, frame))
                continue
            request = self._request
            assert request is not None
            if self._state == _BODY:
                take = min(request.remaining, len(buf))
                request.add_body(buf[:take])
                request.remaining -= take
                buf = buf[take:]
                if request.remaining == 0:
                    events.append(self._finish_request(ts, frame))
            elif self._state == _CHUNKED:
                chunked = request.chunked
                assert chunked is not None
                body, buf = chunked.feed(buf)
                if body:
                    request.add_body(body)
                if chunked.finished:
                    if chunked.malformed:
                        self.anomalies.add("http_chunked_malformed")
                    events.append(self._finish_request(ts, frame))
                    if chunked.malformed:
                        self._start_resync()
                        return events
        return events

    def _begin_body(self, request: _Request) -> None:
        encoding = request.header("transfer-encoding")
        if encoding is not None and "chunked" in encoding.lower():
            request.chunked = ChunkedDecoder()
            self._state = _CHUNKED
            return
        length = request.header("content-length")
        if length is not None:
            try:
                size = int(length.strip().split(",")[0])
            except ValueError:
                self.anomalies.add("http_bad_content_length")
                size = 0
            if size > 0:
                request.remaining = size
                self._state = _BODY
                return
        self._state = _HEADERS

    def _parse_head(self, head: bytes, first_frame: int | None) -> _Request | None:
        lines = head.split(b"\n")
        request_line = lines[0].rstrip(b"\r")
        parts = request_line.split(b" ")
        if len(parts) < 3 or parts[0] not in METHODS:
            # tolerate a missing version (HTTP/0.9 style "GET /")
            if len(parts) == 2 and parts[0] in METHODS:
                parts.append(b"HTTP/1.0")
            else:
                self.anomalies.add("http_bad_request_line")
                return None
        method = parts[0].decode("ascii")
        uri = header_text(b" ".join(parts[1:-1]))
        version = parts[-1].decode("ascii", "replace")
        headers: list[tuple[str, str]] = []
        for raw in lines[1:]:
            line = raw.rstrip(b"\r")
            if not line:
                continue
            if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
                name, value = headers[-1]
                headers[-1] = (name, value + " " + header_text(line.strip()))
                continue
            colon = line.find(b":")
            if colon <= 0:
                self.anomalies.add("http_bad_header_line")
                continue
            headers.append((header_text(line[:colon].strip()), header_text(line[colon + 1 :].strip())))
        request = _Request(method, uri, version, headers, first_frame or 0)
        request.host = request.header("host")
        if request.host is None and "://" in uri:
            # absolute-form (a proxy request) without a Host field, as HTTP/1.0 clients send
            # it: the host is the target's authority (RFC 9112 s3.2.2), minus any user info.
            authority = uri.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
            request.host = authority.rsplit("@", 1)[-1] or None
        return request

    def _finish_request(self, ts: float, frame: int) -> HttpRequest:
        request = self._request
        assert request is not None
        self._request = None
        self._state = _HEADERS
        self._first_frame = None
        return self._emit(request, ts, frame)

    def _emit(self, request: _Request, ts: float, frame: int) -> HttpRequest:
        body = b"".join(request.body_parts)
        truncated = request.truncated
        content_encoding = request.header("content-encoding")
        if body and content_encoding:
            try:
                body, cut = decode_content(body, content_encoding)
                truncated = truncated or cut
            except ContentError:
                self.anomalies.add("http_content_encoding_error")
        return HttpRequest(
            **self.ctx.at(ts, frame).header(),
            method=request.method,
            host=request.host,
            uri=request.uri,
            user_agent=request.header("user-agent"),
            version=request.version,
            content_type=request.header("content-type"),
            body_len=len(body),
            body_truncated=truncated,
            content_encoding=content_encoding,
            chunked=request.chunked is not None,
            first_frame=request.first_frame if request.first_frame != frame else None,
            headers=tuple(request.headers),
            body=body,
        )

    # ------------------------------------------------------------------ hand-over and loss

    def _hand_over(self, name: str, rest: bytes, ts: float, frame: int) -> Sequence[Event]:
        cls = STREAM_DECODERS.get(name)
        if cls is None:
            self.done = True
            return ()
        self._delegate = cls(self.ctx, self.anomalies)
        return self._feed_delegate(rest, ts, frame) if rest else ()

    def _websocket(self, request: _Request, rest: bytes, ts: float, frame: int) -> Sequence[Event]:
        # The client does not wait for the 101 answer to send its first frames (RFC 6455 s4.1
        # lets it, and the answer is in the other direction): what follows the request is frames.
        self._delegate = WebSocketDecoder(self.ctx, self.anomalies).upgraded(request.host, request.uri)
        return self._feed_delegate(rest, ts, frame) if rest else ()

    def _feed_delegate(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        delegate = self._delegate
        assert delegate is not None
        events = delegate.feed(data, ts, frame)
        self.done = delegate.done
        return events

    def _start_resync(self) -> None:
        self._buffer = b""
        self._request = None
        self._state = _HEADERS
        self._first_frame = None
        self._resync = True

    def gap(self, ts: float, frame: int) -> None:
        if self._delegate is not None:
            self._delegate.gap(ts, frame)
            self.done = self._delegate.done
            return
        self._orphan_at = self._last_at or (ts, frame)
        if self._request is not None:
            # Keep what the request said before the loss: its URI and headers hold identifiers.
            self._request.truncated = True
            self._orphan = self._request
        elif self._buffer.startswith(_METHOD_PREFIXES) and b"\n" in self._buffer:
            # The loss cut the header section itself: its request line and whole header
            # lines were read, and they are the request's URI, host and cookies.
            head = self._buffer[: self._buffer.rfind(b"\n")]
            partial = self._parse_head(head, self._first_frame)
            if partial is not None:
                partial.truncated = True
                self._orphan = partial
        self.anomalies.add("http_lost_bytes")
        self._start_resync()

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        if self._delegate is not None:
            return self._delegate.finish(ts, frame)
        events: list[Event] = []
        if self._orphan is not None:
            events.append(self._emit(self._orphan, *self._orphan_at))
            self._orphan = None
        if self._request is not None:
            # Cut short by the end of the connection or of the capture: it was last added to
            # when its last bytes came, which is when (and who) sent it.
            self._request.truncated = True
            events.append(self._finish_request(*(self._last_at or (ts, frame))))
        return events
