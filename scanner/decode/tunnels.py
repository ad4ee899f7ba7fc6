"""Tunnel decapsulation: GTP-U (3GPP TS 29.281), GRE (RFC 2784/2890), VXLAN (RFC 7348),
Geneve (RFC 8926).  IP-in-IP (RFC 2003, RFC 2473) needs no header of its own: the
engine reads the inner IP header right after the outer one.

Each function returns where the inner packet starts and what it is, or None
when the packet carries no user data (GTP-U echo, end marker, ...).  The inner
user flow is scanned as if captured at the handset; the tunnel is kept as the
flow's context.
"""

from __future__ import annotations

GTPU_PORT = 2152
VXLAN_PORT = 4789
GENEVE_PORT = 6081

GTPU_GPDU = 0xFF  # message type of a G-PDU: the only one that carries user packets

INNER_IP = 0  # the inner packet starts with an IP header (version nibble says which)
INNER_ETHERNET = 1  # the inner packet starts with an Ethernet header

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERTYPE_TEB = 0x6558  # transparent Ethernet bridging (GRE carrying Ethernet)
ETHERTYPE_ERSPAN2 = 0x88BE
ETHERTYPE_ERSPAN3 = 0x22EB


def gtpu(buf: bytes, offset: int, end: int) -> tuple[int, int, int] | None:
    """GTPv1-U: return (inner offset, INNER_IP, TEID) for a G-PDU."""
    if end - offset < 8:
        return None
    flags = buf[offset]
    if flags >> 5 != 1 or not flags & 0x10 or buf[offset + 1] != GTPU_GPDU:
        return None  # not GTPv1, GTP' or a signalling message (echo, error indication, end marker)
    teid = int.from_bytes(buf[offset + 4 : offset + 8], "big")
    inner = offset + 8
    if flags & 0x07:  # E, S or PN: the optional 4 bytes (sequence, N-PDU, next extension type)
        if end - offset < 12:
            return None
        # The next-extension type is evaluated only when E is set (TS 29.281 s5.1): with S or
        # PN alone a sender may leave any value there.
        next_type = buf[offset + 11] if flags & 0x04 else 0
        inner = offset + 12
        # Extension headers (e.g. 0x85 PDU Session Container in 5G): length in 4-byte units,
        # the last byte of each names the next one.
        while next_type:
            if inner >= end:
                return None
            length = buf[inner] * 4
            if length == 0 or inner + length > end:
                return None
            next_type = buf[inner + length - 1]
            inner += length
    return inner, INNER_IP, teid


def gre(buf: bytes, offset: int, end: int) -> tuple[int, int, int | None] | None:
    """GRE: return (inner offset, INNER_IP or INNER_ETHERNET, key or None)."""
    if end - offset < 4:
        return None
    flags = (buf[offset] << 8) | buf[offset + 1]
    version = flags & 0x7
    protocol = (buf[offset + 2] << 8) | buf[offset + 3]
    inner = offset + 4
    if version == 1:  # enhanced GRE (PPTP): key always present, carries PPP
        return None
    key = None
    if flags & 0x8000:  # checksum present (+ reserved)
        inner += 4
    if flags & 0x2000:  # key present
        if inner + 4 > end:
            return None
        key = int.from_bytes(buf[inner : inner + 4], "big")
        inner += 4
    if flags & 0x1000:  # sequence number present
        inner += 4
    if protocol in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return inner, INNER_IP, key
    if protocol == ETHERTYPE_TEB:
        return inner, INNER_ETHERNET, key
    if protocol == ETHERTYPE_ERSPAN2:
        return inner + 8, INNER_ETHERNET, key
    if protocol == ETHERTYPE_ERSPAN3:
        return inner + 12, INNER_ETHERNET, key
    return None


def vxlan(buf: bytes, offset: int, end: int) -> tuple[int, int, int] | None:
    """VXLAN: return (inner offset, INNER_ETHERNET, VNI)."""
    if end - offset < 8 or not buf[offset] & 0x08:  # the I flag: a valid VNI
        return None
    vni = int.from_bytes(buf[offset + 4 : offset + 7], "big")
    return offset + 8, INNER_ETHERNET, vni


def geneve(buf: bytes, offset: int, end: int) -> tuple[int, int, int] | None:
    """Geneve: return (inner offset, INNER_IP or INNER_ETHERNET, VNI)."""
    if end - offset < 8:
        return None
    options_len = (buf[offset] & 0x3F) * 4
    protocol = (buf[offset + 2] << 8) | buf[offset + 3]
    vni = int.from_bytes(buf[offset + 4 : offset + 7], "big")
    inner = offset + 8 + options_len
    if protocol == ETHERTYPE_TEB:
        return inner, INNER_ETHERNET, vni
    if protocol in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
        return inner, INNER_IP, vni
    return None
