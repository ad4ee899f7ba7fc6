"""GTPv1-C / GTPv2-C decoder: byte fixtures per message type, robustness, and the public captures vs tshark.

Identifiers in the fixtures are made up (test PLMN 001/01 and 262/01 numbers);
values read from the public captures are compared, never printed.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from helpers.byte_fixtures import bit_flips, fuzz_fixtures, hex_fixture, truncations
from helpers.captures import tcp_segments, udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import assert_same_as_tshark, tshark_fields
from scanner.decode.protocols.base import Anomalies, PacketContext, StreamContext
from scanner.decode.protocols.gtpc import (
    GTPC_PORT,
    V1_MESSAGES,
    V2_MESSAGES,
    GtpcDecoder,
    GtpcTcpDecoder,
    decode_apn,
    decode_v2_uli,
)
from scanner.model import Event, FlowTuple, GtpcMessage

FLOW = FlowTuple("udp", "192.0.2.1", 2123, "192.0.2.2", 2123)
CTX = PacketContext(ts=1.0, capture="fixture", frame=1, flow=FLOW)


def decode(payload: bytes) -> tuple[list[GtpcMessage], Anomalies]:
    anomalies = Anomalies()
    events = GtpcDecoder(anomalies).decode(payload, CTX)
    return events_of_type(events, GtpcMessage), anomalies


# --------------------------------------------------------------------------- GTPv2-C fixtures

V2_CREATE_SESSION_REQUEST = hex_fixture(
    "48",                    # version 2, P=0, T=1
    "20",                    # Create Session Request (32)
    "0079",                  # length 121
    "00000000",              # TEID 0: no session yet
    "000001", "00",          # sequence 1, spare
    "01 0008 00",            # IMSI, length 8, instance 0
    "0001012143658 7f9",     #   TBCD 001010123456789
    "4c 0006 00",            # MSISDN, length 6
    "947110325476",          #   TBCD 491701234567
    "4b 0008 00",            # MEI, length 8
    "5396833065340 8f9",     #   TBCD 356938035643809 (IMEI)
    "56 000d 00",            # ULI, length 13
    "18",                    #   flags: TAI + ECGI
    "62f210 1234",           #   TAI: MCC 262 MNC 01, TAC 0x1234
    "62f210 01234567",       #   ECGI: MCC 262 MNC 01, ECI 0x1234567
    "52 0001 00 06",         # RAT Type: EUTRAN (6)
    "57 0009 00",            # F-TEID instance 0: Sender F-TEID for Control Plane
    "8a",                    #   V4, interface type 10 (S11 MME GTP-C)
    "11223344",              #   TEID
    "c0000201",              #   192.0.2.1
    "47 0009 00",            # APN, length 9
    "08 696e7465726e6574",   #   label "internet"
    "4f 0005 00",            # PAA, length 5
    "01 00000000",           #   IPv4, 0.0.0.0: "allocate one for me"
    "5d 0012 00",            # Bearer Context (grouped), length 18
    "49 0001 00 05",         #   EPS Bearer ID 5
    "57 0009 02",            #   F-TEID instance 2
    "84 55667788 c0000202",  #     V4, type 4 (S5/S8 SGW GTP-U), TEID, 192.0.2.2
)

V2_CREATE_SESSION_RESPONSE = hex_fixture(
    "48 21 0052",            # v2 T=1, Create Session Response (33), length 82
    "11223344",              # TEID: the MME's S11 TEID from the request
    "000001 00",             # sequence 1 (same as the request), spare
    "02 0002 00 10 00",      # Cause: Request accepted (16), flags 0
    "57 0009 00",            # F-TEID instance 0: Sender F-TEID for Control Plane
    "8b aabbccdd c0000264",  #   V4, type 11 (S11/S4 SGW GTP-C), TEID, 192.0.2.100
    "57 0009 01",            # F-TEID instance 1: PGW S5/S8 control plane
    "87 99887766 c0000265",  #   V4, type 7 (S5/S8 PGW GTP-C), TEID, 192.0.2.101
    "4f 0005 00",            # PAA, length 5
    "01 0a2d0007",           #   IPv4 10.45.0.7
    "7f 0001 00 00",         # APN Restriction 0
    "5d 0018 00",            # Bearer Context, length 24
    "49 0001 00 05",         #   EPS Bearer ID 5
    "02 0002 00 10 00",      #   Cause (the bearer's, not the message's)
    "57 0009 00",            #   F-TEID instance 0
    "81 0000abcd c0000264",  #     V4, type 1 (S1-U SGW GTP-U), TEID 0xabcd
)

V2_CREATE_SESSION_RESPONSE_S5_DUAL_STACK = hex_fixture(
    "48 21 004b",            # v2 T=1, Create Session Response, length 75
    "55667788", "000002 00", # TEID (the SGW's S5 TEID), sequence 2
    "02 0002 00 10 00",      # Cause: Request accepted
    "57 0009 01",            # F-TEID instance 1 only: the PGW answering on S5/S8
    "87 99887767 c0000265",  #   V4, type 7 (S5/S8 PGW GTP-C), TEID
    "4f 0016 00",            # PAA, length 22
    "03 40",                 #   IPv4v6, prefix length 64
    "20010db8000000010000000000000001",  # 2001:db8:0:1::1
    "0a2d0008",              #   10.45.0.8
    "5d 0012 00",            # Bearer Context, length 18
    "49 0001 00 05",         #   EPS Bearer ID 5
    "57 0009 02",            #   F-TEID instance 2
    "85 0000beef c0000265",  #     V4, type 5 (S5/S8 PGW GTP-U)
)

V2_MODIFY_BEARER_REQUEST = hex_fixture(
    "48 22 002f",            # v2 T=1, Modify Bearer Request (34), length 47
    "aabbccdd", "000002 00", # TEID (SGW's S11), sequence 2
    "56 0008 00",            # ULI, length 8
    "10 62f210 01234568",    #   ECGI only: 262/01, ECI 0x1234568
    "52 0001 00 06",         # RAT Type EUTRAN
    "5d 0012 00",            # Bearer Context, length 18
    "49 0001 00 05",         #   EPS Bearer ID 5
    "57 0009 00",            #   F-TEID instance 0
    "80 01020304 c6336401",  #     V4, type 0 (S1-U eNodeB GTP-U), 198.51.100.1
)

V2_MODIFY_BEARER_RESPONSE = hex_fixture(
    "48 23 0034",            # v2 T=1, Modify Bearer Response (35), length 52
    "11223344", "000002 00", # TEID (MME's S11), sequence 2
    "02 0002 00 10 00",      # Cause: Request accepted
    "4c 0006 00 947110325476",  # MSISDN 491701234567
    "5d 0018 00",            # Bearer Context, length 24
    "49 0001 00 05",         #   EPS Bearer ID 5
    "02 0002 00 10 00",      #   Cause
    "57 0009 00",            #   F-TEID instance 0
    "81 0000abcd c0000264",  #     V4, S1-U SGW GTP-U
)

V2_DELETE_SESSION_REQUEST = hex_fixture(
    "48 24 0017",            # v2 T=1, Delete Session Request (36), length 23
    "aabbccdd", "000003 00", # TEID, sequence 3
    "49 0001 00 05",         # Linked EPS Bearer ID 5
    "56 0006 00",            # ULI, length 6
    "08 62f210 1234",        #   TAI only: 262/01 TAC 0x1234
)

V2_DELETE_SESSION_RESPONSE = hex_fixture(
    "48 25 000e",            # v2 T=1, Delete Session Response (37), length 14
    "11223344", "000003 00", # TEID, sequence 3
    "02 0002 00 10 00",      # Cause: Request accepted
)

V2_ECHO_REQUEST = hex_fixture(
    "40 01 0009",            # v2 T=0 (no TEID), Echo Request (1), length 9
    "000004 00",             # sequence 4, spare
    "03 0001 00 07",         # Recovery 7
)

V2_PIGGYBACKED = hex_fixture(
    "58 21 000e",            # v2 P=1 T=1, Create Session Response, length 14
    "11223344", "000005 00", # TEID, sequence 5
    "02 0002 00 10 00",      # Cause: Request accepted
    "48 5f 0023",            # piggybacked: v2 T=1, Create Bearer Request (95), length 35
    "11223344", "000006 00", # TEID, sequence 6
    "49 0001 00 05",         # Linked EPS Bearer ID 5
    "5d 0012 00",            # Bearer Context, length 18
    "49 0001 00 00",         #   EPS Bearer ID 0 (to be assigned)
    "57 0009 00",            #   F-TEID instance 0
    "81 0000abce c0000264",  #     V4, S1-U SGW GTP-U
)

V2_UNKNOWN_TYPE = hex_fixture(
    "48 fa 0008",            # v2 T=1, message type 250 ("for future use"), length 8
    "00000000", "000007 00", # TEID, sequence 7
)

# --------------------------------------------------------------------------- GTPv1-C fixtures

V1_CREATE_PDP_CONTEXT_REQUEST = hex_fixture(
    "32",                    # version 1, PT=1, S=1
    "10",                    # Create PDP Context Request (16)
    "006e",                  # length 110 (after the mandatory 8 octets)
    "00000000",              # TEID 0: no context yet
    "04d2 00 00",            # sequence 1234, N-PDU 0, no extension header
    "02 0001012143658 7f9",  # IMSI (TV 8): 001010123456789
    "03 62f210 fffe ff",     # RAI (TV 6): 262/01 LAC 0xfffe RAC 0xff
    "0e 01",                 # Recovery
    "0f 01",                 # Selection mode
    "10 11111111",           # TEID Data I: the SGSN's user-plane TEID
    "11 22222222",           # TEID Control Plane: the SGSN's control TEID
    "14 05",                 # NSAPI 5
    "80 0002 f1 21",         # End User Address: IETF IPv4, no address (dynamic)
    "83 0009 08 696e7465726e6574",  # APN "internet"
    "85 0004 c0000201",      # GSN Address (signalling)
    "85 0004 c0000201",      # GSN Address (user traffic)
    "86 0007 91 947110325476",  # MSISDN: international/E.164, 491701234567
    "87 0004 021b921f",      # QoS Profile
    "97 0001 02",            # RAT Type GERAN (2)
    "98 0008 00 62f210 1234 5678",  # ULI: CGI 262/01 LAC 0x1234 CI 0x5678
    "9a 0008 5396833065340819",  # IMEI(SV): 3569380356438091
)

V1_CREATE_PDP_CONTEXT_RESPONSE = hex_fixture(
    "32 11 0027",            # v1 PT=1 S=1, Create PDP Context Response (17), length 39
    "22222222",              # TEID: the SGSN's control TEID from the request
    "04d2 00 00",            # sequence 1234
    "01 80",                 # Cause: Request accepted (128)
    "0e 01",                 # Recovery
    "10 33333333",           # TEID Data I: the GGSN's user-plane TEID
    "11 44444444",           # TEID Control Plane: the GGSN's control TEID
    "7f 00000001",           # Charging ID
    "80 0006 f1 21 0a2d0009",  # End User Address: IETF IPv4 10.45.0.9
    "85 0004 c0000202",      # GSN Address
)

V1_UPDATE_PDP_CONTEXT_REQUEST = hex_fixture(
    "32 12 003d",            # v1, Update PDP Context Request (18), length 61
    "44444444", "04d3 00 00",  # TEID (GGSN's), sequence 1235
    "03 62f210 fffe ff",     # RAI
    "0e 01",                 # Recovery
    "10 11111112",           # TEID Data I (new SGSN)
    "11 22222223",           # TEID Control Plane (new SGSN)
    "14 05",                 # NSAPI
    "85 0004 c0000203",      # GSN Address
    "85 0004 c0000203",      # GSN Address
    "87 0004 021b921f",      # QoS Profile
    "97 0001 01",            # RAT Type UTRAN (1)
    "98 0008 01 62f210 1234 0042",  # ULI: SAI 262/01 LAC 0x1234 SAC 0x0042
)

V1_UPDATE_PDP_CONTEXT_RESPONSE = hex_fixture(
    "32 13 0010",            # v1, Update PDP Context Response (19), length 16
    "22222223", "04d3 00 00",  # TEID, sequence 1235
    "01 80",                 # Cause: Request accepted
    "10 33333334",           # TEID Data I
    "11 44444445",           # TEID Control Plane
)

V1_DELETE_PDP_CONTEXT_REQUEST = hex_fixture(
    "32 14 0008",            # v1, Delete PDP Context Request (20), length 8
    "44444444", "04d4 00 00",  # TEID, sequence 1236
    "13 ff",                 # Teardown Ind
    "14 05",                 # NSAPI 5
)

V1_DELETE_PDP_CONTEXT_RESPONSE = hex_fixture(
    "32 15 0006",            # v1, Delete PDP Context Response (21), length 6
    "22222222", "04d4 00 00",  # TEID, sequence 1236
    "01 80",                 # Cause: Request accepted
)

V1_WITH_EXTENSION_HEADER = hex_fixture(
    "36",                    # v1 PT=1 E=1 S=1
    "10 0016",               # Create PDP Context Request, length 22
    "00000000",              # TEID
    "04d5 00 40",            # sequence 1237, N-PDU 0, next extension header: UDP Port (0x40)
    "01 0868 00",            #   extension: 1 x 4 octets, port 2152, next type 0 (none)
    "02 0001012143658 7f9",  # IMSI 001010123456789
    "11 22222224",           # TEID Control Plane
)

GTP_PRIME = hex_fixture(
    "2e",                    # version 1, PT=0 (GTP'), spare 111, 6-octet header
    "f0 0003",               # Data Record Transfer Request, length 3
    "0001",                  # sequence
    "7e 01",                 # Packet Transfer Command: send data record packet
    "00",
)

ALL_FIXTURES = {
    "v2_create_session_request": V2_CREATE_SESSION_REQUEST,
    "v2_create_session_response": V2_CREATE_SESSION_RESPONSE,
    "v2_create_session_response_s5_dual_stack": V2_CREATE_SESSION_RESPONSE_S5_DUAL_STACK,
    "v2_modify_bearer_request": V2_MODIFY_BEARER_REQUEST,
    "v2_modify_bearer_response": V2_MODIFY_BEARER_RESPONSE,
    "v2_delete_session_request": V2_DELETE_SESSION_REQUEST,
    "v2_delete_session_response": V2_DELETE_SESSION_RESPONSE,
    "v2_echo_request": V2_ECHO_REQUEST,
    "v2_piggybacked": V2_PIGGYBACKED,
    "v2_unknown_type": V2_UNKNOWN_TYPE,
    "v1_create_pdp_context_request": V1_CREATE_PDP_CONTEXT_REQUEST,
    "v1_create_pdp_context_response": V1_CREATE_PDP_CONTEXT_RESPONSE,
    "v1_update_pdp_context_request": V1_UPDATE_PDP_CONTEXT_REQUEST,
    "v1_update_pdp_context_response": V1_UPDATE_PDP_CONTEXT_RESPONSE,
    "v1_delete_pdp_context_request": V1_DELETE_PDP_CONTEXT_REQUEST,
    "v1_delete_pdp_context_response": V1_DELETE_PDP_CONTEXT_RESPONSE,
    "v1_with_extension_header": V1_WITH_EXTENSION_HEADER,
    "gtp_prime": GTP_PRIME,
}

IMSI = "001010123456789"
MSISDN = "491701234567"

# fixture -> the fields expected on each event it yields (fields not named must be at their default)
EXPECTED: list[tuple[bytes, list[dict[str, Any]]]] = [
    (V2_CREATE_SESSION_REQUEST, [dict(
        message="create_session_request", version=2, imsi=IMSI, msisdn=MSISDN, mei="356938035643809",
        apn="internet", rat="EUTRAN", uli="tai:26201-0x1234;ecgi:26201-0x1234567",
        teid=0, seq=1, sender_teid=0x11223344, user_teids=(0x55667788,),
    )]),
    (V2_CREATE_SESSION_RESPONSE, [dict(
        message="create_session_response", version=2, response=True, ue_ip="10.45.0.7",
        teid=0x11223344, seq=1, cause=16, sender_teid=0xAABBCCDD, user_teids=(0xABCD,),
    )]),
    (V2_CREATE_SESSION_RESPONSE_S5_DUAL_STACK, [dict(
        message="create_session_response", version=2, response=True, ue_ip="10.45.0.8",
        ue_ipv6="2001:db8:0:1::1", teid=0x55667788, seq=2, cause=16, sender_teid=0x99887767,
        user_teids=(0xBEEF,),
    )]),
    (V2_MODIFY_BEARER_REQUEST, [dict(
        message="modify_bearer_request", version=2, rat="EUTRAN", uli="ecgi:26201-0x1234568",
        teid=0xAABBCCDD, seq=2, user_teids=(0x01020304,),
    )]),
    (V2_MODIFY_BEARER_RESPONSE, [dict(
        message="modify_bearer_response", version=2, response=True, msisdn=MSISDN,
        teid=0x11223344, seq=2, cause=16, user_teids=(0xABCD,),
    )]),
    (V2_DELETE_SESSION_REQUEST, [dict(
        message="delete_session_request", version=2, uli="tai:26201-0x1234", teid=0xAABBCCDD, seq=3,
    )]),
    (V2_DELETE_SESSION_RESPONSE, [dict(
        message="delete_session_response", version=2, response=True, teid=0x11223344, seq=3, cause=16,
    )]),
    (V2_ECHO_REQUEST, [dict(message="echo_request", version=2, seq=4)]),
    (V2_PIGGYBACKED, [
        dict(message="create_session_response", version=2, response=True, teid=0x11223344, seq=5, cause=16),
        dict(message="create_bearer_request", version=2, teid=0x11223344, seq=6, user_teids=(0xABCE,)),
    ]),
    (V2_UNKNOWN_TYPE, [dict(message="message_250", version=2, teid=0, seq=7)]),
    (V1_CREATE_PDP_CONTEXT_REQUEST, [dict(
        message="create_pdp_context_request", version=1, imsi=IMSI, msisdn=MSISDN, mei="3569380356438091",
        apn="internet", rat="GERAN", uli="cgi:26201-0x1234-0x5678", teid=0, seq=1234,
        sender_teid=0x22222222, user_teids=(0x11111111,),
    )]),
    (V1_CREATE_PDP_CONTEXT_RESPONSE, [dict(
        message="create_pdp_context_response", version=1, response=True, ue_ip="10.45.0.9", teid=0x22222222,
        seq=1234, cause=128, sender_teid=0x44444444, user_teids=(0x33333333,),
    )]),
    (V1_UPDATE_PDP_CONTEXT_REQUEST, [dict(
        message="update_pdp_context_request", version=1, rat="UTRAN", uli="sai:26201-0x1234-0x0042",
        teid=0x44444444, seq=1235, sender_teid=0x22222223, user_teids=(0x11111112,),
    )]),
    (V1_UPDATE_PDP_CONTEXT_RESPONSE, [dict(
        message="update_pdp_context_response", version=1, response=True, teid=0x22222223, seq=1235,
        cause=128, sender_teid=0x44444445, user_teids=(0x33333334,),
    )]),
    (V1_DELETE_PDP_CONTEXT_REQUEST, [dict(
        message="delete_pdp_context_request", version=1, teid=0x44444444, seq=1236,
    )]),
    (V1_DELETE_PDP_CONTEXT_RESPONSE, [dict(
        message="delete_pdp_context_response", version=1, response=True, teid=0x22222222, seq=1236, cause=128,
    )]),
    (V1_WITH_EXTENSION_HEADER, [dict(
        message="create_pdp_context_request", version=1, imsi=IMSI, teid=0, seq=1237, sender_teid=0x22222224,
    )]),
    (GTP_PRIME, []),
]

_DEFAULTS = {
    f: getattr(GtpcMessage(ts=0, capture="", frame=0, flow=FLOW, message=""), f)
    for f in ("imsi", "msisdn", "mei", "ue_ip", "ue_ipv6", "apn", "rat", "uli", "teid", "seq", "cause",
              "sender_teid", "response", "user_teids")
}


_NAMES = {id(payload): name for name, payload in ALL_FIXTURES.items()}


@pytest.mark.parametrize(("payload", "expected"), EXPECTED, ids=[_NAMES[id(p)] for p, _ in EXPECTED])
def test_fixture_fields(payload: bytes, expected: list[dict[str, Any]]) -> None:
    events, anomalies = decode(payload)
    assert len(events) == len(expected)
    for event, want in zip(events, expected, strict=True):
        full = {**_DEFAULTS, **want}
        got = {name: getattr(event, name) for name in full}
        assert got == full
        assert event.flow == FLOW  # the packet's own direction
    if expected:
        assert anomalies.counts == {}


def test_fixture_lengths_are_consistent() -> None:
    """Each fixture's header length matches its bytes, so the fixtures test parsing, not truncation."""
    for name, payload in ALL_FIXTURES.items():
        if name in ("gtp_prime", "v2_piggybacked"):
            continue
        if payload[0] >> 5 == 2:
            assert int.from_bytes(payload[2:4], "big") + 4 == len(payload), name
        else:
            assert int.from_bytes(payload[2:4], "big") + 8 == len(payload), name


