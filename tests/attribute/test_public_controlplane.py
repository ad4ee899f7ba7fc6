"""The public captures' control plane, read by the native engine, against tshark's fields.

Issue 4: the GTP, RADIUS, DHCP and QUIC captures in ../shared yield the identities, addresses,
names and bindings tshark shows for them.  Values are compared as sets and never printed
(these are other people's captures).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.tshark import tshark_fields, tshark_values
from scanner.attribute.bindings import BindingLearner
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource
from scanner.model import DhcpMessage, Event, GtpcMessage, QuicInitial, RadiusMessage


def native_events(path: Path) -> list[Event]:
    return list(NativeEngine().events([CaptureSource(str(path))]))


# (capture, tshark filter, tshark field, which events, which event field)
CASES = [
    ("ndpi__gtp_c.pcap", "gtpv2", "e212.imsi", GtpcMessage, "imsi"),
    ("ndpi__gtp_c.pcap", "gtpv2", "gtpv2.pdn_addr_and_prefix.ipv4", GtpcMessage, "ue_ip"),
    ("zeek__tunnels_gtp_gtp_create_pdp_ctx.pcap", "gtp", "e212.imsi", GtpcMessage, "imsi"),
    ("zeek__tunnels_gtp_gtp_create_pdp_ctx.pcap", "gtp", "gtp.user_ipv4", GtpcMessage, "ue_ip"),
    ("magma__inbound_roaming_01_210505_130828-1.pcapng", "gtpv2", "e212.imsi", GtpcMessage, "imsi"),
    ("ppp__Packet++Test_gtpv2.pcap", "gtpv2", "e212.imsi", GtpcMessage, "imsi"),
    ("arkime__radius.pcap", "radius", "radius.Framed-IP-Address", RadiusMessage, "framed_ip"),
    ("zeek__radius_radius.pcap", "radius", "radius.Calling_Station_Id", RadiusMessage, "calling_station_id"),
    ("arkime__radius.pcap", "radius", "radius.Calling_Station_Id", RadiusMessage, "calling_station_id"),
    ("zeek__dhcp_dhcp.pcap", "dhcp", "dhcp.option.hostname", DhcpMessage, "hostname"),
    ("ndpi__android.pcap", "dhcp", "dhcp.option.hostname", DhcpMessage, "hostname"),
    ("ndpi__iphone.pcap", "dhcp", "dhcp.option.hostname", DhcpMessage, "hostname"),
    ("ndpi__quic_frags_ch_out_of_order_same_packet_craziness.pcapng", "quic", "tls.handshake.extensions_server_name", QuicInitial, "sni"),
    ("zeek__quic_chromium-115.0.5790.110-api-cirrus-com.pcap", "quic", "tls.handshake.extensions_server_name", QuicInitial, "sni"),
    ("ndpi__quic-mvfst-27.pcapng", "quic", "tls.handshake.extensions_server_name", QuicInitial, "sni"),
]
# What tshark shows that is not the subscriber's address: an allocation request's 0.0.0.0
# ("give me one") is not an address anybody holds.
NOT_ADDRESSES = {"0.0.0.0"}


@pytest.mark.parametrize("capture, display_filter, field, event_type, attribute", CASES, ids=lambda v: str(v)[:40])
def test_native_engine_matches_tshark(
    real_captures: Path, tshark: str, capture: str, display_filter: str, field: str, event_type: type, attribute: str
) -> None:
    path = real_captures / capture
    shown = {v for (values,) in tshark_values(tshark, path, display_filter, [field]) for v in values if v}
    expected = shown - NOT_ADDRESSES
    got = {getattr(e, attribute) for e in native_events(path) if isinstance(e, event_type) and getattr(e, attribute)}
    assert expected, f"tshark found no {field} in {capture}: the case tests nothing"
    missing, extra = len(expected - got), len(got - expected)
    assert got == expected, f"{capture} {field}: {missing} only in tshark, {extra} only in privscan"


@pytest.mark.parametrize(
    "capture, request_filter, response_filter, address_field, seq_field",
    [
        ("ndpi__gtp_c.pcap", "gtpv2.message_type == 32", "gtpv2.message_type == 33", "gtpv2.pdn_addr_and_prefix.ipv4", "gtpv2.seq"),
        ("zeek__tunnels_gtp_gtp_create_pdp_ctx.pcap", "gtp.message == 0x10", "gtp.message == 0x11", "gtp.user_ipv4", "gtp.seq_number"),
        ("magma__inbound_roaming_01_210505_130828-1.pcapng", "gtpv2.message_type == 32", "gtpv2.message_type == 33",
         "gtpv2.pdn_addr_and_prefix.ipv4", "gtpv2.seq"),
    ],
)
def test_bindings_pair_each_imsi_with_the_address_its_response_allocated(
    real_captures: Path, tshark: str, capture: str, request_filter: str, response_filter: str, address_field: str, seq_field: str
) -> None:
    """tshark's view: the IMSI of a create request and the address of the response with its sequence number."""
    path = real_captures / capture

    def by_seq(display_filter: str, field: str) -> dict[str, str]:
        rows = tshark_fields(tshark, path, display_filter, [seq_field, field], occurrence="f")
        return {seq: value for seq, value in rows if value}

    imsis, addresses = by_seq(request_filter, "e212.imsi"), by_seq(response_filter, address_field)
    expected = {(addresses[seq], imsis[seq]) for seq in imsis if seq in addresses and addresses[seq] not in NOT_ADDRESSES}
    learner = BindingLearner()
    for event in native_events(path):
        learner.learn(event)
    got = {(address, identity.imsi) for address, _, _, identity in learner.addresses.items()}
    assert expected, "tshark pairs nothing in this capture: the case tests nothing"
    assert got == expected, f"{capture}: {len(expected - got)} bindings only in tshark, {len(got - expected)} only in privscan"
