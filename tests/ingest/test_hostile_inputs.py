"""Hostile and unusual inputs to ingest (issue 15, defects 6 and 7, streams, atomic reports).

- pcapng with tens of thousands of interfaces of distinct link types reads in linear time;
- a zstd capture cut short warns as gzip, xz and bzip2 do, and a small cut ``.zst`` is not
  "not a capture file";
- FIFOs and ``/dev/fd/N`` (a shell's ``<(zcat x.pcap.gz)``) are read as streams, like ``-``;
- ``scan -o`` replaces a report atomically: a failed write leaves the old report whole.
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import zstandard

from scanner.errors import InputError
from scanner.ingest import CaptureSource, expand_inputs, open_capture
from scanner.ingest.readers import MAX_INTERFACES
from scanner.results import CaptureInfo

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "captures" / "demo.pcap"


def read_all(path: Path | str) -> tuple[int, CaptureInfo]:
    with open_capture(CaptureSource(str(path))) as capture:
        count = sum(1 for _ in capture.frames)
        info = capture.info
    return count, info


def privscan(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, cwd=REPO, timeout=120, **kwargs)  # type: ignore[call-overload, no-any-return]


# ------------------------------------------------------------------ pcapng interfaces


def _many_interfaces(count: int) -> bytes:
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    blocks = [shb]
    for index in range(count):
        blocks.append(struct.pack("<IIHHII", 1, 20, index % 65536, 0, 0, 20))
    # one packet on the last interface, to show it is still found
    data = b"\x00" * 14
    body = struct.pack("<IIIII", count - 1, 0, 0, len(data), len(data)) + data + b"\x00" * (-len(data) % 4)
    blocks.append(struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body)))
    return b"".join(blocks)


def test_pcapng_with_60000_link_types_reads_in_linear_time(tmp_path: Path) -> None:
    # Each interface block carries a new link type: a list membership test made this
    # quadratic (50,000 interfaces took 10 s).  Linear, it is well under a second.
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(_many_interfaces(60_000))
    started = time.monotonic()
    count, info = read_all(path)
    elapsed = time.monotonic() - started
    assert count == 1 and len(info.linktypes) == 60_000
    assert elapsed < 4.0, f"{elapsed:.1f} s for 60,000 interfaces"


def test_pcapng_interfaces_past_the_cap_are_counted_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "interfaces.pcapng"
    path.write_bytes(_many_interfaces(MAX_INTERFACES + 10))
    count, info = read_all(path)
    assert count == 0  # the packet names an interface that was not kept
    assert any("interfaces" in w and str(MAX_INTERFACES) in w for w in info.warnings), info.warnings


# ------------------------------------------------------------------ zstd cut short


def _zstd_capture(tmp_path: Path) -> tuple[bytes, int]:
    data = DEMO.read_bytes()
    # A streaming compressor (a capture tool writing .zst as it goes) ends a block at each
    # flush: many small blocks, so a cut leaves the ones before it readable.
    streaming = zstandard.ZstdCompressor(level=3).compressobj()
    parts = []
    for start in range(0, len(data), 8192):
        parts.append(streaming.compress(data[start : start + 8192]))
        parts.append(streaming.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
    compressed = b"".join(parts) + streaming.flush()
    whole, _ = read_all(_write(tmp_path / "whole.pcap.zst", compressed))
    return compressed, whole


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_cut_zstd_capture_warns_like_gzip(tmp_path: Path) -> None:
    compressed, whole = _zstd_capture(tmp_path)
    count, info = read_all(_write(tmp_path / "cut.pcap.zst", compressed[: len(compressed) * 2 // 3]))
    assert 0 < count < whole
    assert any(w.startswith("truncated:") and "zstd" in w for w in info.warnings), info.warnings
    # gzip, for comparison
    gz = gzip.compress(DEMO.read_bytes())
    _, gz_info = read_all(_write(tmp_path / "cut.pcap.gz", gz[: len(gz) * 2 // 3]))
    assert any(w.startswith("truncated:") for w in gz_info.warnings)


def test_a_whole_multi_frame_zstd_capture_has_no_warning(tmp_path: Path) -> None:
    part = zstandard.ZstdCompressor().compress(DEMO.read_bytes())
    # two frames: the pcap, then more records (the second header would be damage, so
    # split at a record boundary: the file header stays in the first frame)
    data = DEMO.read_bytes()
    cut = 24 + 16 + struct.unpack_from("<I", data, 24 + 8)[0]
    frames = zstandard.ZstdCompressor().compress(data[:cut]) + zstandard.ZstdCompressor().compress(data[cut:])
    count, info = read_all(_write(tmp_path / "two.pcap.zst", frames))
    assert count == read_all(DEMO)[0] and info.warnings == [], info.warnings
    assert read_all(_write(tmp_path / "one.pcap.zst", part))[1].warnings == []


def test_a_small_cut_zstd_is_not_called_not_a_capture(tmp_path: Path) -> None:
    compressed = zstandard.ZstdCompressor().compress(DEMO.read_bytes())
    path = _write(tmp_path / "small.pcap.zst", compressed[:40])
    with pytest.raises(InputError) as raised:
        read_all(path)
    assert "not a capture" not in str(raised.value) and "cut short" in str(raised.value)


# ------------------------------------------------------------------ streams


def test_a_fifo_is_read_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    data = DEMO.read_bytes()

    def feed() -> None:
        with open(fifo, "wb") as writer:
            writer.write(data)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        sources = expand_inputs([str(fifo)])
        assert [s.path for s in sources] == [str(fifo)] and sources[0].is_stream
        count, info = read_all(fifo)
    finally:
        if thread.is_alive():  # the test failed before reading: release the writer
            with open(fifo, "rb") as reader:
                reader.read()
        thread.join(timeout=10)
    assert count == read_all(DEMO)[0] and info.bytes == len(data)


def test_process_substitution_dev_fd_is_read_like_stdin(tmp_path: Path) -> None:
    packed = tmp_path / "demo.pcap.gz"
    packed.write_bytes(gzip.compress(DEMO.read_bytes()))
    expected = privscan("events", str(DEMO))
    assert expected.returncode == 0
    # bash -c '... <(zcat x)': the path privscan sees is /dev/fd/63, a pipe
    result = subprocess.run(
        ["bash", "-c", '"$0" -m scanner events <(zcat "$1")', sys.executable, str(packed)],
        capture_output=True, cwd=REPO, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.splitlines()) == len(expected.stdout.splitlines()) > 0


def test_a_stream_source_is_not_split_across_processes(tmp_path: Path) -> None:
    fifo = tmp_path / "c.fifo"
    os.mkfifo(fifo)
    with_writer = subprocess.Popen(["bash", "-c", f'cat "{DEMO}" > "{fifo}"'])
    try:
        result = privscan("events", "--jobs", "2", str(fifo), str(DEMO))
    finally:
        if with_writer.poll() is None:  # privscan never opened it: release the writer
            with open(fifo, "rb") as reader:
                reader.read()
        with_writer.wait(timeout=30)
    assert result.returncode == 0, result.stderr.decode()


# ------------------------------------------------------------------ atomic reports


def test_a_report_is_replaced_atomically(tmp_path: Path) -> None:
    from scanner.report.output import open_output

    target = tmp_path / "report.json"
    target.write_text("the old report\n", encoding="utf-8")
    with pytest.raises(RuntimeError), open_output(target) as stream:
        stream.write("half of a new rep")
        raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == "the old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "no temporary file left behind"
    with open_output(target) as stream:
        stream.write("the new report\n")
    assert target.read_text(encoding="utf-8") == "the new report\n"


def test_a_new_report_gets_the_usual_permissions(tmp_path: Path) -> None:
    from scanner.report.output import open_output

    old = os.umask(0o022)
    try:
        with open_output(tmp_path / "r.txt") as stream:
            stream.write("x")
    finally:
        os.umask(old)
    assert (tmp_path / "r.txt").stat().st_mode & 0o777 == 0o644


def test_scan_output_to_a_device_is_written_in_place(tmp_path: Path) -> None:
    result = privscan("scan", str(DEMO), "-q", "--fail-on", "none", "-o", "json:/dev/null",
                      env={**os.environ, "PRIVSCAN_HMAC_KEY": "a key of sixteen bytes or more"})
    assert result.returncode == 0, result.stderr.decode()
    assert Path("/dev/null").is_char_device()
