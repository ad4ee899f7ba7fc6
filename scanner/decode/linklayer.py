"""Link layers: where the network-layer packet starts in a frame of each link type.

Link-type numbers are the tcpdump.org LINKTYPE_ values (pcap draft s8).
Ethernet (with 802.1Q / QinQ tags, PPPoE and MPLS) is parsed by the engine
itself because nearly every frame is Ethernet; this module handles the rest.
"""

from __future__ import annotations

LINKTYPE_NULL = 0  # BSD loopback: 4-byte address family in the capturing host's byte order
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_OLD = 12  # some BSDs' value for raw IP
LINKTYPE_RAW_OLD2 = 14
LINKTYPE_PPP_HDLC = 50
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback: address family in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
ETHERTYPE_PPPOE_SESSION = 0x8864
ETHERTYPE_MPLS = frozenset({0x8847, 0x8848})

PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057

# AF_INET6 differs between systems: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
_AF_INET = 2
_AF_INET6 = frozenset({10, 24, 28, 30})

RAW_IP_LINKTYPES = frozenset({LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_RAW_OLD2, LINKTYPE_IPV4, LINKTYPE_IPV6})


def ip_offset(linktype: int, frame: bytes) -> int | None:
    """Offset of the IP header in a frame of a non-Ethernet link type, or None when the
    frame does not carry IP (or the link type is not one we read)."""
    if linktype in RAW_IP_LINKTYPES:
        return 0
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        return ethernet_payload((frame[14] << 8) | frame[15], frame, 16)
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        return ethernet_payload((frame[0] << 8) | frame[1], frame, 20)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if family > 0xFFFF:  # written on a big-endian host
            family = int.from_bytes(frame[:4], "big")
        if family == _AF_INET or family in _AF_INET6:
            return 4
        return None
    if linktype in (LINKTYPE_PPP, LINKTYPE_PPP_HDLC):
        offset = 2 if frame[:2] == b"\xff\x03" else 0
        if len(frame) < offset + 2:
            return None
        protocol = (frame[offset] << 8) | frame[offset + 1]
        return offset + 2 if protocol in (PPP_IPV4, PPP_IPV6) else None
    return None


def ethernet_payload(ethertype: int, frame: bytes, offset: int) -> int | None:
    """Follow VLAN tags, PPPoE and MPLS from an EtherType to the IP header."""
    while ethertype in ETHERTYPE_VLAN:
        if len(frame) < offset + 4:
            return None
        ethertype = (frame[offset + 2] << 8) | frame[offset + 3]
        offset += 4
    if ethertype == ETHERTYPE_IPV4 or ethertype == ETHERTYPE_IPV6:
        return offset
    if ethertype == ETHERTYPE_PPPOE_SESSION:
        if len(frame) < offset + 8:
            return None
        protocol = (frame[offset + 6] << 8) | frame[offset + 7]
        return offset + 8 if protocol in (PPP_IPV4, PPP_IPV6) else None
    if ethertype in ETHERTYPE_MPLS:
        # Pop labels to the bottom of the stack, then guess IPv4/IPv6 by version nibble
        # (RFC 4928: the payload type is not signalled in MPLS itself).
        while len(frame) >= offset + 4:
            bottom = frame[offset + 2] & 0x01
            offset += 4
            if bottom:
                if len(frame) > offset and frame[offset] >> 4 in (4, 6):
                    return offset
                return None
    return None
