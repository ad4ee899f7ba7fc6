"""SSDP: message fixtures, robustness against garbage, and the public captures compared with tshark."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from helpers.byte_fixtures import random_byte_changes, truncations
from helpers.captures import udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import tshark_values
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.ssdp import SsdpDecoder, parse_headers, usn_type
from scanner.model import FlowTuple, SsdpMessage

FLOW = FlowTuple("udp", "192.168.1.40", 1900, "239.255.255.250", 1900)

NOTIFY = (
    b"NOTIFY * HTTP/1.1\r\n"  # start line (UDA 2.0 s1.2.2)
    b"HOST: 239.255.255.250:1900\r\n"
    b"CACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://192.168.1.40:49152/description.xml\r\n"
    b"NT: urn:schemas-upnp-org:device:MediaRenderer:1\r\n"  # notification type
    b"NTS: ssdp:alive\r\n"
    b"SERVER: Linux/4.9 UPnP/1.0 Kids-TV/2.1\r\n"  # OS, UPnP version, product
    b"USN: uuid:4d696e69-444c-164e-9d41-b827eb4b1a2c::urn:schemas-upnp-org:device:MediaRenderer:1\r\n"
    b"X-FRIENDLY-NAME: Emma's TV\r\n"  # a vendor extension some TVs send
    b"\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"  # an answer to M-SEARCH (UDA 2.0 s1.3.3)
    b"CACHE-CONTROL: max-age=100\r\n"
    b"EXT:\r\n"
    b"LOCATION: http://192.168.1.1:80/description.xml\r\n"
    b"SERVER: FreeRTOS/6.0.5, UPnP/1.0, IpBridge/1.26.0\r\n"
    b"ST: upnp:rootdevice\r\n"
    b"USN: uuid:2f402f80-da50-11e1-9b23-001788102201::upnp:rootdevice\r\n"
    b"\r\n"
)
M_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\n"
    b"Host:239.255.255.250:1900\r\n"  # no space after the colon: seen in the wild
    b"ST:urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    b'Man:"ssdp:discover"\r\n'
    b"MX:3\r\n"
    b"\r\n"
)
M_SEARCH_WITH_AGENT = M_SEARCH[:-2] + b"USER-AGENT: Android/13 UPnP/1.1 SomeApp/4.2\r\n\r\n"


def ctx() -> PacketContext:
    return PacketContext(ts=1.0, capture="test", frame=1, flow=FLOW)


CASES = [
    (
        NOTIFY,
        "Emma's TV",
        ("Emma's TV", "Linux/4.9 UPnP/1.0 Kids-TV/2.1", "urn:schemas-upnp-org:device:MediaRenderer:1"),
        "friendly name first, then SERVER, then the USN's device type",
    ),
    (
        RESPONSE,
        "FreeRTOS/6.0.5, UPnP/1.0, IpBridge/1.26.0",
        ("FreeRTOS/6.0.5, UPnP/1.0, IpBridge/1.26.0", "upnp:rootdevice"),
        "search response",
    ),
    (M_SEARCH_WITH_AGENT, "Android/13 UPnP/1.1 SomeApp/4.2", ("Android/13 UPnP/1.1 SomeApp/4.2",), "M-SEARCH UA"),
]


@pytest.mark.parametrize(("payload", "name", "names", "why"), CASES, ids=[c[3] for c in CASES])
def test_names(payload: bytes, name: str, names: tuple[str, ...], why: str) -> None:
    anomalies = Anomalies()
    (event,) = events_of_type(SsdpDecoder(anomalies).decode(payload, ctx()), SsdpMessage)
    assert (event.name, event.names) == (name, names), why
    assert anomalies.counts == {}


def test_bare_m_search_has_no_name() -> None:
    anomalies = Anomalies()
    assert not SsdpDecoder(anomalies).decode(M_SEARCH, ctx())
    assert anomalies.counts == {}


def test_headers() -> None:
    parsed = parse_headers(M_SEARCH)
    assert parsed is not None
    start, fields = parsed
    assert start == "M-SEARCH * HTTP/1.1"
    assert fields == {
        "host": "239.255.255.250:1900",
        "st": "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
        "man": '"ssdp:discover"',
        "mx": "3",
    }


@pytest.mark.parametrize(
    ("usn", "expected"),
    [
        ("uuid:2f402f80-da50-11e1-9b23-001788102201::upnp:rootdevice", "upnp:rootdevice"),
        ("uuid:2f402f80-da50-11e1-9b23-001788102201", ""),
        ("", ""),
    ],
)
def test_usn_type(usn: str, expected: str) -> None:
    assert usn_type(usn) == expected


GARBAGE = [
    b"",
    b"\x00\x01\x02",
    b"GET / HTTP/1.1\r\n\r\n",  # HTTP, not SSDP
    b"NOTIFY",  # a start line and nothing else
    b"NOTIFY * HTTP/1.1\r\nSERVER\r\n:\r\n\r\n",  # fields without values
    b"NOTIFY * HTTP/1.1\r\nSERVER: \xff\xfe\x00bad\r\n\r\n",  # bytes that are not text
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_gives_no_event(payload: bytes) -> None:
    assert not SsdpDecoder(Anomalies()).decode(payload, ctx())


def test_not_ssdp_is_counted() -> None:
    anomalies = Anomalies()
    SsdpDecoder(anomalies).decode(b"\x00\x01\x02", ctx())
    assert anomalies.counts == {"ssdp_not_ssdp": 1}


def test_truncation_and_flipped_bytes_never_raise() -> None:
    rng = random.Random(1900)
    decoder = SsdpDecoder(Anomalies())
    for fixture in (NOTIFY, RESPONSE, M_SEARCH_WITH_AGENT):
        for damaged in (*truncations(fixture), *random_byte_changes(fixture, rng, 300, at_most=5)):
            decoder.decode(damaged, ctx())


# --------------------------------------------------------------------------- public captures

CAPTURES = [
    "ndpi__1kxun.pcap",
    "ndpi__starcraft_battle.pcap",
    "ndpi__iphone.pcap",
    "ndpi__android.pcap",
    "sv__smb2-ntlmssp-negotiateflags__input.pcap",
]


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_names_match_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    anomalies = Anomalies()
    decoder = SsdpDecoder(anomalies)
    got = {e.frame: set(e.names) for c, p in udp_datagrams(path, {1900}) for e in events_of_type(decoder.decode(p, c), SsdpMessage)}
    fields = ["frame.number", "http.server", "http.user_agent", "http.unknown_header"]
    expected: dict[int, set[str]] = {}
    rows = tshark_values(tshark, path, "ssdp", fields)
    for (frame,), server, agent, unknown in rows:
        names = {*server, *agent}
        for header in unknown:
            key, _, value = header.partition(":")
            if key.strip().lower() == "usn":
                names.add(usn_type(value.replace("\\r\\n", "").strip()))  # tshark shows the CRLF escaped
        names.discard("")
        if names:
            expected[int(frame)] = names
    same = got == expected
    assert same, f"{name}: {len(got)} messages with names, tshark {len(expected)} of {len(rows)}"
    assert anomalies.counts == {}


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__badpackets.pcap"])
def test_fuzzed_captures_never_raise(real_captures: Path, name: str) -> None:
    """Every UDP payload of the fuzzed captures, whatever its port, goes through the decoder."""
    decoder = SsdpDecoder(Anomalies())
    for packet_ctx, payload in udp_datagrams(real_captures / name):
        decoder.decode(payload, packet_ctx)
