"""The packet path (decode/packets.py, ip.py, tunnels.py): IP fragments, IPv6 extension
headers, tunnels, and damaged packets.

The user packet inside every case is a DNS question, so one event says that the
decoder got through every layer; tunnels must be kept as the event's context.
Tunnel headers are byte fixtures with a comment per field; the packets around
them are built with scapy.
"""

from __future__ import annotations

import random
import struct

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRROPT, EDNS0TLV
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from scanner.decode import ip as ipfrag
from scanner.model import DnsMessage, FlowTuple, Tunnel

CLIENT, RESOLVER = "10.45.0.7", "10.45.0.53"
OUTER_A, OUTER_B = "192.0.2.1", "192.0.2.2"
INNER_FLOW = FlowTuple("udp", CLIENT, 33333, RESOLVER, 53)


def dns_query(name: str = "child-app.example", padding: int = 0) -> DNS:
    """A DNS question; ``padding`` adds an EDNS(0) Padding option (RFC 7830) to make it big."""
    if padding:
        return DNS(id=7, rd=1, qd=DNSQR(qname=name), ar=DNSRROPT(rdata=[EDNS0TLV(optcode=12, optdata=b"\x00" * padding)]))
    return DNS(id=7, rd=1, qd=DNSQR(qname=name))


def inner_ipv4(name: str = "child-app.example") -> bytes:
    return bytes(IP(src=CLIENT, dst=RESOLVER, id=1) / UDP(sport=33333, dport=53) / dns_query(name))


def inner_ipv6() -> bytes:
    return bytes(IPv6(src="2001:db8:45::7", dst="2001:db8:45::53") / UDP(sport=33333, dport=53) / dns_query())


def ether(payload) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / payload)


def the_question(result, one) -> DnsMessage:
    event = one(result.of(DnsMessage))
    assert event.query == "child-app.example"
    return event


# --------------------------------------------------------------------------------- IPv4 fragments


def big_query_fragments(fragsize: int = 400) -> list[IP]:
    packet = IP(src=CLIENT, dst=RESOLVER, id=0x4242) / UDP(sport=33333, dport=53) / dns_query(padding=1200)
    pieces = fragment(packet, fragsize=fragsize)
    assert len(pieces) == 4
    return pieces


@pytest.mark.parametrize(
    "order",
    [
        pytest.param([0, 1, 2, 3], id="in-order"),
        pytest.param([3, 2, 1, 0], id="reversed"),
        pytest.param([2, 0, 3, 1], id="shuffled"),
        pytest.param([0, 1, 1, 2, 0, 3], id="duplicates"),
    ],
)
def test_ipv4_fragments_are_reassembled_in_any_order(decode_frames, one, order: list[int]) -> None:
    pieces = big_query_fragments()
    result = decode_frames([ether(pieces[i]) for i in order])
    event = the_question(result, one)
    assert event.flow == INNER_FLOW
    # The frame that completed the datagram, as Wireshark reports a reassembled message.
    assert event.frame == next(k for k in range(1, len(order) + 1) if set(order[:k]) == {0, 1, 2, 3})
    assert result.decoder.frags.reassembled == 1
    assert len(result.decoder.frags) == 0
    assert result.anomalies == {}


