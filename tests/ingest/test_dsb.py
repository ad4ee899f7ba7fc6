"""pcapng Decryption Secrets Blocks (draft-ietf-opsawg-pcapng s4.7): handed over in file order."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from scanner.ingest.readers import PCAPNG_DSB, read_frames
from scanner.results import CaptureInfo

TLS_KEY_LOG = 0x544C534B
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "captures" / "tls"


def block(block_type: int, body: bytes, endian: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(endian + "II", block_type, length) + body + struct.pack(endian + "I", length)


def capture(endian: str = "<", secrets: bytes = b"CLIENT_RANDOM 00 11\n", dsb_len: int | None = None) -> bytes:
    shb = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)
    idb = block(1, struct.pack(endian + "HHI", 1, 0, 0), endian)

    def epb(data: bytes) -> bytes:
        return block(6, struct.pack(endian + "IIIII", 0, 0, 1, len(data), len(data)) + data, endian)

    declared = len(secrets) if dsb_len is None else dsb_len
    dsb = block(PCAPNG_DSB, struct.pack(endian + "II", TLS_KEY_LOG, declared) + secrets, endian)
    return shb + idb + epb(b"first") + dsb + epb(b"second")


@pytest.mark.parametrize("endian", ["<", ">"])
def test_a_dsb_reaches_the_callback_between_the_packets_around_it(endian: str) -> None:
    seen: list[object] = []
    info = CaptureInfo(path="t.pcapng")

    def on_secrets(kind: int, data: bytes) -> None:
        seen.append(("secrets", kind, data))

    for _ts, _lt, data, _wl in read_frames(io.BytesIO(capture(endian)), info, on_secrets):
        seen.append(data)
    assert seen == [b"first", ("secrets", TLS_KEY_LOG, b"CLIENT_RANDOM 00 11\n"), b"second"]
    assert info.warnings == []


def test_a_dsb_longer_than_its_block_is_a_warning_and_reading_goes_on() -> None:
    info = CaptureInfo(path="t.pcapng")
    got: list[bytes] = []
    frames = [d for _t, _l, d, _w in read_frames(io.BytesIO(capture(dsb_len=4000)), info, lambda k, d: got.append(d))]
    assert frames == [b"first", b"second"]
    assert got == []
    assert len(info.warnings) == 1 and "decryption secrets block" in info.warnings[0]
    assert "CLIENT_RANDOM" not in info.warnings[0]


def test_without_a_callback_dsbs_are_skipped() -> None:
    info = CaptureInfo(path="t.pcapng")
    assert [d for _t, _l, d, _w in read_frames(io.BytesIO(capture()), info)] == [b"first", b"second"]


@pytest.mark.skipif(not (SHARED / "tls_public.dsb.pcapng").exists(), reason="../shared/captures/tls is absent")
def test_the_shared_dsb_capture_holds_the_shared_key_log() -> None:
    from scanner.decode.keylog import KeyLog

    from_dsb = KeyLog()
    info = CaptureInfo(path="dsb")
    with open(SHARED / "tls_public.dsb.pcapng", "rb") as handle:
        for _ in read_frames(handle, info, lambda kind, data: from_dsb.add_text(data, "dsb")):
            pass
    from_file = KeyLog()
    from_file.add_file(str(SHARED / "tls_public.keys"))
    assert len(from_dsb) == len(from_file) > 0
    assert from_dsb == from_file
