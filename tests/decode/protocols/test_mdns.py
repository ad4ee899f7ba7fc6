"""mDNS / DNS-SD device names: byte fixtures, the name rules, robustness, and the public
captures compared with tshark (names are compared as sets, never printed)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from helpers.byte_fixtures import random_byte_changes, truncations
from helpers.captures import udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import tshark_values
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.mdns import MdnsDecoder, classify, device_names, txt_names
from scanner.model import FlowTuple, MdnsMessage

FLOW = FlowTuple("udp", "192.168.1.23", 5353, "224.0.0.251", 5353)

# Byte fixtures: one line per protocol field group, as the comments describe them.
# fmt: off
# A DNS-SD announcement (RFC 6763) of "Emma's iPad", with name compression.
ANNOUNCEMENT = bytes.fromhex(
    "0000"  # id 0 (RFC 6762 s18.1)
    "8400"  # response, authoritative
    "0000" "0003" "0000" "0000"  # 0 questions, 3 answers, 0 authority, 0 additional
    # answer 1 at offset 12: _companion-link._tcp.local PTR Emma's iPad._companion-link._tcp.local
    "0f5f636f6d70616e696f6e2d6c696e6b" "045f746370" "056c6f63616c" "00"  # _companion-link . _tcp . local
    "000c" "0001" "00001194" "000e"  # PTR, IN, TTL 4500, rdlength 14
    "0b456d6d6127732069506164" "c00c"  # "Emma's iPad" + pointer to offset 12
    # answer 2 at offset 64: the instance (offset 50) SRV 0 0 49333 Emmas-iPad.local
    "c032" "0021" "8001" "00000078" "0013"  # pointer, SRV, cache-flush IN, TTL 120, rdlength 19
    "0000" "0000" "c0b5"  # priority, weight, port 49333
    "0a456d6d61732d69506164" "c021"  # "Emmas-iPad" + pointer to "local" (offset 33)
    # answer 3: Emmas-iPad.local (offset 82) A 192.168.1.23
    "c052" "0001" "8001" "00000078" "0004" "c0a80117"
)

# A Chromecast-style TXT answer: the friendly name is in "fn=" (RFC 6763 s6).
TXT_ANSWER = bytes.fromhex(
    "0000" "8400" "0000" "0001" "0000" "0000"  # id 0, response, 1 answer
    "0b5f676f6f676c6563617374" "045f746370" "056c6f63616c" "00"  # _googlecast._tcp.local
    "0010" "8001" "00001194" "0018"  # TXT, cache-flush IN, TTL 4500, rdlength 24
    "0569643d3132"  # "id=12"
    "11666e3d4c6976696e6720526f6f6d205456"  # "fn=Living Room TV" (17 bytes)
)

# A browse query: only a service type, so no device name (no event).
BROWSE_QUERY = bytes.fromhex(
    "0000" "0000" "0001" "0000" "0000" "0000"  # query, 1 question
    "085f616972706c6179" "045f746370" "056c6f63616c" "00"  # _airplay._tcp.local
    "000c" "0001"  # PTR, IN
)

# fmt: on


def ctx(frame: int = 1) -> PacketContext:
    return PacketContext(ts=float(frame), capture="test", frame=frame, flow=FLOW)


def decode(payload: bytes) -> tuple[list[MdnsMessage], Anomalies]:
    anomalies = Anomalies()
    events = MdnsDecoder(anomalies).decode(payload, ctx())
    return events_of_type(events, MdnsMessage), anomalies


def test_announcement_gives_the_instance_name_first() -> None:
    (event,), anomalies = decode(ANNOUNCEMENT)
    assert event.name == "Emma's iPad"
    assert event.names == ("Emma's iPad", "Emmas-iPad")
    assert event.flow == FLOW  # the announcing device is the sender
    assert event.fields_record() == {"name": "Emma's iPad", "names": ["Emma's iPad", "Emmas-iPad"]}
    assert anomalies.counts == {}


def test_txt_friendly_name_beats_everything() -> None:
    (event,), _ = decode(TXT_ANSWER)
    assert event.name == "Living Room TV"
    assert event.names == ("Living Room TV",)


def test_message_without_device_names_is_skipped() -> None:
    events, anomalies = decode(BROWSE_QUERY)
    assert events == []
    assert anomalies.counts == {}


CLASSIFY_CASES = [
    ("Luca's iMac._smb._tcp.local", (1, "Luca's iMac"), "service instance"),
    ("Bob's MacBook Pro (2)._device-info._tcp.local", (1, "Bob's MacBook Pro (2)"), "instance with spaces"),
    ("Kitchen.Speaker._raop._tcp.local", (1, "Kitchen.Speaker"), "instance containing a dot"),
    ("5855CA1D6A37@Living Room._raop._tcp.local", (1, "Living Room"), "AirPlay MAC@ prefix dropped"),
    ("johanna-QEMU-Virtual-Machine.local", (2, "johanna-QEMU-Virtual-Machine"), "host name"),
    ("_kerberos.Emmas-iMac.local", (2, "Emmas-iMac"), "host under a service label"),
    ("_airplay._tcp.local", None, "service type"),
    ("_services._dns-sd._udp.local", None, "DNS-SD meta query"),
    ("1c2e3f4a._sub._apple-mobdev2._tcp.local", None, "subtype selector"),
    ("23.1.168.192.in-addr.arpa", None, "reverse mapping"),
    ("<Root>", None, "root (OPT record)"),
    ("", None, "empty"),
    ("www.example.com", None, "not link-local"),
]


@pytest.mark.parametrize(("dns_name", "expected", "why"), CLASSIFY_CASES, ids=[c[2] for c in CLASSIFY_CASES])
def test_classify(dns_name: str, expected: tuple[int, str] | None, why: str) -> None:
    assert classify(dns_name) == expected, why


TXT_CASES = [
    ("n=Emma's iPad", ["Emma's iPad"]),
    ("id=12 fn=Living Room TV md=Chromecast", ["Living Room TV"]),
    ("Name=Office Printer", ["Office Printer"]),
    ("model=MacBookPro18,1 osxvers=21", []),
    ("LKDC:SHA1.0123", []),
    ("n=", []),
]


@pytest.mark.parametrize(("text", "expected"), TXT_CASES)
def test_txt_names(text: str, expected: list[str]) -> None:
    assert txt_names(text) == expected


def test_device_names_ranks_and_deduplicates() -> None:
    found = device_names(["Emmas-iPad.local", "Emma's iPad._airplay._tcp.local", "Emmas-iPad.local"])
    assert found == ("Emma's iPad", ("Emmas-iPad", "Emma's iPad"))
    assert device_names(["_ipp._tcp.local"]) is None


def test_truncation_and_flipped_bytes_never_raise() -> None:
    rng = random.Random(6762)
    for fixture in (ANNOUNCEMENT, TXT_ANSWER, BROWSE_QUERY):
        decoder = MdnsDecoder(Anomalies())
        for damaged in (*truncations(fixture), *random_byte_changes(fixture, rng, 500, at_most=3)):
            decoder.decode(damaged, ctx())


def test_malformed_is_counted() -> None:
    events, anomalies = decode(ANNOUNCEMENT[:11])
    assert events == []
    assert anomalies.counts == {"mdns_malformed": 1}
    events, anomalies = decode(ANNOUNCEMENT[:70])
    assert [e.name for e in events] == ["Emma's iPad"]  # what was read before the damage
    assert anomalies.counts == {"mdns_truncated": 1}


# --------------------------------------------------------------------------- public captures

CAPTURES = [
    "zeek__dns_mdns.pcap",
    "ndpi__iphone.pcap",
    "ndpi__android.pcap",
    "ppp__Pcap++Test_DnsPackets.pcap",
    "ndpi__1kxun.pcap",
]


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_names_match_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    anomalies = Anomalies()
    decoder = MdnsDecoder(anomalies)
    got = {e.frame: set(e.names) for c, p in udp_datagrams(path, {5353}) for e in events_of_type(decoder.decode(p, c), MdnsMessage)}
    expected: dict[int, set[str]] = {}
    fields = ["frame.number", "dns.qry.name", "dns.resp.name", "dns.ptr.domain_name", "dns.srv.target", "dns.txt"]
    for frame, *names, txt in tshark_values(tshark, path, "mdns", fields):
        found = device_names([n for column in names for n in column], txt)
        if found is not None:
            expected[int(frame[0])] = set(found[1])
    same = got == expected  # compared without printing the names: they are other people's
    assert same, f"{name}: {len(got)} messages with names, tshark-derived {len(expected)}"
    assert anomalies.counts == {}


@pytest.mark.shared
def test_iphone_capture_names_the_computer_by_its_instance(real_captures: Path) -> None:
    """The iPhone capture announces a Mac's SMB service: its instance name is the most telling name."""
    decoder = MdnsDecoder(Anomalies())
    path = real_captures / "ndpi__iphone.pcap"
    events = [e for c, p in udp_datagrams(path, {5353}) for e in events_of_type(decoder.decode(p, c), MdnsMessage)]
    assert len(events) == 9
    announcing = [e for e in events if len(e.names) > 1]
    assert announcing
    for event in announcing:
        assert classify(f"{event.name}._smb._tcp.local") == (1, event.name)
        assert event.name != event.names[-1]  # an instance name, ranked above the host name


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__badpackets.pcap"])
def test_fuzzed_captures_never_raise(real_captures: Path, name: str) -> None:
    """Every UDP payload of the fuzzed captures, whatever its port, goes through the decoder."""
    decoder = MdnsDecoder(Anomalies())
    for packet_ctx, payload in udp_datagrams(real_captures / name):
        decoder.decode(payload, packet_ctx)
