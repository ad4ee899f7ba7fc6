"""Packet timeline, classic pcap writer, link layers and a TCP connection model.

Packets are built with scapy (IPv4, TCP, UDP) and collected with a time stamp in whole microseconds.
When a scene is done, `Capture.finish` sorts them by time (ties keep the order they were made in)
and numbers the frames the way Wireshark does (1-based). Ground truth refers to packets by the id
`Capture.add` returned, and asks for frame numbers only after `finish`.

The pcap format is libpcap's classic one (microsecond time stamps, little-endian, LINKTYPE_ETHERNET).
"""

from __future__ import annotations

import itertools
import logging
import random
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import IP, TCP, UDP  # noqa: E402
from scapy.packet import Raw  # noqa: E402

LINKTYPE_ETHERNET = 1
ETHERTYPE_IPV4 = 0x0800

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
# scapy spells flags as letters; the order here is scapy's, so "PA" and friends round-trip.
_FLAG_LETTERS = (("F", FIN), ("S", SYN), ("R", RST), ("P", PSH), ("A", ACK))

# A gap put between two packets of one connection so that their order never depends on a tie.
MIN_GAP = 20e-6


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def ether(dst: str, src: str, payload: bytes, ethertype: int = ETHERTYPE_IPV4) -> bytes:
    return mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", ethertype) + payload


@dataclass
class Host:
    """An IPv4 endpoint: a device, a server or a network element.

    `tunnel` is set while a mobile subscriber holds a GTP session (see gtp.py); the GTP link
    reads it when it wraps the subscriber's packets.
    """

    ip: str
    mac: str = "00:00:00:00:00:00"
    ttl: int = 64
    ip_id: int = 0
    tunnel: object | None = None

    def next_ip_id(self) -> int:
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        return self.ip_id


class Link(Protocol):
    """Turns a user-plane IPv4 packet of `client` into a full link-layer frame."""

    def frame(self, ip_packet: bytes, client: Host, up: bool) -> bytes: ...


@dataclass
class EtherLink:
    """Ethernet between a client and its gateway.

    On a Wi-Fi LAN the client's own MAC is on the wire. On an operator's Gi/SGi link the frames are
    between two routers: `client_side_mac` then stands for the PGW side, whoever the subscriber is.
    """

    gateway_mac: str
    client_side_mac: str | None = None

    def frame(self, ip_packet: bytes, client: Host, up: bool) -> bytes:
        near = self.client_side_mac or client.mac
        if up:
            return ether(self.gateway_mac, near, ip_packet)
        return ether(near, self.gateway_mac, ip_packet)


@dataclass
class Packet:
    ts_us: int
    uid: int
    frame: bytes


@dataclass
class Capture:
    """Packets of one capture file, in the order they were made until `finish` sorts them."""

    start_utc: int
    packets: list[Packet] = field(default_factory=list)
    flows: dict[tuple[str, str, int, str, int], None] = field(default_factory=dict)
    _frame_of_uid: dict[int, int] = field(default_factory=dict)

    def add(self, t: float, frame: bytes) -> int:
        """Add a frame at `t` seconds after the capture start; returns the packet's id."""
        uid = len(self.packets)
        self.packets.append(Packet(round(t * 1e6), uid, frame))
        return uid

    def note_flow(self, proto: str, src: str, sport: int, dst: str, dport: int) -> None:
        self.flows.setdefault((proto, src, sport, dst, dport), None)

    def finish(self) -> None:
        self.packets.sort(key=lambda p: (p.ts_us, p.uid))
        self._frame_of_uid = {p.uid: i + 1 for i, p in enumerate(self.packets)}

    def frame_number(self, uid: int) -> int:
        """1-based frame number of a packet (after `finish`), as tshark shows it."""
        return self._frame_of_uid[uid]

    def write(self, path: Path) -> int:
        """Write a classic little-endian microsecond pcap; returns the file size."""
        out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for p in self.packets:
            sec, usec = divmod(p.ts_us, 1_000_000)
            out += struct.pack("<IIII", self.start_utc + sec, usec, len(p.frame), len(p.frame))
            out += p.frame
        path.write_bytes(bytes(out))
        return len(out)


