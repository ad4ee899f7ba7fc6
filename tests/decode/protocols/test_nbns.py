"""NetBIOS Name Service: first-level decoding, byte fixtures, robustness, and the public
captures compared with tshark (names compared as sets, never printed)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from helpers.byte_fixtures import random_byte_changes, truncations
from helpers.captures import udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import tshark_values
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.nbns import (
    NbnsDecoder,
    NbnsFormatError,
    NetbiosName,
    best_name,
    decode_netbios_name,
    parse_nbns,
)
from scanner.model import FlowTuple, NbnsMessage

FLOW = FlowTuple("udp", "192.168.1.5", 137, "192.168.1.255", 137)

# Byte fixtures: one line per protocol field group, as the comments describe them.
# fmt: off
# A name registration request (RFC 1002 s4.2.2): the host announces its own name.
REGISTRATION = bytes.fromhex(
    "8001"  # transaction id
    "2910"  # request, opcode 5 (registration), RD, broadcast
    "0001" "0000" "0000" "0001"  # 1 question, 1 additional record
    "20" "4546454e454e4542434e454d4542464146454550464143414341434143414141" "00"
    # ^ 32-letter first-level encoding of "EMMA-LAPTOP    " + suffix 0x00 (workstation), no scope
    "0020" "0001"  # NB, IN
    "c00c"  # the additional record's name: a pointer to the question's
    "0020" "0001" "000493e0" "0006"  # NB, IN, TTL 300000, rdlength 6
    "0000"  # NB_FLAGS: unique name (G clear), B-node
    "c0a80105"  # 192.168.1.5
)

# A broadcast name query (RFC 1002 s4.2.12) for WPAD<00>.
QUERY = bytes.fromhex(
    "8002" "0110"  # id; query (opcode 0), RD, broadcast
    "0001" "0000" "0000" "0000"  # 1 question
    "20" "4648464145424545434143414341434143414341434143414341434143414141" "00"  # "WPAD" <00>
    "0020" "0001"  # NB, IN
)

# A node status response (RFC 1002 s4.2.18): every name the host holds.
NODE_STATUS = bytes.fromhex(
    "8003" "8400"  # id; response, authoritative
    "0000" "0001" "0000" "0000"  # 1 answer
    "20" "434b414141414141414141414141414141414141414141414141414141414141" "00"  # "*" + NULs: wildcard
    "0021" "0001" "00000000" "004f"  # NBSTAT, IN, TTL 0, rdlength 79
    "04"  # 4 names; each: 15 name bytes, suffix, NAME_FLAGS (0x8000 = group)
    "574f524b47524f5550202020202020" "00" "8400"  # WORKGROUP <00> group
    "454d4d412d4c4150544f5020202020" "00" "0400"  # EMMA-LAPTOP <00> unique
    "454d4d412d4c4150544f5020202020" "20" "0400"  # EMMA-LAPTOP <20> unique (file server)
    "454d4d4120202020202020202020" "20" "03" "0400"  # EMMA <03> unique (messenger: a user)
    "000000000000"  # unit id (MAC; zero here)
)

# fmt: on


def ctx() -> PacketContext:
    return PacketContext(ts=1.0, capture="test", frame=1, flow=FLOW)


ENCODING_CASES = [
    ("EGFCEFEECACACACACACACACACACACACA", ("FRED", 0x20), "RFC 1001 s14.1 example"),
    ("EFENENEBCNEMEBFAFEEPFACACACACAAA", ("EMMA-LAPTOP", 0x00), "workstation name"),
    ("FHEPFCELEHFCEPFFFACACACACACACABO", ("WORKGROUP", 0x1E), "browser election name"),
    ("CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ("*", 0x00), "wildcard, NUL padded"),
]


@pytest.mark.parametrize(("label", "expected", "why"), ENCODING_CASES, ids=[c[2] for c in ENCODING_CASES])
def test_first_level_decoding(label: str, expected: tuple[str, int], why: str) -> None:
    assert decode_netbios_name(label) == expected, why


@pytest.mark.parametrize("label", ["EGFC", "EGFCEFEECACACACACACACACACACACACZ", "egfcefeecacacacacacacacacacacaca"])
def test_bad_encoding_is_refused(label: str) -> None:
    with pytest.raises(NbnsFormatError):
        decode_netbios_name(label)


MESSAGE_CASES = [
    (REGISTRATION, "EMMA-LAPTOP", ("EMMA-LAPTOP",), "registration: the host's own name"),
    (QUERY, "WPAD", ("WPAD",), "query: the name asked for"),
    (NODE_STATUS, "EMMA-LAPTOP", ("WORKGROUP", "EMMA-LAPTOP", "EMMA"), "node status: unique <00> beats the group"),
]


@pytest.mark.parametrize(("payload", "name", "names", "why"), MESSAGE_CASES, ids=[c[3] for c in MESSAGE_CASES])
def test_messages(payload: bytes, name: str, names: tuple[str, ...], why: str) -> None:
    anomalies = Anomalies()
    (event,) = events_of_type(NbnsDecoder(anomalies).decode(payload, ctx()), NbnsMessage)
    assert (event.name, event.names) == (name, names), why
    assert event.flow == FLOW
    assert anomalies.counts == {}


def test_registration_wire() -> None:
    wire = parse_nbns(REGISTRATION)
    assert wire.opcode == 5 and not wire.response and not wire.truncated
    assert wire.names == (NetbiosName("EMMA-LAPTOP", 0x00), NetbiosName("EMMA-LAPTOP", 0x00, group=False))


def test_best_name_prefers_a_unique_host_name() -> None:
    names = [NetbiosName("WORKGROUP", 0x00, group=True), NetbiosName("EMMA", 0x03), NetbiosName("EMMA-PC", 0x20)]
    assert best_name(names) == "EMMA-PC"
    assert best_name([NetbiosName("WORKGROUP", 0x1E, group=True)]) == "WORKGROUP"


def test_damage_is_counted() -> None:
    anomalies = Anomalies()
    decoder = NbnsDecoder(anomalies)
    assert not decoder.decode(REGISTRATION[:30], ctx())
    assert [e.name for e in events_of_type(decoder.decode(REGISTRATION[:-4], ctx()), NbnsMessage)] == ["EMMA-LAPTOP"]
    assert anomalies.counts == {"nbns_malformed": 1, "nbns_truncated": 1}


def test_truncation_and_flipped_bytes_never_raise() -> None:
    rng = random.Random(1002)
    decoder = NbnsDecoder(Anomalies())
    for fixture in (REGISTRATION, QUERY, NODE_STATUS):
        for damaged in (*truncations(fixture), *random_byte_changes(fixture, rng, 300, at_most=3)):
            decoder.decode(damaged, ctx())


# --------------------------------------------------------------------------- public captures

CAPTURES = ["sv__smb2-ntlmssp-negotiateflags__input.pcap", "ndpi__1kxun.pcap"]
_SUFFIX = re.compile(r"<[0-9a-f]{2}>.*$")  # tshark shows "NAME<20> (Server service)"


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_names_match_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    anomalies = Anomalies()
    decoder = NbnsDecoder(anomalies)
    events = [e for c, p in udp_datagrams(path, {137}) for e in events_of_type(decoder.decode(p, c), NbnsMessage)]
    got = {e.frame: set(e.names) for e in events}
    expected: dict[int, set[str]] = {}
    for (frame,), column in tshark_values(tshark, path, "nbns", ["frame.number", "nbns.name"]):
        names = {_SUFFIX.sub("", n).rstrip() for n in column}
        names = {n for n in names if n and n != "*" and "__MSBROWSE__" not in n}
        if names:
            expected[int(frame)] = names
    same = got == expected  # compared without printing: these are other people's host names
    assert same, f"{name}: {len(got)} messages with names, tshark {len(expected)}"
    assert anomalies.counts == {}


@pytest.mark.shared
def test_registrations_name_the_host(real_captures: Path) -> None:
    """The Windows LAN capture registers two computers' names; each registration's name is one of its names
    and a computer name (unique, <00>/<20>) rather than the workgroup whenever one is registered."""
    path = real_captures / "sv__smb2-ntlmssp-negotiateflags__input.pcap"
    decoder = NbnsDecoder(Anomalies())
    registrations = 0
    for c, payload in udp_datagrams(path, {137}):
        wire = parse_nbns(payload)
        for event in events_of_type(decoder.decode(payload, c), NbnsMessage):
            assert event.name in event.names
            if wire.opcode == 5:
                registrations += 1
                hosts = [n for n in wire.names if n.group is False and n.suffix in (0x00, 0x20)]
                if hosts:
                    assert event.name == hosts[0].name
    assert registrations == 40


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__badpackets.pcap"])
def test_fuzzed_captures_never_raise(real_captures: Path, name: str) -> None:
    """Every UDP payload of the fuzzed captures, whatever its port, goes through the decoder."""
    decoder = NbnsDecoder(Anomalies())
    for packet_ctx, payload in udp_datagrams(real_captures / name):
        decoder.decode(payload, packet_ctx)
