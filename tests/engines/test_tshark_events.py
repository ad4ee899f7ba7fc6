"""The tshark engine's EK readers, on hand-written EK records (no tshark needed).

tshark flattens a message's tree into lists (every ``dns.a`` of a message in one list, every
GTPv2 IE type in another) and repeats a key when a field occurs at two depths.  These tables
pin how the builders put the structure back together.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner.decode.protocols.base import Anomalies
from scanner.engines.tshark import merge_duplicate_keys
from scanner.engines.tshark.ek import first, hex_bytes, integer, layers_named, values
from scanner.engines.tshark.frame import EventBuilder
from scanner.engines.tshark.protocols.dns import dns_records
from scanner.engines.tshark.protocols.gtpv2 import gtpv2_ies
from scanner.engines.tshark.protocols.nbns import nbns_names
from scanner.model import DnsMessage, FlowTuple, GtpcMessage, Tunnel

# --------------------------------------------------------------------------- EK access


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"a": 1, "b": 2}', {"a": 1, "b": 2}),
        # dhcp.hw.mac_addr in the header and again in option 61: both kept, in order
        ('{"m": "x", "t": 1, "m": "y"}', {"m": ["x", "y"], "t": 1}),
        ('{"m": ["a", "b"], "m": "c"}', {"m": ["a", "b", "c"]}),
        ('{"l": {"k": 1}, "l": {"k": 2}}', {"l": [{"k": 1}, {"k": 2}]}),
    ],
)
def test_repeated_keys_become_lists(text: str, expected: dict[str, Any]) -> None:
    assert json.loads(text, object_pairs_hook=merge_duplicate_keys) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("12", 12), ("0x1f", 31), ("0X10", 16), (7, 7), (True, None), (None, None), ("n/a", None)],
)
def test_integer(value: Any, expected: int | None) -> None:
    assert integer(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("0a0b", b"\x0a\x0b"), ("0a:0b", b"\x0a\x0b"), (["0a0b", 3, 2, 0, 1], b"\x0a\x0b"), ("zz", None), (None, None)],
)
def test_hex_bytes(value: Any, expected: bytes | None) -> None:
    assert hex_bytes(value) == expected


def test_values_first_and_nested_layers() -> None:
    layers = {"quic": [{"quic_quic_version": "0x1", "tls": {"t": 1}}, {"quic_quic_version": "0x2"}], "x": {"y": 1}}
    assert values(layers["quic"][0], "quic_quic_version") == ["0x1"]
    assert first({"k": ["a", "b"]}, "k") == "a"
    assert len(layers_named(layers, "quic")) == 2
    assert layers_named(layers, "tls") == [{"t": 1}]  # nested inside the layer that carried it


# --------------------------------------------------------------------------- DNS records

# A response: answer section CNAME, A, TXT (two strings), AAAA; additional OPT (no TTL) and A.
DNS_RESPONSE = {
    "dns_dns_flags_response": True,
    "dns_dns_flags_rcode": "0",
    "dns_dns_count_queries": "1",
    "dns_dns_count_answers": "4",
    "dns_dns_count_auth_rr": "0",
    "dns_dns_count_add_rr": "2",
    "dns_dns_qry_name": "ex.com",
    "dns_dns_qry_type": "1",
    "dns_dns_resp_name": ["ex.com", "cdn.ex.net", "ex.com", "ex.com", "<Root>", "ns.ex.com"],
    "dns_dns_resp_type": ["5", "1", "16", "28", "41", "1"],
    "dns_dns_resp_ttl": ["10", "20", "5", "7", "30"],
    "dns_dns_resp_len": ["12", "4", "7", "16", "0", "4"],
    "dns_dns_cname": "cdn.ex.net",
    "dns_dns_a": ["1.2.3.4", "9.9.9.9"],
    "dns_dns_txt_length": ["3", "2"],
    "dns_dns_txt": ["a=1", "bb"],
    "dns_dns_aaaa": "2001:db8::1",
}


def test_dns_records_are_rebuilt_from_the_flattened_lists() -> None:
    records = [(r.name, r.rtype, r.ttl, r.value, r.section) for r in dns_records(DNS_RESPONSE)]
    assert records == [
        ("ex.com", 5, 10, "cdn.ex.net", 1),
        ("cdn.ex.net", 1, 20, "1.2.3.4", 1),
        ("ex.com", 16, 5, "a=1 bb", 1),
        ("ex.com", 28, 7, "2001:db8::1", 1),
        ("<Root>", 41, None, "", 3),  # OPT: no TTL in tshark's tree
        ("ns.ex.com", 1, 30, "9.9.9.9", 3),
    ]
    assert dns_records(DNS_RESPONSE, txt_strings=True)[2].strings == ("a=1", "bb")


def test_dns_records_stop_at_a_name_wireshark_could_not_read() -> None:
    damaged = {**DNS_RESPONSE, "dns_dns_resp_name": ["ex.com", "<Unknown extended label>", "ex.com"]}
    assert [r.rtype for r in dns_records(damaged)] == [5]


def _frame(protocols: str, number: int = 7, **layers: Any) -> dict[str, Any]:
    frame = {"frame_frame_number": str(number), "frame_frame_time_epoch": "1700000000.250000000",
             "frame_frame_protocols": protocols}
    return {"frame": frame, **layers}


# IPv4 10.0.0.53 -> 10.0.0.1 and UDP 53 -> 40000, as -x prints the header bytes.
IP_RAW = "450000400000000040110000" + "0a000035" + "0a000001"
UDP_RAW = "00359c400020" + "0000"


def test_dns_response_event_is_oriented_from_the_client() -> None:
    builder = EventBuilder(Anomalies(), {})
    layers = _frame("eth:ethertype:ip:udp:dns", ip_raw=IP_RAW, udp_raw=UDP_RAW, dns=DNS_RESPONSE)
    (event,) = builder.frame_events("c.pcap", layers)
    assert isinstance(event, DnsMessage)
    assert event.flow == FlowTuple("udp", "10.0.0.1", 40000, "10.0.0.53", 53)
    assert (event.frame, event.ts, event.response, event.rcode, event.qtype) == (7, 1700000000.25, True, 0, "A")
    assert event.answers == ("cdn.ex.net", "1.2.3.4", "a=1 bb", "2001:db8::1")
    assert event.addresses == (("1.2.3.4", "ex.com"), ("2001:db8::1", "ex.com"))
    assert event.ttl == 7


def test_a_packet_quoted_in_an_icmp_error_is_not_traffic() -> None:
    counters: dict[str, int] = {}
    builder = EventBuilder(Anomalies(), counters)
    layers = _frame("eth:ethertype:ip:icmp:ip:udp:dns", ip_raw=[IP_RAW, IP_RAW], udp_raw=UDP_RAW, dns=DNS_RESPONSE)
    assert builder.frame_events("c.pcap", layers) == []
    assert counters == {"tshark_frames_icmp_quoted": 1}


def test_tunnelled_flow_is_the_inner_one_with_the_gtpu_tunnel() -> None:
    builder = EventBuilder(Anomalies(), {})
    outer = "450000400000000040110000" + "c0000201" + "c0000202"
    gtp_udp = "0868086800200000"
    layers = _frame(
        "eth:ethertype:ip:udp:gtp:ip:udp:dns",
        ip_raw=[outer, IP_RAW],
        udp_raw=[gtp_udp, UDP_RAW],
        gtp={"gtp_gtp_message": "0xff", "gtp_gtp_teid": "0x0000abcd"},
        dns={**DNS_RESPONSE, "dns_dns_flags_response": False, "dns_dns_count_answers": "0", "dns_dns_resp_type": []},
    )
    (event,) = builder.frame_events("c.pcap", layers)
    assert event.flow == FlowTuple("udp", "10.0.0.53", 53, "10.0.0.1", 40000)
    assert event.tunnel == Tunnel("gtpu", "192.0.2.1", "192.0.2.2", 0xABCD)


# --------------------------------------------------------------------------- GTPv2 IEs


def test_gtpv2_grouped_ies_get_their_parent() -> None:
    # IMSI, Bearer Context(EBI, F-TEID, F-TEID), F-TEID (top level), APN
    layer = {
        "gtpv2_gtpv2_ie_type": ["1", "93", "73", "87", "87", "87", "71"],
        "gtpv2_gtpv2_ie_len": ["8", "23", "1", "9", "5", "9", "9"],
        "gtpv2_gtpv2_instance": ["0", "0", "0", "0", "2", "0", "0"],
    }
    assert gtpv2_ies(layer) == [
        (1, 0, 0, 8),
        (93, 0, 0, 23),
        (73, 0, 93, 1),
        (87, 0, 93, 9),
        (87, 2, 93, 5),
        (87, 0, 0, 9),
        (71, 0, 0, 9),
    ]
    assert gtpv2_ies({**layer, "gtpv2_gtpv2_instance": ["0"]}) is None  # lists that do not line up


def test_gtpv2_teids_by_where_their_ie_is() -> None:
    builder = EventBuilder(Anomalies(), {})
    gtpv2 = {
        "gtpv2_gtpv2_message_type": "32",
        "gtpv2_gtpv2_t": "1",
        "gtpv2_gtpv2_teid": "0x00000000",
        "gtpv2_gtpv2_seq": "0x000010",
        "gtpv2_gtpv2_ie_type": ["87", "93", "73", "87", "2"],
        "gtpv2_gtpv2_ie_len": ["9", "18", "1", "9", "2"],
        "gtpv2_gtpv2_instance": ["0", "0", "0", "0", "0"],
        "gtpv2_gtpv2_f_teid_gre_key": ["0x00000011", "0x00000022"],
        "gtpv2_gtpv2_cause": "16",
        "e212_e212_imsi": "001010123456789",
        "gtpv2_gtpv2_pdn_addr_and_prefix_ipv4": "0.0.0.0",
    }
    udp = "9c40084b00200000"  # 40000 -> 2123
    layers = _frame("eth:ethertype:ip:udp:gtp:gtpv2", ip_raw=IP_RAW, udp_raw=udp, gtpv2=gtpv2)
    (event,) = builder.frame_events("c.pcap", layers)
    assert isinstance(event, GtpcMessage)
    assert (event.message, event.response, event.teid, event.seq) == ("create_session_request", False, 0, 16)
    assert (event.sender_teid, event.user_teids, event.cause) == (0x11, (0x22,), 16)
    assert event.imsi == "001010123456789" and event.ue_ip is None  # 0.0.0.0 asks for an address


# --------------------------------------------------------------------------- NetBIOS names


def test_nbns_names_with_their_suffix_and_group_flag() -> None:
    layer = {
        "nbns_nbns_count_queries": "1",
        "nbns_nbns_name": ["DESKTOP-1<00>", "DESKTOP-1<00> (Workstation/Redirector)", "*<00>"],
        "nbns_nbns_type": ["32", "32", "33"],
        "nbns_nbns_data_length": ["6", "37"],
        "nbns_nbns_nb_flags_group": False,
        "nbns_nbns_number_of_names": "2",
        "nbns_nbns_netbios_name": ["WORKGROUP<00>", "DESKTOP-1<20>"],
        "nbns_nbns_name_flags_group": [True, False],
    }
    assert nbns_names(layer) == [
        ("DESKTOP-1", 0x00, None),
        ("DESKTOP-1", 0x00, False),
        ("WORKGROUP", 0x00, True),  # NBSTAT: the node's name table, not the queried "*"
        ("DESKTOP-1", 0x20, False),
    ]