def test_overlapping_ipv4_fragments(decode_frames, one) -> None:
    # Three pieces whose edges overlap by 80 and 16 bytes (same bytes in the overlap).
    whole = bytes(UDP(sport=33333, dport=53) / dns_query(padding=1200))
    cuts = [(0, 480), (400, 896), (880, len(whole))]
    frames = []
    for start, end in cuts:
        more = 0x1 if end < len(whole) else 0
        frames.append(
            ether(IP(src=CLIENT, dst=RESOLVER, id=9, proto=17, flags=more, frag=start // 8) / Raw(whole[start:end]))
        )
    result = decode_frames([frames[0], frames[2], frames[1]])
    assert the_question(result, one).flow == INNER_FLOW


def test_incomplete_ipv4_datagram_expires_and_is_counted(decode_frames) -> None:
    pieces = big_query_fragments()
    result = decode_frames([ether(p) for p in (pieces[0], pieces[1], pieces[3])], flush=False)
    assert result.events == []
    assert len(result.decoder.frags) == 1
    # Still within the reassembly timeout: kept.
    result.decoder.sweep(1_700_000_000.0 + 5)  # the first fragment came at 1.7e9 (conftest START_TS)
    assert len(result.decoder.frags) == 1
    last = 1_700_000_000.0 + ipfrag.TIMEOUT + 1
    result.decoder.sweep(last)
    assert len(result.decoder.frags) == 0
    assert result.decoder.anomalies.counts == {"ip_fragments_incomplete": 1}
    # The late fragment no longer completes anything: it starts a new, incomplete datagram.
    assert result.decoder.decode(last + 1, 1, ether(pieces[2]), 4) is None


def test_fragments_of_different_datagrams_do_not_mix(decode_frames, one) -> None:
    first = big_query_fragments()
    second = fragment(
        IP(src=CLIENT, dst=RESOLVER, id=0x4243) / UDP(sport=33334, dport=53) / dns_query("other.example", 1200),
        fragsize=400,
    )
    frames = [ether(p) for pair in zip(first, second, strict=True) for p in pair]
    result = decode_frames(frames)
    assert sorted(e.query for e in result.of(DnsMessage)) == ["child-app.example", "other.example"]


def test_first_ipv4_fragment_cut_by_the_snap_length_still_gives_its_question(decode_frames, one) -> None:
    # As in nDPI's badpackets.pcap: the capture kept 110 bytes of a 434-byte first fragment.
    # The datagram can never be whole, but its first bytes hold the UDP header and the question.
    first = ether(big_query_fragments()[0])
    result = decode_frames([first[:110]])
    event = the_question(result, one)
    assert event.flow == INNER_FLOW
    assert result.anomalies == {"ip_fragment_truncated": 1, "dns_truncated": 1}
    assert len(result.decoder.frags) == 0  # nothing held for a datagram that cannot complete


def test_later_ipv4_fragment_cut_by_the_snap_length_is_dropped(decode_frames) -> None:
    second = ether(big_query_fragments()[1])
    result = decode_frames([second[:100]])
    assert result.events == []
    assert result.anomalies == {"ip_fragment_truncated": 1}
    assert len(result.decoder.frags) == 0


def test_oversized_fragment_is_an_anomaly(decode_frames) -> None:
    # Offset 8184 * 8 + 1000 bytes > 65535: not a datagram IPv4 can carry.
    frame = ether(IP(src=CLIENT, dst=RESOLVER, id=5, proto=17, flags=0, frag=8184) / Raw(b"\x00" * 1000))
    result = decode_frames([frame])
    assert result.events == []
    assert result.anomalies == {"ip_fragment_too_large": 1}


# --------------------------------------------------------------------------------------- IPv6


def ipv6_query(*extensions) -> IPv6:
    packet = IPv6(src="2001:db8:45::7", dst="2001:db8:45::53")
    for extension in extensions:
        packet = packet / extension
    return packet / UDP(sport=33333, dport=53) / dns_query()


@pytest.mark.parametrize(
    "extensions",
    [
        pytest.param([], id="none"),
        pytest.param([IPv6ExtHdrHopByHop()], id="hop-by-hop"),
        pytest.param([IPv6ExtHdrDestOpt()], id="destination-options"),
        pytest.param([IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt()], id="hop-by-hop-and-destination"),
        pytest.param(
            [IPv6ExtHdrHopByHop(), IPv6ExtHdrRouting(addresses=["2001:db8::99"]), IPv6ExtHdrDestOpt()],
            id="hop-routing-destination",
        ),
    ],
)
def test_ipv6_extension_headers_are_walked(decode_frames, one, extensions) -> None:
    result = decode_frames([ether(ipv6_query(*extensions))])
    event = the_question(result, one)
    assert event.flow == FlowTuple("udp", "2001:db8:45::7", 33333, "2001:db8:45::53", 53)
    assert result.anomalies == {}


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
def test_ipv6_fragments_are_reassembled(decode_frames, one, reverse: bool) -> None:
    packet = (
        IPv6(src="2001:db8:45::7", dst="2001:db8:45::53")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrFragment(id=0xABCD)
        / UDP(sport=33333, dport=53)
        / dns_query(padding=1200)
    )
    pieces = fragment6(packet, 500)
    assert len(pieces) == 3
    if reverse:
        pieces = pieces[::-1]
    result = decode_frames([ether(p) for p in pieces])
    assert the_question(result, one).flow.src == "2001:db8:45::7"
    assert result.decoder.frags.reassembled == 1


def test_ipv6_extension_header_cut_short(decode_frames) -> None:
    packet = bytearray(bytes(ipv6_query(IPv6ExtHdrHopByHop())))
    frame = ether(IPv6(bytes(packet[:40]) + bytes(packet[40:44])))  # 4 bytes of an 8-byte header
    result = decode_frames([frame])
    assert result.events == []
    assert result.anomalies == {"ipv6_extension_truncated": 1}


# ------------------------------------------------------------------------------------------ GTP-U


def gtpu(flags: int, teid: int, optional: str, inner: bytes, msg_type: int = 0xFF) -> bytes:
    """A GTPv1-U header (TS 29.281 s5.1): flags, message type, length of what follows the
    first 8 bytes, TEID; then the optional fields / extension headers given in hex."""
    extra = bytes.fromhex(optional)
    return struct.pack("!BBHI", flags, msg_type, len(extra) + len(inner), teid) + extra + inner


# flags: version 1 (001), PT 1, spare, E (0x04), S (0x02), PN (0x01)
# fmt: off
GTPU_VARIANTS = [
    pytest.param(0x30, "", id="no-optional-fields"),
    pytest.param(0x32, "1234" "00" "00", id="S-sequence-number"),  # sequence, N-PDU, no extension
    pytest.param(0x31, "0000" "07" "00", id="PN-n-pdu-number"),
    pytest.param(0x33, "0001" "02" "00", id="S-and-PN"),
    pytest.param(
        0x34,
        "0000" "00" "85"  # sequence, N-PDU, next extension: PDU Session Container (TS 38.415)
        "01" "10" "09" "00",  # length 1 (4 bytes); UL PDU session information; QFI 9; no next
        id="E-pdu-session-container",
    ),
    pytest.param(
        0x36,
        "abcd" "00" "85"  # sequence 0xabcd, next extension: PDU Session Container
        "02" "00" "05" "00000000" "c0"  # length 2 (8 bytes): DL, QFI 5, padding; next: PDCP PDU number
        "01" "1234" "00",  # length 1: PDCP PDU number 0x1234; no next
        id="E-S-extension-chain",
    ),
    pytest.param(
        0x32, "0001" "00" "85", id="S-only-next-type-not-evaluated",
        # TS 29.281 s5.1: the next-extension field is read only when E is set; a sender with S
        # alone may leave a value there, and a receiver "shall not evaluate" it.
    ),
]
# fmt: on


@pytest.mark.parametrize(("flags", "optional"), GTPU_VARIANTS)
def test_gtpu_is_decapsulated_with_its_tunnel(decode_frames, one, flags: int, optional: str) -> None:
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=2152, dport=2152) / Raw(gtpu(flags, 0x1A2B3C4D, optional, inner_ipv4()))
    result = decode_frames([ether(outer)])
    event = the_question(result, one)
    assert event.flow == INNER_FLOW  # the user's flow, as if captured at the handset
    assert event.tunnel == Tunnel("gtpu", OUTER_A, OUTER_B, 0x1A2B3C4D)
    assert event.to_record()["tunnel"] == {"type": "gtpu", "src": OUTER_A, "dst": OUTER_B, "teid": 0x1A2B3C4D}
    assert result.decoder.tunnelled_frames == 1
    assert result.anomalies == {}


def test_gtpu_over_ipv6_carrying_ipv6(decode_frames, one) -> None:
    outer = IPv6(src="2001:db8:ffff::1", dst="2001:db8:ffff::2") / UDP(sport=40000, dport=2152)
    result = decode_frames([ether(outer / Raw(gtpu(0x30, 7, "", inner_ipv6())))])
    event = the_question(result, one)
    assert event.flow.src == "2001:db8:45::7"
    assert event.tunnel == Tunnel("gtpu", "2001:db8:ffff::1", "2001:db8:ffff::2", 7)


@pytest.mark.parametrize(
    ("msg_type", "optional", "body"),
    [
        pytest.param(1, "0001" "00" "00", b"", id="echo-request"),
        pytest.param(2, "0001" "00" "00", bytes.fromhex("0e00"), id="echo-response-recovery"),
        pytest.param(0xFE, "", b"", id="end-marker"),
        pytest.param(26, "", bytes.fromhex("100000000185000400c0000201"), id="error-indication"),
    ],
)
def test_gtpu_signalling_carries_no_user_data(decode_frames, msg_type: int, optional: str, body: bytes) -> None:
    flags = 0x32 if optional else 0x30
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=2152, dport=2152) / Raw(gtpu(flags, 0, optional, body, msg_type))
    result = decode_frames([ether(outer)])
    assert result.events == []
    assert result.decoder.tunnelled_frames == 0
    assert result.anomalies == {}