def test_gtp_prime_is_counted_not_decoded() -> None:
    events, anomalies = decode(GTP_PRIME)
    assert events == []
    assert anomalies.counts == {"gtpc_gtp_prime_skipped": 1}


def test_truncated_message_keeps_what_was_read() -> None:
    # Cut inside the MEI IE: IMSI and MSISDN were read, the rest is lost.
    cut = V2_CREATE_SESSION_REQUEST[:12 + 12 + 10 + 6]
    events, anomalies = decode(cut)
    assert [(e.message, e.imsi, e.msisdn, e.mei) for e in events] == [
        ("create_session_request", IMSI, MSISDN, None)
    ]
    assert anomalies.counts == {"gtpc_truncated": 1, "gtpc_ie_truncated": 1}


def test_piggyback_flag_without_a_message() -> None:
    lone = bytes([V2_DELETE_SESSION_RESPONSE[0] | 0x10]) + V2_DELETE_SESSION_RESPONSE[1:]
    events, anomalies = decode(lone)
    assert [e.message for e in events] == ["delete_session_response"]
    assert anomalies.counts == {"gtpc_piggyback_missing": 1}


def test_user_data_on_control_port_is_skipped() -> None:
    gpdu = hex_fixture("30 ff 0004 00000001", "45000000")  # v1 G-PDU with 4 bytes of "IP"
    events, anomalies = decode(gpdu)
    assert events == []
    assert anomalies.counts == {"gtpc_user_data_on_control_port": 1}


