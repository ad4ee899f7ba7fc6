"""LLMNR names: byte fixtures, robustness, and the public captures compared with tshark."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from helpers.byte_fixtures import random_byte_changes, truncations
from helpers.captures import udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import tshark_values
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.llmnr import LlmnrDecoder
from scanner.model import FlowTuple, LlmnrMessage

FLOW = FlowTuple("udp", "192.168.1.5", 61234, "224.0.0.252", 5355)

# Byte fixtures: one line per protocol field group, as the comments describe them.
# fmt: off
QUERY = bytes.fromhex(
    "1234"  # transaction id
    "0000"  # query; C, TC, T clear (RFC 4795 s2.1.1)
    "0001" "0000" "0000" "0000"  # 1 question
    "0b656d6d612d6c6170746f70" "00"  # "emma-laptop" (a single label, as Windows asks)
    "0001" "0001"  # A, IN
)
RESPONSE = bytes.fromhex(
    "1234" "8000"  # response
    "0001" "0001" "0000" "0000"  # the question is echoed, 1 answer
    "0b656d6d612d6c6170746f70" "00" "0001" "0001"  # the question again: "emma-laptop", A, IN
    "0b656d6d612d6c6170746f70" "00"  # the answer's owner: the responder's own name
    "0001" "0001" "0000001e" "0004" "c0a80105"  # A, IN, TTL 30, 192.168.1.5
)
REVERSE_RESPONSE = bytes.fromhex(
    "0001" "8000" "0001" "0001" "0000" "0000"  # id 1, response, 1 question, 1 answer
    "01350131033136380331393207696e2d61646472046172706100" "000c" "0001"  # 5.1.168.192.in-addr.arpa PTR
    "c00c" "000c" "0001" "0000001e" "000d"  # pointer to the question, PTR, IN, TTL 30, rdlength 13
    "0b656d6d612d6c6170746f70" "00"  # "emma-laptop"
)

# fmt: on


def ctx() -> PacketContext:
    return PacketContext(ts=1.0, capture="test", frame=1, flow=FLOW)


CASES = [
    (QUERY, "emma-laptop", ("emma-laptop",), "query: the name asked for"),
    (RESPONSE, "emma-laptop", ("emma-laptop",), "response: the responder's name, once"),
    (REVERSE_RESPONSE, "emma-laptop", ("emma-laptop",), "reverse lookup: the host name, not the arpa name"),
]


@pytest.mark.parametrize(("payload", "name", "names", "why"), CASES, ids=[c[3] for c in CASES])
def test_names(payload: bytes, name: str, names: tuple[str, ...], why: str) -> None:
    anomalies = Anomalies()
    (event,) = events_of_type(LlmnrDecoder(anomalies).decode(payload, ctx()), LlmnrMessage)
    assert (event.name, event.names) == (name, names), why
    assert event.flow == FLOW
    assert event.to_record()["type"] == "llmnr"
    assert anomalies.counts == {}


def test_malformed_is_counted() -> None:
    anomalies = Anomalies()
    assert not LlmnrDecoder(anomalies).decode(QUERY[:20], ctx())
    assert anomalies.counts == {"llmnr_malformed": 1}


def test_truncation_and_flipped_bytes_never_raise() -> None:
    rng = random.Random(4795)
    decoder = LlmnrDecoder(Anomalies())
    for fixture in (QUERY, RESPONSE, REVERSE_RESPONSE):
        for damaged in (*truncations(fixture), *random_byte_changes(fixture, rng, 300)):
            decoder.decode(damaged, ctx())


# --------------------------------------------------------------------------- public captures

CAPTURES = ["sv__smb2-ntlmssp-negotiateflags__input.pcap", "ppp__Pcap++Test_DnsPackets.pcap", "ndpi__1kxun.pcap"]


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_names_match_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    anomalies = Anomalies()
    decoder = LlmnrDecoder(anomalies)
    got = {e.frame: set(e.names) for c, p in udp_datagrams(path, {5355}) for e in events_of_type(decoder.decode(p, c), LlmnrMessage)}
    fields = ["frame.number", "dns.qry.name", "dns.resp.name", "dns.ptr.domain_name"]
    expected: dict[int, set[str]] = {}
    for (frame,), *columns in tshark_values(tshark, path, "llmnr", fields):
        names = {n for c in columns for n in c if n}
        names = {n for n in names if not n.endswith((".in-addr.arpa", ".ip6.arpa")) and n != "<Root>"}
        if names:
            expected[int(frame)] = names
    same = got == expected  # compared without printing: these are other people's host names
    assert same, f"{name}: {len(got)} messages with names, tshark {len(expected)}"
    assert len(got) > 0
    assert anomalies.counts == {}


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__badpackets.pcap"])
def test_fuzzed_captures_never_raise(real_captures: Path, name: str) -> None:
    """Every UDP payload of the fuzzed captures, whatever its port, goes through the decoder."""
    decoder = LlmnrDecoder(Anomalies())
    for packet_ctx, payload in udp_datagrams(real_captures / name):
        decoder.decode(payload, packet_ctx)
