"""Captures that attack privscan's resources, written byte by byte (issue 15).

Each case is a function that writes one file (or, for ``endless_stdin``, a byte
stream) and says what it attacks.  ``bench/resources.py`` runs privscan on each
and prints its time and peak memory; the unit tests use the small builders
(``pcap``, ``tcp_session``) with small sizes.  Frames are built with ``struct``,
not scapy: a million-flow flood is written in seconds.

    python -m fuzz.resource_cases OUT_DIR [--scale 0.1]   (from tests/, or PYTHONPATH=tests)
"""

from __future__ import annotations

import argparse
import bz2
import json
import lzma
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
_ETHERNET_IPV4 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def record(ts: float, frame: bytes) -> bytes:
    sec = int(ts)
    return struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame


def pcap(frames: Iterable[tuple[float, bytes]]) -> Iterator[bytes]:
    """A pcap file (Ethernet) as chunks: header, then one record per (ts, frame)."""
    yield PCAP_HEADER
    for ts, frame in frames:
        yield record(ts, frame)


def ipv4(src: int, dst: int, proto: int, payload: bytes, ident: int = 0, frag: int = 0x4000) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag, 64, proto, 0,
                         src.to_bytes(4, "big"), dst.to_bytes(4, "big"))
    return _ETHERNET_IPV4 + header + payload


def tcp(src: int, sport: int, dst: int, dport: int, seq: int, flags: int, data: bytes = b"", ack: int = 0) -> bytes:
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack, 5 << 4, flags, 65535, 0, 0) + data
    return ipv4(src, dst, 6, segment)


def udp(src: int, sport: int, dst: int, dport: int, data: bytes) -> bytes:
    return ipv4(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data)


CLIENT, SERVER = 0x0A140007, 0xCB00710A  # 10.20.0.7 -> 203.0.113.10


def tcp_session(data: bytes, *, ts: float = 1_700_000_000.0, dport: int = 80, sport: int = 49152,
                segment: int = 1400) -> Iterator[tuple[float, bytes]]:
    """A client's side of a connection: SYN, the data in segments, FIN."""
    seq = 1000
    yield ts, tcp(CLIENT, sport, SERVER, dport, seq, 0x02)
    seq += 1
    for start in range(0, len(data), segment):
        piece = data[start : start + segment]
        yield ts, tcp(CLIENT, sport, SERVER, dport, seq, 0x18, piece)
        seq += len(piece)
    yield ts, tcp(CLIENT, sport, SERVER, dport, seq, 0x11)


def http_post(body: bytes, *, encoding: str | None = None, content_type: str = "application/octet-stream") -> bytes:
    headers = ["POST /collect HTTP/1.1", "Host: ads.adnet.example", f"Content-Type: {content_type}",
               f"Content-Length: {len(body)}"]
    if encoding:
        headers.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def write(path: Path, chunks: Iterable[bytes]) -> Path:
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return path


# ------------------------------------------------------------------ the cases


def syn_flood(path: Path, flows: int) -> Path:
    """``flows`` SYN-only TCP flows within 10 s: one per source address and port."""
    step = 10.0 / max(1, flows)
    return write(path, pcap(
        (1_700_000_000 + n * step, tcp(0x0A000000 + (n >> 6), 1024 + (n & 63), SERVER, 443, n, 0x02))
        for n in range(flows)
    ))


def udp_flood(path: Path, flows: int) -> Path:
    step = 10.0 / max(1, flows)
    return write(path, pcap(
        (1_700_000_000 + n * step, udp(0x0A000000 + (n >> 6), 1024 + (n & 63), SERVER, 9999, b"x" * 16))
        for n in range(flows)
    ))


def fragment_flood(path: Path, datagrams: int) -> Path:
    """First fragments of ``datagrams`` datagrams (1,400 bytes each), never completed."""
    return write(path, pcap(
        (1_700_000_000.0, ipv4(CLIENT, SERVER, 17, b"F" * 1400, ident=n, frag=0x2000)) for n in range(datagrams)
    ))


