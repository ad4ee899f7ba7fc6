"""RADIUS decoder: byte fixtures per code, robustness, and the public captures vs tshark.

Identifiers in the fixtures are made up; values read from the public captures
are compared by digest, never printed.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.radius import ACCT_STATUS, RadiusDecoder, framed_ipv6_prefix
from scanner.model import FlowTuple, RadiusMessage

FLOW = FlowTuple("udp", "192.0.2.10", 40000, "192.0.2.20", 1813)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


def hx(*lines: str) -> bytes:
    """A hex fixture: one field per line, anything after '#' is a comment."""
    return bytes.fromhex("".join("".join(line.split("#", 1)[0].split()) for line in lines))


def a(value: str) -> str:
    """ASCII text as hex, for attribute values inside ``hx`` lines."""
    return value.encode().hex()


AUTHENTICATOR = "00112233445566778899aabbccddeeff"  # 16 octets; not checked by a passive decoder
NAI = "0001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org"  # EAP-AKA permanent id (54 chars)
IMSI = "001010123456789"
IMEISV = "3569380356438091"

ACCESS_REQUEST_EAP_AKA = hx(
    "01",                          # Access-Request
    "2a",                          # identifier 42
    "009a",                        # length 154
    AUTHENTICATOR,                 # Request Authenticator
    f"01 38 {a(NAI)}",             # User-Name (56): EAP-AKA identity "0<IMSI>@nai.epc..."
    "04 06 c0000201",              # NAS-IP-Address 192.0.2.1
    f"1f 13 {a('3C-22-FB-11-22-33')}",  # Calling-Station-Id: the station's MAC
    f"1e 1c {a('00-11-22-33-44-55:KidsWiFi')}",  # Called-Station-Id: AP MAC and SSID
    "4f 07 0201000501",            # EAP-Message: Response/Identity
    "50 12 " + "ab" * 16,          # Message-Authenticator
)

ACCESS_ACCEPT = hx(
    "02 2a 0030",                  # Access-Accept, identifier 42, length 48
    AUTHENTICATOR,                 # Response Authenticator
    "08 06 0a000005",              # Framed-IP-Address 10.0.0.5
    "61 0c 00 40 20010db800010002",  # Framed-IPv6-Prefix: reserved, /64, 8 prefix octets
    f"01 0a {a('kid-tab1')}",      # User-Name
)

ACCESS_REJECT = hx(
    "03 2b 001c",                  # Access-Reject, identifier 43, length 28
    AUTHENTICATOR,
    f"12 08 {a('denied')}",        # Reply-Message
)

ACCESS_CHALLENGE = hx(
    "0b 2c 0020",                  # Access-Challenge, identifier 44, length 32
    AUTHENTICATOR,
    "18 06 01020304",              # State
    "08 06 fffffffe",              # Framed-IP-Address 255.255.255.254: "the NAS chooses" (not an address)
)

ACCOUNTING_REQUEST_START = hx(
    "04 07 007b",                  # Accounting-Request, identifier 7, length 123
    AUTHENTICATOR,
    "28 06 00000001",              # Acct-Status-Type: Start
    f"01 0a {a('guest-01')}",      # User-Name
    f"1f 0e {a('491701234567')}",  # Calling-Station-Id: the MSISDN (GGSN Gi RADIUS, TS 29.061)
    f"1e 0a {a('internet')}",      # Called-Station-Id: the APN
    "08 06 0a2d0007",              # Framed-IP-Address 10.45.0.7
    f"2c 10 {a('0a2d0007-00001')}",  # Acct-Session-Id
    "1a 29 000028af",              # Vendor-Specific (41), Vendor-Id 10415 (3GPP)
    f"01 11 {a(IMSI)}",            #   3GPP-IMSI (17): UTF-8 digits
    f"14 12 {a(IMEISV)}",          #   3GPP-IMEISV (18): UTF-8 digits
)

ACCOUNTING_REQUEST_INTERIM = hx(
    "04 08 0040",                  # Accounting-Request, identifier 8, length 64
    AUTHENTICATOR,
    "28 06 00000003",              # Acct-Status-Type: Interim-Update
    f"2c 10 {a('0a2d0007-00001')}",  # Acct-Session-Id
    "08 06 0a2d0007",              # Framed-IP-Address 10.45.0.7
    "1a 10 000028af",              # Vendor-Specific (16), 3GPP
    "14 0a 5396833065340819",      #   3GPP-IMEISV as TBCD, as some GGSNs send it
)

ACCOUNTING_REQUEST_STOP = hx(
    "04 09 0038",                  # Accounting-Request, identifier 9, length 56
    AUTHENTICATOR,
    "28 06 00000002",              # Acct-Status-Type: Stop
    f"2c 10 {a('0a2d0007-00001')}",  # Acct-Session-Id
    f"1f 0e {a('491701234567')}",  # Calling-Station-Id
)

ACCOUNTING_RESPONSE = hx(
    "05 07 0014",                  # Accounting-Response, identifier 7, length 20
    AUTHENTICATOR,
)

DISCONNECT_REQUEST = hx(
    "28 10 002e",                  # Disconnect-Request (40, RFC 5176), identifier 16, length 46
    AUTHENTICATOR,
    f"01 0a {a('guest-01')}",      # User-Name
    f"2c 10 {a('0a2d0007-00001')}",  # Acct-Session-Id
)

COA_REQUEST = hx(
    "2b 11 0031",                  # CoA-Request (43), identifier 17, length 49
    AUTHENTICATOR,
    f"1f 13 {a('3C-22-FB-11-22-33')}",  # Calling-Station-Id
    f"0b 0a {a('kids-min')}",      # Filter-Id
)

STATUS_SERVER = hx(
    "0c 12 0026",                  # Status-Server (12, RFC 5997), identifier 18, length 38
    AUTHENTICATOR,
    "50 12 " + "cd" * 16,          # Message-Authenticator
)

UNKNOWN_CODE = hx(
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
    bad = hx("04 01 0018", AUTHENTICATOR, "28 00 0000")  # attribute length 0
    events, anomalies = decode(bad)
    assert [e.code for e in events] == ["Accounting-Request"]
    assert anomalies.counts == {"radius_attribute_malformed": 1}


def test_bad_header_length() -> None:
    events, anomalies = decode(hx("01 01 0010", AUTHENTICATOR))
    assert events == []
    assert anomalies.counts == {"radius_bad_length": 1}
    events, anomalies = decode(b"\x01\x01\x00")
    assert events == []
    assert anomalies.counts == {"radius_header_truncated": 1}


def test_framed_ipv6_prefix() -> None:
    assert framed_ipv6_prefix(hx("00 30 20010db80001")) == "2001:db8:1::/48"
    assert framed_ipv6_prefix(hx("00 80") + bytes(16)) == "::/128"
    assert framed_ipv6_prefix(hx("00 81")) is None  # longer than 128 bits
    assert framed_ipv6_prefix(b"\x00") is None


def test_other_vendors_are_not_read_as_3gpp() -> None:
    # Vendor 14823 (Aruba) sub-attribute 1 is a user role, not an IMSI.
    vsa = hx("04 01 0024", AUTHENTICATOR, "1a 10 000039e7", "01 0a", a("employee"))
    events, anomalies = decode(vsa)
    assert [(e.code, e.imsi) for e in events] == [("Accounting-Request", None)]
    assert anomalies.counts == {}


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    decoder = RadiusDecoder(Anomalies())
    for n in range(len(payload) + 1):
        decoder.decode(payload[:n], CTX)
    for i in range(len(payload)):
        for mask in (0x01, 0x10, 0x80, 0xFF):
            mutated = bytearray(payload)
            mutated[i] ^= mask
            decoder.decode(bytes(mutated), CTX)


def test_random_payloads_never_raise() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    strategies = pytest.importorskip("hypothesis.strategies")
    decoder = RadiusDecoder(Anomalies())

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(
        strategies.sampled_from(sorted(ALL_FIXTURES)),
        strategies.binary(max_size=64),
        strategies.integers(min_value=0, max_value=160),
    )
    def run(name: str, junk: bytes, at: int) -> None:
        payload = ALL_FIXTURES[name]
        decoder.decode(payload[:at] + junk + payload[at:], CTX)
        decoder.decode(junk, CTX)

    run()


# --------------------------------------------------------------------------- public captures vs tshark

RADIUS_CAPTURES = ("arkime__radius.pcap", "zeek__radius_radius.pcap", "tcpdump__RADIUS-RFC4675.pcap")


def _udp_payloads(path: Path, ports: frozenset[int]) -> Iterator[tuple[int, float, bytes]]:
    from scapy.layers.inet import UDP
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for frame, pkt in enumerate(reader, start=1):
            if UDP in pkt and (pkt[UDP].sport in ports or pkt[UDP].dport in ports):
                udp = pkt[UDP]
                raw = bytes(udp)
                yield frame, float(pkt.time), raw[8 : udp.len] if udp.len >= 8 else raw[8:]


def _tshark(tshark: str, path: Path, display_filter: str, fields: list[str]) -> list[list[str]]:
    cmd = [tshark, "-n", "-r", str(path), "-Y", display_filter, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") + [""] * (len(fields) - len(line.split("\t"))) for line in out.splitlines()]


def _digest(values: set[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(sorted(values, key=repr)).encode()).hexdigest()[:12] + f" ({len(values)} items)"


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
    for frame, ts, payload in _udp_payloads(path, RADIUS_PORTS):
        out = decoder.decode(payload, PacketContext(ts, path.name, frame, FLOW))
        events += [e for e in out if isinstance(e, RadiusMessage)]

    fields = ["frame.number", "radius.code", "radius.User_Name", "radius.Calling_Station_Id",
              "radius.Called_Station_Id", "radius.Framed-IP-Address", "radius.Acct_Status_Type",
              "radius.Acct_Session_Id"]
    keys = ["code", "user_name", "calling_station_id", "called_station_id", "framed_ip", "acct_status", "session_id"]
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for row in _tshark(tshark, path, "radius", fields):
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
    got: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for e in events:
        for key in keys:
            if getattr(e, key) is not None:
                got[key].add((e.frame, getattr(e, key)))
    for key in keys:
        # digests, not the sets: pytest would print the identifiers of a failing comparison
        assert _digest(got[key]) == _digest(want[key]), f"{capture}: {key} differs from tshark"
    assert got["code"], "no RADIUS message decoded"
    assert anomalies.counts == {}
