"""Running frames through the native decoder, for the decode tests.

``decode_frames`` feeds frames to one ``PacketDecoder`` (the engine's hot path)
and returns its events, its anomaly counts and the decoder itself, so a test
can look at the flow table and counters.  Frames are raw bytes or scapy
packets; each may carry its own timestamp and link type.  At the end the
decoder is swept as the engine does at the end of a capture, unless the test
asks not to (to look at state that is still held).

These are fixtures, not a helper module: the suite runs with
``--import-mode=importlib``, where a helper next to the tests cannot be imported.
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
