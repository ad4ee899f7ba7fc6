"""Streaming readers for pcap and pcapng.

pcap: draft-ietf-opsawg-pcap (magic a1b2c3d4 microseconds / a1b23c4d
nanoseconds, either byte order).  pcapng: draft-ietf-opsawg-pcapng (several
sections, each in its own byte order; several interfaces with their own link
type, timestamp resolution and offset; enhanced, simple and obsolete packet
blocks).

Both read the stream in large chunks and cut records out of the chunk with
``struct.unpack_from``: a read call per record would cost more than decoding
the packet.  Memory is one chunk plus one record, whatever the file size.

A reader yields ``(ts, linktype, data, wirelen)`` tuples (a ``FrameRecord``).
A pcapng Decryption Secrets Block (s4.7) is handed to the ``secrets`` callback
(secrets type, data) when the reader meets it, before the packets after it.
Problems in the file are not exceptions: a cut-off record or an impossible
length ends the capture with a warning naming the offset, and everything
before it has been yielded.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

from scanner.errors import InputError
from scanner.ingest.sources import ByteStream
from scanner.results import CaptureInfo

FrameRecord = tuple[float, int, bytes, int]  # (ts, linktype, data, wirelen)
SecretsCallback = Callable[[int, bytes], None]  # (secrets type, secrets data) of a DSB

CHUNK = 1 << 20
# Larger than any real snap length (libpcap's maximum is 262144) with room for
# jumbo frames on loopback; a bigger record length means the file is damaged.
MAX_RECORD = 1 << 24
# Interfaces kept per pcapng section.  Real captures have a handful (dumpcap on every
# interface of a router: a few hundred); a damaged or hostile file can declare one per 20
# bytes, 50 million in a gigabyte.  Blocks past the cap are counted, their packets dropped.
MAX_INTERFACES = 1 << 16

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_DSB = 0x0000000A  # Decryption Secrets Block
PCAPNG_BYTE_ORDER_MAGIC = 0x1A2B3C4D

_DECOMPRESSION_ERRORS: tuple[type[BaseException], ...] = (EOFError, zlib.error, OSError)
try:  # the compressors' own error types, so a damaged archive is a warning, not a traceback
    import lzma

    _DECOMPRESSION_ERRORS += (lzma.LZMAError,)
    import zstandard

    _DECOMPRESSION_ERRORS += (zstandard.ZstdError,)
except ImportError:  # pragma: no cover - both ship with the package's dependencies
    pass


class _ChunkedStream:
    """A read buffer over a stream: ``ensure(n)`` makes n bytes available from ``pos``."""

    __slots__ = ("buf", "consumed", "eof", "error", "pos", "read", "stream")

    def __init__(self, stream: ByteStream, head: bytes) -> None:
        self.stream = stream
        # read1, where the stream has it: a decompressor's read(n) that hits a damaged or
        # cut-off end raises and drops everything it had decompressed in that call (up to
        # a whole chunk of good frames); read1 returns each piece as it comes, so only the
        # bytes after the damage are lost.  On a buffered file it is one raw read, as read.
        self.read = getattr(stream, "read1", None) or stream.read
        self.buf = head
        self.pos = 0
        self.consumed = 0  # bytes of the stream before buf[0]
        self.eof = False
        self.error: str | None = None

    def ensure(self, n: int) -> bool:
        if len(self.buf) - self.pos >= n:
            return True
        if self.eof:
            return False
        parts = [self.buf[self.pos :]]
        have = len(parts[0])
        self.consumed += self.pos
        while have < n:
            try:
                data = self.read(max(CHUNK, n - have))
            except _DECOMPRESSION_ERRORS as exc:
                self.error = f"compressed stream damaged ({exc.__class__.__name__}: {exc})"
                data = b""
            if not data:
                self.eof = True
                break
            parts.append(data)
            have += len(data)
        self.buf = b"".join(parts)
        self.pos = 0
        return have >= n

    @property
    def offset(self) -> int:
        return self.consumed + self.pos


def read_frames(stream: ByteStream, info: CaptureInfo, secrets: SecretsCallback | None = None) -> Iterator[FrameRecord]:
    """Yield the frames of a pcap or pcapng stream, filling ``info`` as it goes; DSBs go to ``secrets``."""
    try:
        head = stream.read(4)
    except _DECOMPRESSION_ERRORS as exc:
        raise InputError(f"{info.path}: cannot decompress ({exc})") from None
    if len(head) < 4:
        raise InputError(f"{info.path}: not a capture file (empty or shorter than a header)")
    if head in PCAP_MAGICS:
        info.format = "pcap"
        return _read_pcap(_ChunkedStream(stream, head), info)
    if int.from_bytes(head, "little") == PCAPNG_SHB:
        info.format = "pcapng"
        return _read_pcapng(_ChunkedStream(stream, head), info, secrets)
    raise InputError(f"{info.path}: not a pcap or pcapng capture (magic {head.hex()})")


def _read_pcap(src: _ChunkedStream, info: CaptureInfo) -> Iterator[FrameRecord]:
    if not src.ensure(24):
        raise InputError(f"{info.path}: pcap header cut short")
    endian, resolution = PCAP_MAGICS[src.buf[0:4]]
    major, minor, _zone, _sigfigs, _snaplen, link_field = struct.unpack_from(endian + "HHiIII", src.buf, 4)
    if (major, minor) != (2, 4):
        info.warnings.append(f"unusual pcap version {major}.{minor}; read as 2.4")
    # The top bits of the link-type field carry FCS information (pcap draft s4).
    linktype = link_field & 0xFFFF
    info.linktypes.append(linktype)
    src.pos += 24
    record = struct.Struct(endian + "IIII")
    unpack = record.unpack_from
    buf, pos = src.buf, src.pos
    while True:
        # Fast path: the whole record is in the chunk (all but one record per MiB).
        if pos + 16 <= len(buf):
            ts_sec, ts_frac, caplen, wirelen = unpack(buf, pos)
            end = pos + 16 + caplen
            if end <= len(buf):
                yield ts_sec + ts_frac * resolution, linktype, buf[pos + 16 : end], wirelen
                pos = end
                continue
        src.pos = pos
        if not src.ensure(16):
            if len(src.buf) - src.pos > 0 and not src.error:
                info.warnings.append(f"truncated: record header cut at offset {src.offset}")
            break
        ts_sec, ts_frac, caplen, wirelen = unpack(src.buf, src.pos)
        if caplen > MAX_RECORD:
            info.warnings.append(
                f"damaged: record at offset {src.offset} claims {caplen} bytes; reading stopped there"
            )
            break
        if not src.ensure(16 + caplen):
            if not src.error:
                info.warnings.append(
                    f"truncated: record at offset {src.offset} cut short "
                    f"({len(src.buf) - src.pos - 16} of {caplen} bytes)"
                )
            break
        buf, pos = src.buf, src.pos
    if src.error:
        # One warning for the damage (the record it cut short is its consequence).
        info.warnings.append(f"truncated: {src.error} at offset {src.offset}")


# Warnings kept per capture for damaged blocks the reader skips and reads on after; the
# rest are counted in one more line.  A hostile file of a million bad blocks must not
# become a million warning strings in memory and in the report.
MAX_DAMAGE_WARNINGS = 10


class _DamageLog:
    __slots__ = ("info", "more")

    def __init__(self, info: CaptureInfo) -> None:
        self.info = info
        self.more = 0

    def add(self, message: str) -> None:
        if self.more or sum(w.startswith("damaged:") for w in self.info.warnings) >= MAX_DAMAGE_WARNINGS:
            self.more += 1
        else:
            self.info.warnings.append(message)

    def close(self) -> None:
        if self.more:
            self.info.warnings.append(f"damaged: {self.more} more damaged blocks skipped")


class _Interface:
    __slots__ = ("linktype", "offset", "resolution", "snaplen")

    def __init__(self, linktype: int, snaplen: int, resolution: float, offset: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        self.resolution = resolution
        self.offset = offset


def _read_pcapng(src: _ChunkedStream, info: CaptureInfo, secrets: SecretsCallback | None) -> Iterator[FrameRecord]:
    endian = "<"
    interfaces: list[_Interface] = []
    interfaces_dropped = 0
    damaged = _DamageLog(info)
    # info.linktypes keeps their order; the set answers "seen?" in O(1): a list test made a
    # file of 50,000 interfaces of distinct link types take 10 s (issue 15).
    linktypes_seen = set(info.linktypes)
    block_header = struct.Struct("<II")
    epb_le, epb_be = struct.Struct("<IIIII"), struct.Struct(">IIIII")
    epb = epb_le
    while True:
        if not src.ensure(12):
            if len(src.buf) - src.pos > 0 and not src.error:
                info.warnings.append(f"truncated: block header cut at offset {src.offset}")
            break
        if int.from_bytes(src.buf[src.pos : src.pos + 4], "little") == PCAPNG_SHB:
            # A new section: its byte order is given by the byte-order magic.
            magic = src.buf[src.pos + 8 : src.pos + 12]
            if magic == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif magic == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                info.warnings.append(f"damaged: section header at offset {src.offset} has no byte-order magic")
                break
            block_header = struct.Struct(endian + "II")
            epb = epb_le if endian == "<" else epb_be
            interfaces = []
        block_type, block_len = block_header.unpack_from(src.buf, src.pos)
        if block_len < 12 or block_len % 4 or block_len > MAX_RECORD:
            info.warnings.append(
                f"damaged: block at offset {src.offset} has length {block_len}; reading stopped there"
            )
            break
        if not src.ensure(block_len):
            if not src.error:
                info.warnings.append(f"truncated: block at offset {src.offset} cut short")
            break
        body_start = src.pos + 8
        body_end = src.pos + block_len - 4
        buf = src.buf
        src.pos += block_len
        if block_type == 6:  # Enhanced Packet Block
            if body_end - body_start < 20:
                damaged.add(f"damaged: short packet block at offset {src.offset - block_len}")
                continue
            if_id, ts_high, ts_low, caplen, wirelen = epb.unpack_from(buf, body_start)
            if if_id >= len(interfaces) or body_start + 20 + caplen > body_end:
                damaged.add(f"damaged: packet block at offset {src.offset - block_len}")
                continue
            iface = interfaces[if_id]
            data_start = body_start + 20
            ts = ((ts_high << 32) | ts_low) * iface.resolution + iface.offset
            yield ts, iface.linktype, buf[data_start : data_start + caplen], wirelen
        elif block_type == 3:  # Simple Packet Block: interface 0, no timestamp
            if not interfaces or body_end - body_start < 4:
                damaged.add(f"damaged: simple packet block at offset {src.offset - block_len}")
                continue
            (wirelen,) = struct.unpack_from(endian + "I", buf, body_start)
            iface = interfaces[0]
            caplen = min(wirelen, body_end - body_start - 4)
            if iface.snaplen:
                caplen = min(caplen, iface.snaplen)
            data_start = body_start + 4
            yield 0.0, iface.linktype, buf[data_start : data_start + caplen], wirelen
        elif block_type == 1:  # Interface Description Block
            if body_end - body_start < 8:
                damaged.add(f"damaged: interface block at offset {src.offset - block_len}")
                continue
            linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, body_start)
            if len(interfaces) >= MAX_INTERFACES:
                interfaces_dropped += 1
                continue
            resolution, ts_offset = _interface_options(buf, body_start + 8, body_end, endian)
            interfaces.append(_Interface(linktype, snaplen, resolution, ts_offset))
            if linktype not in linktypes_seen:
                linktypes_seen.add(linktype)
                info.linktypes.append(linktype)
        elif block_type == 2:  # Obsolete Packet Block
            if body_end - body_start < 20:
                continue
            if_id, _drops, ts_high, ts_low, caplen, wirelen = struct.unpack_from(endian + "HHIIII", buf, body_start)
            if if_id >= len(interfaces) or body_start + 20 + caplen > body_end:
                damaged.add(f"damaged: packet block at offset {src.offset - block_len}")
                continue
            iface = interfaces[if_id]
            ts = ((ts_high << 32) | ts_low) * iface.resolution + iface.offset
            yield ts, iface.linktype, buf[body_start + 20 : body_start + 20 + caplen], wirelen
        elif block_type == PCAPNG_DSB:
            # Secrets type, secrets length, secrets (padded), options.
            if body_end - body_start < 8:
                damaged.add(f"damaged: decryption secrets block at offset {src.offset - block_len}")
                continue
            secrets_type, secrets_len = struct.unpack_from(endian + "II", buf, body_start)
            if body_start + 8 + secrets_len > body_end:
                damaged.add(f"damaged: decryption secrets block at offset {src.offset - block_len}")
                continue
            if secrets is not None:
                secrets(secrets_type, buf[body_start + 8 : body_start + 8 + secrets_len])
        elif block_type == PCAPNG_SHB and not _options_fit(buf, body_start + 16, body_end, endian):
            # Nothing in its options is needed, but one that overruns the block means the
            # file is damaged (libpcap and Wireshark refuse it): say so, read on.
            damaged.add(
                f"damaged: section header at offset {src.offset - block_len} has an option "
                "longer than its block; options ignored"
            )
        # Other blocks (name resolution, statistics, custom) carry no packets.
    damaged.close()
    if interfaces_dropped:
        info.warnings.append(
            f"damaged: {interfaces_dropped} interfaces past the first {MAX_INTERFACES} of a section ignored, "
            "and their packets with them"
        )
    if src.error:
        # One warning for the damage (the record it cut short is its consequence).
        info.warnings.append(f"truncated: {src.error} at offset {src.offset}")


def _options_fit(buf: bytes, offset: int, end: int, endian: str) -> bool:
    """Whether every option (code, length, padded value) from ``offset`` ends by ``end``."""
    while offset + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, offset)
        offset += 4 + ((length + 3) & ~3)
        if offset > end:
            return False
        if code == 0:
            break
    return True


def _interface_options(buf: bytes, offset: int, end: int, endian: str) -> tuple[float, int]:
    """if_tsresol (code 9) and if_tsoffset (code 14) of an interface block."""
    resolution = 1e-6
    ts_offset = 0
    while offset + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, offset)
        value = buf[offset + 4 : offset + 4 + length]
        offset += 4 + ((length + 3) & ~3)
        if code == 0:
            break
        if code == 9 and length >= 1:
            exponent = value[0] & 0x7F
            resolution = 2.0**-exponent if value[0] & 0x80 else 10.0**-exponent
        elif code == 14 and length == 8:
            (ts_offset,) = struct.unpack_from(endian + "q", value, 0)
    return resolution, ts_offset
