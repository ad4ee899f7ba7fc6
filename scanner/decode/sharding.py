"""Flow sharding of one capture: which shard decodes a frame, and the order events merge in.

``--jobs N`` (and the Dask executor) split one capture into N shards.  Every
worker reads the whole file, decodes only the frames of its shard and, for the
others, only lets its capture clock tick.  A frame's shard is a hash of its
(inner, for tunnelled traffic) IP address pair, taken in either order, so:

- both directions of a connection, all its TCP segments, its QUIC packets and
  its IP fragments decode in one shard (TCP reassembly, TLS, HTTP parsing and
  decryption keys never span shards);
- GTP-U user traffic is sharded by the user's own addresses, not the tunnel's
  (an operator's S1-U/N3 tap has few tunnel endpoints and millions of users).

Control-plane messages (GTP-C, RADIUS, Diameter, DHCP) and DNS answers decode
in whichever shard their addresses fall; their events reach the parent, which
runs attribution for all shards, so nothing is lost by where they decoded.

The merge order.  A serial decode emits events (a) while decoding frame F, in
the order the frame produced them, and (b) when the periodic sweep at frame F
(or the final one after the last frame) expires TCP halves, in the order the
halves were added to the flow table.  ``EventKey`` names that order from
things every shard knows alike (frame numbers), so the parent's k-way merge of
the shards' streams is exactly the serial order, and reports are byte for byte
those of ``--jobs 1``.

Known limit: an outer IPv4/IPv6 fragment carrying a tunnel is sharded by the
outer address pair (its inner addresses are in the first fragment only).  A
user flow whose tunnel packets are sometimes fragmented may then decode in two
shards; it is counted as ``shard_fragmented_tunnel`` so a report says so.
"""

from __future__ import annotations

import zlib

from scanner.decode import linklayer, tunnels

# EventKey: (frame, phase, order, seq).  phase 0: the frame's own events (order 0, seq = their
# place in the frame's list); phase 1: events a sweep at that frame flushed (order = the frame at
# which the flushed half entered the flow table, seq = place among that sweep's events).  The
# final sweep uses frame = packets + 1.
EventKey = tuple[int, int, int, int]

_MAX_DEPTH = 3  # tunnels within tunnels looked through (as the decoder's MAX_TUNNEL_DEPTH)


def _pair_hash(a: bytes, b: bytes) -> int:
    """A hash of an address pair that does not depend on its order, nor on the process.

    CRC-32 is linear: addresses that differ in one byte (a subscriber pool) differ in few of
    its low bits, and ``% shards`` would use half the shards.  One multiply-xorshift round
    (a murmur3-style finaliser) spreads them."""
    h = zlib.crc32(a + b if a <= b else b + a)
    h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
    return h ^ (h >> 16)


def _ip_shard_hash(buf: bytes, off: int, depth: int) -> int:
    """The hash of the innermost IP pair starting at ``off`` (0 for anything unreadable)."""
    n = len(buf)
    if off + 20 > n:
        return 0
    version = buf[off] >> 4
    if version == 4:
        a, b = buf[off + 12 : off + 16], buf[off + 16 : off + 20]
        proto = buf[off + 9]
        ihl = (buf[off] & 0x0F) << 2
        fragment = ((buf[off + 6] << 8) | buf[off + 7]) & 0x3FFF
        if fragment or ihl < 20:
            return _pair_hash(a, b)  # a fragment: only its own addresses are sure
        l4 = off + ihl
        total = (buf[off + 2] << 8) | buf[off + 3]
        end = min(n, off + total) if total else n
    elif version == 6:
        if off + 40 > n:
            return 0
        a, b = buf[off + 8 : off + 24], buf[off + 24 : off + 40]
        proto = buf[off + 6]
        l4 = off + 40
        end = n
    else:
        return 0
    if depth < _MAX_DEPTH:
        if proto == 17 and l4 + 8 <= end:
            sport = (buf[l4] << 8) | buf[l4 + 1]
            dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
            if dport == tunnels.GTPU_PORT or sport == tunnels.GTPU_PORT:
                inner = tunnels.gtpu(buf, l4 + 8, end)
                if inner is not None:
                    return _ip_shard_hash(buf[:end], inner[0], depth + 1)
            elif dport == tunnels.VXLAN_PORT or dport == tunnels.GENEVE_PORT:
                decap = tunnels.vxlan if dport == tunnels.VXLAN_PORT else tunnels.geneve
                found = decap(buf, l4 + 8, end)
                if found is not None:
                    return _inner_hash(buf[:end], found[0], found[1], depth + 1)
        elif proto == 4 or proto == 41:
            return _ip_shard_hash(buf[:end], l4, depth + 1)
        elif proto == 47:
            found_gre = tunnels.gre(buf, l4, end)
            if found_gre is not None:
                return _inner_hash(buf[:end], found_gre[0], found_gre[1], depth + 1)
    return _pair_hash(a, b)


def _inner_hash(buf: bytes, off: int, kind: int, depth: int) -> int:
    if kind == tunnels.INNER_ETHERNET:
        if off + 14 > len(buf):
            return 0
        ip = linklayer.ethernet_payload((buf[off + 12] << 8) | buf[off + 13], buf, off + 14)
        return 0 if ip is None else _ip_shard_hash(buf, ip, depth)
    return _ip_shard_hash(buf, off, depth)


def shard_of(linktype: int, data: bytes, shards: int) -> int:
    """The shard (0..shards-1) that decodes this frame.  Frames without IP go to shard 0."""
    if linktype == linklayer.LINKTYPE_ETHERNET:
        if len(data) < 14:
            return 0
        # The common cases first, as the decoder's own fast path reads them: untagged IPv4
        # with TCP or UDP, and a plain GTP-U G-PDU (no optional fields) around user IPv4.
        if data[12] == 0x08 and data[13] == 0x00 and len(data) >= 34 and data[14] == 0x45:
            proto = data[23]
            if proto == 17 and len(data) >= 70 and data[42] == 0x30 and data[43] == 0xFF and data[50] == 0x45 and (
                (data[36] == 0x08 and data[37] == 0x68) or (data[34] == 0x08 and data[35] == 0x68)
            ):
                return _pair_hash(data[62:66], data[66:70]) % shards
            if proto == 6 or (proto == 17 and not _udp_tunnel(data, 34)):
                return _pair_hash(data[26:30], data[30:34]) % shards
        offset = linklayer.ethernet_payload((data[12] << 8) | data[13], data, 14)
    else:
        offset = linklayer.ip_offset(linktype, data)
    if offset is None:
        return 0
    return _ip_shard_hash(data, offset, 0) % shards


def _udp_tunnel(data: bytes, l4: int) -> bool:
    if len(data) < l4 + 4:
        return False
    sport = (data[l4] << 8) | data[l4 + 1]
    dport = (data[l4 + 2] << 8) | data[l4 + 3]
    return (
        dport == tunnels.GTPU_PORT
        or sport == tunnels.GTPU_PORT
        or dport == tunnels.VXLAN_PORT
        or dport == tunnels.GENEVE_PORT
    )
