"""Byte fixtures written as hex, and the damaged copies the robustness tests feed to decoders.

A fixture is written one field per line with a comment, as dpkt's tests do::

    hex_fixture(
        "01 01 0018",  # code, identifier, length
        AUTHENTICATOR,
        f"01 0a {ascii_hex('guest-01')}",  # User-Name
    )
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping

import pytest


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


def random_byte_changes(payload: bytes, rng: random.Random, times: int, at_most: int = 1) -> Iterator[bytes]:
    """``times`` copies of ``payload``, each with 1 to ``at_most`` octets set to random values
    (``rng`` seeded by the test: the same copies on every run)."""
    for _ in range(times):
        mutated = bytearray(payload)
        for _ in range(1 if at_most == 1 else rng.randrange(1, at_most + 1)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        yield bytes(mutated)


def fuzz_fixtures(fixtures: Mapping[str, bytes], max_offset: int, check: Callable[[bytes, bytes, int], None]) -> None:
    """Hypothesis, 300 examples: ``check(fixture, junk, offset)`` with a fixture, up to 64 bytes
    of junk and an offset up to ``max_offset`` (where ``check`` may put the junk)."""
    hypothesis = pytest.importorskip("hypothesis")
    strategies = pytest.importorskip("hypothesis.strategies")

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(
        strategies.sampled_from(sorted(fixtures)),
        strategies.binary(max_size=64),
        strategies.integers(min_value=0, max_value=max_offset),
    )
    def run(name: str, junk: bytes, at: int) -> None:
        check(fixtures[name], junk, at)

    run()
