"""Running frames through the native decoder, for the decode tests.

``decode_frames`` feeds frames to one ``PacketDecoder`` (the engine's hot path)
and returns its events, its anomaly counts and the decoder itself, so a test
can look at the flow table and counters.  Frames are raw bytes or scapy
packets; each may carry its own timestamp and link type.  At the end the
decoder is swept as the engine does at the end of a capture, unless the test
asks not to (to look at state that is still held).

These are fixtures because only the decode tests use them; plain functions that
tests in several folders share live in tests/helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from scanner.decode.packets import PacketDecoder
from scanner.decode.protocols.base import Anomalies
from scanner.model import Event

E = TypeVar("E", bound=Event)

START_TS = 1_700_000_000.0


@dataclass(frozen=True)
class Frame:
    """A frame with its own time and link type (defaults: one millisecond apart, Ethernet)."""

    data: Any  # bytes or a scapy packet
    ts: float | None = None
    linktype: int | None = None


@dataclass
class Decoded:
    events: list[Event]
    anomalies: dict[str, int]
    decoder: PacketDecoder
    frame_events: list[list[Event]] = field(default_factory=list)  # events returned per frame

    def of(self, cls: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, cls)]

    def records(self) -> list[dict[str, Any]]:
        return [e.to_record() for e in self.events]


def run_frames(
    frames: Iterable[Any],
    *,
    linktype: int = 1,
    start: float = START_TS,
    step: float = 0.001,
    flush: bool = True,
    decoder: PacketDecoder | None = None,
) -> Decoded:
    if decoder is None:
        decoder = PacketDecoder(Anomalies())
        decoder.capture = "test.pcap"
    events: list[Event] = []
    per_frame: list[list[Event]] = []
    ts = start
    for index, item in enumerate(frames, 1):
        frame = item if isinstance(item, Frame) else Frame(item)
        ts = frame.ts if frame.ts is not None else start + (index - 1) * step
        out = decoder.decode(ts, frame.linktype if frame.linktype is not None else linktype, bytes(frame.data), index)
        got = list(out) if out else []
        per_frame.append(got)
        events.extend(got)
    if flush:
        events.extend(decoder.sweep(ts, everything=True) or ())
    return Decoded(events, dict(decoder.anomalies.counts), decoder, per_frame)


@pytest.fixture(scope="session")
def decode_frames() -> Callable[..., Decoded]:
    """``decode_frames(frames, linktype=1, start=..., step=0.001, flush=True)`` -> Decoded."""
    return run_frames


@pytest.fixture(scope="session")
def frame_type() -> type[Frame]:
    return Frame


def only(items: Sequence[E]) -> E:
    assert len(items) == 1, items
    return items[0]


@pytest.fixture(scope="session")
def one() -> Callable[[Sequence[Any]], Any]:
    """The single item of a sequence (asserting there is exactly one)."""
    return only


# ------------------------------------------------------------------------------- TLS ClientHello
# RFC 8446 s4.1.2; extensions: SNI RFC 6066 s3, ALPN RFC 7301 s3.1, supported_versions
# RFC 8446 s4.2.1, signature_algorithms s4.2.3, supported_groups s4.2.7, ec_point_formats RFC 8422.


def tls_extension(ext_type: int, data: bytes) -> bytes:
    return ext_type.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


def u16_list(values: Sequence[int]) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in values)


def sni_extension(name: str | bytes) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    entry = b"\x00" + len(raw).to_bytes(2, "big") + raw  # name type host_name, length, name
    return tls_extension(0x0000, len(entry).to_bytes(2, "big") + entry)


def alpn_extension(protocols: Sequence[bytes]) -> bytes:
    body = b"".join(len(p).to_bytes(1, "big") + p for p in protocols)
    return tls_extension(0x0010, len(body).to_bytes(2, "big") + body)


def client_hello(
    *,
    ciphers: Sequence[int] = (0x1301, 0x1302, 0xC02F),
    extensions: Sequence[bytes] | None = None,
    sni: str | bytes | None = "www.example.com",
    alpn: Sequence[bytes] = (b"h2", b"http/1.1"),
    versions: Sequence[int] = (0x0304, 0x0303),
    sig_algs: Sequence[int] = (0x0403, 0x0804, 0x0401),
    groups: Sequence[int] = (0x001D, 0x0017),
    legacy_version: int = 0x0303,
) -> bytes:
    """A ClientHello handshake message (type 1 + 24-bit length + body).  ``extensions``
    replaces the default set (SNI, groups, point formats, sig algs, ALPN, versions) whole."""
    if extensions is None:
        extensions = []
        if sni is not None:
            extensions.append(sni_extension(sni))
        extensions += [
            tls_extension(0x000A, (2 * len(groups)).to_bytes(2, "big") + u16_list(groups)),
            tls_extension(0x000B, b"\x01\x00"),  # ec_point_formats: uncompressed
            tls_extension(0x000D, (2 * len(sig_algs)).to_bytes(2, "big") + u16_list(sig_algs)),
        ]
        if alpn:
            extensions.append(alpn_extension(alpn))
        if versions:
            extensions.append(tls_extension(0x002B, bytes([2 * len(versions)]) + u16_list(versions)))
    ext_bytes = b"".join(extensions)
    body = (
        legacy_version.to_bytes(2, "big")
        + bytes(range(32))  # random
        + b"\x20" + bytes(32)  # legacy session id, 32 bytes
        + (2 * len(ciphers)).to_bytes(2, "big") + u16_list(ciphers)
        + b"\x01\x00"  # compression methods: null
        + len(ext_bytes).to_bytes(2, "big") + ext_bytes
    )
    return b"\x01" + len(body).to_bytes(3, "big") + body


def tls_records(handshake: bytes, sizes: Sequence[int] = (), content_type: int = 0x16) -> bytes:
    """The handshake in TLS records (16 03 01 length fragment), cut at ``sizes`` then whole."""
    out = []
    rest = handshake
    for size in sizes:
        out.append(rest[:size])
        rest = rest[size:]
    if rest:
        out.append(rest)
    return b"".join(bytes([content_type]) + b"\x03\x01" + len(f).to_bytes(2, "big") + f for f in out)


@dataclass(frozen=True)
class TlsBuilders:
    client_hello: Callable[..., bytes] = client_hello
    records: Callable[..., bytes] = tls_records
    extension: Callable[[int, bytes], bytes] = tls_extension
    sni: Callable[..., bytes] = sni_extension
    alpn: Callable[..., bytes] = alpn_extension
    u16_list: Callable[[Sequence[int]], bytes] = u16_list


@pytest.fixture(scope="session")
def tls() -> TlsBuilders:
    return TlsBuilders()


# ------------------------------------------------------------------------------- public captures


@dataclass
class NativeScan:
    """One capture through the native engine in strict mode (a decoder bug raises)."""

    events: list[Event]
    info: Any  # CaptureInfo
    anomalies: dict[str, int]
    counters: dict[str, int]


@pytest.fixture(scope="session")
def native_scan(real_captures) -> Callable[[Any], NativeScan]:
    """``native_scan(path)``: the capture's events, info and counts, computed once per session
    (the real-capture and tshark tests read the same scans)."""
    from scanner.engines.native import NativeEngine
    from scanner.ingest import CaptureSource

    cache: dict[str, NativeScan] = {}

    def scan(path: Any) -> NativeScan:
        key = str(path)
        if key not in cache:
            engine = NativeEngine(strict=True)
            assert engine.strict
            events = list(engine.events([CaptureSource(key)]))
            cache[key] = NativeScan(events, engine.stats.captures[0], dict(engine.anomalies.counts), dict(engine.stats.counters))
        return cache[key]

    return scan