@pytest.mark.parametrize(
    "optional",
    [
        pytest.param("0000" "00" "85" "00" "10" "09" "00", id="extension-length-zero"),
        pytest.param("0000" "00" "85" "05" "10" "09" "00", id="extension-longer-than-packet"),
        pytest.param("0000" "00", id="optional-fields-cut"),
    ],
)
def test_gtpu_damaged_extension_headers_give_no_event_and_never_raise(decode_frames, optional: str) -> None:
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=2152, dport=2152) / Raw(gtpu(0x34, 1, optional, b""))
    result = decode_frames([ether(outer)])
    assert result.events == []
    assert "malformed_packet" not in result.anomalies


# --------------------------------------------------------------------------- GRE, VXLAN, Geneve


def outer_ip(proto: int, payload: bytes) -> bytes:
    return ether(IP(src=OUTER_A, dst=OUTER_B, proto=proto) / Raw(payload))


INNER_ETHERNET = bytes.fromhex("020000000099" "020000000098" "0800")  # dst, src, IPv4

# fmt: off
GRE_VARIANTS = [
    pytest.param("0000" "0800", None, INNER_FLOW, id="plain-ipv4"),  # no flags, version 0; IPv4
    pytest.param("2000" "0800" "0000004d", 77, INNER_FLOW, id="key"),  # K; key 77
    pytest.param(
        "b000" "0800" "abcd0000" "0000004d" "00000005", 77, INNER_FLOW,  # C, K, S; checksum+reserved, key, sequence
        id="checksum-key-sequence",
    ),
    pytest.param("1000" "0800" "00000001", None, INNER_FLOW, id="sequence-only"),
    pytest.param("2000" "6558" "00000064", 100, INNER_FLOW, id="transparent-ethernet-bridging"),  # inner Ethernet
]
# fmt: on


