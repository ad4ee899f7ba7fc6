"""Every link type privscan reads reaches the same DNS question.

One IPv4 and one IPv6 packet (a DNS query for example.org) are put behind each
link-layer header as capture tools write it; the decoder must find the IP
header and give the same event every time.  Link-type numbers are the
tcpdump.org LINKTYPE_ values.
"""

from __future__ import annotations

import pytest

from scanner.decode import linklayer
from scanner.model import DnsMessage, FlowTuple

# fmt: off
DNS_QUESTION = bytes.fromhex(
    "1234" "0100" "0001" "0000" "0000" "0000"  # id, flags RD, 1 question, no records
    "076578616d706c65" "036f7267" "00"  # example . org . root
    "0001" "0001"  # A, IN
)
UDP_DNS = bytes.fromhex("9c40" "0035" "0025" "0000") + DNS_QUESTION  # 40000 -> 53, length 37, no checksum

IPV4 = bytes.fromhex(
    "45" "00" "0039"  # version 4, IHL 5; DSCP; total length 57
    "0001" "0000"  # identification; flags/fragment offset 0
    "40" "11" "0000"  # TTL 64; UDP; checksum (not checked)
    "0a000001" "0a000002"  # 10.0.0.1 -> 10.0.0.2
) + UDP_DNS

IPV6 = bytes.fromhex(
    "60000000"  # version 6, traffic class, flow label
    "0025" "11" "40"  # payload length 37, next header UDP, hop limit 64
    "20010db8000000000000000000000001"  # 2001:db8::1
    "20010db8000000000000000000000002"  # 2001:db8::2
) + UDP_DNS

ETH = bytes.fromhex("020000000002" "020000000001")  # destination, source MACs
PPPOE_SESSION = bytes.fromhex("11" "00" "0001" "003b")  # version/type 1/1, code session data, id 1, length 59
SLL_HEADER = bytes.fromhex(
    "0000" "0001" "0006" "020000000001" "0000"  # to us; ARPHRD_ETHER; 6-byte address, padded to 8
)
# fmt: on

FLOW4 = FlowTuple("udp", "10.0.0.1", 40000, "10.0.0.2", 53)
FLOW6 = FlowTuple("udp", "2001:db8::1", 40000, "2001:db8::2", 53)


def sll2(protocol: str) -> bytes:
    # fmt: off
    return bytes.fromhex(
        protocol + "0000"  # protocol type, reserved
        "00000002"  # interface index 2
        "0001" "04" "06"  # ARPHRD_ETHER, packet type "outgoing", address length 6
        "0200000000010000"  # address, padded to 8
    )
    # fmt: on