def test_apn_and_uli_helpers() -> None:
    assert decode_apn(hex_fixture("03 696d73 06 6d6e63303031")) == "ims.mnc001"
    assert decode_apn(b"internet") == "internet"  # plain text, as some nodes send it
    assert decode_apn(b"\x05ab") is None
    assert decode_v2_uli(hex_fixture("01 62f210 1234 5678")) == "cgi:26201-0x1234-0x5678"
    assert decode_v2_uli(hex_fixture("20 00f110 0001")) == "lai:00101-0x0001"
    assert decode_v2_uli(hex_fixture("40 62f210 0abcde")) == "enb:26201-0xabcde"
    assert decode_v2_uli(hex_fixture("08 62f2")) is None  # cut short


# --------------------------------------------------------------------------- TCP framing


def _tcp_decoder() -> tuple[GtpcTcpDecoder, Anomalies]:
    anomalies = Anomalies()
    ctx = StreamContext(capture="fixture", flow=FlowTuple("tcp", "192.0.2.1", 40000, "192.0.2.2", 2123))
    return GtpcTcpDecoder(ctx, anomalies), anomalies


def test_tcp_several_messages_and_split_segments() -> None:
    stream = V2_CREATE_SESSION_REQUEST + V2_DELETE_SESSION_RESPONSE + V2_ECHO_REQUEST
    decoder, anomalies = _tcp_decoder()
    events: list[Event] = []
    cuts = (0, 5, 60, len(V2_CREATE_SESSION_REQUEST) + 3, len(stream))
    for frame, (start, end) in enumerate(itertools.pairwise(cuts), start=1):
        events += decoder.feed(stream[start:end], ts=float(frame), frame=frame)
    assert [(e.message, e.frame) for e in events if isinstance(e, GtpcMessage)] == [
        ("create_session_request", 3),
        ("delete_session_response", 4),
        ("echo_request", 4),
    ]
    assert decoder.finish(9.0, 9) == ()
    assert anomalies.counts == {}


