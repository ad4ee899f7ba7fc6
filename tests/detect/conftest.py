"""Fixtures for the detector tests: the shipped signatures, detectors with and without an
inventory, and factories for the synthetic events the tests feed them.

The events are built directly (no capture, no decoder): what is under test is what the
detector makes of a request, whichever engine produced it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote

import pytest

from scanner.datafiles import default_signatures_root
from scanner.detect.engine import Detector
from scanner.detect.signatures import IdentifierSignatures, load_identifier_signatures
from scanner.knowledge.inventory import Inventory, load_inventory
from scanner.model import DhcpMessage, Event, FlowTuple, HttpRequest, MdnsMessage

SIGNATURES_ROOT = default_signatures_root()
FLOW = FlowTuple("tcp", "10.20.0.7", 51514, "203.0.113.10", 80)

# Characters left as they are in a query or form value built from an example: what apps
# send unescaped (a '+' in a phone number, ',' between coordinates, '@' in an e-mail).
QUERY_SAFE = "+,:@!$'()*;/"


@pytest.fixture(scope="session")
def id_signatures() -> IdentifierSignatures:
    return load_identifier_signatures(SIGNATURES_ROOT)


@pytest.fixture(scope="session")
def detector(id_signatures: IdentifierSignatures) -> Detector:
    """A detector without an inventory: shape and key name only."""
    return Detector(id_signatures)


def http(
    *,
    uri: str = "/collect",
    host: str | None = "collector.example.com",
    method: str = "GET",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | str = b"",
    content_type: str | None = None,
    user_agent: str | None = None,
    ts: float = 1_714_557_600.0,
) -> HttpRequest:
    """A synthetic HTTP request, as the decoders hand it to the detector."""
    all_headers: list[tuple[str, str]] = []
    if host is not None:
        all_headers.append(("Host", host))
    if user_agent is not None:
        all_headers.append(("User-Agent", user_agent))
    if content_type is not None:
        all_headers.append(("Content-Type", content_type))
    all_headers.extend(headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return HttpRequest(
        ts=ts,
        capture="synthetic.pcap",
        frame=1,
        flow=FLOW,
        method=method if not data else "POST",
        host=host,
        uri=uri,
        user_agent=user_agent,
        content_type=content_type,
        body_len=len(data),
        headers=tuple(all_headers),
        body=data,
    )


def event_at(location: str, key: str | None, value: str, host: str | None = "collector.example.com",
             user_agent: str | None = None) -> Event:
    """An event that carries ``value`` under ``key`` at ``location`` (the locations that
    signature examples name)."""
    name = key or "v"
    if location == "query":
        return http(uri=f"/collect?{quote(name, safe='')}={quote(value, safe=QUERY_SAFE)}", host=host, user_agent=user_agent)
    if location == "form":
        return http(body=f"{quote(name, safe='')}={quote(value, safe=QUERY_SAFE)}", content_type="application/x-www-form-urlencoded",
                    host=host, user_agent=user_agent)
    if location in ("body", "json"):
        return http(body=json.dumps({name: value}), content_type="application/json", host=host, user_agent=user_agent)
    if location in ("header", "header_enrichment"):
        return http(headers=[(name, value)], host=host, user_agent=user_agent)
    if location == "cookie":
        return http(headers=[("Cookie", f"{name}={value}")], host=host, user_agent=user_agent)
    if location == "user_agent":
        return http(user_agent=value, host=host)
    if location == "name":
        if key == "hostname":
            return DhcpMessage(ts=1_714_557_600.0, capture="synthetic.pcap", frame=1,
                               flow=FlowTuple("udp", "0.0.0.0", 68, "255.255.255.255", 67),
                               message="REQUEST", mac="3c:22:fb:11:22:33", hostname=value)
        return MdnsMessage(ts=1_714_557_600.0, capture="synthetic.pcap", frame=1,
                           flow=FlowTuple("udp", "192.168.1.20", 5353, "224.0.0.251", 5353), name=value)
    raise AssertionError(f"no synthetic event for location {location!r}")


class EventFactory:
    """What the ``events`` fixture hands the tests: ``events.http(...)``, ``events.at(...)``."""

    http = staticmethod(http)
    at = staticmethod(event_at)


@pytest.fixture(scope="session")
def events() -> EventFactory:
    return EventFactory()


@pytest.fixture
def write_inventory(tmp_path: Path) -> Callable[[str], Inventory]:
    def write(text: str) -> Inventory:
        path = tmp_path / "inventory.yaml"
        path.write_text(text, encoding="utf-8")
        return load_inventory(path)

    return write
