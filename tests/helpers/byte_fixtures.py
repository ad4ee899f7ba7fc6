"""Byte fixtures written as hex, and the damaged copies the robustness tests feed to decoders.

A fixture is written one field per line with a comment, as dpkt's tests do::

    hex_fixture(
        "01 01 0018",  # code, identifier, length
        AUTHENTICATOR,
        f"01 0a {ascii_hex('guest-01')}",  # User-Name
    )
"""

from __future__ import annotations

from collections.abc import Iterator


def hex_fixture(*lines: str) -> bytes:
    """A hex fixture: one field per line, spaces anywhere, anything after '#' is a comment."""
    return bytes.fromhex("".join("".join(line.split("#", 1)[0].split()) for line in lines))


def ascii_hex(value: str) -> str:
    """ASCII text as hex, for text values (options, attributes, AVPs) inside ``hex_fixture`` lines."""
    return value.encode().hex()


def truncations(payload: bytes) -> Iterator[bytes]:
    """Every prefix of ``payload``, from empty to whole."""
    for n in range(len(payload) + 1):
        yield payload[:n]


def bit_flips(payload: bytes) -> Iterator[bytes]:
    """``payload`` with one octet changed, for every octet: its low bit, bit 4, its top bit, or all of them."""
    for i in range(len(payload)):
        for mask in (0x01, 0x10, 0x80, 0xFF):
            mutated = bytearray(payload)
            mutated[i] ^= mask
            yield bytes(mutated)