@pytest.mark.parametrize(("header", "key", "flow"), GRE_VARIANTS)
def test_gre_is_decapsulated_with_its_key(decode_frames, one, header: str, key, flow) -> None:
    gre = bytes.fromhex(header)
    inner = INNER_ETHERNET + inner_ipv4() if gre[2:4] == b"\x65\x58" else inner_ipv4()
    result = decode_frames([outer_ip(47, gre + inner)])
    event = the_question(result, one)
    assert event.flow == flow
    assert event.tunnel == Tunnel("gre", OUTER_A, OUTER_B, key)
    expected = {"type": "gre", "src": OUTER_A, "dst": OUTER_B}
    if key is not None:
        expected["key"] = key
    assert event.to_record()["tunnel"] == expected


def test_enhanced_gre_pptp_is_not_decapsulated(decode_frames) -> None:
    # Version 1 (RFC 2637) carries PPP, not IP directly.
    gre = bytes.fromhex("3001" "880b" "0010" "0001" "00000001")  # K, S, version 1; PPP; payload len, call id, seq
    result = decode_frames([outer_ip(47, gre + inner_ipv4())])
    assert result.events == []


def test_gre_key_cut_short(decode_frames) -> None:
    result = decode_frames([outer_ip(47, bytes.fromhex("2000" "0800" "0000"))])
    assert result.events == []
    assert "malformed_packet" not in result.anomalies


