"""Chunked transfer coding: sizes are hex digits only (RFC 9112 s7.1)."""

from __future__ import annotations

import pytest

from scanner.decode.content import ChunkedDecoder


@pytest.mark.parametrize("size", [b"-6", b"+5", b"1_0", b"0x5", b" ", b"12345678901234567"])
def test_a_size_that_is_not_hex_digits_ends_the_body_as_malformed(size: bytes) -> None:
    # int(x, 16) takes "-6", "+5" and "1_0": a negative size once sent the parser backwards for ever.
    decoder = ChunkedDecoder()
    body, _rest = decoder.feed(b"1\r\nX\r\n" + size + b"\r\nZZ\r\n0\r\n\r\n")
    assert body == b"X"
    assert decoder.finished and decoder.malformed


def test_hex_sizes_with_extensions() -> None:
    decoder = ChunkedDecoder()
    body, rest = decoder.feed(b"A;name=v\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT")
    assert (body, rest, decoder.finished, decoder.malformed) == (b"0123456789", b"NEXT", True, False)
