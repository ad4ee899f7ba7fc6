"""HTTP content codings (RFC 9110 s8.4): gzip, deflate, br, zstd; and chunked transfer
coding (RFC 9112 s7.1).  Output is bounded: a decompression bomb yields its first
``MAX_DECODED_BODY`` bytes and a note, never an out-of-memory.
"""

from __future__ import annotations

import re
import zlib

MAX_DECODED_BODY = 4 * 1024 * 1024
_CHUNK_SIZE = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


class ContentError(Exception):
    """The body could not be decoded as its Content-Encoding says."""


def decode_content(body: bytes, encodings: str, limit: int = MAX_DECODED_BODY) -> tuple[bytes, bool]:
    """Undo the Content-Encoding list (applied in order, so undone in reverse).

    Returns the decoded body and whether it was cut at ``limit``.  Raises
    ContentError for a coding we know but could not undo; unknown codings are
    left as they are (``identity`` included).
    """
    truncated = False
    for coding in reversed([c.strip().lower() for c in encodings.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            body, cut = _zlib(body, zlib.MAX_WBITS | 16, limit)
        elif coding == "deflate":
            # RFC 9110 says zlib-wrapped; many servers and SDKs send raw deflate.
            try:
                body, cut = _zlib(body, zlib.MAX_WBITS, limit)
            except ContentError:
                body, cut = _zlib(body, -zlib.MAX_WBITS, limit)
        elif coding == "br":
            body, cut = _brotli(body, limit)
        elif coding == "zstd":
            body, cut = _zstd(body, limit)
        else:
            continue
        truncated = truncated or cut
    return body, truncated


def _zlib(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, limit)
    except zlib.error as exc:
        raise ContentError(str(exc)) from None
    return out, bool(decompressor.unconsumed_tail)


def _brotli(data: bytes, limit: int) -> tuple[bytes, bool]:
    import brotli

    decompressor = brotli.Decompressor()
    try:
        out = decompressor.process(data, output_buffer_limit=limit)
    except brotli.error as exc:
        raise ContentError(str(exc)) from None
    return out[:limit], len(out) >= limit


def _zstd(data: bytes, limit: int) -> tuple[bytes, bool]:
    import zstandard

    try:
        reader = zstandard.ZstdDecompressor().stream_reader(data)
        out = reader.read(limit)
        more = bool(reader.read(1))
    except zstandard.ZstdError as exc:
        raise ContentError(str(exc)) from None
    return out, more


class ChunkedDecoder:
    """Incremental de-chunking.  ``feed`` returns the body bytes; ``finished`` once the
    last chunk and the trailer section were read."""

    __slots__ = ("_buffer", "_remaining", "_state", "finished", "malformed")

    _SIZE, _DATA, _DATA_CRLF, _TRAILER = 0, 1, 2, 3
    _MAX_LINE = 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._remaining = 0
        self._state = self._SIZE
        self.finished = False
        self.malformed = False

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """Consume ``data``; return (body bytes, bytes left over after the message)."""
        buf = self._buffer + data if self._buffer else data
        self._buffer = b""
        out: list[bytes] = []
        pos = 0
        while pos < len(buf) and not self.finished:
            if self._state == self._DATA:
                take = min(self._remaining, len(buf) - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = self._DATA_CRLF
                continue
            eol = buf.find(b"\n", pos)
            if eol < 0:
                if len(buf) - pos > self._MAX_LINE:
                    self.malformed = self.finished = True
                    return b"".join(out), b""
                self._buffer = buf[pos:]
                return b"".join(out), b""
            line = buf[pos:eol].rstrip(b"\r")
            pos = eol + 1
            if self._state == self._DATA_CRLF:
                self._state = self._SIZE
                if line:  # the chunk was longer than announced
                    self.malformed = self.finished = True
                continue
            if self._state == self._SIZE:
                size_text = line.split(b";", 1)[0].strip()
                # Hex digits only: int(x, 16) also takes "-6", "+5" and "1_0", and a negative
                # size would send the parser backwards for ever.
                if not _CHUNK_SIZE.match(size_text):
                    self.malformed = self.finished = True
                    break
                size = int(size_text, 16)
                if size == 0:
                    self._state = self._TRAILER
                else:
                    self._remaining = size
                    self._state = self._DATA
                continue
            # trailer section: ends with an empty line
            if not line:
                self.finished = True
        return b"".join(out), buf[pos:]
