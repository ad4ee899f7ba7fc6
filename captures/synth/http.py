"""HTTP/1.1 requests (RFC 9112) whose chosen values can be found on the wire afterwards.

A request is assembled from `Text` pieces that remember where each marked value starts. Rendering
applies the body transports, gzip (Content-Encoding, RFC 9110 section 8.4) and chunked transfer
coding (RFC 9112 section 7.1), and reports, for every mark, the offset in the request bytes that
ground truth needs: the value's first byte, or for a compressed body the first byte of the body.
With chunked coding, a chunk boundary can be put inside a chosen value, so that a chunk-size line
splits it on the wire.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from urllib.parse import quote


@dataclass
class Text:
    """Bytes with named spans: `marks[key]` is the [start, end) of the value marked `key`."""

    buf: bytearray = field(default_factory=bytearray)
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, s: str | bytes, keys: tuple[str, ...] = ()) -> Text:
        data = s.encode("utf-8") if isinstance(s, str) else s
        for k in keys:
            self.marks.setdefault(k, (len(self.buf), len(self.buf) + len(data)))
        self.buf += data
        return self

    def extend(self, other: Text) -> Text:
        base = len(self.buf)
        for k, (a, b) in other.marks.items():
            self.marks.setdefault(k, (base + a, base + b))
        self.buf += other.buf
        return self

    def __bytes__(self) -> bytes:
        return bytes(self.buf)


@dataclass(frozen=True)
class Tagged:
    """A value whose position is to be recorded under `keys`.

    `text` is written as given: callers encode it for its container first (`url_value`).
    In JSON, `number=True` writes it without quotes.
    """

    text: str
    keys: tuple[str, ...] = ()
    number: bool = False


Value = str | Tagged | Text


def url_value(text: str) -> str:
    """Percent-encode a value for a query or form (RFC 3986 unreserved characters stay)."""
    return quote(text, safe="")


def cookie_value(text: str) -> str:
    """Cookie values keep '@', ':' and '=' (allowed cookie-octets) and percent-encode the rest."""
    return quote(text, safe="@:=")


def pairs(items: list[tuple[str, Value]], sep: str) -> Text:
    """name=value pairs (a query, a form body or a Cookie header); values are already encoded."""
    out = Text()
    for i, (name, value) in enumerate(items):
        if i:
            out.add(sep)
        out.add(f"{name}=")
        _add_value(out, value)
    return out


def _add_value(out: Text, value: Value) -> None:
    if isinstance(value, Tagged):
        out.add(value.text, value.keys)
    elif isinstance(value, Text):
        out.extend(value)
    else:
        out.add(value)


def json_text(obj: object) -> Text:
    """Compact JSON (like most SDKs send) with the offsets of Tagged leaves."""
    out = Text()
    _json_into(obj, out)
    return out


def _json_into(obj: object, out: Text) -> None:
    if isinstance(obj, Tagged):
        if obj.number:
            out.add(obj.text, obj.keys)
        else:
            out.add('"')
            out.add(json.dumps(obj.text, ensure_ascii=False)[1:-1], obj.keys)
            out.add('"')
    elif isinstance(obj, dict):
        out.add("{")
        for i, (k, v) in enumerate(obj.items()):
            if i:
                out.add(",")
            out.add(json.dumps(k) + ":")
            _json_into(v, out)
        out.add("}")
    elif isinstance(obj, list | tuple):
        out.add("[")
        for i, v in enumerate(obj):
            if i:
                out.add(",")
            _json_into(v, out)
        out.add("]")
    else:
        out.add(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))


def base64_blob(inner: Text) -> tuple[str, tuple[str, ...]]:
    """Standard base64 of a Text, and the keys of its marks (ground truth points at the blob's start)."""
    return base64.b64encode(bytes(inner)).decode("ascii"), tuple(inner.marks)


@dataclass
class Request:
    method: str
    host: str
    path: str
    query: list[tuple[str, Value]] | None = None
    headers: list[tuple[str, Value]] = field(default_factory=list)
    cookies: list[tuple[str, Value]] | None = None
    body: Text | None = None
    content_type: str | None = None
    gzip_body: bool = False
    chunked: bool = False
    # with chunked coding: a chunk boundary goes inside the value marked with this key
    chunk_inside: str | None = None


@dataclass
class Rendered:
    data: bytes
    offsets: dict[str, int]          # mark -> offset in `data` (see the module docstring)
    body_coding: dict[str, str]      # mark in the body -> "plain", "gzip", "chunked" or "gzip_chunked"
    spans: dict[str, tuple[int, int]]  # mark -> [start, end) in `data`, for marks not in a coded body


def render(req: Request) -> Rendered:
    head = Text()
    head.add(f"{req.method} {req.path}")
    if req.query:
        head.add("?")
        head.extend(pairs(req.query, "&"))
    head.add(" HTTP/1.1\r\n")
    head.add(f"Host: {req.host}\r\n")
    for name, value in req.headers:
        head.add(f"{name}: ")
        _add_value(head, value)
        head.add("\r\n")
    if req.cookies:
        head.add("Cookie: ")
        head.extend(pairs(req.cookies, "; "))
        head.add("\r\n")
    spans = dict(head.marks)
    offsets = {k: a for k, (a, _) in spans.items()}
    coding: dict[str, str] = {}
    if req.body is None:
        head.add("\r\n")
        return Rendered(bytes(head), offsets, coding, spans)

    body = bytes(req.body)
    body_marks = dict(req.body.marks)
    if req.gzip_body:
        body = gzip.compress(body, compresslevel=9, mtime=0)
        head.add("Content-Encoding: gzip\r\n")
        body_marks = dict.fromkeys(body_marks, (0, 0))  # ground truth points at the compressed body's first byte
    if req.content_type:
        head.add(f"Content-Type: {req.content_type}\r\n")
    if req.chunked:
        name = "gzip_chunked" if req.gzip_body else "chunked"
        head.add("Transfer-Encoding: chunked\r\n\r\n")
        split_at = len(body) // 2 or None  # at least two chunks
        if req.chunk_inside is not None and not req.gzip_body:
            a, b = req.body.marks[req.chunk_inside]
            split_at = a + max(1, (b - a) // 2)
        wire, where = _chunk(body, split_at)
        base = len(head.buf)
        for k, (a, _) in body_marks.items():
            offsets[k] = base + where[a]
            coding[k] = name
        head.add(wire)
    else:
        head.add(f"Content-Length: {len(body)}\r\n\r\n")
        base = len(head.buf)
        for k, (a, b) in body_marks.items():
            offsets[k] = base + a
            coding[k] = "gzip" if req.gzip_body else "plain"
            if not req.gzip_body:
                spans[k] = (base + a, base + b)
        head.add(body)
    return Rendered(bytes(head), offsets, coding, spans)


def _chunk(body: bytes, split_at: int | None) -> tuple[bytes, list[int]]:
    """Chunked coding of `body`; also the wire offset of every body byte (and of the end)."""
    sizes: list[int] = []
    pos = 0
    if split_at is not None:
        sizes.append(split_at)
        pos = split_at
    while pos < len(body):
        n = min(400, len(body) - pos)
        sizes.append(n)
        pos += n
    wire = bytearray()
    where: list[int] = []
    pos = 0
    for n in sizes:
        wire += f"{n:x}\r\n".encode()
        where.extend(range(len(wire), len(wire) + n))
        wire += body[pos:pos + n] + b"\r\n"
        pos += n
    where.append(len(wire))
    wire += b"0\r\n\r\n"
    return bytes(wire), where
