"""RADIUS decoder: byte fixtures per code, robustness, and the public captures vs tshark.

Identifiers in the fixtures are made up; values read from the public captures
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
from scanner.decode.protocols.radius import ACCT_STATUS, RadiusDecoder, framed_ipv6_prefix
from scanner.model import FlowTuple, RadiusMessage

FLOW = FlowTuple("udp", "192.0.2.10", 40000, "192.0.2.20", 1813)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


AUTHENTICATOR = "00112233445566778899aabbccddeeff"  # 16 octets; not checked by a passive decoder
NAI = "0001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org"  # EAP-AKA permanent id (54 chars)
IMSI = "001010123456789"
IMEISV = "3569380356438091"

ACCESS_REQUEST_EAP_AKA = hex_fixture(
    "01",                          # Access-Request
    "2a",                          # identifier 42
    "009a",                        # length 154
    AUTHENTICATOR,                 # Request Authenticator
    f"01 38 {ascii_hex(NAI)}",     # User-Name (56): EAP-AKA identity "0<IMSI>@nai.epc..."
    "04 06 c0000201",              # NAS-IP-Address 192.0.2.1
    f"1f 13 {ascii_hex('3C-22-FB-11-22-33')}",  # Calling-Station-Id: the station's MAC
    f"1e 1c {ascii_hex('00-11-22-33-44-55:KidsWiFi')}",  # Called-Station-Id: AP MAC and SSID
    "4f 07 0201000501",            # EAP-Message: Response/Identity
    "50 12 " + "ab" * 16,          # Message-Authenticator
)

ACCESS_ACCEPT = hex_fixture(
    "02 2a 0030",                  # Access-Accept, identifier 42, length 48
    AUTHENTICATOR,                 # Response Authenticator
    "08 06 0a000005",              # Framed-IP-Address 10.0.0.5
    "61 0c 00 40 20010db800010002",  # Framed-IPv6-Prefix: reserved, /64, 8 prefix octets
    f"01 0a {ascii_hex('kid-tab1')}",  # User-Name
)

ACCESS_REJECT = hex_fixture(
    "03 2b 001c",                  # Access-Reject, identifier 43, length 28
    AUTHENTICATOR,
    f"12 08 {ascii_hex('denied')}",  # Reply-Message
)

ACCESS_CHALLENGE = hex_fixture(
    "0b 2c 0020",                  # Access-Challenge, identifier 44, length 32
    AUTHENTICATOR,
    "18 06 01020304",              # State
    "08 06 fffffffe",              # Framed-IP-Address 255.255.255.254: "the NAS chooses" (not an address)
)

ACCOUNTING_REQUEST_START = hex_fixture(
    "04 07 007b",                  # Accounting-Request, identifier 7, length 123
    AUTHENTICATOR,
    "28 06 00000001",              # Acct-Status-Type: Start
    f"01 0a {ascii_hex('guest-01')}",  # User-Name
    f"1f 0e {ascii_hex('491701234567')}",  # Calling-Station-Id: the MSISDN (GGSN Gi RADIUS, TS 29.061)
    f"1e 0a {ascii_hex('internet')}",  # Called-Station-Id: the APN
    "08 06 0a2d0007",              # Framed-IP-Address 10.45.0.7
    f"2c 10 {ascii_hex('0a2d0007-00001')}",  # Acct-Session-Id
    "1a 29 000028af",              # Vendor-Specific (41), Vendor-Id 10415 (3GPP)
    f"01 11 {ascii_hex(IMSI)}",    #   3GPP-IMSI (17): UTF-8 digits
    f"14 12 {ascii_hex(IMEISV)}",  #   3GPP-IMEISV (18): UTF-8 digits
)

ACCOUNTING_REQUEST_INTERIM = hex_fixture(
    "04 08 0040",                  # Accounting-Request, identifier 8, length 64
    AUTHENTICATOR,
    "28 06 00000003",              # Acct-Status-Type: Interim-Update
    f"2c 10 {ascii_hex('0a2d0007-00001')}",  # Acct-Session-Id
    "08 06 0a2d0007",              # Framed-IP-Address 10.45.0.7
    "1a 10 000028af",              # Vendor-Specific (16), 3GPP
    "14 0a 5396833065340819",      #   3GPP-IMEISV as TBCD, as some GGSNs send it
)

ACCOUNTING_REQUEST_STOP = hex_fixture(
    "04 09 0038",                  # Accounting-Request, identifier 9, length 56
    AUTHENTICATOR,
    "28 06 00000002",              # Acct-Status-Type: Stop
    f"2c 10 {ascii_hex('0a2d0007-00001')}",  # Acct-Session-Id
    f"1f 0e {ascii_hex('491701234567')}",  # Calling-Station-Id
)

ACCOUNTING_RESPONSE = hex_fixture(
    "05 07 0014",                  # Accounting-Response, identifier 7, length 20
    AUTHENTICATOR,
)

DISCONNECT_REQUEST = hex_fixture(
    "28 10 002e",                  # Disconnect-Request (40, RFC 5176), identifier 16, length 46
    AUTHENTICATOR,
    f"01 0a {ascii_hex('guest-01')}",  # User-Name
    f"2c 10 {ascii_hex('0a2d0007-00001')}",  # Acct-Session-Id
)

COA_REQUEST = hex_fixture(
    "2b 11 0031",                  # CoA-Request (43), identifier 17, length 49
    AUTHENTICATOR,
    f"1f 13 {ascii_hex('3C-22-FB-11-22-33')}",  # Calling-Station-Id
    f"0b 0a {ascii_hex('kids-min')}",  # Filter-Id
)

STATUS_SERVER = hex_fixture(
    "0c 12 0026",                  # Status-Server (12, RFC 5997), identifier 18, length 38
    AUTHENTICATOR,
    "50 12 " + "cd" * 16,          # Message-Authenticator
)

UNKNOWN_CODE = hex_fixture(
    "63 01 0014",                  # code 99 (unassigned), identifier 1, length 20
    AUTHENTICATOR,
)

ALL_FIXTURES = {
    "access_request_eap_aka": ACCESS_REQUEST_EAP_AKA,
    "access_accept": ACCESS_ACCEPT,
    "access_reject": ACCESS_REJECT,
    "access_challenge": ACCESS_CHALLENGE,
    "accounting_request_start": ACCOUNTING_REQUEST_START,
    "accounting_request_interim": ACCOUNTING_REQUEST_INTERIM,
    "accounting_request_stop": ACCOUNTING_REQUEST_STOP,
    "accounting_response": ACCOUNTING_RESPONSE,
    "disconnect_request": DISCONNECT_REQUEST,
    "coa_request": COA_REQUEST,
    "status_server": STATUS_SERVER,
    "unknown_code": UNKNOWN_CODE,
}

EXPECTED: dict[str, dict[str, Any]] = {
    "access_request_eap_aka": dict(
        code="Access-Request", user_name=NAI, calling_station_id="3C-22-FB-11-22-33",
        called_station_id="00-11-22-33-44-55:KidsWiFi", imsi=IMSI,
    ),
    "access_accept": dict(
        code="Access-Accept", user_name="kid-tab1", framed_ip="10.0.0.5", framed_ipv6_prefix="2001:db8:1:2::/64",
    ),
    "access_reject": dict(code="Access-Reject"),
    "access_challenge": dict(code="Access-Challenge"),
    "accounting_request_start": dict(
        code="Accounting-Request", acct_status="Start", user_name="guest-01", calling_station_id="491701234567",
        called_station_id="internet", framed_ip="10.45.0.7", session_id="0a2d0007-00001", imsi=IMSI,
        imeisv=IMEISV,
    ),
    "accounting_request_interim": dict(
        code="Accounting-Request", acct_status="Interim-Update", framed_ip="10.45.0.7",
        session_id="0a2d0007-00001", imeisv=IMEISV,
    ),
    "accounting_request_stop": dict(
        code="Accounting-Request", acct_status="Stop", session_id="0a2d0007-00001",
        calling_station_id="491701234567",
    ),
    "accounting_response": dict(code="Accounting-Response"),
    "disconnect_request": dict(code="Disconnect-Request", user_name="guest-01", session_id="0a2d0007-00001"),
    "coa_request": dict(code="CoA-Request", calling_station_id="3C-22-FB-11-22-33"),
    "status_server": dict(code="Status-Server"),
    "unknown_code": dict(code="Code-99"),
}

_FIELDS = ("code", "acct_status", "user_name", "calling_station_id", "called_station_id", "framed_ip",
           "framed_ipv6_prefix", "imsi", "imeisv", "session_id")


def decode(payload: bytes) -> tuple[list[RadiusMessage], Anomalies]:
    anomalies = Anomalies()
    events = RadiusDecoder(anomalies).decode(payload, CTX)
    return [e for e in events if isinstance(e, RadiusMessage)], anomalies


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    events, anomalies = decode(ALL_FIXTURES[name])
    assert len(events) == 1
    want = {f: None for f in _FIELDS} | EXPECTED[name]
    assert {f: getattr(events[0], f) for f in _FIELDS} == want
    assert events[0].flow == FLOW
    assert anomalies.counts == {}


def test_fixture_lengths_are_consistent() -> None:
    for name, payload in ALL_FIXTURES.items():
        assert int.from_bytes(payload[2:4], "big") == len(payload), name


def test_padding_after_length_is_ignored() -> None:
    events, anomalies = decode(ACCESS_REJECT + b"\x00" * 12)
    assert [e.code for e in events] == ["Access-Reject"]
    assert anomalies.counts == {}


def test_truncated_packet_keeps_attributes_read() -> None:
    cut = ACCOUNTING_REQUEST_START[: 20 + 6 + 10 + 14 + 5]  # ends inside Called-Station-Id
    events, anomalies = decode(cut)
    assert [(e.acct_status, e.user_name, e.calling_station_id, e.called_station_id) for e in events] == [
        ("Start", "guest-01", "491701234567", None)
    ]
    assert anomalies.counts == {"radius_truncated": 1, "radius_attribute_truncated": 1}


def test_zero_length_attribute_stops_the_walk() -> None:
    bad = hex_fixture("04 01 0018", AUTHENTICATOR, "28 00 0000")  # attribute length 0
    events, anomalies = decode(bad)
    assert [e.code for e in events] == ["Accounting-Request"]
    assert anomalies.counts == {"radius_attribute_malformed": 1}


def test_bad_header_length() -> None:
    events, anomalies = decode(hex_fixture("01 01 0010", AUTHENTICATOR))
    assert events == []
    assert anomalies.counts == {"radius_bad_length": 1}
    events, anomalies = decode(b"\x01\x01\x00")
    assert events == []
    assert anomalies.counts == {"radius_header_truncated": 1}


def test_framed_ipv6_prefix() -> None:
    assert framed_ipv6_prefix(hex_fixture("00 30 20010db80001")) == "2001:db8:1::/48"
    assert framed_ipv6_prefix(hex_fixture("00 80") + bytes(16)) == "::/128"
    assert framed_ipv6_prefix(hex_fixture("00 81")) is None  # longer than 128 bits
    assert framed_ipv6_prefix(b"\x00") is None


def test_other_vendors_are_not_read_as_3gpp() -> None:
    # Vendor 14823 (Aruba) sub-attribute 1 is a user role, not an IMSI.
    vsa = hex_fixture("04 01 0024", AUTHENTICATOR, "1a 10 000039e7", "01 0a", ascii_hex("employee"))
    events, anomalies = decode(vsa)
    assert [(e.code, e.imsi) for e in events] == [("Accounting-Request", None)]
    assert anomalies.counts == {}


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    decoder = RadiusDecoder(Anomalies())
    for damaged in (*truncations(payload), *bit_flips(payload)):
        decoder.decode(damaged, CTX)


def test_random_payloads_never_raise() -> None:
    decoder = RadiusDecoder(Anomalies())

    def check(payload: bytes, junk: bytes, at: int) -> None:
        decoder.decode(payload[:at] + junk + payload[at:], CTX)
        decoder.decode(junk, CTX)

    fuzz_fixtures(ALL_FIXTURES, 160, check)


# --------------------------------------------------------------------------- public captures vs tshark

RADIUS_CAPTURES = ("arkime__radius.pcap", "zeek__radius_radius.pcap", "tcpdump__RADIUS-RFC4675.pcap")


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("capture", RADIUS_CAPTURES)
def test_public_capture_matches_tshark(capture: str, real_captures: Path, tshark: str) -> None:
    from scanner.decode.protocols.radius import CODES, RADIUS_PORTS

    path = real_captures / capture
    if not path.exists():
        pytest.skip(f"{capture} is not in this copy of the captures")
    anomalies = Anomalies()
    decoder = RadiusDecoder(anomalies)
    events: list[RadiusMessage] = []
    for packet_ctx, payload in udp_datagrams(path, RADIUS_PORTS):
        out = decoder.decode(payload, packet_ctx)
        events += [e for e in out if isinstance(e, RadiusMessage)]

    fields = ["frame.number", "radius.code", "radius.User_Name", "radius.Calling_Station_Id",
              "radius.Called_Station_Id", "radius.Framed-IP-Address", "radius.Acct_Status_Type",
              "radius.Acct_Session_Id"]
    keys = ["code", "user_name", "calling_station_id", "called_station_id", "framed_ip", "acct_status", "session_id"]
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for row in tshark_fields(tshark, path, "radius", fields, occurrence="f"):
        frame = int(row[0])
        want["code"].add((frame, CODES[int(row[1])]))
        for key, cell in zip(keys[1:], row[2:], strict=True):
            if not cell:
                continue
            if key == "framed_ip" and cell in ("255.255.255.255", "255.255.255.254", "0.0.0.0"):
                continue  # RFC 2865 s5.8 placeholders, not addresses
            if key == "acct_status":
                cell = ACCT_STATUS[int(cell)]
            want[key].add((frame, cell))
    got = values_by_frame(events, keys)
    assert_same_as_tshark(got, want, capture)
    assert got["code"], "no RADIUS message decoded"
    assert anomalies.counts == {}
