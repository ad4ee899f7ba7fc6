"""The hand-written fast path equals the layered path.

``PacketDecoder._ethernet_ipv4`` (scanner/decode/packets.py) reads the common case
(Ethernet, IPv4 without options, TCP, UDP, one plain GTP-U G-PDU) in one function,
restating by offsets what ``_ethernet`` / ``_ip`` / ``_udp`` / the GTP-U tunnel code
do layer by layer.  Here every frame of the public captures and of a generated
bench capture (Ethernet and GTP-U, from ../shared/bench/make_bench.py) is decoded
twice, once as the engine does and once with the fast path turned off, and the
events (every field, headers and bodies included), the anomaly counts and the
decoder's counters must be the same.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.decode import packets
from scanner.decode.packets import PacketDecoder
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource
from scanner.model import Event

BENCH_PACKETS = 20_000


def _layered_only(self: PacketDecoder, ts: float, data: bytes, frame: int) -> object:
    return packets._GENERAL


def _decode(path: Path) -> tuple[list[Event], dict[str, int], dict[str, int]]:
    engine = NativeEngine()
    events = list(engine.events([CaptureSource(str(path))]))
    return events, dict(engine.anomalies.counts), dict(engine.stats.counters)


def _both(path: Path) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    fast = _decode(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PacketDecoder, "_ethernet_ipv4", _layered_only)
        layered = _decode(path)
    return fast, layered


def _public_captures(real: Path) -> Iterator[Path]:
    yield from sorted(p for p in real.iterdir() if ".pcap" in p.name)


def test_the_fast_path_is_taken_and_can_be_turned_off(real_captures: Path) -> None:
    # Guards the test itself: were the fast path never taken, the comparisons below would be empty.
    calls = 0
    original = PacketDecoder._ethernet_ipv4

    def counting(self: PacketDecoder, ts: float, data: bytes, frame: int) -> object:
        nonlocal calls
        calls += 1
        return original(self, ts, data, frame)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PacketDecoder, "_ethernet_ipv4", counting)
        _decode(real_captures / "ndpi__iphone.pcap")
    assert calls > 0


def test_public_captures_give_the_same_events_on_both_paths(real_captures: Path) -> None:
    compared = 0
    for path in _public_captures(real_captures):
        fast, layered = _both(path)
        # Failures name the capture and the first differing frame, never the traffic's values.
        fast_events, layered_events = fast[0], layered[0]
        assert len(fast_events) == len(layered_events), path.name
        for a, b in zip(fast_events, layered_events, strict=True):
            assert a == b, f"{path.name}: frame {a.frame} ({a.type}) differs from frame {b.frame} ({b.type})"
        assert fast[1:] == layered[1:], f"{path.name}: anomalies or counters differ"
        compared += len(fast_events)
    assert compared > 1000


@pytest.fixture(scope="module")
def bench_captures(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    generator = shared_dir / "bench" / "make_bench.py"
    if not generator.exists():
        pytest.skip(f"{generator} is absent")
    out = tmp_path_factory.mktemp("bench")
    paths = []
    for linktype in ("ether", "gtp"):
        path = out / f"bench_{BENCH_PACKETS}_{linktype}.pcap"
        subprocess.run(
            [sys.executable, str(generator), "bench", "--packets", str(BENCH_PACKETS), "--seed", "1",
             "--linktype", linktype, "--out", str(path)],
            check=True, capture_output=True,
        )
        paths.append(path)
    return paths


def test_bench_captures_give_the_same_events_on_both_paths(bench_captures: list[Path]) -> None:
    for path in bench_captures:
        fast, layered = _both(path)
        assert len(fast[0]) > 100, path.name
        assert fast == layered, path.name