def ipv4(src: Host, dst: Host, l4: object, dont_fragment: bool = True) -> bytes:
    """An IPv4 packet from `src` to `dst` around a scapy layer-4 object (checksums by scapy)."""
    pkt = IP(src=src.ip, dst=dst.ip, id=src.next_ip_id(), ttl=src.ttl, flags="DF" if dont_fragment else 0) / l4
    return bytes(pkt)


def udp_packet(src: Host, dst: Host, sport: int, dport: int, payload: bytes) -> bytes:
    return ipv4(src, dst, UDP(sport=sport, dport=dport) / Raw(payload), dont_fragment=False)


def send_udp(cap: Capture, link: Link, client: Host, server: Host, sport: int, dport: int,
             payload: bytes, t: float, up: bool) -> int:
    """One UDP datagram between a client and a server; `up` means client to server."""
    if up:
        cap.note_flow("udp", client.ip, sport, server.ip, dport)
        pkt = udp_packet(client, server, sport, dport, payload)
    else:
        pkt = udp_packet(server, client, dport, sport, payload)
    return cap.add(t, link.frame(pkt, client, up))


@dataclass(frozen=True)
class Segment:
    """A data segment on the wire: packet id and the half-open byte range of its direction's stream."""

    uid: int
    start: int
    end: int
    swapped: bool = False
    retransmission: bool = False


def _flag_string(flags: int) -> str:
    return "".join(letter for letter, bit in _FLAG_LETTERS if flags & bit)


