"""DHCPv4 / BOOTP decoder: byte fixtures per message type, robustness, and the public captures vs tshark.

The device in the fixtures is made up; values read from the public captures
(MACs, host names) are compared by digest, never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.byte_fixtures import ascii_hex, bit_flips, fuzz_fixtures, hex_fixture, truncations
from helpers.captures import udp_datagrams
from helpers.tshark import assert_same_as_tshark, tshark_fields, values_by_frame
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.dhcp import MESSAGE_TYPES, DhcpDecoder, wire_name
from scanner.model import DhcpMessage, FlowTuple

FLOW = FlowTuple("udp", "0.0.0.0", 68, "255.255.255.255", 67)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


MAC = "3c:22:fb:11:22:33"
CHADDR = "3c22fb112233" + "00" * 10  # chaddr is 16 octets; hlen says 6 are used
NO_SNAME_FILE = "00" * 192  # sname (64) and file (128), unused
COOKIE = "63825363"  # magic cookie (RFC 2131 s3)
REQUEST_HEADER = ("01", "01 06 00", "3903f326", "0000 8000")  # BOOTREQUEST, Ethernet/6/0 hops, xid, secs, broadcast
REPLY_HEADER = ("02", "01 06 00", "3903f326", "0000 8000")  # BOOTREPLY, same

DISCOVER = hex_fixture(
    *REQUEST_HEADER,
    "00000000 00000000",           # ciaddr, yiaddr
    "00000000 00000000",           # siaddr, giaddr
    CHADDR,                        # chaddr
    NO_SNAME_FILE,
    COOKIE,
    "35 01 01",                    # DHCP Message Type: DISCOVER
    "3d 07 01 3c22fb112233",       # Client Identifier: Ethernet + MAC
    "32 04 c0a80064",              # Requested IP Address 192.168.0.100
    f"0c 0a {ascii_hex('Emmas-iPad')}",  # Host Name
    f"3c 0f {ascii_hex('android-dhcp-13')}",  # Vendor Class Identifier
    "37 04 01 03 06 0f",           # Parameter Request List
    "ff",                          # End
)

OFFER = hex_fixture(
    *REPLY_HEADER,
    "00000000 c0a80064",           # ciaddr 0, yiaddr 192.168.0.100 (offered)
    "c0a80001 00000000",           # siaddr 192.168.0.1, giaddr 0
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 02",                    # DHCP Message Type: OFFER
    "36 04 c0a80001",              # Server Identifier
    "33 04 00015180",              # IP Address Lease Time 86400 s
    "01 04 ffffff00",              # Subnet Mask
    "ff",
)

REQUEST = hex_fixture(
    *REQUEST_HEADER,
    "00000000 00000000 00000000 00000000",  # ciaddr, yiaddr, siaddr, giaddr
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 03",                    # DHCP Message Type: REQUEST
    "32 04 c0a80064",              # Requested IP Address
    "36 04 c0a80001",              # Server Identifier
    "51 14 05 00 00",              # Client FQDN (20): flags E+S, RCODE1, RCODE2
    f"0a {ascii_hex('Emmas-iPad')} 04 {ascii_hex('home')} 00",  # name in DNS wire format
    "ff",
)

ACK = hex_fixture(
    *REPLY_HEADER,
    "00000000 c0a80064 c0a80001 00000000",  # ciaddr, yiaddr (leased), siaddr, giaddr
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 05",                    # DHCP Message Type: ACK
    "36 04 c0a80001",              # Server Identifier
    "33 04 00015180",              # Lease Time 86400 s
    "ff",
)

NAK = hex_fixture(
    *REPLY_HEADER,
    "00000000 00000000 00000000 00000000",  # no address given
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 06",                    # DHCP Message Type: NAK
    "36 04 c0a80001",              # Server Identifier
    f"38 0d {ascii_hex('wrong network')}", # Message
    "ff",
)

RELEASE = hex_fixture(
    *REQUEST_HEADER,
    "c0a80064 00000000 00000000 00000000",  # ciaddr 192.168.0.100: the address given back
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 07",                    # DHCP Message Type: RELEASE
    "36 04 c0a80001",              # Server Identifier
    "ff",
)

INFORM = hex_fixture(
    *REQUEST_HEADER,
    "c0a80065 00000000 00000000 00000000",  # ciaddr 192.168.0.101 (configured by hand)
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 08",                    # DHCP Message Type: INFORM
    f"51 0e 00 00 00 {ascii_hex('laptop1.lan')}",  # Client FQDN, ASCII (E flag clear)
    f"3c 08 {ascii_hex('MSFT 5.0')}",  # Vendor Class Identifier
    "ff",
)

DECLINE = hex_fixture(
    *REQUEST_HEADER,
    "00000000 00000000 00000000 00000000",
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 04",                    # DHCP Message Type: DECLINE
    "32 04 c0a80064",              # Requested IP Address: the address found in use
    "36 04 c0a80001",              # Server Identifier
    "ff",
)

BOOTP_REPLY = hex_fixture(
    *REPLY_HEADER,
    "00000000 c0a8000a c0a80001 00000000",  # yiaddr 192.168.0.10
    CHADDR,
    NO_SNAME_FILE,
    "00" * 64,                     # RFC 951 vendor area, no magic cookie
)

OVERLOADED = hex_fixture(
    *REQUEST_HEADER,
    "00000000 00000000 00000000 00000000",
    CHADDR,
    "00" * 64,                     # sname: unused
    f"0c 05 {ascii_hex('kid01')} ff",  # file: more options (host name, end)
    "00" * (128 - 8),              #   padding of the file field
    COOKIE,
    "35 01 01",                    # DHCP Message Type: DISCOVER
    "34 01 01",                    # Option Overload: 'file' holds options
    "ff",
)

SPLIT_OPTION = hex_fixture(
    *REQUEST_HEADER,
    "00000000 00000000 00000000 00000000",
    CHADDR,
    NO_SNAME_FILE,
    COOKIE,
    "35 01 01",                    # DISCOVER
    f"0c 04 {ascii_hex('Emma')}",  # Host Name, first part (RFC 3396)
    "00",                          # Pad
    f"0c 06 {ascii_hex('s-iPad')}",  # Host Name, second part
    "ff",
)

ALL_FIXTURES = {
    "discover": DISCOVER, "offer": OFFER, "request": REQUEST, "ack": ACK, "nak": NAK,
    "release": RELEASE, "inform": INFORM, "decline": DECLINE, "bootp_reply": BOOTP_REPLY,
    "overloaded": OVERLOADED, "split_option": SPLIT_OPTION,
}

EXPECTED: dict[str, dict[str, Any]] = {
    "discover": dict(message="DISCOVER", hostname="Emmas-iPad", ip="192.168.0.100", vendor_class="android-dhcp-13"),
    "offer": dict(message="OFFER", ip="192.168.0.100", lease_time=86400),
    "request": dict(message="REQUEST", hostname="Emmas-iPad", ip="192.168.0.100", client_fqdn="Emmas-iPad.home"),
    "ack": dict(message="ACK", ip="192.168.0.100", lease_time=86400),
    "nak": dict(message="NAK"),
    "release": dict(message="RELEASE", ip="192.168.0.100"),
    "inform": dict(message="INFORM", hostname="laptop1", ip="192.168.0.101", vendor_class="MSFT 5.0",
                   client_fqdn="laptop1.lan"),
    "decline": dict(message="DECLINE", ip="192.168.0.100"),
    "bootp_reply": dict(message="BOOTREPLY", ip="192.168.0.10"),
    "overloaded": dict(message="DISCOVER", hostname="kid01"),
    "split_option": dict(message="DISCOVER", hostname="Emmas-iPad"),
}

_FIELDS = ("message", "mac", "hostname", "ip", "vendor_class", "client_fqdn", "lease_time", "version")
_DEFAULTS: dict[str, Any] = {f: None for f in _FIELDS} | {"mac": MAC, "version": 4}


def decode(payload: bytes) -> tuple[list[DhcpMessage], Anomalies]:
    anomalies = Anomalies()
    events = DhcpDecoder(anomalies).decode(payload, CTX)
    return [e for e in events if isinstance(e, DhcpMessage)], anomalies


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    events, anomalies = decode(ALL_FIXTURES[name])
    assert len(events) == 1
    assert {f: getattr(events[0], f) for f in _FIELDS} == _DEFAULTS | EXPECTED[name]
    assert events[0].flow == FLOW
    assert anomalies.counts == {}


def test_fixed_header_is_236_octets() -> None:
    for name, payload in ALL_FIXTURES.items():
        if name != "bootp_reply":
            assert payload[236:240] == bytes.fromhex(COOKIE), name


def test_truncated_options_keep_what_was_read() -> None:
    cut = DISCOVER[: 240 + 3 + 9 + 6 + 5]  # ends inside the Host Name option
    events, anomalies = decode(cut)
    assert [(e.message, e.mac, e.ip, e.hostname) for e in events] == [("DISCOVER", MAC, "192.168.0.100", None)]
    assert anomalies.counts == {"dhcp_option_truncated": 1}


def test_snaplen_cut_bootp_still_names_the_device() -> None:
    events, anomalies = decode(DISCOVER[:100])
    assert [(e.message, e.mac) for e in events] == [("BOOTREQUEST", MAC)]
    assert anomalies.counts == {"dhcp_truncated": 1}
    assert decode(DISCOVER[:43])[0] == []


def test_not_bootp() -> None:
    events, anomalies = decode(b"\x07" + DISCOVER[1:])
    assert events == []
    assert anomalies.counts == {"dhcp_bad_op": 1}


def test_wire_name() -> None:
    assert wire_name(hex_fixture(f"03 {ascii_hex('kid')} 04 {ascii_hex('home')} 00")) == "kid.home"
    assert wire_name(hex_fixture(f"03 {ascii_hex('kid')}")) == "kid"  # partial name (no root label)
    assert wire_name(hex_fixture("05 6b69")) is None  # label runs past the end
    assert wire_name(b"") is None


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    decoder = DhcpDecoder(Anomalies())
    for damaged in (*truncations(payload), *bit_flips(payload)):
        decoder.decode(damaged, CTX)


def test_random_payloads_never_raise() -> None:
    decoder = DhcpDecoder(Anomalies())

    def check(payload: bytes, junk: bytes, at: int) -> None:
        decoder.decode(payload[:at] + junk + payload[at:], CTX)
        decoder.decode(payload[:240] + junk, CTX)

    fuzz_fixtures(ALL_FIXTURES, 320, check)


# --------------------------------------------------------------------------- public captures vs tshark

DHCP_CAPTURES = (
    "zeek__dhcp_dhcp.pcap",
    "ndpi__android.pcap",
    "ndpi__iphone.pcap",
    "pcapngtg__be_basic_test006.pcapng",
    "sv__smb2-ntlmssp-negotiateflags__input.pcap",
)


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("capture", DHCP_CAPTURES)
def test_public_capture_matches_tshark(capture: str, real_captures: Path, tshark: str) -> None:
    path = real_captures / capture
    if not path.exists():
        pytest.skip(f"{capture} is not in this copy of the captures")
    decoder = DhcpDecoder(Anomalies())
    events: list[DhcpMessage] = []
    for packet_ctx, payload in udp_datagrams(path, {67, 68}):
        events += [e for e in decoder.decode(payload, packet_ctx) if isinstance(e, DhcpMessage)]

    fields = ["frame.number", "dhcp.type", "dhcp.option.dhcp", "dhcp.hw.mac_addr", "dhcp.option.hostname",
              "dhcp.option.vendor_class_id", "dhcp.fqdn.name", "dhcp.option.ip_address_lease_time",
              "dhcp.ip.your", "dhcp.ip.client", "dhcp.option.requested_ip_address"]
    keys = ("message", "mac", "hostname", "vendor_class", "client_fqdn", "lease_time", "ip")
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for row in tshark_fields(tshark, path, "dhcp", fields, occurrence="f"):
        frame_cell, op, msg_type, mac, hostname, vendor, fqdn, lease, yiaddr, ciaddr, requested = row[:11]
        frame_no = int(frame_cell)
        bootp = "BOOTREQUEST" if op == "1" else "BOOTREPLY"  # no option 53: plain BOOTP
        message = MESSAGE_TYPES[int(msg_type)] if msg_type else bootp
        want["message"].add((frame_no, message))
        if mac:
            want["mac"].add((frame_no, mac))  # the first occurrence is chaddr
        # host name: option 12, else the FQDN's first label, as the decoder reports it
        if hostname or fqdn:
            want["hostname"].add((frame_no, hostname or fqdn.split(".")[0]))
        if vendor:
            want["vendor_class"].add((frame_no, vendor))
        if fqdn:
            want["client_fqdn"].add((frame_no, fqdn))
        if lease:
            want["lease_time"].add((frame_no, int(lease)))
        # RFC 2131: the leased address in OFFER/ACK, else the requested or current one
        if message in ("OFFER", "ACK", "BOOTREPLY"):
            ip = yiaddr
        elif message == "NAK":
            ip = ""
        else:
            ip = requested or ciaddr
        if ip and ip != "0.0.0.0":
            want["ip"].add((frame_no, ip))
    got = values_by_frame(events, keys)
    assert_same_as_tshark(got, want, capture)
    assert got["message"], "no DHCP message decoded"