def overlapping_fragments(path: Path, datagrams: int) -> Path:
    """Each datagram sent as a 1,400-byte fragment at every 8-byte offset up to 64 kB."""
    def frames() -> Iterator[tuple[float, bytes]]:
        for n in range(datagrams):
            for offset in range(0, 64000, 8):
                yield 1_700_000_000.0, ipv4(CLIENT, SERVER, 17, b"O" * 1400, ident=n, frag=0x2000 | offset // 8)
    return write(path, pcap(frames()))


def _zeros(megabytes: int) -> Iterator[bytes]:
    block = bytes(1 << 20)
    for _ in range(megabytes):
        yield block


def compress_stream(coding: str, chunks: Iterable[bytes]) -> bytes:
    """Compress chunk by chunk: a 1 GB bomb is written without holding 1 GB."""
    if coding in ("gzip", "deflate"):
        packer: Any = zlib.compressobj(9, zlib.DEFLATED, 31 if coding == "gzip" else 15)
        return b"".join(packer.compress(c) for c in chunks) + packer.flush()
    if coding == "br":
        import brotli

        br = brotli.Compressor(quality=5)
        return b"".join(br.process(c) for c in chunks) + br.finish()
    if coding == "zstd":
        import zstandard

        zs = zstandard.ZstdCompressor(level=3).compressobj()
        return b"".join(zs.compress(c) for c in chunks) + zs.flush()
    if coding == "xz":
        xz = lzma.LZMACompressor(preset=1)
        return b"".join(xz.compress(c) for c in chunks) + xz.flush()
    if coding == "bzip2":
        bz = bz2.BZ2Compressor(9)
        return b"".join(bz.compress(c) for c in chunks) + bz.flush()
    raise ValueError(coding)


def body_bomb(path: Path, coding: str, megabytes: int) -> Path:
    """An HTTP POST whose body decodes to ``megabytes`` MB of zeros (the decoder keeps 4 MiB)."""
    body = compress_stream(coding, _zeros(megabytes))
    return write(path, pcap(tcp_session(http_post(body, encoding=coding))))


def capture_bomb(path: Path, coding: str, megabytes: int) -> Path:
    """A compressed capture wrapper whose pcap inside is ``megabytes`` MB of zero-filled frames."""
    frame = _ETHERNET_IPV4 + bytes(1500)
    count = (megabytes << 20) // (len(frame) + 16)
    frames = pcap((1_700_000_000.0, frame) for _ in range(count))
    batched = (b"".join(batch) for batch in _batches(frames, 512))
    path.write_bytes(compress_stream(coding, batched))
    return path


def _batches(chunks: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def nested_json(path: Path, depth: int) -> Path:
    body = b"[" * depth + b"]" * depth
    deep_object = b'{"a":' * depth + b"1" + b"}" * depth
    wide = json.dumps({f"k{n}": "v" * 8 for n in range(50_000)}).encode()
    frames = [*tcp_session(http_post(body, content_type="application/json")),
              *tcp_session(http_post(deep_object, content_type="application/json"), sport=49153),
              *tcp_session(http_post(wide, content_type="application/json"), sport=49154)]
    return write(path, pcap(frames))


def dns_pointer_loops(path: Path, packets: int) -> Path:
    """DNS answers whose names are compression pointers to themselves or to each other."""
    def message(n: int) -> bytes:
        header = struct.pack("!HHHHHH", n & 0xFFFF, 0x8180, 1, 3, 0, 0)
        question = b"\xc0\x0c" + struct.pack("!HH", 1, 1)  # a name that points at itself
        answers = b"".join(b"\xc0" + bytes([offset]) + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
                           for offset in (0x0C, 0x12, 0x1E))  # loops through one another
        return header + question + answers
    return write(path, pcap((1_700_000_000.0, udp(SERVER, 53, CLIENT, 5353 + n % 100, message(n))) for n in range(packets)))


def _shb(endian: str = "<") -> bytes:
    return struct.pack(endian + "IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack(endian + "I", 28)


def pcapng_huge_block(path: Path) -> Path:
    """A section header, then a block that claims 4 GB."""
    return write(path, [_shb(), struct.pack("<II", 6, 0xFFFFFFF0), bytes(64)])


def pcapng_many_interfaces(path: Path, interfaces: int) -> Path:
    """One section with ``interfaces`` interface blocks of distinct link types."""
    return write(path, [_shb(), *(struct.pack("<IIHHII", 1, 20, n % 65536, 0, 0, 20) for n in range(interfaces))])


def pcapng_many_sections(path: Path, sections: int) -> Path:
    """``sections`` sections, each with an interface and one packet, alternating byte orders."""
    def blocks() -> Iterator[bytes]:
        frame = udp(CLIENT, 5000, SERVER, 9999, b"s" * 8)
        for n in range(sections):
            endian = "<" if n % 2 else ">"
            yield _shb(endian)
            yield struct.pack(endian + "IIHHII", 1, 20, 1, 0, 0, 20)
            body = struct.pack(endian + "IIIII", 0, 0, n, len(frame), len(frame)) + frame + bytes(-len(frame) % 4)
            yield struct.pack(endian + "II", 6, 12 + len(body)) + body + struct.pack(endian + "I", 12 + len(body))
    return write(path, blocks())


def endless_stream(seconds_of_traffic: float) -> Iterator[bytes]:
    """A capture that never ends (for standard input): DNS and TCP flows, forever or for a while."""
    yield PCAP_HEADER
    n = 0
    ts = 1_700_000_000.0
    while seconds_of_traffic <= 0 or ts < 1_700_000_000.0 + seconds_of_traffic:
        batch = []
        for _ in range(1000):
            n += 1
            ts += 0.001
            batch.append(record(ts, tcp(0x0A000000 + (n & 0xFFFF), 1024 + (n >> 16) % 60000, SERVER, 443, n, 0x02)))
        yield b"".join(batch)


# name -> (what it attacks, function of the output path and the scale)
CASES: dict[str, tuple[str, Callable[[Path, float], Path]]] = {
    "syn_flood_1m": ("1M SYN-only TCP flows within 10 s", lambda p, s: syn_flood(p, int(1_000_000 * s))),
    "syn_flood_2m": ("2M SYN-only TCP flows within 10 s", lambda p, s: syn_flood(p, int(2_000_000 * s))),
    "udp_flood_1m": ("1M UDP flows within 10 s", lambda p, s: udp_flood(p, int(1_000_000 * s))),
    "fragment_flood": ("100k first fragments never completed", lambda p, s: fragment_flood(p, int(100_000 * s))),
    "overlapping_fragments": ("64 datagrams of 8,000 overlapping fragments", lambda p, s: overlapping_fragments(p, max(1, int(64 * s)))),
    "body_gzip": ("gzip HTTP body: 1 GB of zeros", lambda p, s: body_bomb(p, "gzip", max(8, int(1024 * s)))),
    "body_deflate": ("deflate HTTP body: 1 GB of zeros", lambda p, s: body_bomb(p, "deflate", max(8, int(1024 * s)))),
    "body_br": ("br HTTP body: 1 GB of zeros", lambda p, s: body_bomb(p, "br", max(8, int(1024 * s)))),
    "body_zstd": ("zstd HTTP body: 1 GB of zeros", lambda p, s: body_bomb(p, "zstd", max(8, int(1024 * s)))),
    "wrapper_gzip": ("gzip capture of 256 MB of frames", lambda p, s: capture_bomb(p, "gzip", max(4, int(256 * s)))),
    "wrapper_xz": ("xz capture of 256 MB of frames", lambda p, s: capture_bomb(p, "xz", max(4, int(256 * s)))),
    "wrapper_bzip2": ("bzip2 capture of 256 MB of frames", lambda p, s: capture_bomb(p, "bzip2", max(4, int(256 * s)))),
    "wrapper_zstd": ("zstd capture of 256 MB of frames", lambda p, s: capture_bomb(p, "zstd", max(4, int(256 * s)))),
    "nested_json": ("JSON bodies nested 100k deep, and 50k keys wide", lambda p, s: nested_json(p, max(1000, int(100_000 * s)))),
    "dns_pointer_loops": ("100k DNS answers with compression pointer loops", lambda p, s: dns_pointer_loops(p, int(100_000 * s))),
    "pcapng_huge_block": ("a pcapng block claiming 4 GB", lambda p, s: pcapng_huge_block(p)),
    "pcapng_interfaces": ("100k pcapng interfaces", lambda p, s: pcapng_many_interfaces(p, int(100_000 * s))),
    "pcapng_sections": ("100k pcapng sections, byte orders alternating", lambda p, s: pcapng_many_sections(p, int(100_000 * s))),
}
SUFFIX = {"wrapper_gzip": ".pcap.gz", "wrapper_xz": ".pcap.xz", "wrapper_bzip2": ".pcap.bz2", "wrapper_zstd": ".pcap.zst"}


def suffix(name: str) -> str:
    return SUFFIX.get(name, ".pcapng" if name.startswith("pcapng") else ".pcap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (0.01 for a quick look)")
    parser.add_argument("cases", nargs="*", help="names (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.cases or CASES:
        what, make = CASES[name]
        path = make(args.out / f"{name}{suffix(name)}", args.scale)
        print(f"{path}\t{path.stat().st_size}\t{what}")


if __name__ == "__main__":
    main()