def test_vxlan_is_decapsulated_with_its_vni(decode_frames, one) -> None:
    vxlan = bytes.fromhex("08" "000000" "012345" "00")  # I flag, reserved, VNI 0x012345, reserved
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=51000, dport=4789) / Raw(vxlan + INNER_ETHERNET + inner_ipv4())
    event = the_question(decode_frames([ether(outer)]), one)
    assert event.flow == INNER_FLOW
    assert event.tunnel == Tunnel("vxlan", OUTER_A, OUTER_B, 0x012345)
    assert event.to_record()["tunnel"] == {"type": "vxlan", "src": OUTER_A, "dst": OUTER_B, "vni": 0x012345}


def test_vxlan_without_the_valid_vni_flag_is_not_decapsulated(decode_frames) -> None:
    vxlan = bytes.fromhex("00" "000000" "012345" "00")
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=51000, dport=4789) / Raw(vxlan + INNER_ETHERNET + inner_ipv4())
    assert decode_frames([ether(outer)]).events == []


@pytest.mark.parametrize(
    ("header", "inner"),
    [
        # version 0 + option length 2 (8 bytes); flags; protocol TEB; VNI 0x000abc; reserved; one option
        pytest.param("02" "00" "6558" "000abc" "00" "0102" "80" "01" "00000000", "ethernet", id="teb-with-option"),
        pytest.param("00" "00" "0800" "000abc" "00", "ipv4", id="ipv4-no-options"),
    ],
)
def test_geneve_is_decapsulated_with_its_vni(decode_frames, one, header: str, inner: str) -> None:
    payload = bytes.fromhex(header) + (INNER_ETHERNET if inner == "ethernet" else b"") + inner_ipv4()
    outer = IP(src=OUTER_A, dst=OUTER_B) / UDP(sport=51000, dport=6081) / Raw(payload)
    event = the_question(decode_frames([ether(outer)]), one)
    assert event.flow == INNER_FLOW
    assert event.tunnel == Tunnel("geneve", OUTER_A, OUTER_B, 0xABC)
    assert event.to_record()["tunnel"] == {"type": "geneve", "src": OUTER_A, "dst": OUTER_B, "vni": 0xABC}


def test_ip_in_ip_and_ipv6_in_ipv4(decode_frames, one) -> None:
    v4 = decode_frames([ether(IP(src=OUTER_A, dst=OUTER_B, proto=4) / Raw(inner_ipv4()))])
    event = the_question(v4, one)
    assert event.flow == INNER_FLOW
    assert event.tunnel == Tunnel("ipip", OUTER_A, OUTER_B, None)
    assert event.to_record()["tunnel"] == {"type": "ipip", "src": OUTER_A, "dst": OUTER_B}
    v6 = decode_frames([ether(IP(src=OUTER_A, dst=OUTER_B, proto=41) / Raw(inner_ipv6()))])
    event6 = the_question(v6, one)
    assert event6.flow.src == "2001:db8:45::7"
    assert event6.tunnel == Tunnel("ipip", OUTER_A, OUTER_B, None)


def test_tunnels_nest_up_to_a_bound(decode_frames, one) -> None:
    # GTP-U inside GRE inside a VLAN: the innermost tunnel is the event's context.
    gtp = IP(src="198.51.100.1", dst="198.51.100.2") / UDP(sport=2152, dport=2152) / Raw(gtpu(0x30, 42, "", inner_ipv4()))
    gre = bytes.fromhex("0000" "0800") + bytes(gtp)
    event = the_question(decode_frames([outer_ip(47, gre)]), one)
    assert event.tunnel == Tunnel("gtpu", "198.51.100.1", "198.51.100.2", 42)
    # IP-in-IP nested deeper than the bound is not followed (and does not recurse without end).
    packet = inner_ipv4()
    for _ in range(10):
        packet = bytes(IP(src=OUTER_A, dst=OUTER_B, proto=4) / Raw(packet))
    assert decode_frames([ether(Raw(packet))]).events == []


