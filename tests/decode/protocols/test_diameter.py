"""Diameter decoder: byte fixtures per command, TCP framing, robustness, and the public captures vs tshark.

Identifiers in the fixtures are made up (test PLMN 001/01); values read from the
public captures are compared by digest, never printed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.byte_fixtures import ascii_hex, bit_flips, fuzz_fixtures, hex_fixture, truncations
from helpers.captures import tcp_segments
from helpers.tshark import assert_same_as_tshark, tshark_fields, values_by_frame
from scanner.decode.protocols.base import Anomalies, PacketContext, StreamContext
from scanner.decode.protocols.diameter import (
    CC_REQUEST_TYPES,
    DIAMETER_PORT,
    DiameterSctpDecoder,
    DiameterTcpDecoder,
    command_name,
)
from scanner.model import DiameterMessage, FlowTuple

FLOW = FlowTuple("sctp", "192.0.2.1", 3868, "192.0.2.2", 3868)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


IMSI = "001010123456789"
MSISDN = "491701234567"
IMEISV = "3569380356438091"
SESSION_ID = "pcef.example.org;1;1"  # 20 octets: no padding needed
NAI = "0001010123456789@nai.epc.mnc001.mcc001.3gppnetwork.org"  # 54 octets

# AVP lines used by several fixtures.  Layout (RFC 6733 s4.1): code (4), flags (1:
# V=0x80 M=0x40), length (3, header included, padding excluded), [Vendor-Id (4)], data, padding.
SESSION = f"00000107 40 00001c {ascii_hex(SESSION_ID)}"  # Session-Id (263), length 28
RESULT_SUCCESS = "0000010c 40 00000c 000007d1"  # Result-Code (268): DIAMETER_SUCCESS 2001
ORIGIN_HOST = f"00000108 40 000018 {ascii_hex('pcef.example.org')}"  # Origin-Host (264), length 24
USER_NAME_IMSI = f"00000001 40 000017 {ascii_hex(IMSI)} 00"  # User-Name (1), length 23, 1 octet padding
SUBSCRIPTION_ID_E164 = (
    "000001bb 40 000028"  # Subscription-Id (443, grouped), length 40
    " 000001c2 40 00000c 00000000"  # Subscription-Id-Type (450): END_USER_E164 (0)
    f" 000001bc 40 000014 {ascii_hex(MSISDN)}"  # Subscription-Id-Data (444), length 20
)

CCR_INITIAL_GX = hex_fixture(
    "01 0000e0",                   # version 1, length 224
    "c0 000110",                   # flags R+P, Credit-Control (272)
    "01000016",                    # Application-Id 16777238 (Gx)
    "00000001 00000001",           # Hop-by-Hop, End-to-End
    SESSION,                       # Session-Id
    "00000102 40 00000c 01000016", # Auth-Application-Id (258)
    "000001a0 40 00000c 00000001", # CC-Request-Type (416): INITIAL_REQUEST
    "0000019f 40 00000c 00000000", # CC-Request-Number (415)
    "000001bb 40 00002c",          # Subscription-Id (443, grouped), length 44
    "000001c2 40 00000c 00000001", #   Subscription-Id-Type: END_USER_IMSI (1)
    f"000001bc 40 000017 {ascii_hex(IMSI)} 00",  # Subscription-Id-Data, length 23 + 1 padding
    SUBSCRIPTION_ID_E164,          # Subscription-Id: E.164 -> MSISDN
    "00000008 40 00000c 0a2d0007", # Framed-IP-Address (8): 10.45.0.7
    "000001ca 00 00002c",          # User-Equipment-Info (458, grouped), length 44
    "000001cb 00 00000c 00000000", #   User-Equipment-Info-Type (459): IMEISV (0)
    f"000001cc 00 000018 {ascii_hex(IMEISV)}",  # User-Equipment-Info-Value (460), length 24
)

CCA_INITIAL_GX = hex_fixture(
    "01 000048",                   # version 1, length 72
    "40 000110",                   # flags P, Credit-Control Answer
    "01000016 00000001 00000001",  # Gx, Hop-by-Hop, End-to-End
    SESSION,
    RESULT_SUCCESS,
    "000001a0 40 00000c 00000001", # CC-Request-Type: INITIAL_REQUEST
)

CCR_UPDATE_GY = hex_fixture(
    "01 000084",                   # version 1, length 132
    "c0 000110",                   # R+P, Credit-Control
    "00000004 00000002 00000002",  # Application-Id 4 (Diameter Credit Control: Gy/Ro)
    SESSION,
    "000001a0 40 00000c 00000002", # CC-Request-Type: UPDATE_REQUEST
    "00000369 c0 000048 000028af", # Service-Information (873, 3GPP, grouped), length 72
    "0000036a c0 00003c 000028af", #   PS-Information (874, 3GPP, grouped), length 60
    "000004cb c0 000012 000028af", #     PDP-Address (1227, 3GPP), length 18
    "0001 0a2d0008 0000",          #       Address type: IPv4 10.45.0.8, 2 octets padding
    "00000001 c0 00001b 000028af", #     3GPP-IMSI (1, 3GPP), length 27
    f"{ascii_hex(IMSI)} 00",       #       UTF-8 digits, 1 octet padding
)

CCR_TERMINATION_GY = hex_fixture(
    "01 00003c",                   # version 1, length 60
    "c0 000110",                   # R+P, Credit-Control
    "00000004 00000003 00000003",  # Gy
    SESSION,
    "000001a0 40 00000c 00000003", # CC-Request-Type: TERMINATION_REQUEST
)

CER = hex_fixture(
    "01 00006c",                   # version 1, length 108
    "80 000101",                   # R, Capabilities-Exchange (257)
    "00000000 00000004 00000004",  # Application-Id 0 (common messages)
    ORIGIN_HOST,
    f"00000128 40 000013 {ascii_hex('example.org')} 00",  # Origin-Realm (296), length 19 + 1 padding
    "00000101 40 00000e 0001 c0000201 0000",  # Host-IP-Address (257): IPv4 192.0.2.1, padding
    "0000010a 40 00000c 00000000", # Vendor-Id (266)
    f"0000010d 00 000010 {ascii_hex('privscan')}",  # Product-Name (269), length 16
)

CEA = hex_fixture(
    "01 000038",                   # version 1, length 56
    "00 000101",                   # answer, Capabilities-Exchange
    "00000000 00000004 00000004",
    RESULT_SUCCESS,
    ORIGIN_HOST,
)

DWR = hex_fixture(
    "01 00002c",                   # version 1, length 44
    "80 000118",                   # R, Device-Watchdog (280)
    "00000000 00000005 00000005",
    ORIGIN_HOST,
)

DWA = hex_fixture(
    "01 000020",                   # version 1, length 32
    "00 000118",                   # answer, Device-Watchdog
    "00000000 00000005 00000005",
    RESULT_SUCCESS,
)

RAR = hex_fixture(
    "01 00003c",                   # version 1, length 60
    "c0 000102",                   # R+P, Re-Auth (258)
    "01000016 00000006 00000006",  # Gx
    SESSION,
    "0000011d 40 00000c 00000000", # Re-Auth-Request-Type (285): AUTHORIZE_ONLY
)

RAA = hex_fixture(
    "01 00003c",                   # version 1, length 60
    "40 000102",                   # answer, Re-Auth
    "01000016 00000006 00000006",
    SESSION,
    RESULT_SUCCESS,
)

ULR = hex_fixture(
    "01 000090",                   # version 1, length 144
    "c0 00013c",                   # R+P, Update-Location (316)
    "01000023 00000007 00000007",  # Application-Id 16777251 (S6a/S6d)
    SESSION,
    USER_NAME_IMSI,                # User-Name: the IMSI on S6a (TS 29.272 s7.3.1)
    "0000057f c0 00000f 000028af 00f110 00",  # Visited-PLMN-Id (1407, 3GPP): 001/01, padding
    "00000579 80 000038 000028af", # Terminal-Information (1401, 3GPP, grouped), length 56
    "0000057a 80 00001a 000028af", #   IMEI (1402, 3GPP), length 26
    f"{ascii_hex('35693803564380')} 0000", #     14 digits (no check digit), 2 octets padding
    "0000057b 80 00000e 000028af", #   Software-Version (1403, 3GPP), length 14
    f"{ascii_hex('91')} 0000",     #     "91", 2 octets padding
)

ULA = hex_fixture(
    "01 00005c",                   # version 1, length 92
    "40 00013c",                   # P, Update-Location Answer
    "01000023 00000007 00000007",  # S6a
    SESSION,
    RESULT_SUCCESS,
    "00000578 c0 000020 000028af", # Subscription-Data (1400, 3GPP, grouped), length 32
    "000002bd c0 000012 000028af", #   MSISDN (701, 3GPP), length 18
    "947110325476 0000",           #     TBCD 491701234567, 2 octets padding
)

AIR = hex_fixture(
    "01 000048",                   # version 1, length 72
    "c0 00013e",                   # R+P, Authentication-Information (318)
    "01000023 00000008 00000008",  # S6a
    SESSION,
    USER_NAME_IMSI,
)

AIA = hex_fixture(
    "01 00003c",                   # version 1, length 60
    "40 00013e",                   # answer, Authentication-Information
    "01000023 00000008 00000008",
    SESSION,
    RESULT_SUCCESS,
)

NOR = hex_fixture(
    "01 000048",                   # version 1, length 72
    "c0 000143",                   # R+P, Notify (323)
    "01000023 00000009 00000009",  # S6a
    SESSION,
    USER_NAME_IMSI,
)

AAR = hex_fixture(
    "01 000064",                   # version 1, length 100
    "c0 000109",                   # R+P, AA (265)
    "01000014 0000000a 0000000a",  # Application-Id 16777236 (Rx)
    SESSION,
    "00000008 40 00000c 0a2d0007", # Framed-IP-Address 10.45.0.7
    SUBSCRIPTION_ID_E164,
)

STR = hex_fixture(
    "01 00003c",                   # version 1, length 60
    "c0 000113",                   # R+P, Session-Termination (275)
    "01000014 0000000b 0000000b",  # Rx
    SESSION,
    "00000127 40 00000c 00000001", # Termination-Cause (295): DIAMETER_LOGOUT
)

ASR = hex_fixture(
    "01 000030",                   # version 1, length 48
    "c0 000112",                   # R+P, Abort-Session (274)
    "01000014 0000000c 0000000c",  # Rx
    SESSION,
)

ACR = hex_fixture(
    "01 00008c",                   # version 1, length 140
    "c0 00010f",                   # R+P, Accounting (271)
    "00000003 0000000d 0000000d",  # Application-Id 3 (base accounting)
    SESSION,
    "000001e0 40 00000c 00000002", # Accounting-Record-Type (480): START_RECORD
    f"00000001 40 00003e {ascii_hex(NAI)} 0000",  # User-Name: EAP-AKA NAI (62), 2 octets padding
    "00000008 40 00000e 0001 0a2d000a 0000",  # Framed-IP-Address in Address form: 10.45.0.10
)

UNKNOWN_COMMAND = hex_fixture(
    "01 000014",                   # version 1, length 20: header only
    "80 0000fe",                   # R, command 254 (unassigned)
    "00000000 0000000e 0000000e",
)

ALL_FIXTURES = {
    "ccr_initial_gx": CCR_INITIAL_GX, "cca_initial_gx": CCA_INITIAL_GX,
    "ccr_update_gy": CCR_UPDATE_GY, "ccr_termination_gy": CCR_TERMINATION_GY,
    "cer": CER, "cea": CEA, "dwr": DWR, "dwa": DWA, "rar": RAR, "raa": RAA,
    "ulr": ULR, "ula": ULA, "air": AIR, "aia": AIA, "nor": NOR,
    "aar": AAR, "str": STR, "asr": ASR, "acr": ACR, "unknown_command": UNKNOWN_COMMAND,
}

GX, GY, S6A, RX = 16777238, 4, 16777251, 16777236
EXPECTED: dict[str, dict[str, Any]] = {
    "ccr_initial_gx": dict(command="Credit-Control-Request", application_id=GX, imsi=IMSI, msisdn=MSISDN,
                           framed_ip="10.45.0.7", imei=IMEISV, session_id=SESSION_ID, cc_request_type="INITIAL"),
    "cca_initial_gx": dict(command="Credit-Control-Answer", application_id=GX, request=False,
                           session_id=SESSION_ID, cc_request_type="INITIAL"),
    "ccr_update_gy": dict(command="Credit-Control-Request", application_id=GY, imsi=IMSI, framed_ip="10.45.0.8",
                          session_id=SESSION_ID, cc_request_type="UPDATE"),
    "ccr_termination_gy": dict(command="Credit-Control-Request", application_id=GY, session_id=SESSION_ID,
                               cc_request_type="TERMINATION"),
    "cer": dict(command="Capabilities-Exchange-Request", application_id=0),
    "cea": dict(command="Capabilities-Exchange-Answer", application_id=0, request=False),
    "dwr": dict(command="Device-Watchdog-Request", application_id=0),
    "dwa": dict(command="Device-Watchdog-Answer", application_id=0, request=False),
    "rar": dict(command="Re-Auth-Request", application_id=GX, session_id=SESSION_ID),
    "raa": dict(command="Re-Auth-Answer", application_id=GX, request=False, session_id=SESSION_ID),
    "ulr": dict(command="Update-Location-Request", application_id=S6A, imsi=IMSI, imei="35693803564380",
                session_id=SESSION_ID),
    "ula": dict(command="Update-Location-Answer", application_id=S6A, request=False, msisdn=MSISDN,
                session_id=SESSION_ID),
    "air": dict(command="Authentication-Information-Request", application_id=S6A, imsi=IMSI, session_id=SESSION_ID),
    "aia": dict(command="Authentication-Information-Answer", application_id=S6A, request=False,
                session_id=SESSION_ID),
    "nor": dict(command="Notify-Request", application_id=S6A, imsi=IMSI, session_id=SESSION_ID),
    "aar": dict(command="AA-Request", application_id=RX, msisdn=MSISDN, framed_ip="10.45.0.7",
                session_id=SESSION_ID),
    "str": dict(command="Session-Termination-Request", application_id=RX, session_id=SESSION_ID),
    "asr": dict(command="Abort-Session-Request", application_id=RX, session_id=SESSION_ID),
    "acr": dict(command="Accounting-Request", application_id=3, imsi=IMSI, framed_ip="10.45.0.10",
                session_id=SESSION_ID),
    "unknown_command": dict(command="Command-254-Request", application_id=0),
}

_FIELDS = ("command", "application_id", "request", "imsi", "msisdn", "framed_ip", "imei", "session_id",
           "cc_request_type")
_DEFAULTS: dict[str, Any] = {f: None for f in _FIELDS} | {"request": True}


def decode(payload: bytes) -> tuple[list[DiameterMessage], Anomalies]:
    anomalies = Anomalies()
    events = DiameterSctpDecoder(anomalies).decode(payload, CTX)
    return [e for e in events if isinstance(e, DiameterMessage)], anomalies


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_fields(name: str) -> None:
    events, anomalies = decode(ALL_FIXTURES[name])
    assert len(events) == 1
    assert {f: getattr(events[0], f) for f in _FIELDS} == _DEFAULTS | EXPECTED[name]
    assert events[0].flow == FLOW
    assert anomalies.counts == {}


def test_fixture_lengths_are_consistent() -> None:
    for name, payload in ALL_FIXTURES.items():
        assert int.from_bytes(payload[1:4], "big") == len(payload), name
        assert len(payload) % 4 == 0, name


def test_user_name_is_not_an_imsi_outside_s6a() -> None:
    # The same digits as User-Name on Rx (an application where User-Name is not the IMSI)
    rx = bytearray(AIR)
    rx[8:12] = (RX).to_bytes(4, "big")
    events, _ = decode(bytes(rx))
    assert [(e.application_id, e.imsi) for e in events] == [(RX, None)]


def test_several_messages_in_one_chunk() -> None:
    events, anomalies = decode(DWR + DWA + CCR_INITIAL_GX)
    assert [e.command for e in events] == ["Device-Watchdog-Request", "Device-Watchdog-Answer",
                                           "Credit-Control-Request"]
    assert anomalies.counts == {}


def test_truncated_message_keeps_avps_read() -> None:
    cut = CCR_INITIAL_GX[: 20 + 28 + 12 + 12 + 12 + 44 + 10]  # ends inside the E.164 Subscription-Id
    events, anomalies = decode(cut)
    assert [(e.session_id, e.cc_request_type, e.imsi, e.msisdn) for e in events] == [
        (SESSION_ID, "INITIAL", IMSI, None)
    ]
    assert anomalies.counts == {"diameter_truncated": 1, "diameter_avp_truncated": 1}


def test_dtls_chunk_is_counted_and_skipped() -> None:
    # PPID 47 carries DTLS records (RFC 6083): content type 23, version DTLS 1.2
    events, anomalies = decode(hex_fixture("17 fefd 0001 000000000001 0010") + bytes(16))
    assert events == []
    assert anomalies.counts == {"diameter_dtls_skipped": 1}


def test_bad_avp_length_stops_the_walk() -> None:
    bad = hex_fixture("01 000020 80 000118 00000000 00000001 00000001", "00000108 40 000004 00000000")
    events, anomalies = decode(bad)
    assert [e.command for e in events] == ["Device-Watchdog-Request"]
    assert anomalies.counts == {"diameter_avp_malformed": 1}


def test_command_names() -> None:
    assert command_name(272, True) == "Credit-Control-Request"
    assert command_name(316, False) == "Update-Location-Answer"
    assert command_name(8388635, True) == "Spending-Limit-Request"
    assert command_name(999, False) == "Command-999-Answer"


def test_declared_for_sctp_not_udp() -> None:
    assert DiameterSctpDecoder.sctp_ppids == frozenset({46, 47})
    assert DiameterSctpDecoder.udp_ports == frozenset()
    assert DiameterTcpDecoder.tcp_ports == frozenset({3868})


# --------------------------------------------------------------------------- TCP framing


def _tcp_decoder() -> tuple[DiameterTcpDecoder, Anomalies]:
    anomalies = Anomalies()
    ctx = StreamContext(capture="fixture", flow=FlowTuple("tcp", "192.0.2.1", 40000, "192.0.2.2", 3868))
    return DiameterTcpDecoder(ctx, anomalies), anomalies


def _commands(events: Any) -> list[tuple[str, int]]:
    return [(e.command, e.frame) for e in events if isinstance(e, DiameterMessage)]


def test_tcp_several_per_segment_and_across_segments() -> None:
    stream = CER + DWR + CCR_INITIAL_GX + ULA
    decoder, anomalies = _tcp_decoder()
    cuts = [0, 3, len(CER) + len(DWR) + 30, len(CER) + len(DWR) + len(CCR_INITIAL_GX) + 1, len(stream)]
    events: list[Any] = []
    for frame, (start, end) in enumerate(itertools.pairwise(cuts), start=1):
        events += decoder.feed(stream[start:end], float(frame), frame)
    assert _commands(events) == [
        ("Capabilities-Exchange-Request", 2),
        ("Device-Watchdog-Request", 2),
        ("Credit-Control-Request", 3),
        ("Update-Location-Answer", 4),
    ]
    assert anomalies.counts == {}


def test_tcp_resynchronises_after_a_gap() -> None:
    decoder, anomalies = _tcp_decoder()
    assert _commands(decoder.feed(CCR_INITIAL_GX[:50], 1.0, 1)) == []
    decoder.gap(2.0, 2)
    # the rest of the lost message arrives first, then whole messages
    events = list(decoder.feed(CCR_INITIAL_GX[120:] + DWR, 3.0, 3))
    events += decoder.feed(ULR, 4.0, 4)
    assert _commands(events) == [("Device-Watchdog-Request", 3), ("Update-Location-Request", 4)]
    assert not decoder.done
    assert anomalies.counts == {"diameter_stream_gap": 1}


def test_tcp_capture_starting_mid_message() -> None:
    decoder, anomalies = _tcp_decoder()
    events = decoder.feed(ULR[37:] + AIR, 1.0, 1)
    assert _commands(events) == [("Authentication-Information-Request", 1)]
    assert anomalies.counts.get("diameter_stream_lost_sync") == 1


def test_tcp_sniff() -> None:
    assert DiameterTcpDecoder.sniff(CER[:20])
    assert not DiameterTcpDecoder.sniff(b"GET / HTTP/1.1\r\nHost: x\r\n")
    assert not DiameterTcpDecoder.sniff(UNKNOWN_COMMAND)  # plausible header, unknown command


def test_tcp_finish_reports_a_cut_message() -> None:
    decoder, anomalies = _tcp_decoder()
    decoder.feed(ULR[:80], 1.0, 1)  # cut after the User-Name
    events = [e for e in decoder.finish(2.0, 2) if isinstance(e, DiameterMessage)]
    assert [(e.command, e.imsi) for e in events] == [("Update-Location-Request", IMSI)]
    assert anomalies.counts["diameter_truncated"] == 1


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    decoder = DiameterSctpDecoder(Anomalies())
    for damaged in truncations(payload):
        decoder.decode(damaged, CTX)
    for damaged in bit_flips(payload):
        decoder.decode(damaged, CTX)
        tcp, _ = _tcp_decoder()
        tcp.feed(damaged, 1.0, 1)
        tcp.finish(2.0, 2)
    tcp, _ = _tcp_decoder()
    for i in range(len(payload)):
        tcp.feed(payload[i : i + 1], 1.0, 1)
    tcp.finish(2.0, 2)


def test_random_payloads_never_raise() -> None:
    decoder = DiameterSctpDecoder(Anomalies())

    def check(payload: bytes, junk: bytes, at: int) -> None:
        mutated = payload[:at] + junk + payload[at:]
        decoder.decode(mutated, CTX)
        tcp, _ = _tcp_decoder()
        tcp.feed(mutated, 1.0, 1)
        tcp.gap(1.5, 2)
        tcp.feed(junk + payload, 2.0, 3)
        tcp.finish(3.0, 4)

    fuzz_fixtures(ALL_FIXTURES, 230, check)


# --------------------------------------------------------------------------- public captures vs tshark

SCTP_CAPTURES = (
    "magma__inbound_roaming_01_210505_130828-1.pcapng",
    "magma__gx_gy_combined_03_210505_132953-1.pcapng",
    "magma__gx_gy_combined_04_210505_133027-1.pcapng",
)
TCP_CAPTURES = ("ndpi__diameter.pcap",)


def _sctp_messages(path: Path) -> Iterator[tuple[PacketContext, bytes]]:
    """Whole Diameter messages: SCTP DATA chunks with PPID 46 (the fixture's flow: only frames are compared)."""
    from scapy.layers.sctp import SCTPChunkData
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for frame, pkt in enumerate(reader, start=1):
            layer = pkt.getlayer(SCTPChunkData)
            while layer is not None:
                # B and E both set: the chunk holds a whole user message
                if isinstance(layer, SCTPChunkData) and layer.proto_id == 46 and layer.beginning and layer.ending:
                    yield PacketContext(float(pkt.time), path.name, frame, FLOW), bytes(layer.data)
                layer = layer.payload if layer.payload else None


def _imeisv_from_raw(raw: bytes) -> str:
    """The test's own reading of User-Equipment-Info-Value.  tshark 4.0 shows Magma's
    one-digit-per-octet form as "\\004" with a "trailing stray characters" warning."""
    if all(0x30 <= b <= 0x39 for b in raw):
        return raw.decode()
    assert all(b <= 9 for b in raw), "an IMEISV form this test does not know"
    return "".join(str(b) for b in raw)


_AGGREGATOR = "\x1f"  # joins the values of a field that a message holds several of


def _cells(cell: str) -> list[str]:
    return [v for v in cell.split(_AGGREGATOR) if v]


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("capture", SCTP_CAPTURES + TCP_CAPTURES)
def test_public_capture_matches_tshark(capture: str, real_captures: Path, tshark: str) -> None:
    path = real_captures / capture
    if not path.exists():
        pytest.skip(f"{capture} is not in this copy of the captures")
    anomalies = Anomalies()
    sctp = DiameterSctpDecoder(anomalies)
    events: list[DiameterMessage] = []
    for packet_ctx, message in _sctp_messages(path):
        events += [e for e in sctp.decode(message, packet_ctx) if isinstance(e, DiameterMessage)]
    # TCP: segments in capture order (the TCP captures here need no reordering), a decoder per direction
    streams: dict[FlowTuple, DiameterTcpDecoder] = {}
    for packet_ctx, _, data in tcp_segments(path, {DIAMETER_PORT}):
        direction = packet_ctx.flow
        if direction not in streams:
            streams[direction] = DiameterTcpDecoder(StreamContext(path.name, direction), anomalies)
        out = streams[direction].feed(data, packet_ctx.ts, packet_ctx.frame)
        events += [e for e in out if isinstance(e, DiameterMessage)]

    fields = ["frame.number", "diameter.cmd.code", "diameter.flags.request", "diameter.applicationId",
              "diameter.Session-Id", "diameter.CC-Request-Type", "e212.imsi", "e164.msisdn",
              "diameter.Framed-IP-Address.IPv4", "diameter.PDP-Address.IPv4",
              "diameter.User-Equipment-Info-Type", "diameter.User-Equipment-Info-Value", "diameter.IMEI",
              "diameter.Subscription-Id-Type", "diameter.Subscription-Id-Data", "diameter.MSISDN"]
    keys = ("command", "session_id", "cc_request_type", "imsi", "msisdn", "framed_ip", "imei")
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in keys}
    for row in tshark_fields(tshark, path, "diameter", fields, aggregator=_AGGREGATOR):
        frame = int(row[0])
        for code, request, app in zip(_cells(row[1]), _cells(row[2]), _cells(row[3]), strict=True):
            want["command"].add((frame, command_name(int(code), request in ("1", "True")), int(app)))
        want["session_id"] |= {(frame, v) for v in _cells(row[4])}
        want["cc_request_type"] |= {(frame, CC_REQUEST_TYPES[int(v)]) for v in _cells(row[5])}
        want["imsi"] |= {(frame, v) for v in _cells(row[6])}
        # tshark 4.0 decodes E.164 Subscription-Ids into e164.msisdn on some applications
        # only, so they are read from the Subscription-Id AVPs themselves
        for sub_type, sub_data in zip(_cells(row[13]), _cells(row[14]), strict=True):
            if sub_type == "0":
                want["msisdn"].add((frame, sub_data))
        if _cells(row[15]):  # the 3GPP MSISDN AVP, decoded by tshark into e164.msisdn
            want["msisdn"] |= {(frame, v) for v in _cells(row[7])}
        want["framed_ip"] |= {(frame, v) for v in _cells(row[8]) + _cells(row[9])}
        for ue_type, ue_value in zip(_cells(row[10]), _cells(row[11]), strict=True):
            if ue_type == "0":  # IMEISV
                want["imei"].add((frame, _imeisv_from_raw(bytes.fromhex(ue_value))))
        want["imei"] |= {(frame, v) for v in _cells(row[12])}
    got = values_by_frame(events, keys[1:])
    got["command"] = {(e.frame, e.command, e.application_id) for e in events}
    assert_same_as_tshark(got, want, capture)
    assert got["command"], "no Diameter message decoded"
    assert anomalies.counts == {}