# (link type, frame) -> the DNS question over IPv4 or IPv6
LINK_FRAMES = [
    pytest.param(1, ETH + bytes.fromhex("0800") + IPV4, FLOW4, id="ethernet"),
    pytest.param(1, ETH + bytes.fromhex("86dd") + IPV6, FLOW6, id="ethernet-ipv6"),
    pytest.param(1, ETH + bytes.fromhex("8100" "0064" "0800") + IPV4, FLOW4, id="802.1q-vlan-100"),
    pytest.param(1, ETH + bytes.fromhex("8100" "a000" "86dd") + IPV6, FLOW6, id="802.1q-priority-tag-ipv6"),
    pytest.param(1, ETH + bytes.fromhex("88a8" "00c8" "8100" "0064" "0800") + IPV4, FLOW4, id="qinq-88a8"),
    pytest.param(1, ETH + bytes.fromhex("9100" "00c8" "8100" "0064" "0800") + IPV4, FLOW4, id="qinq-9100"),
    pytest.param(1, ETH + bytes.fromhex("8864") + PPPOE_SESSION + bytes.fromhex("0021") + IPV4, FLOW4, id="pppoe"),
    pytest.param(1, ETH + bytes.fromhex("8864") + PPPOE_SESSION + bytes.fromhex("0057") + IPV6, FLOW6, id="pppoe-ipv6"),
    pytest.param(
        1, ETH + bytes.fromhex("8100" "0064" "8864") + PPPOE_SESSION + bytes.fromhex("0021") + IPV4, FLOW4,
        id="vlan-pppoe",
    ),
    # MPLS label stack entries: label(20) TC(3) S(1) TTL(8); S marks the bottom of the stack.
    pytest.param(1, ETH + bytes.fromhex("8847" "00010140") + IPV4, FLOW4, id="mpls-one-label"),
    pytest.param(1, ETH + bytes.fromhex("8847" "00010040" "00020140") + IPV4, FLOW4, id="mpls-two-labels"),
    pytest.param(1, ETH + bytes.fromhex("8848" "00010140") + IPV6, FLOW6, id="mpls-multicast-ipv6"),
    pytest.param(113, SLL_HEADER + bytes.fromhex("0800") + IPV4, FLOW4, id="linux-sll"),
    pytest.param(113, SLL_HEADER + bytes.fromhex("86dd") + IPV6, FLOW6, id="linux-sll-ipv6"),
    pytest.param(113, SLL_HEADER + bytes.fromhex("8100" "0064" "0800") + IPV4, FLOW4, id="linux-sll-vlan"),
    pytest.param(276, sll2("0800") + IPV4, FLOW4, id="linux-sll2"),
    pytest.param(276, sll2("86dd") + IPV6, FLOW6, id="linux-sll2-ipv6"),
    pytest.param(101, IPV4, FLOW4, id="raw-101"),
    pytest.param(101, IPV6, FLOW6, id="raw-101-ipv6"),
    pytest.param(12, IPV4, FLOW4, id="raw-12-bsd"),
    pytest.param(14, IPV6, FLOW6, id="raw-14-bsd"),
    pytest.param(228, IPV4, FLOW4, id="ipv4-228"),
    pytest.param(229, IPV6, FLOW6, id="ipv6-229"),
    # BSD loopback: the address family in the capturing host's byte order.
    pytest.param(0, bytes.fromhex("02000000") + IPV4, FLOW4, id="null-af-inet-little-endian"),
    pytest.param(0, bytes.fromhex("00000002") + IPV4, FLOW4, id="null-af-inet-big-endian"),
    pytest.param(0, bytes.fromhex("18000000") + IPV6, FLOW6, id="null-af-inet6-24-netbsd-openbsd"),
    pytest.param(0, bytes.fromhex("1c000000") + IPV6, FLOW6, id="null-af-inet6-28-freebsd"),
    pytest.param(0, bytes.fromhex("1e000000") + IPV6, FLOW6, id="null-af-inet6-30-macos"),
    pytest.param(0, bytes.fromhex("0000001e") + IPV6, FLOW6, id="null-af-inet6-30-big-endian"),
    pytest.param(0, bytes.fromhex("0a000000") + IPV6, FLOW6, id="null-af-inet6-10-linux"),
    # OpenBSD loopback: the family always in network byte order.
    pytest.param(108, bytes.fromhex("00000002") + IPV4, FLOW4, id="loop-af-inet"),
    pytest.param(108, bytes.fromhex("00000018") + IPV6, FLOW6, id="loop-af-inet6"),
    # PPP: HDLC address/control (ff 03) then the protocol, or the protocol alone.
    pytest.param(9, bytes.fromhex("ff03" "0021") + IPV4, FLOW4, id="ppp-hdlc-framing"),
    pytest.param(9, bytes.fromhex("0057") + IPV6, FLOW6, id="ppp-no-address-control"),
    pytest.param(50, bytes.fromhex("ff03" "0021") + IPV4, FLOW4, id="ppp-hdlc-50"),
]