# ------------------------------------------------------------------------------- damaged packets

GOOD_UDP = bytes(IP(src=CLIENT, dst=RESOLVER) / UDP(sport=33333, dport=53) / dns_query())
GOOD_TCP = bytes(IP(src=CLIENT, dst=RESOLVER) / TCP(sport=33333, dport=80, flags="PA") / Raw(b"GET / HTTP/1.1\r\n\r\n"))
ETH_V4 = bytes.fromhex("020000000002" "020000000001" "0800")
ETH_V6 = bytes.fromhex("020000000002" "020000000001" "86dd")


def patched(packet: bytes, offset: int, value: bytes) -> bytes:
    return packet[:offset] + value + packet[offset + len(value) :]


# (frame, the anomaly it is counted as); every one is decoded without raising.
DAMAGED = [
    pytest.param(ETH_V4[:10], "ethernet_truncated", id="ethernet-cut"),
    pytest.param(ETH_V4 + GOOD_UDP[:12], "ipv4_truncated", id="ipv4-header-cut"),
    pytest.param(ETH_V4 + patched(GOOD_UDP, 0, b"\x44"), "ipv4_bad_length", id="ipv4-ihl-4"),
    pytest.param(ETH_V4 + patched(GOOD_UDP, 0, b"\x4f\x00\x00\x28"), "ipv4_bad_length", id="ipv4-ihl-beyond-total"),
    pytest.param(ETH_V4 + patched(GOOD_UDP, 2, b"\x00\x0a"), "ipv4_bad_length", id="ipv4-total-below-header"),
    pytest.param(ETH_V4 + patched(GOOD_UDP, 0, b"\x55"), "ip_bad_version", id="ip-version-5"),
    pytest.param(ETH_V4 + patched(GOOD_UDP, 2, b"\x00\x18")[:24], "udp_truncated", id="udp-header-cut"),
    pytest.param(ETH_V4 + GOOD_UDP[:24], "udp_truncated", id="udp-header-cut-by-snaplen"),
    pytest.param(ETH_V4 + GOOD_TCP[:30], "tcp_truncated", id="tcp-header-cut"),
    pytest.param(ETH_V4 + patched(GOOD_TCP, 32, b"\x40"), "tcp_bad_header_length", id="tcp-data-offset-4"),
    pytest.param(ETH_V6 + bytes(IPv6())[:30], "ipv6_truncated", id="ipv6-header-cut"),
    pytest.param(ETH_V4[:12], "ethernet_truncated", id="ethernet-no-ethertype"),
    pytest.param(ETH_V4, "ip_truncated", id="ethernet-nothing-after"),
]


@pytest.mark.parametrize(("frame", "anomaly"), DAMAGED)
def test_damaged_packets_are_counted_never_raised(decode_frames, frame: bytes, anomaly: str) -> None:
    result = decode_frames([frame])
    assert result.events == []
    # The specific count, not the catch-all "malformed_packet" (an index error inside a decoder).
    assert result.anomalies == {anomaly: 1}


def test_random_garbage_never_raises(decode_frames) -> None:
    """Fuzz: valid headers with random bytes after them, and random bytes alone, on every link type."""
    rng = random.Random(2024)
    headers = [ETH_V4 + GOOD_UDP[:20], ETH_V4 + GOOD_TCP[:40], ETH_V6 + bytes(IPv6(nh=17))[:40], ETH_V4]
    frames = []
    for _ in range(3000):
        linktype = rng.choice([0, 1, 1, 1, 9, 101, 108, 113, 228, 229, 276])
        head = rng.choice(headers) if linktype == 1 and rng.random() < 0.7 else b""
        frames.append((linktype, head + rng.randbytes(rng.randrange(0, 120))))
    from scanner.decode.packets import PacketDecoder
    from scanner.decode.protocols.base import Anomalies

    decoder = PacketDecoder(Anomalies())
    for index, (linktype, data) in enumerate(frames, 1):
        decoder.decode(1_700_000_000.0 + index, linktype, data, index)  # must not raise
    decoder.sweep(1e10, everything=True)