class TcpConn:
    """A TCP connection between a client and a server, written packet by packet.

    Stream offsets count payload bytes from 0 in each direction, so a request sent at client
    offset 512 has its byte k at client offset 512 + k; `Segment`s say which packet carries which
    range. The peer acknowledges each burst once, after its last segment.
    """

    def __init__(self, cap: Capture, link: Link, client: Host, server: Host, sport: int, dport: int,
                 rng: random.Random, client_mss: int = 1400, server_mss: int = 1440) -> None:
        self.cap, self.link, self.client, self.server = cap, link, client, server
        self.sport, self.dport = sport, dport
        self.rng = rng
        self.client_isn = rng.getrandbits(32)
        self.server_isn = rng.getrandbits(32)
        self.sent = {True: 0, False: 0}  # payload bytes sent, per direction (True = up)
        self.client_mss, self.server_mss = client_mss, server_mss
        self.client_rtt = rng.uniform(0.015, 0.060)  # client <-> tap
        self.server_rtt = rng.uniform(0.004, 0.030)  # tap <-> server
        self.window = {True: rng.choice((502, 1024, 2052)), False: rng.choice((501, 1050, 65535 >> 7))}
        self.t_last = 0.0
        self.fin_sent = {True: False, False: False}
        cap.note_flow("tcp", client.ip, sport, server.ip, dport)

    # -- packet level ---------------------------------------------------------------------------
    def _seq(self, up: bool, offset: int) -> int:
        isn = self.client_isn if up else self.server_isn
        return (isn + 1 + offset) & 0xFFFFFFFF

    def _ack(self, up: bool) -> int:
        """Acknowledgement number a packet in direction `up` carries: all the peer sent so far."""
        peer = not up
        extra = 1 if self.fin_sent[peer] else 0
        return self._seq(peer, self.sent[peer] + extra)

    def _emit(self, up: bool, t: float, flags: int, seq: int, ack: int, payload: bytes = b"",
              options: Sequence[tuple[str, object]] = (), window: int | None = None) -> tuple[int, float]:
        t = max(t, self.t_last + MIN_GAP)
        self.t_last = t
        src, dst = (self.client, self.server) if up else (self.server, self.client)
        sport, dport = (self.sport, self.dport) if up else (self.dport, self.sport)
        seg = TCP(sport=sport, dport=dport, seq=seq, ack=ack if flags & ACK else 0, flags=_flag_string(flags),
                  window=self.window[up] if window is None else window, options=list(options))
        pkt = ipv4(src, dst, seg / Raw(payload) if payload else seg)
        return self.cap.add(t, self.link.frame(pkt, self.client, up)), t

    # -- connection level -----------------------------------------------------------------------
    def open(self, t: float) -> float:
        """Three-way handshake starting at `t`; returns when the client may send."""
        syn_opts = [("MSS", self.client_mss), ("SAckOK", b""), ("NOP", None), ("NOP", None),
                    ("NOP", None), ("WScale", 8)]
        _, t = self._emit(True, t, SYN, self._seq(True, -1), 0, options=syn_opts, window=65535)
        synack_opts = [("MSS", self.server_mss), ("NOP", None), ("NOP", None), ("SAckOK", b""),
                       ("NOP", None), ("WScale", 7)]
        _, t = self._emit(False, t + self.server_rtt, SYN | ACK, self._seq(False, -1), self._seq(True, 0),
                          options=synack_opts, window=65535)
        _, t = self._emit(True, t + self.client_rtt, ACK, self._seq(True, 0), self._seq(False, 0))
        return t

    def send(self, up: bool, data: bytes, t: float, cuts: Sequence[int] = (), swap_after_cut: int | None = None,
             retransmit_segment: int | None = None) -> tuple[float, list[Segment]]:
        """Send `data` in one burst and let the peer acknowledge it.

        cuts: extra segment boundaries (offsets into `data`) besides those the MSS forces.
        swap_after_cut: put the segment that starts at this cut on the wire before the one that
            precedes it (out-of-order delivery as a tap sees it).
        retransmit_segment: send this segment (index in stream order) a second time after an RTO.
        Returns the time the burst is acknowledged and the segments in wire order.
        """
        if not data:
            return t, []
        mss = self.client_mss if up else self.server_mss
        bounds = sorted({0, len(data), *[c for c in cuts if 0 < c < len(data)]})
        pieces: list[tuple[int, int]] = []
        for a, b in itertools.pairwise(bounds):
            while b - a > mss:
                pieces.append((a, a + mss))
                a += mss
            pieces.append((a, b))
        order = list(range(len(pieces)))
        swapped: set[int] = set()
        if swap_after_cut is not None:
            k = next(i for i, (a, _) in enumerate(pieces) if a == swap_after_cut)
            order[k - 1], order[k] = order[k], order[k - 1]
            swapped = {k - 1, k}
        base = self.sent[up]
        out: list[Segment] = []
        rate = self.rng.uniform(2e5, 2e6)  # bytes/s
        for n, i in enumerate(order):
            a, b = pieces[i]
            flags = ACK | (PSH if i == len(pieces) - 1 else 0)
            uid, t = self._emit(up, t, flags, self._seq(up, base + a), self._ack(up), data[a:b])
            out.append(Segment(uid, base + a, base + b, swapped=i in swapped))
            if n % 2 == 1 and n != len(order) - 1:
                t += (b - a) / rate
        self.sent[up] = base + len(data)
        peer_delay = self.server_rtt if up else self.client_rtt
        if retransmit_segment is not None:
            a, b = pieces[retransmit_segment]
            t += 0.2 + peer_delay  # the client's retransmission timer, as the tap sees it
            uid, t = self._emit(up, t, ACK | PSH, self._seq(up, base + a), self._ack(up), data[a:b])
            out.append(Segment(uid, base + a, base + b, retransmission=True))
        _, t = self._emit(not up, t + peer_delay, ACK, self._seq(not up, self.sent[not up]), self._seq(up, self.sent[up]))
        return t, out

    def exchange(self, request: bytes, response: bytes, t: float, think: float = 0.03, cuts: Sequence[int] = (),
                 swap_after_cut: int | None = None, retransmit_segment: int | None = None) -> tuple[float, list[Segment]]:
        """Client sends `request` (segmented as `send` is told), the server answers with `response`."""
        t, segs = self.send(True, request, t, cuts, swap_after_cut, retransmit_segment)
        t, _ = self.send(False, response, t + think)
        return t, segs

    def close(self, t: float, by_client: bool = True) -> float:
        """FIN, FIN, ACK."""
        first = by_client
        for up in (first, not first):
            _, t = self._emit(up, t, FIN | ACK, self._seq(up, self.sent[up]), self._ack(up))
            self.fin_sent[up] = True
            t += self.client_rtt if up == first else self.server_rtt
        _, t = self._emit(first, t, ACK, self._seq(first, self.sent[first] + 1), self._ack(first))
        return t