def test_tcp_not_gtpv2_gives_up() -> None:
    decoder, anomalies = _tcp_decoder()
    assert decoder.feed(b"GET / HTTP/1.1\r\n", 1.0, 1) == []
    assert decoder.done
    assert anomalies.counts == {"gtpc_tcp_not_gtpv2": 1}


def test_tcp_message_cut_by_end_of_stream() -> None:
    decoder, anomalies = _tcp_decoder()
    assert decoder.feed(V2_CREATE_SESSION_REQUEST[:40], 1.0, 1) == []
    events = [e for e in decoder.finish(2.0, 2) if isinstance(e, GtpcMessage)]
    assert [(e.message, e.imsi) for e in events] == [("create_session_request", IMSI)]
    assert anomalies.counts["gtpc_truncated"] == 1


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize("name", sorted(ALL_FIXTURES))
def test_truncation_and_bit_flips_never_raise(name: str) -> None:
    payload = ALL_FIXTURES[name]
    anomalies = Anomalies()
    decoder = GtpcDecoder(anomalies)
    for damaged in (*truncations(payload), *bit_flips(payload)):
        decoder.decode(damaged, CTX)
    # and the same through the TCP framing, one byte at a time
    tcp, _ = _tcp_decoder()
    for i in range(len(payload)):
        tcp.feed(payload[i : i + 1], 1.0, 1)
    tcp.finish(2.0, 2)


