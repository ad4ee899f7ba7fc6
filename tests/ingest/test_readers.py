"""The streaming readers: pcap (µs/ns, both byte orders), pcapng (sections, interfaces,
timestamp resolution and offset, every packet block), compressed files, damaged files
and bounded memory.

Every capture here is written with struct in tmp_path by the writers of conftest.py,
so each test states the exact bytes it reads.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import random
import struct
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from scanner.errors import InputError
from scanner.ingest import CaptureSource, open_capture
from scanner.ingest.readers import MAX_RECORD, read_frames
from scanner.results import CaptureInfo

# Frame payloads of different lengths (odd ones exercise the pcapng padding).
FRAMES = [bytes([i]) * (40 + 7 * i) for i in range(6)]


def read_all(path: Path) -> tuple[list[tuple[float, int, bytes, int]], CaptureInfo]:
    with open_capture(CaptureSource(str(path))) as capture:
        frames = list(capture.frames)
        info = capture.info
    return frames, info


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------- pcap

# (byte order, nanosecond file, fraction written for a quarter of a second)
PCAP_VARIANTS = [
    pytest.param("<", False, 250_000, id="usec-little-endian"),
    pytest.param(">", False, 250_000, id="usec-big-endian"),
    pytest.param("<", True, 250_000_000, id="nsec-little-endian"),
    pytest.param(">", True, 250_000_000, id="nsec-big-endian"),
]


@pytest.mark.parametrize(("endian", "nano", "quarter"), PCAP_VARIANTS)
def test_pcap_resolutions_and_byte_orders(writers, tmp_path: Path, endian: str, nano: bool, quarter: int) -> None:
    # A quarter second written in the file's own unit: read with the wrong unit it would be
    # 250 s (ns read as µs) or 0.25 ms (µs read as ns) off.
    frames = [(1_700_000_000 + i, quarter, data, None) for i, data in enumerate(FRAMES)]
    path = write(tmp_path, "x.pcap", writers.pcap(frames, endian=endian, nano=nano, linktype=113))
    got, info = read_all(path)
    assert [(d, lt, w) for _, lt, d, w in got] == [(d, 113, len(d)) for d in FRAMES]
    for i, (ts, *_rest) in enumerate(got):
        assert ts == pytest.approx(1_700_000_000 + i + 0.25, abs=1e-6)
    assert info.format == "pcap"
    assert info.linktypes == [113]
    assert info.warnings == []


def test_pcap_nanosecond_fraction_is_not_rounded_to_microseconds(writers, tmp_path: Path) -> None:
    # Small epoch so that a float holds nanoseconds: 1.000000999 s must not become 1.000000 or 1.000001.
    path = write(tmp_path, "ns.pcap", writers.pcap([(1, 999, b"\x00" * 20, None)], nano=True, linktype=101))
    ((ts, *_), ), _ = read_all(path)
    assert ts == pytest.approx(1.000000999, abs=1e-12)


def test_pcap_keeps_the_original_length_of_snaplen_cut_frames(writers, tmp_path: Path) -> None:
    path = write(tmp_path, "cut.pcap", writers.pcap([(1, 0, b"\xaa" * 64, 1514)], snaplen=64))
    ((_, _, data, wirelen),), _ = read_all(path)
    assert (len(data), wirelen) == (64, 1514)


def test_pcap_link_type_field_without_its_fcs_bits(writers, tmp_path: Path) -> None:
    # pcap draft s4: the top bits of LinkType carry the FCS length; the link type is the low 16 bits.
    path = write(tmp_path, "fcs.pcap", writers.pcap([(1, 0, b"\x00" * 20, None)], linktype=0x1000_0000 | 101))
    ((_, linktype, _, _),), info = read_all(path)
    assert linktype == 101
    assert info.linktypes == [101]


def test_pcap_unusual_version_is_read_with_a_warning(writers, tmp_path: Path) -> None:
    path = write(tmp_path, "v.pcap", writers.pcap([(1, 0, FRAMES[0], None)], version=(2, 3)))
    got, info = read_all(path)
    assert len(got) == 1
    assert info.warnings == ["unusual pcap version 2.3; read as 2.4"]


def test_pcap_across_read_chunks(writers, tmp_path: Path) -> None:
    # Records that straddle the reader's 1 MiB chunks are cut out whole (the slow path).
    rng = random.Random(7)
    frames = [(i, 0, rng.randbytes(rng.randrange(60, 9000)), None) for i in range(600)]  # ~2.7 MB
    path = write(tmp_path, "big.pcap", writers.pcap(frames))
    got, info = read_all(path)
    assert [d for _, _, d, _ in got] == [d for _, _, d, _ in frames]
    assert info.warnings == []


# ------------------------------------------------------------------------------------- pcapng


def test_pcapng_sections_interfaces_resolutions_and_blocks(writers, tmp_path: Path) -> None:
    le, be = "<", ">"
    nrb = writers.block(le, 4, struct.pack("<HH", 0, 0))  # Name Resolution Block: end of records only
    isb = writers.block(le, 5, struct.pack("<III", 1, 0, 0))  # Interface Statistics Block for interface 1
    custom = writers.block(be, 0x00000BAD, b"\x00\x00\x7e\xd9" + b"custom data")  # Custom Block (PEN 32473)
    ns_units = 1_700_000_000 * 10**9 + 123_456_000  # > 2**32: the high and low halves both matter
    data = b"".join(
        [
            # Section 1, little-endian: Ethernet (µs by default, snap length 64) and IPv4 (ns).
            writers.shb(le, options=[(4, b"privscan tests")]),  # shb_userappl
            writers.idb(le, linktype=1, snaplen=64),
            writers.idb(le, linktype=228, tsresol=9),
            nrb,
            writers.epb(le, 0, 1_700_000_000_500_000, FRAMES[0]),  # 1.7e9 s + 0.5 s in µs
            writers.epb(le, 1, ns_units, FRAMES[1], wirelen=1000),
            isb,
            writers.spb(le, b"\x5a" * 64, wirelen=90),  # interface 0; cut at its snap length
            writers.spb(le, FRAMES[1][:41]),  # odd length: the block padding is not data
            writers.opb(le, 1, ns_units + 10**9, FRAMES[2]),
            # Section 2, big-endian: interface ids start again at 0.  Linux SLL with a
            # binary resolution (2^-20 s) and an offset of 1.6e9 s.
            writers.shb(be),
            writers.idb(be, linktype=113, tsresol=0x80 | 20, tsoffset=1_600_000_000),
            writers.epb(be, 0, 3 << 20, FRAMES[3]),  # 3 s after the offset
            custom,
            writers.epb(be, 0, (5 << 20) + (1 << 19), FRAMES[4]),  # 5.5 s after the offset
        ]
    )
    path = write(tmp_path, "x.pcapng", data)
    got, info = read_all(path)
    expected = [
        (1_700_000_000.5, 1, FRAMES[0], len(FRAMES[0])),
        (1_700_000_000.123456, 228, FRAMES[1], 1000),
        (0.0, 1, b"\x5a" * 64, 90),  # a Simple Packet Block has no timestamp
        (0.0, 1, FRAMES[1][:41], 41),
        (1_700_000_001.123456, 228, FRAMES[2], len(FRAMES[2])),
        (1_600_000_003.0, 113, FRAMES[3], len(FRAMES[3])),
        (1_600_000_005.5, 113, FRAMES[4], len(FRAMES[4])),
    ]
    assert [(lt, d, w) for _, lt, d, w in got] == [(lt, d, w) for _, lt, d, w in expected]
    assert [ts for ts, *_ in got] == pytest.approx([ts for ts, *_ in expected], abs=1e-6)
    assert info.format == "pcapng"
    assert info.linktypes == [1, 228, 113]
    assert info.warnings == []


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_byte_orders_alone(writers, tmp_path: Path, endian: str) -> None:
    data = writers.shb(endian) + writers.idb(endian, 1) + b"".join(
        writers.epb(endian, 0, 10**6 * (i + 1), frame) for i, frame in enumerate(FRAMES)
    )
    got, info = read_all(write(tmp_path, "x.pcapng", data))
    assert [(ts, d) for ts, _, d, _ in got] == [(float(i + 1), f) for i, f in enumerate(FRAMES)]
    assert info.warnings == []


def test_pcapng_packet_of_an_undeclared_interface_is_skipped_with_a_warning(writers, tmp_path: Path) -> None:
    le = "<"
    data = writers.shb(le) + writers.idb(le, 1) + writers.epb(le, 3, 0, FRAMES[0]) + writers.epb(le, 0, 0, FRAMES[1])
    got, info = read_all(write(tmp_path, "x.pcapng", data))
    assert [d for _, _, d, _ in got] == [FRAMES[1]]
    assert len(info.warnings) == 1 and "damaged: packet block at offset" in info.warnings[0]


def test_pcapng_block_length_not_a_multiple_of_four_stops_with_a_warning(writers, tmp_path: Path) -> None:
    le = "<"
    good = writers.shb(le) + writers.idb(le, 1) + writers.epb(le, 0, 0, FRAMES[0])
    bad = struct.pack("<II", 6, 30) + b"\x00" * 22  # an EPB claiming 30 bytes
    got, info = read_all(write(tmp_path, "x.pcapng", good + bad + writers.epb(le, 0, 0, FRAMES[1])))
    assert [d for _, _, d, _ in got] == [FRAMES[0]]
    assert info.warnings == [f"damaged: block at offset {len(good)} has length 30; reading stopped there"]


def test_pcapng_section_header_option_overrunning_the_block_is_a_warning(writers, tmp_path: Path) -> None:
    # As libpcap's tests/shb-option-too-long.pcapng: an SHB option claims more bytes than the block holds.
    le = "<"
    shb = bytearray(writers.shb(le, options=[(4, b"abcd")]))
    struct.pack_into("<H", shb, 24 + 2, 0x3030)  # the option's length field
    data = bytes(shb) + writers.idb(le, 1) + writers.epb(le, 0, 0, FRAMES[0])
    got, info = read_all(write(tmp_path, "x.pcapng", data))
    assert [d for _, _, d, _ in got] == [FRAMES[0]]  # the packets are still read
    assert len(info.warnings) == 1
    assert "damaged" in info.warnings[0] and "offset 0" in info.warnings[0]


# ---------------------------------------------------------------------------------- compression

COMPRESSORS = [
    pytest.param("gzip", gzip.compress, id="gzip"),
    pytest.param("xz", lzma.compress, id="xz"),
    pytest.param("bzip2", lambda data: bz2.compress(data, 1), id="bzip2"),  # 100 kB blocks
    pytest.param("zstd", lambda data: zstandard.ZstdCompressor().compress(data), id="zstd"),
]


@pytest.mark.parametrize(("name", "compress"), COMPRESSORS)
def test_compressed_captures_read_the_same_frames(writers, tmp_path: Path, name: str, compress) -> None:
    frames = [(1_700_000_000 + i, i, data, None) for i, data in enumerate(FRAMES)]
    raw = writers.pcap(frames, nano=True)
    plain, _ = read_all(write(tmp_path, "plain.pcap", raw))
    # The name says nothing: decompression is chosen by magic number.
    stored = compress(raw)
    path = write(tmp_path, "capture.pcap", stored)
    got, info = read_all(path)
    assert got == plain
    assert info.format == f"pcap+{name}"
    assert info.warnings == []
    # The report names the stored (compressed) file: its own digest and size.
    assert (info.sha256, info.bytes) == (hashlib.sha256(stored).hexdigest(), len(stored))


def test_compressed_pcapng(writers, tmp_path: Path) -> None:
    data = writers.shb(">") + writers.idb(">", 101) + writers.epb(">", 0, 7, FRAMES[5])
    got, info = read_all(write(tmp_path, "x.pcapng.gz", gzip.compress(data)))
    assert [d for _, _, d, _ in got] == [FRAMES[5]]
    assert info.format == "pcapng+gzip"


@pytest.mark.parametrize(("name", "compress"), COMPRESSORS)
def test_compressed_capture_cut_short_yields_the_frames_before_the_cut(
    writers, tmp_path: Path, name: str, compress
) -> None:
    # Incompressible frames, so that the cut lands in the middle of the capture.
    rng = random.Random(3)
    frames = [(i, 0, rng.randbytes(300), None) for i in range(2000)]  # ~630 kB, under one read chunk
    stored = compress(writers.pcap(frames))
    got, info = read_all(write(tmp_path, "cut.pcap", stored[: len(stored) * 3 // 4]))
    # Every frame the decompressor could give back is yielded, in order, before the warning.
    assert len(got) > len(frames) // 2
    assert [d for _, _, d, _ in got] == [d for _, _, d, _ in frames[: len(got)]]
    assert len(info.warnings) == 1
    assert "offset" in info.warnings[0]


def test_gzip_cut_inside_its_own_header_is_an_input_error(writers, tmp_path: Path) -> None:
    stored = gzip.compress(writers.pcap([(1, 0, FRAMES[0], None)]))
    with pytest.raises(InputError, match="cannot decompress"), open_capture(
        CaptureSource(str(write(tmp_path, "x.pcap.gz", stored[:12])))
    ):
        pass


# ----------------------------------------------------------------------------- damaged captures


def test_capture_cut_mid_record_yields_every_frame_before_the_cut(writers, tmp_path: Path) -> None:
    frames = [(1, i, data, None) for i, data in enumerate(FRAMES)]
    raw = writers.pcap(frames)
    record_offsets = [24 + sum(16 + len(d) for d in FRAMES[:i]) for i in range(len(FRAMES))]
    cut = record_offsets[4] + 16 + 10  # ten bytes into the fifth frame's data
    path = write(tmp_path, "cut.pcap", raw[:cut])
    got, info = read_all(path)
    assert [d for _, _, d, _ in got] == FRAMES[:4]
    assert info.warnings == [
        f"truncated: record at offset {record_offsets[4]} cut short (10 of {len(FRAMES[4])} bytes)"
    ]
    assert (info.sha256, info.bytes) == (hashlib.sha256(raw[:cut]).hexdigest(), cut)


def test_capture_cut_inside_a_record_header(writers, tmp_path: Path) -> None:
    raw = writers.pcap([(1, 0, FRAMES[0], None), (2, 0, FRAMES[1], None)])
    cut = 24 + 16 + len(FRAMES[0]) + 5  # five bytes of the second record header
    got, info = read_all(write(tmp_path, "cut.pcap", raw[:cut]))
    assert [d for _, _, d, _ in got] == [FRAMES[0]]
    assert info.warnings == [f"truncated: record header cut at offset {24 + 16 + len(FRAMES[0])}"]


def test_impossible_record_length_stops_with_a_warning(writers, tmp_path: Path) -> None:
    raw = bytearray(writers.pcap([(1, i, d, None) for i, d in enumerate(FRAMES)]))
    second = 24 + 16 + len(FRAMES[0])
    struct.pack_into("<I", raw, second + 8, 0xFFFFFFF0)  # caplen of the second record
    assert MAX_RECORD < 0xFFFFFFF0
    path = write(tmp_path, "bad.pcap", bytes(raw))
    got, info = read_all(path)
    assert [d for _, _, d, _ in got] == [FRAMES[0]]
    assert info.warnings == [f"damaged: record at offset {second} claims {0xFFFFFFF0} bytes; reading stopped there"]
    # The digest still covers the whole stored file, as sha256sum would.
    assert (info.sha256, info.bytes) == (hashlib.sha256(raw).hexdigest(), len(raw))


def test_pcapng_cut_mid_block(writers, tmp_path: Path) -> None:
    le = "<"
    head = writers.shb(le) + writers.idb(le, 1) + writers.epb(le, 0, 0, FRAMES[0])
    data = head + writers.epb(le, 0, 0, FRAMES[1])
    got, info = read_all(write(tmp_path, "x.pcapng", data[: len(head) + 20]))
    assert [d for _, _, d, _ in got] == [FRAMES[0]]
    assert info.warnings == [f"truncated: block at offset {len(head)} cut short"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "not a capture file", id="empty"),
        pytest.param(b"\xd4\xc3\xb2", "not a capture file", id="three-bytes"),
        pytest.param(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", "pcap header cut short", id="cut-file-header"),
        pytest.param(b"hello, this is text\n", "not a pcap or pcapng capture", id="text"),
    ],
)
def test_not_a_capture_is_an_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, "x.pcap", content)
    with pytest.raises(InputError, match=message), open_capture(CaptureSource(str(path))) as capture:
        list(capture.frames)


# ------------------------------------------------------------------------------------- memory


@pytest.mark.slow  # tracemalloc hooks every allocation: ~2-4 s for 200k frames
def test_memory_does_not_grow_with_the_number_of_frames(tmp_path: Path) -> None:
    """200k frames through the reader alone: the traced peak stays around one read chunk.

    Keeping the frames would cost 200k x (60-byte bytes object + tuple + float) > 30 MB.
    """
    path = tmp_path / "many.pcap"
    record = struct.pack("<IIII", 1, 0, 60, 60) + bytes(range(60))
    with path.open("wb") as handle:
        handle.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for _ in range(20):
            handle.write(record * 10_000)
    info = CaptureInfo(path=str(path))
    count = 0
    with path.open("rb") as stream:
        tracemalloc.start()
        try:
            for _frame in read_frames(stream, info):
                count += 1
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 200_000
    assert peak < 6 * 1024 * 1024, f"peak {peak} bytes"
