"""`privscan events` lines: orjson where it writes what json.dumps writes, json everywhere else."""

from __future__ import annotations

import io
import json

import pytest

from scanner.model import DnsMessage, Event, FlowTuple, Tunnel
from scanner.report import events as event_lines

FLOW = FlowTuple("udp", "10.0.0.1", 5353, "10.0.0.2", 53)


def reference(event: Event) -> str:
    """The lines as they were always written."""
    return json.dumps(event.to_record(), ensure_ascii=False, separators=(",", ":")) + "\n"


def written(events: list[Event]) -> str:
    out = io.StringIO()
    assert event_lines.write_event_lines(events, out, "jsonl") == len(events)
    return out.getvalue()


def dns(ts: float, query: str, **extra: object) -> DnsMessage:
    return DnsMessage(ts=ts, capture="c.pcap", frame=7, flow=FLOW, query=query, qtype="A", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [
        dns(1463339353.458381, "www.example.com", answers=("1.2.3.4",), rcode=0, response=True, ttl=300),
        dns(0.0, "a"),
        dns(1e-06, "tiny.ts"),  # Python writes 1e-06, orjson 1e-6: json must write it
        dns(2e16, "huge.ts"),
        dns(1.5, "ctl\x00\x1f\x7f\"\\ \u2028 bücher \U0001f600"),
        dns(1.5, "lone \udc80 surrogate"),  # orjson refuses it: json writes it as before
        dns(1.5, "big", ttl=2**70),  # beyond 64 bits: orjson refuses it
        dns(1.5, "tunnel", tunnel=Tunnel("gtpu", "192.0.2.1", "192.0.2.2", 7)),
    ],
)
def test_lines_are_those_json_writes(event: Event) -> None:
    assert written([event]) == reference(event)


def test_without_orjson_the_lines_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[Event] = [dns(1.5, "a.example"), dns(1e-06, "b.example", ttl=2**70)]
    with_orjson = written(events)
    monkeypatch.setattr(event_lines, "orjson", None)
    assert written(events) == with_orjson == "".join(reference(e) for e in events)