def test_random_payloads_never_raise() -> None:
    decoder = GtpcDecoder(Anomalies())

    def check(payload: bytes, junk: bytes, at: int) -> None:
        decoder.decode(payload[:at] + junk + payload[at:], CTX)
        decoder.decode(junk, CTX)

    fuzz_fixtures(ALL_FIXTURES, 200, check)


# --------------------------------------------------------------------------- public captures vs tshark

GTPC_CAPTURES = (
    "ndpi__gtp_c.pcap",
    "zeek__tunnels_gtp_gtp_create_pdp_ctx.pcap",
    "ppp__Packet++Test_gtpv2.pcap",
    "magma__inbound_roaming_01_210505_130828-1.pcapng",
)


def _split(cell: str) -> list[str]:
    return [v for v in cell.split(",") if v]


def _decode_capture(path: Path) -> tuple[list[GtpcMessage], Anomalies]:
    anomalies = Anomalies()
    udp = GtpcDecoder(anomalies)
    events: list[GtpcMessage] = []
    for packet_ctx, payload in udp_datagrams(path, {GTPC_PORT}):
        events += [e for e in udp.decode(payload, packet_ctx) if isinstance(e, GtpcMessage)]
    # TCP (a single segment in these captures): a decoder per segment, finished at once
    for packet_ctx, _, data in tcp_segments(path, {GTPC_PORT}):
        tcp = GtpcTcpDecoder(StreamContext(path.name, packet_ctx.flow), anomalies)
        out = [*tcp.feed(data, packet_ctx.ts, packet_ctx.frame), *tcp.finish(packet_ctx.ts, packet_ctx.frame)]
        events += [e for e in out if isinstance(e, GtpcMessage)]
    return events, anomalies


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("capture", GTPC_CAPTURES)
def test_public_capture_matches_tshark(capture: str, real_captures: Path, tshark: str) -> None:
    path = real_captures / capture
    if not path.exists():
        pytest.skip(f"{capture} is not in this copy of the captures")
    events, _ = _decode_capture(path)

    fields = [
        "frame.number", "gtpv2.message_type", "gtp.message", "e212.imsi", "e164.msisdn", "gtpv2.mei",
        "gtp.ext_imeisv", "gtpv2.apn", "gtp.apn", "gtpv2.pdn_addr_and_prefix.ipv4", "gtp.user_ipv4",
        "gtpv2.pdn_addr_and_prefix.ipv6", "gtp.user_ipv6", "gtpv2.tai_tac", "gtpv2.ecgi_eci",
        "gtpv2.seq", "gtp.seq_number",
    ]
    rows = tshark_fields(tshark, path, "gtpv2 || (gtp && udp.port == 2123)", fields)
    want: dict[str, set[tuple[Any, ...]]] = {k: set() for k in (
        "messages", "imsi", "msisdn", "mei", "apn", "ue_ip", "ue_ipv6", "tac", "eci", "seq")}
    for row in rows:
        frame = int(row[0])
        for t in _split(row[1]):
            want["messages"].add((frame, 2, int(t)))
        for t in _split(row[2]):
            want["messages"].add((frame, 1, int(t, 16)))
        want["imsi"] |= {(frame, v) for v in _split(row[3])}
        want["msisdn"] |= {(frame, v) for v in _split(row[4])}
        want["mei"] |= {(frame, v) for v in _split(row[5]) + _split(row[6])}
        want["apn"] |= {(frame, v) for v in _split(row[7]) + _split(row[8])}
        # 0.0.0.0 / :: in a request asks for an address; the decoder does not report it
        want["ue_ip"] |= {(frame, v) for v in _split(row[9]) + _split(row[10]) if v != "0.0.0.0"}
        want["ue_ipv6"] |= {(frame, v) for v in _split(row[11]) + _split(row[12]) if v != "::"}
        want["tac"] |= {(frame, int(v, 16)) for v in _split(row[13])}
        # tshark 4.0 shows the ECI field's spare top bits too; the ECI is 28 bits (TS 29.274 s8.21.5)
        want["eci"] |= {(frame, int(v) & 0x0FFFFFFF) for v in _split(row[14])}
        want["seq"] |= {(frame, int(v, 16)) for v in _split(row[15])}
        want["seq"] |= {(frame, int(v, 16)) for v in _split(row[16])}

    got: dict[str, set[tuple[Any, ...]]] = {k: set() for k in want}
    names = {2: {v: k for k, v in V2_MESSAGES.items()}, 1: {v: k for k, v in V1_MESSAGES.items()}}
    for e in events:
        table = names[e.version]
        msg_type = table.get(e.message, int(e.message.rsplit("_", 1)[-1]) if e.message.startswith("message_") else -1)
        got["messages"].add((e.frame, e.version, msg_type))
        for key in ("imsi", "msisdn", "mei", "apn", "ue_ip", "ue_ipv6"):
            value = getattr(e, key)
            if value is not None:
                got[key].add((e.frame, value))
        if e.seq is not None:
            got["seq"].add((e.frame, e.seq))
        for part in (e.uli or "").split(";"):
            kind, _, rest = part.partition(":")
            if kind == "tai":
                got["tac"].add((e.frame, int(rest.split("-")[1], 16)))
            elif kind == "ecgi":
                got["eci"].add((e.frame, int(rest.split("-")[1], 16)))

    assert_same_as_tshark(got, want, capture)
    assert got["messages"], "no GTP-C message decoded"


@pytest.mark.shared
def test_gtp_prime_capture_does_not_crash(real_captures: Path) -> None:
    path = real_captures / "ndpi__gtp_prime.pcapng"
    if not path.exists():
        pytest.skip("ndpi__gtp_prime.pcapng is not in this copy of the captures")
    anomalies = Anomalies()
    decoder = GtpcDecoder(anomalies)
    for packet_ctx, payload in udp_datagrams(path, {3386}):  # GTP' (TS 32.295): UDP 3386
        assert decoder.decode(payload, packet_ctx) == []
    assert anomalies.counts == {"gtpc_gtp_prime_skipped": 1}