@pytest.mark.parametrize(("linktype", "frame", "flow"), LINK_FRAMES)
def test_every_link_type_reaches_the_dns_question(decode_frames, one, linktype: int, frame: bytes, flow) -> None:
    result = decode_frames([frame], linktype=linktype)
    event = one(result.of(DnsMessage))
    assert (event.query, event.qtype, event.response, event.flow, event.tunnel) == ("example.org", "A", False, flow, None)
    assert (event.frame, event.capture) == (1, "test.pcap")
    assert result.anomalies == {}


# Frames of known link types that carry no IP: counted as non-IP, no event, no anomaly.
NON_IP = [
    pytest.param(1, ETH + bytes.fromhex("0806") + bytes(28), id="ethernet-arp"),
    pytest.param(1, ETH + bytes.fromhex("8100" "0064" "0806") + bytes(28), id="vlan-arp"),
    pytest.param(1, ETH + bytes.fromhex("8863") + bytes(20), id="pppoe-discovery"),
    pytest.param(1, ETH + bytes.fromhex("8864") + PPPOE_SESSION + bytes.fromhex("c021") + bytes(8), id="pppoe-lcp"),
    pytest.param(1, ETH + bytes.fromhex("8847" "00010140") + bytes.fromhex("0011") + bytes(40), id="mpls-not-ip"),
    pytest.param(113, SLL_HEADER + bytes.fromhex("0806") + bytes(28), id="sll-arp"),
    pytest.param(276, sll2("0806") + bytes(28), id="sll2-arp"),
    pytest.param(0, bytes.fromhex("07000000") + IPV4, id="null-unknown-family"),
    pytest.param(9, bytes.fromhex("ff03" "c021") + bytes(8), id="ppp-lcp"),
]


@pytest.mark.parametrize(("linktype", "frame"), NON_IP)
def test_frames_without_ip_are_counted_not_decoded(decode_frames, linktype: int, frame: bytes) -> None:
    result = decode_frames([frame], linktype=linktype)
    assert result.events == []
    assert result.decoder.frames_non_ip == 1
    assert result.decoder.frames_unsupported_link == 0
    assert result.anomalies == {}


def test_unknown_link_types_are_counted_as_unsupported(decode_frames) -> None:
    # 147 is LINKTYPE_USER0; 127 is 802.11 radiotap (no IP decoding of Wi-Fi frames).
    result = decode_frames([IPV4, IPV4], linktype=147)
    result2 = decode_frames([bytes(40)], linktype=127)
    assert result.events == result2.events == []
    assert result.decoder.frames_unsupported_link == 2
    assert result2.decoder.frames_unsupported_link == 1


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        pytest.param(113, SLL_HEADER[:10], id="sll-cut"),
        pytest.param(276, sll2("0800")[:12], id="sll2-cut"),
        pytest.param(0, b"\x02\x00", id="null-cut"),
        pytest.param(108, b"\x00", id="loop-cut"),
        pytest.param(9, b"\xff\x03", id="ppp-cut-after-address-control"),
        pytest.param(9, b"", id="ppp-empty"),
    ],
)
def test_link_headers_cut_short_give_no_ip_offset(linktype: int, frame: bytes) -> None:
    assert linklayer.ip_offset(linktype, frame) is None


@pytest.mark.parametrize(
    ("frame", "offset"),
    [
        pytest.param(ETH + bytes.fromhex("8100" "0064"), None, id="vlan-tag-cut"),
        pytest.param(ETH + bytes.fromhex("8864") + PPPOE_SESSION[:4], None, id="pppoe-cut"),
        pytest.param(ETH + bytes.fromhex("8847" "00010040"), None, id="mpls-without-bottom-of-stack"),
        pytest.param(ETH + bytes.fromhex("8847" "00010140"), None, id="mpls-nothing-after-the-label"),
    ],
)
def test_ethernet_payload_cut_short(frame: bytes, offset: int | None) -> None:
    ethertype = (frame[12] << 8) | frame[13]
    assert linklayer.ethernet_payload(ethertype, frame, 14) is offset
