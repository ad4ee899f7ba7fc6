"""Capture files written byte by byte for the ingest tests.

The writers here follow the formats, not privscan's readers: pcap per
draft-ietf-opsawg-pcap (24-byte file header, 16-byte record headers) and
pcapng per draft-ietf-opsawg-pcapng (blocks of type, total length, body,
total length again, padded to 32 bits).  They are exposed as fixtures because
the suite runs with ``--import-mode=importlib``, where a helper module next to
the tests cannot be imported.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

PRIVSCAN = Path(sys.executable).with_name("privscan")

# A pcap frame to write: seconds, fraction (µs or ns per the file), bytes, and the
# original length when the snap length cut the frame (None: not cut).
PcapFrame = tuple[int, int, bytes, "int | None"]


def pcap_bytes(
    frames: Sequence[PcapFrame],
    *,
    endian: str = "<",
    nano: bool = False,
    linktype: int = 1,
    snaplen: int = 65535,
    version: tuple[int, int] = (2, 4),
) -> bytes:
    """A classic pcap file: magic a1b2c3d4 (µs) or a1b23c4d (ns) in the given byte order."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)]
    for sec, frac, data, wirelen in frames:
        out.append(struct.pack(endian + "IIII", sec, frac, len(data), len(data) if wirelen is None else wirelen))
        out.append(data)
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def ng_block(endian: str, block_type: int, body: bytes) -> bytes:
    """One pcapng block: type, total length, body padded to 32 bits, total length."""
    body = _pad(body)
    total = 12 + len(body)
    return struct.pack(endian + "II", block_type, total) + body + struct.pack(endian + "I", total)


def ng_option(endian: str, code: int, value: bytes) -> bytes:
    return struct.pack(endian + "HH", code, len(value)) + _pad(value)


def ng_options(endian: str, options: Sequence[tuple[int, bytes]]) -> bytes:
    if not options:
        return b""
    return b"".join(ng_option(endian, code, value) for code, value in options) + struct.pack(endian + "HH", 0, 0)


def ng_shb(endian: str, options: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """Section Header Block: byte-order magic 1a2b3c4d, version 1.0, section length unknown (-1)."""
    body = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1) + ng_options(endian, options)
    return ng_block(endian, 0x0A0D0D0A, body)


def ng_idb(
    endian: str, linktype: int, snaplen: int = 0, tsresol: int | None = None, tsoffset: int | None = None
) -> bytes:
    """Interface Description Block with if_tsresol (code 9) and if_tsoffset (code 14) when given."""
    options: list[tuple[int, bytes]] = []
    if tsresol is not None:
        options.append((9, bytes([tsresol])))
    if tsoffset is not None:
        options.append((14, struct.pack(endian + "q", tsoffset)))
    body = struct.pack(endian + "HHI", linktype, 0, snaplen) + ng_options(endian, options)
    return ng_block(endian, 1, body)


def ng_epb(endian: str, interface: int, units: int, data: bytes, wirelen: int | None = None) -> bytes:
    """Enhanced Packet Block: the timestamp is a 64-bit count of the interface's units."""
    body = struct.pack(
        endian + "IIIII", interface, units >> 32, units & 0xFFFFFFFF, len(data), len(data) if wirelen is None else wirelen
    )
    return ng_block(endian, 6, body + data)


def ng_spb(endian: str, data: bytes, wirelen: int | None = None) -> bytes:
    """Simple Packet Block: original length then the data; interface 0, no timestamp."""
    return ng_block(endian, 3, struct.pack(endian + "I", len(data) if wirelen is None else wirelen) + data)


def ng_opb(endian: str, interface: int, units: int, data: bytes) -> bytes:
    """Obsolete Packet Block (type 2): 16-bit interface id and drops count, then as an EPB."""
    body = struct.pack(endian + "HHIIII", interface, 0, units >> 32, units & 0xFFFFFFFF, len(data), len(data))
    return ng_block(endian, 2, body + data)


@dataclass(frozen=True)
class PcapWriters:
    """The writers, handed to tests as one fixture."""

    pcap: Callable[..., bytes] = pcap_bytes
    block: Callable[..., bytes] = ng_block
    shb: Callable[..., bytes] = ng_shb
    idb: Callable[..., bytes] = ng_idb
    epb: Callable[..., bytes] = ng_epb
    spb: Callable[..., bytes] = ng_spb
    opb: Callable[..., bytes] = ng_opb


@pytest.fixture(scope="session")
def writers() -> PcapWriters:
    return PcapWriters()


# An Ethernet frame carrying a DNS query for "example.org" from 10.0.0.1:40000 to 10.0.0.2:53,
# so that a capture read through the command line has one event to show.
# fmt: off
DNS_QUERY_FRAME = bytes.fromhex(
    "020000000002" "020000000001" "0800"  # Ethernet: dst, src, IPv4
    "4500" "0039" "0001" "0000" "40" "11" "0000"  # IPv4: ver/IHL, total 57, id, frag, TTL 64, UDP, checksum (unchecked)
    "0a000001" "0a000002"  # 10.0.0.1 -> 10.0.0.2
    "9c40" "0035" "0025" "0000"  # UDP: 40000 -> 53, length 37, checksum
    "1234" "0100" "0001" "0000" "0000" "0000"  # DNS: id, RD, 1 question
    "076578616d706c65" "036f7267" "00"  # example . org . root
    "0001" "0001"  # A, IN
)
# fmt: on


@pytest.fixture(scope="session")
def dns_query_frame() -> bytes:
    return DNS_QUERY_FRAME


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def _run_privscan(args: Sequence[str], stdin: bytes | None = None, cwd: Path | None = None) -> CliResult:
    done = subprocess.run(
        [str(PRIVSCAN), *args], input=stdin, capture_output=True, cwd=cwd, timeout=60, check=False
    )
    return CliResult(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="session")
def privscan() -> Callable[..., CliResult]:
    """Run the installed ``privscan`` command in a subprocess (what a user runs)."""
    if not PRIVSCAN.exists():
        pytest.skip(f"{PRIVSCAN} is not installed (make setup installs it into .venv)")
    return _run_privscan
