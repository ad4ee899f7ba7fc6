"""What every dissection engine gives the pipeline: events, and what it read.

An engine turns capture sources into ``Event`` objects, in capture order, and
fills ``EngineStats`` (one ``CaptureInfo`` per capture, packet and flow counts,
anomalies).  Nothing after the engine knows which one ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scanner.decode.protocols.base import Anomalies
from scanner.ingest import CaptureSource
from scanner.ingest.archives import archive_events, sniff_archive
from scanner.model import Event
from scanner.results import CaptureInfo

# Called with (capture path, bytes read so far of it) as a scan goes; for progress bars.
ProgressCallback = Callable[[str, int], None]


@dataclass
class EngineStats:
    captures: list[CaptureInfo] = field(default_factory=list)
    packets: int = 0
    flows: int = 0
    events: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def merge(self, other: EngineStats) -> None:
        """Add another engine's figures (the same scan, other captures) to these."""
        self.captures.extend(other.captures)
        self.packets += other.packets
        self.flows += other.flows
        self.events += other.events
        for name, value in other.anomalies.items():
            self.anomalies[name] = self.anomalies.get(name, 0) + value
        for name, value in other.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value

    @property
    def decode_errors(self) -> int:
        return sum(self.anomalies.values())

    def to_record(self) -> dict[str, Any]:
        return {
            "packets": self.packets,
            "flows": self.flows,
            "events": self.events,
            "decode_errors": self.decode_errors,
            "anomalies": dict(sorted(self.anomalies.items())),
            **dict(sorted(self.counters.items())),
        }


def archive_capture(source: CaptureSource, stats: EngineStats, anomalies: Anomalies) -> Iterator[Event] | None:
    """The events of a HAR or mitmproxy flow file given among the captures (both engines read
    them the same way: they are requests, not packets), or None when the source is a capture."""
    kind = sniff_archive(source)
    if kind is None:
        return None
    info = CaptureInfo(path=source.path)
    stats.captures.append(info)

    def events() -> Iterator[Event]:
        produced = 0
        try:
            for event in archive_events(source, kind, info, anomalies):
                produced += 1
                yield event
        finally:
            stats.packets += info.packets
            stats.events += produced
            stats.anomalies = dict(anomalies.counts)

    return events()


class Engine(Protocol):
    name: str
    stats: EngineStats

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        """Yield the events of every source, in order; fill ``stats`` as they stream."""
        ...
