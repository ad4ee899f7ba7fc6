"""DHCPv6 decoder: byte fixtures per message type, relay unwrapping, robustness, and the public captures vs tshark.

The device in the fixtures is made up; values read from the public captures
are compared by digest, never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.byte_fixtures import ascii_hex, bit_flips, fuzz_fixtures, hex_fixture, truncations
from helpers.captures import udp_datagrams
from helpers.tshark import assert_same_as_tshark, tshark_fields, values_by_frame
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.dhcpv6 import MESSAGE_TYPES, Dhcpv6Decoder
from scanner.model import DhcpMessage, FlowTuple

FLOW = FlowTuple("udp", "fe80::3e22:fbff:fe11:2233", 546, "ff02::1:2", 547)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


MAC = "3c:22:fb:11:22:33"
ADDRESS = "2001:db8:0:1::64"
# Options shared by several fixtures: code (2), length (2), value.
CLIENT_ID_LLT = "0001 000e 0001 0001 2a3b4c5d 3c22fb112233"  # Client Identifier: DUID-LLT, Ethernet, time, MAC
CLIENT_ID_LL = "0001 000a 0003 0001 3c22fb112233"  # Client Identifier: DUID-LL, Ethernet, MAC
SERVER_ID = "0002 000a 0003 0001 001122334455"  # Server Identifier: DUID-LL of the server (not the client's MAC)
IA_NA_WITH_ADDRESS = (
    "0003 0028 0000abcd 00000e10 00001518"  # IA_NA (40): IAID, T1 3600, T2 5400
    " 0005 0018 20010db8000000010000000000000064"  # IA Address (24): 2001:db8:0:1::64
    " 00001c20 00002a30"  # preferred 7200 s, valid 10800 s
)
FQDN = f"0027 0012 01 0a {ascii_hex('Emmas-iPad')} 04 {ascii_hex('home')} 00"  # Client FQDN (18): flags S, wire-format name
VENDOR_CLASS = f"0010 000e 00000137 0008 {ascii_hex('MSFT 5.0')}"  # Vendor Class (14): enterprise 311, one item

SOLICIT = hex_fixture(
    "01 123456",                   # SOLICIT, transaction-id
    CLIENT_ID_LLT,
    "0008 0002 0000",              # Elapsed Time
    "0003 000c 0000abcd 00000000 00000000",  # IA_NA (12): IAID, T1, T2, no address yet
    FQDN,
    VENDOR_CLASS,
    "0006 0004 0017 0018",         # Option Request: DNS servers, domain list
)

ADVERTISE = hex_fixture(
    "02 123456",                   # ADVERTISE
    SERVER_ID,
    CLIENT_ID_LL,
    IA_NA_WITH_ADDRESS,
)

REQUEST = hex_fixture(
    "03 234567",                   # REQUEST
    CLIENT_ID_LLT,
    SERVER_ID,
    IA_NA_WITH_ADDRESS,            # the address it was offered
    FQDN,
)

REPLY = hex_fixture(
    "07 234567",                   # REPLY
    SERVER_ID,
    CLIENT_ID_LLT,
    "0003 002e 0000abcd 00000e10 00001518",  # IA_NA (46)
    "0005 0018 20010db8000000010000000000000064 00001c20 00002a30",  # IA Address
    "000d 0002 0000",              #   Status Code: Success
)

RENEW = hex_fixture(
    "05 345678",                   # RENEW
    CLIENT_ID_LLT,
    SERVER_ID,
    IA_NA_WITH_ADDRESS,
)

REBIND = hex_fixture(
    "06 456789",                   # REBIND
    CLIENT_ID_LLT,
    IA_NA_WITH_ADDRESS,
)

RELEASE = hex_fixture(
    "08 56789a",                   # RELEASE
    CLIENT_ID_LLT,
    SERVER_ID,
    "0003 0028 0000abcd 00000000 00000000",  # IA_NA (40)
    "0005 0018 20010db8000000010000000000000064 00000000 00000000",  # address given back, lifetimes 0
)

INFORMATION_REQUEST = hex_fixture(
    "0b 6789ab",                   # INFORMATION-REQUEST
    "0001 000e 0002 00000137 0102030405060708",  # Client Identifier: DUID-EN (no MAC in it)
    VENDOR_CLASS,                  # (no Client FQDN: RFC 4704 s5 does not allow it here)
)

RELAY_FORW = hex_fixture(
    "0c 00",                       # RELAY-FORW, hop-count 0
    "20010db8000000010000000000000001",  # link-address 2001:db8:0:1::1
    "fe800000000000003e22fbfffe112244",  # peer-address fe80::3e22:fbff:fe11:2244
    f"0012 0004 {ascii_hex('eth0')}",  # Interface-Id
    "004f 0008 0001 3c22fb112244", # Client Link-Layer Address (RFC 6939): Ethernet, MAC
    "0009 001c",                   # Relay Message (28): the client's SOLICIT
    "01 abcdef",                   #   SOLICIT, transaction-id
    "0001 000e 0002 00000137 0102030405060708",  # Client Identifier: DUID-EN
    "0008 0002 0000",              #   Elapsed Time
)

RELAY_REPL = hex_fixture(
    "0d 00",                       # RELAY-REPL, hop-count 0
    "20010db8000000010000000000000001",  # link-address
    "fe800000000000003e22fbfffe112233",  # peer-address
    "0009 003e",                   # Relay Message (62): the server's REPLY
    "07 abcdef",                   #   REPLY
    CLIENT_ID_LL,                  #   Client Identifier
    "0003 0028 0000abcd 00000e10 00001518",  # IA_NA (40)
    "0005 0018 20010db8000000010000000000000064 00001c20 00002a30",  # IA Address
)

ALL_FIXTURES = {
    "solicit": SOLICIT, "advertise": ADVERTISE, "request": REQUEST, "reply": REPLY, "renew": RENEW,
    "rebind": REBIND, "release": RELEASE, "information_request": INFORMATION_REQUEST,
    "relay_forw": RELAY_FORW, "relay_repl": RELAY_REPL,
}

EXPECTED: dict[str, dict[str, Any]] = {
    "solicit": dict(message="SOLICIT", hostname="Emmas-iPad", client_fqdn="Emmas-iPad.home", vendor_class="MSFT 5.0"),
    "advertise": dict(message="ADVERTISE", ip=ADDRESS, lease_time=10800),
    "request": dict(message="REQUEST", ip=ADDRESS, lease_time=10800, hostname="Emmas-iPad",
                    client_fqdn="Emmas-iPad.home"),
    "reply": dict(message="REPLY", ip=ADDRESS, lease_time=10800),
    "renew": dict(message="RENEW", ip=ADDRESS, lease_time=10800),
    "rebind": dict(message="REBIND", ip=ADDRESS, lease_time=10800),
    "release": dict(message="RELEASE", ip=ADDRESS),
    "information_request": dict(message="INFORMATION-REQUEST", mac=None, vendor_class="MSFT 5.0"),
    "relay_forw": dict(message="SOLICIT", mac="3c:22:fb:11:22:44"),
    "relay_repl": dict(message="REPLY", ip=ADDRESS, lease_time=10800),
}

_FIELDS = ("message", "mac", "hostname", "ip", "vendor_class", "client_fqdn", "lease_time", "version")
_DEFAULTS: dict[str, Any] = {f: None for f in _FIELDS} | {"mac": MAC, "version": 6}


def decode(payload: bytes) -> tuple[list[DhcpMessage], Anomalies]:
    anomalies = Anomalies()
    events = Dhcpv6Decoder(anomalies).decode(payload, CTX)
    return [e for e in events if isinstance(e, DhcpMessage)], anomalies


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    events, anomalies = decode(ALL_FIXTURES[name])
    assert len(events) == 1
    assert {f: getattr(events[0], f) for f in _FIELDS} == _DEFAULTS | EXPECTED[name]
    assert events[0].flow == FLOW
    assert anomalies.counts == {}


def test_relay_without_relay_message_reports_the_relay() -> None:
    relay_only = RELAY_FORW[: 34 + 8 + 12]  # header, Interface-Id, Client Link-Layer Address
    events, anomalies = decode(relay_only)
    assert [(e.message, e.mac) for e in events] == [("RELAY-FORW", "3c:22:fb:11:22:44")]
    assert anomalies.counts == {}


def test_nested_relays_are_unwrapped() -> None:
    inner = RELAY_FORW
    outer = hex_fixture("0c 01", "00" * 32) + hex_fixture("0009") + len(inner).to_bytes(2, "big") + inner  # a second relay hop
    events, _ = decode(outer)
    assert [(e.message, e.mac) for e in events] == [("SOLICIT", "3c:22:fb:11:22:44")]


def test_relay_loop_is_bounded() -> None:
    message = SOLICIT
    for _ in range(40):
        message = hex_fixture("0c 00", "00" * 32, "0009") + len(message).to_bytes(2, "big") + message
        if len(message) > 0xFFFF - 40:
            break
    anomalies = Anomalies()
    events = Dhcpv6Decoder(anomalies).decode(message, CTX)
    assert [e.message for e in events if isinstance(e, DhcpMessage)] == ["RELAY-FORW"]
    assert anomalies.counts == {"dhcpv6_relay_too_deep": 1}


def test_truncated_option_keeps_what_was_read() -> None:
    cut = SOLICIT[: 4 + 18 + 6 + 16 + 10]  # ends inside the Client FQDN
    events, anomalies = decode(cut)
    assert [(e.message, e.mac, e.client_fqdn) for e in events] == [("SOLICIT", MAC, None)]
    assert anomalies.counts == {"dhcpv6_option_truncated": 1}


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    decoder = Dhcpv6Decoder(Anomalies())
    for damaged in (*truncations(payload), *bit_flips(payload)):
        decoder.decode(damaged, CTX)


def test_random_payloads_never_raise() -> None:
    decoder = Dhcpv6Decoder(Anomalies())

    def check(payload: bytes, junk: bytes, at: int) -> None:
        decoder.decode(payload[:at] + junk + payload[at:], CTX)
        decoder.decode(junk, CTX)

    fuzz_fixtures(ALL_FIXTURES, 130, check)


# --------------------------------------------------------------------------- public captures vs tshark

DHCPV6_CAPTURES = ("ndpi__android.pcap", "sv__smb2-ntlmssp-negotiateflags__input.pcap")


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("capture", DHCPV6_CAPTURES)
def test_public_capture_matches_tshark(capture: str, real_captures: Path, tshark: str) -> None:
    path = real_captures / capture
    if not path.exists():
        pytest.skip(f"{capture} is not in this copy of the captures")
    anomalies = Anomalies()
    decoder = Dhcpv6Decoder(anomalies)
    events: list[DhcpMessage] = []
    for packet_ctx, payload in udp_datagrams(path, {546, 547}):
        events += [e for e in decoder.decode(payload, packet_ctx) if isinstance(e, DhcpMessage)]

    # tshark fields come from the first occurrence; these captures hold no relayed messages
    fields = ["frame.number", "dhcpv6.msgtype", "dhcpv6.duidllt.hwtype", "dhcpv6.duidllt.link_layer_addr",
              "dhcpv6.duidll.hwtype", "dhcpv6.duidll.link_layer_addr", "dhcpv6.client_domain",
              "dhcpv6.vendorclass.data", "dhcpv6.iaaddr.ip"]
    keys = ("message", "mac", "client_fqdn", "hostname", "vendor_class", "ip")
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for row in tshark_fields(tshark, path, "dhcpv6", fields, occurrence="f"):
        frame_cell, msg_type, llt_hw, llt_mac, ll_hw, ll_mac, fqdn, vendor, address = row[:9]
        frame_no = int(frame_cell)
        want["message"].add((frame_no, MESSAGE_TYPES[int(msg_type)]))
        if llt_hw == "1" and llt_mac:
            want["mac"].add((frame_no, llt_mac))
        elif ll_hw == "1" and ll_mac:
            want["mac"].add((frame_no, ll_mac))
        if fqdn:
            want["client_fqdn"].add((frame_no, fqdn))
            want["hostname"].add((frame_no, fqdn.split(".")[0]))
        if vendor:
            want["vendor_class"].add((frame_no, vendor))
        if address:
            want["ip"].add((frame_no, address))
    got = values_by_frame(events, keys)
    assert_same_as_tshark(got, want, capture)
    assert got["message"], "no DHCPv6 message decoded"
    assert anomalies.counts == {}