# --------------------------------------------------------------------------- shared telecom helpers


def test_imeisv_forms() -> None:
    from scanner.decode.protocols.telecom import digits_or_tbcd

    assert digits_or_tbcd(IMEISV.encode()) == IMEISV  # UTF-8 digits, as specified
    assert digits_or_tbcd(hex_fixture("5396833065340819")) == IMEISV  # TBCD
    assert digits_or_tbcd(bytes(int(d) for d in IMEISV)) == IMEISV  # one digit value per octet (Magma)


def test_imsi_from_nai() -> None:
    from scanner.decode.protocols.telecom import imsi_from_nai

    assert imsi_from_nai(NAI) == IMSI  # EAP-AKA permanent identity, EPC realm
    assert imsi_from_nai("6" + IMSI + "@nai.epc.mnc001.mcc001.3gppnetwork.org") == IMSI  # EAP-AKA'
    assert imsi_from_nai("1" + IMSI + "@wlan.mnc001.mcc001.3gppnetwork.org") == IMSI  # EAP-SIM, WLAN realm
    assert imsi_from_nai(IMSI + "@ims.mnc001.mcc001.3gppnetwork.org") == IMSI  # IMS private identity
    assert imsi_from_nai("2abcdef@nai.epc.mnc001.mcc001.3gppnetwork.org") is None  # pseudonym
    assert imsi_from_nai("0" + IMSI + "@nai.epc.mnc001.mcc262.3gppnetwork.org") is None  # MCC mismatch
    assert imsi_from_nai("alice@example.org") is None
