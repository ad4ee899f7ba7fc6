"""The native decoder's hot path: one frame in, application events out.

Headers are read with index arithmetic and ``struct`` on the frame's bytes,
never by building a packet object per frame.  The order of work is chosen for
an operator capture, where most packets are encrypted bulk data of flows whose
handshake was already read: the link and IP headers are read, the TCP flow is
looked up with one dict access on a key cut straight from the packet
(addresses + ports), and an ignored direction is dropped there.

TCP flows are kept by both of their directed keys, so no packet needs its key
sorted (UDP flows, counted only, by the key of their first packet).  Flow state expires on capture time, so memory follows the number of
live flows, not the size of the capture.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

from scanner.decode import linklayer, tunnels
from scanner.decode.ip import FragmentReassembler
from scanner.decode.keylog import KeyLog
from scanner.decode.protocols import DATAGRAM_DECODERS, STREAM_DECODERS
from scanner.decode.protocols.base import (
    Anomalies,
    DatagramDecoder,
    DecoderBug,
    PacketContext,
    StreamContext,
    StreamDecoder,
)
from scanner.decode.tcp import ACK, FIN, IGNORE, RST, SYN, HalfStream, TcpReassembler
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.model import Event, FlowTuple, Tunnel

_U32 = struct.Struct("!I")
_AF = {4: socket.AF_INET, 16: socket.AF_INET6}
MAX_TUNNEL_DEPTH = 4

# Idle time (capture seconds) after which a flow's state is dropped.
TCP_IDLE_TIMEOUT = 300.0
UDP_IDLE_TIMEOUT = 60.0
SWEEP_EVERY_FRAMES = 1 << 15
# Above this many TCP directions, idle ones are dropped sooner.
MAX_TCP_HALVES = 1_000_000

RawTunnel = tuple[str, bytes, "int | None"]  # (type, outer addresses, id): resolved lazily


def _ntop(addr: bytes) -> str:
    return socket.inet_ntop(_AF[len(addr)], addr)


class PacketDecoder:
    """Decodes the frames of one capture into events (each capture gets its own)."""

    def __init__(self, anomalies: Anomalies, keylog: KeyLog | None = None) -> None:
        self.anomalies = anomalies
        self.capture = ""
        # The key log (command line + the capture's DSBs) and what decryption counts, shared
        # with every decoder through its context.
        self.decryption = DecryptionContext(keylog, anomalies)
        self.frags = FragmentReassembler(anomalies)
        self.tcp = TcpReassembler(anomalies, self._choose_stream_decoder)
        self.tcp_halves: dict[bytes, HalfStream] = {}
        self.udp_flows: dict[bytes, float] = {}
        self._tunnels: dict[RawTunnel, Tunnel] = {}
        # counters for the report's stats
        self.tcp_flows = 0
        self.udp_flow_count = 0
        self.frames_skipped_encrypted = 0
        self.frames_non_ip = 0
        self.frames_unsupported_link = 0
        self.tunnelled_frames = 0
        self._frames_since_sweep = 0

        decoders = {name: cls(anomalies) for name, cls in DATAGRAM_DECODERS.items()}
        self.udp_ports: dict[int, DatagramDecoder] = {}
        self.sctp_ppids: dict[int, DatagramDecoder] = {}
        self.sctp_ports: dict[int, DatagramDecoder] = {}
        for decoder in decoders.values():
            for port in type(decoder).udp_ports:
                if port in self.udp_ports:
                    raise TypeError(f"UDP port {port} claimed by {self.udp_ports[port].name} and {decoder.name}")
                self.udp_ports[port] = decoder
            for ppid in type(decoder).sctp_ppids:
                self.sctp_ppids[ppid] = decoder
            for port in type(decoder).sctp_ports:
                self.sctp_ports[port] = decoder
        self.datagram_decoders = list(decoders.values())
        # Decoders that follow conversations on ports nobody claims (QUIC off 443), asked only
        # when no sniff matched.
        self.udp_followers = [d for d in decoders.values() if type(d).follows is not DatagramDecoder.follows]
        self.udp_sniffers = sorted(
            (d for d in decoders.values() if type(d).sniff_order is not None),
            key=lambda d: type(d).sniff_order or 0,
        )
        self.stream_ports: dict[int, type[StreamDecoder]] = {}
        for cls in STREAM_DECODERS.values():
            for port in cls.tcp_ports:
                self.stream_ports[port] = cls
        self.stream_sniffers = sorted(
            (cls for cls in STREAM_DECODERS.values() if cls.sniff_order is not None),
            key=lambda cls: cls.sniff_order or 0,
        )

    # ------------------------------------------------------------------ frames

    def decode(self, ts: float, linktype: int, data: bytes, frame: int) -> list[Event] | Sequence[Event] | None:
        """Events of one frame, then those of the periodic sweep when one is due (None when
        there are none, which is nearly always)."""
        events = self.decode_frame(ts, linktype, data, frame)
        swept = self.tick(ts)
        if swept:
            events = [*(events or ()), *(event for _, event in swept)]
        return events

    def decode_frame(self, ts: float, linktype: int, data: bytes, frame: int) -> list[Event] | Sequence[Event] | None:
        """Events of one frame alone (the engine calls ``tick`` after each frame itself)."""
        try:
            fast = self._ethernet_ipv4(ts, data, frame) if linktype == 1 else _GENERAL
            return self._decode(ts, linktype, data, frame) if fast is _GENERAL else fast  # type: ignore[return-value]
        except (IndexError, struct.error, ValueError):
            # Header fields that point outside the frame: a damaged packet, not a crash.
            self.anomalies.add("malformed_packet")
            return None

    def tick(self, ts: float) -> list[tuple[int, Event]] | None:
        """Count one frame of the capture (decoded here or, in a shard, elsewhere) and sweep
        idle flows every SWEEP_EVERY_FRAMES frames, at that frame's capture time."""
        self._frames_since_sweep += 1
        if self._frames_since_sweep >= SWEEP_EVERY_FRAMES:
            return self.sweep_ordered(ts)
        return None

    def _ethernet_ipv4(self, ts: float, data: bytes, frame: int) -> object:
        """The common case of an operator capture in one function: Ethernet, IPv4 without
        options or fragments, whole in the frame, then TCP, UDP, or one plain GTP-U G-PDU
        around the same.  A TCP direction already IGNOREd (bulk TLS) is dropped after one
        dict lookup.  Returns _GENERAL for anything else (VLANs, IPv6, options, fragments,
        snap-length cuts), which the per-layer path handles."""
        n = len(data)
        if n < 54 or data[12] != 0x08 or data[13] != 0x00 or data[14] != 0x45 or data[20] & 0x3F or data[21]:
            return _GENERAL
        end = 14 + ((data[16] << 8) | data[17])
        if end > n or end < 54:
            return _GENERAL
        proto = data[23]
        if proto == 6:
            if not data[47] & (FIN | RST | SYN):
                half = self.tcp_halves.get(data[26:38])
                if half is not None and half.state == IGNORE:
                    half.last_ts = ts
                    self.frames_skipped_encrypted += 1
                    return None
            return self._tcp(data, 34, end, 0, data[26:34], ts, frame, None)
        if proto != 17:
            return _GENERAL
        if data[42] == 0x30 and data[43] == 0xFF and end >= 62 and (
            (data[36] == 0x08 and data[37] == 0x68) or (data[34] == 0x08 and data[35] == 0x68)
        ):
            # GTP-U G-PDU, no optional fields: the user's packet starts at 50.
            self.tunnelled_frames += 1
            if data[50] == 0x45 and not (data[56] & 0x3F or data[57]):
                inner_end = 50 + ((data[52] << 8) | data[53])
                if 70 <= inner_end <= n:
                    inner_proto = data[59]
                    if inner_proto == 6 and inner_end >= 90:
                        if not data[83] & (FIN | RST | SYN):
                            half = self.tcp_halves.get(data[62:74])
                            if half is not None and half.state == IGNORE:
                                half.last_ts = ts
                                self.frames_skipped_encrypted += 1
                                return None
                        # The tunnel's key only now: most GTP-U frames are dropped above.
                        tunnel = ("gtpu", data[26:34], int.from_bytes(data[46:50], "big"))
                        return self._tcp(data, 70, inner_end, 0, data[62:70], ts, frame, tunnel)
                    if inner_proto == 17:
                        tunnel = ("gtpu", data[26:34], int.from_bytes(data[46:50], "big"))
                        return self._udp(data, 70, inner_end, data[62:70], ts, frame, tunnel, 1)
            return self._ip(data, 50, ts, frame, ("gtpu", data[26:34], int.from_bytes(data[46:50], "big")), 1)
        return self._udp(data, 34, end, data[26:34], ts, frame, None, 0)

    def _decode(self, ts: float, linktype: int, data: bytes, frame: int) -> list[Event] | Sequence[Event] | None:
        if linktype == 1:
            if len(data) < 14:
                self.anomalies.add("ethernet_truncated")
                return None
            if (data[12] == 0x08 and data[13] == 0x00) or (data[12] == 0x86 and data[13] == 0xDD):
                return self._ip(data, 14, ts, frame, None, 0)
            return self._ethernet(data, 0, ts, frame, None, 0)
        offset = linklayer.ip_offset(linktype, data)
        if offset is None:
            if linktype in _KNOWN_LINKTYPES:
                self.frames_non_ip += 1
            else:
                self.frames_unsupported_link += 1
            return None
        return self._ip(data, offset, ts, frame, None, 0)

    def _ethernet(
        self, buf: bytes, offset: int, ts: float, frame: int, tunnel: RawTunnel | None, depth: int
    ) -> list[Event] | Sequence[Event] | None:
        if len(buf) - offset < 14:
            self.anomalies.add("ethernet_truncated")
            return None
        ethertype = (buf[offset + 12] << 8) | buf[offset + 13]
        if ethertype == 0x0800 or ethertype == 0x86DD:
            return self._ip(buf, offset + 14, ts, frame, tunnel, depth)
        ip = linklayer.ethernet_payload(ethertype, buf, offset + 14)
        if ip is None:
            self.frames_non_ip += 1
            return None
        return self._ip(buf, ip, ts, frame, tunnel, depth)

    # ------------------------------------------------------------------ IP

    def _ip(
        self, buf: bytes, off: int, ts: float, frame: int, tunnel: RawTunnel | None, depth: int
    ) -> list[Event] | Sequence[Event] | None:
        size = len(buf)
        if off >= size:
            self.anomalies.add("ip_truncated")
            return None
        version = buf[off] >> 4
        missing = 0
        if version == 4:
            if size - off < 20:
                self.anomalies.add("ipv4_truncated")
                return None
            ihl = (buf[off] & 0x0F) << 2
            total = (buf[off + 2] << 8) | buf[off + 3]
            if ihl < 20 or total < ihl:
                if total == 0 and ihl >= 20:  # TSO/LRO captures write 0: trust the frame
                    total = size - off
                else:
                    self.anomalies.add("ipv4_bad_length")
                    return None
            end = off + total
            if end > size:
                missing = end - size  # cut by the snap length
                end = size
            proto = buf[off + 9]
            addrs = buf[off + 12 : off + 20]
            l4 = off + ihl
            frag = (buf[off + 6] << 8) | buf[off + 7]
            if frag & 0x3FFF and missing:
                # The snap length cut a fragment, so the datagram can never be whole.  A
                # first fragment still holds the upper-layer header: read what is there.
                self.anomalies.add("ip_fragment_truncated")
                if frag & 0x1FFF:
                    return None
                frag = 0
            if frag & 0x3FFF:
                ident = (buf[off + 4] << 8) | buf[off + 5]
                whole = self.frags.add((addrs, ident, proto), (frag & 0x1FFF) << 3, bool(frag & 0x2000), buf[l4:end], ts)
                if whole is None:
                    return None
                buf, l4, end = whole, 0, len(whole)
        elif version == 6:
            if size - off < 40:
                self.anomalies.add("ipv6_truncated")
                return None
            payload_len = (buf[off + 4] << 8) | buf[off + 5]
            proto = buf[off + 6]
            addrs = buf[off + 8 : off + 40]
            l4 = off + 40
            end = l4 + payload_len if payload_len else size  # 0: jumbogram (RFC 2675)
            if end > size:
                missing = end - size
                end = size
            if proto in _IPV6_EXTENSIONS:
                walked = self._ipv6_extensions(buf, proto, l4, end, addrs, ts, missing)
                if walked is None:
                    return None
                buf, proto, l4, end = walked
        else:
            self.anomalies.add("ip_bad_version")
            return None

        if proto == 6:
            return self._tcp(buf, l4, end, missing, addrs, ts, frame, tunnel)
        if proto == 17:
            return self._udp(buf, l4, end, addrs, ts, frame, tunnel, depth)
        if proto == 132:
            return self._sctp(buf, l4, end, addrs, ts, frame, tunnel)
        if proto == 4 or proto == 41:  # IP-in-IP, IPv6-in-IP
            if depth < MAX_TUNNEL_DEPTH:
                self.tunnelled_frames += 1
                return self._ip(buf[:end], l4, ts, frame, ("ipip", addrs, None), depth + 1)
            return None
        if proto == 47 and depth < MAX_TUNNEL_DEPTH:
            inner = tunnels.gre(buf, l4, end)
            if inner is None:
                return None
            inner_off, kind, key = inner
            self.tunnelled_frames += 1
            if kind == tunnels.INNER_ETHERNET:
                return self._ethernet(buf[:end], inner_off, ts, frame, ("gre", addrs, key), depth + 1)
            return self._ip(buf[:end], inner_off, ts, frame, ("gre", addrs, key), depth + 1)
        return None

    def _ipv6_extensions(
        self, buf: bytes, proto: int, l4: int, end: int, addrs: bytes, ts: float, missing: int
    ) -> tuple[bytes, int, int, int] | None:
        """Walk IPv6 extension headers (RFC 8200 s4); reassemble fragments."""
        for _ in range(8):
            if proto not in _IPV6_EXTENSIONS:
                return buf, proto, l4, end
            if l4 + 8 > end:
                self.anomalies.add("ipv6_extension_truncated")
                return None
            next_proto = buf[l4]
            if proto == 44:  # Fragment header
                if missing:
                    self.anomalies.add("ip_fragment_truncated")
                    return None
                field = (buf[l4 + 2] << 8) | buf[l4 + 3]
                ident = _U32.unpack_from(buf, l4 + 4)[0]
                whole = self.frags.add((addrs, ident, next_proto), field & 0xFFF8, bool(field & 1), buf[l4 + 8 : end], ts)
                if whole is None:
                    return None
                buf, proto, l4, end = whole, next_proto, 0, len(whole)
                continue
            length = (buf[l4 + 1] + 2) * 4 if proto == 51 else (buf[l4 + 1] + 1) * 8
            proto, l4 = next_proto, l4 + length
        self.anomalies.add("ipv6_too_many_extensions")
        return None

    # ------------------------------------------------------------------ TCP

    def _tcp(
        self, buf: bytes, l4: int, end: int, missing: int, addrs: bytes, ts: float, frame: int, tunnel: RawTunnel | None
    ) -> list[Event] | None:
        if end - l4 < 20:
            self.anomalies.add("tcp_truncated")
            return None
        key = addrs + buf[l4 : l4 + 4]
        half = self.tcp_halves.get(key)
        flags = buf[l4 + 13]
        restarted: list[Event] | None = None
        # A SYN on a pair we know: a retransmission of the connection's own SYN, or a new
        # connection on reused ports (NAT, a missed FIN), which must not inherit the old state.
        if half is not None and flags & (SYN | ACK) == SYN and half.isn != _U32.unpack_from(buf, l4 + 4)[0]:
            restarted = self._tcp_forget(half, key)
            half = None
        if half is not None and half.state == IGNORE:
            # The fast path: a direction nobody wants, e.g. TLS records after the ClientHello.
            half.last_ts = ts
            if flags & (FIN | RST):
                return self._tcp_end(half, key, flags, ts, frame)
            self.frames_skipped_encrypted += 1
            return None
        hlen = (buf[l4 + 12] >> 4) << 2
        if hlen < 20:
            self.anomalies.add("tcp_bad_header_length")
            return None
        payload = buf[l4 + hlen : end]
        if half is None:
            if not payload and not flags & SYN and not missing:
                return None  # a bare ACK/FIN of a flow we do not track: nothing to keep
            half = self._new_tcp_flow(key, addrs, buf, l4, ts, frame, tunnel)
        seq = _U32.unpack_from(buf, l4 + 4)[0]
        if missing and l4 + hlen > end:
            payload, missing = b"", missing - (l4 + hlen - end)
        events = self.tcp.segment(half, seq, flags, payload, missing, ts, frame)
        if flags & (FIN | RST):
            more = self._tcp_end(half, key, flags, ts, frame)
            if more:
                events = (events or []) + more
        if restarted:
            events = restarted + (events or [])
        return events

    def _tcp_forget(self, half: HalfStream, key: bytes) -> list[Event] | None:
        """Drop a connection at once, flushing both directions' decoders (at their own last bytes)."""
        events: list[Event] | None = None
        self.tcp_halves.pop(key, None)
        peer = half.peer
        for direction in (half, peer):
            if direction is not None and direction.state != IGNORE:
                more = self.tcp.close(direction, direction.last_ts, direction.last_frame)
                if more:
                    events = (events or []) + more
        if peer is not None:
            self.tcp_halves.pop(self._key_of(peer.ctx.flow), None)
            half.peer = peer.peer = None
        return events

    def _new_tcp_flow(
        self, key: bytes, addrs: bytes, buf: bytes, l4: int, ts: float, frame: int, tunnel: RawTunnel | None
    ) -> HalfStream:
        n = len(addrs) // 2
        src, dst = _ntop(addrs[:n]), _ntop(addrs[n:])
        sport = (buf[l4] << 8) | buf[l4 + 1]
        dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
        tun = self._tunnel(tunnel) if tunnel else None
        keys = self.decryption
        forward = HalfStream(StreamContext(self.capture, FlowTuple("tcp", src, sport, dst, dport), tun, keys), ts, frame)
        backward = HalfStream(StreamContext(self.capture, FlowTuple("tcp", dst, dport, src, sport), tun, keys), ts, frame)
        forward.peer, backward.peer = backward, forward
        reverse_key = addrs[n:] + addrs[:n] + buf[l4 + 2 : l4 + 4] + buf[l4 : l4 + 2]
        # Re-added at the end even when a stale reverse direction was there: the table's order
        # stays the order of ``created``, which sweeps and the shard merge rely on.
        self.tcp_halves.pop(reverse_key, None)
        self.tcp_halves[key] = forward
        self.tcp_halves[reverse_key] = backward
        self.tcp_flows += 1
        return forward

    def _tcp_end(self, half: HalfStream, key: bytes, flags: int, ts: float, frame: int) -> list[Event] | None:
        """Forget a connection once both directions closed or it was reset."""
        half.closed = True
        peer = half.peer
        events: list[Event] | None = None
        if flags & RST or (peer is not None and peer.closed):
            self.tcp_halves.pop(key, None)
            if peer is not None:
                if peer.state != IGNORE:
                    # A reset ends the other direction too: flush what it had sent (a request
                    # whose upload the server reset) instead of dropping it with the flow.
                    events = self.tcp.close(peer, ts, frame)
                flow = peer.ctx.flow
                self.tcp_halves.pop(self._key_of(flow), None)
                half.peer = peer.peer = None
        return events

    @staticmethod
    def _key_of(flow: FlowTuple) -> bytes:
        family = socket.AF_INET6 if ":" in flow.src else socket.AF_INET
        return (
            socket.inet_pton(family, flow.src)
            + socket.inet_pton(family, flow.dst)
            + flow.sport.to_bytes(2, "big")
            + flow.dport.to_bytes(2, "big")
        )

    def _choose_stream_decoder(self, half: HalfStream, head: bytes) -> StreamDecoder | None:
        flow = half.ctx.flow
        cls = self.stream_ports.get(flow.dport) or self.stream_ports.get(flow.sport)
        if cls is None or not (cls.sniff_order is None or cls.sniff(head)):
            cls = None
            for candidate in self.stream_sniffers:
                if candidate.sniff(head):
                    cls = candidate
                    break
        return cls(half.ctx, self.anomalies) if cls is not None else None

    # ------------------------------------------------------------------ UDP / SCTP

    def _udp(
        self, buf: bytes, l4: int, end: int, addrs: bytes, ts: float, frame: int, tunnel: RawTunnel | None, depth: int
    ) -> list[Event] | Sequence[Event] | None:
        if end - l4 < 8:
            self.anomalies.add("udp_truncated")
            return None
        sport = (buf[l4] << 8) | buf[l4 + 1]
        dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
        length = (buf[l4 + 4] << 8) | buf[l4 + 5]
        if 8 <= length <= end - l4:
            end = l4 + length
        if (dport == tunnels.GTPU_PORT or sport == tunnels.GTPU_PORT) and depth < MAX_TUNNEL_DEPTH:
            inner = tunnels.gtpu(buf, l4 + 8, end)
            if inner is not None:
                self.tunnelled_frames += 1
                return self._ip(buf, inner[0], ts, frame, ("gtpu", addrs, inner[2]), depth + 1)
        elif (dport == tunnels.VXLAN_PORT or dport == tunnels.GENEVE_PORT) and depth < MAX_TUNNEL_DEPTH:
            decap = tunnels.vxlan if dport == tunnels.VXLAN_PORT else tunnels.geneve
            found = decap(buf, l4 + 8, end)
            if found is not None:
                inner_off, kind, vni = found
                self.tunnelled_frames += 1
                raw: RawTunnel = ("vxlan" if dport == tunnels.VXLAN_PORT else "geneve", addrs, vni)
                if kind == tunnels.INNER_ETHERNET:
                    return self._ethernet(buf[:end], inner_off, ts, frame, raw, depth + 1)
                return self._ip(buf[:end], inner_off, ts, frame, raw, depth + 1)
        ports = buf[l4 : l4 + 4]
        key = addrs + ports
        udp_flows = self.udp_flows
        # One entry per flow, under the key of its first packet: most UDP flows are a DNS
        # question and its answer, and an operator capture has thousands of them a minute.
        if key in udp_flows:
            udp_flows[key] = ts
        else:
            n = len(addrs) // 2
            reverse = addrs[n:] + addrs[:n] + ports[2:] + ports[:2]
            if reverse in udp_flows:
                udp_flows[reverse] = ts
            else:
                udp_flows[key] = ts
                self.udp_flow_count += 1
        low, high = (sport, dport) if sport < dport else (dport, sport)
        decoder = self.udp_ports.get(low) or self.udp_ports.get(high)
        payload = buf[l4 + 8 : end]
        if decoder is None:
            for candidate in self.udp_sniffers:
                if type(candidate).sniff(payload):
                    decoder = candidate
                    break
            else:
                for candidate in self.udp_followers:
                    if candidate.follows(payload):
                        decoder = candidate
                        break
                else:
                    return None
        elif not decoder.wants(payload):
            return None
        n = len(addrs) // 2
        ctx = PacketContext(
            ts,
            self.capture,
            frame,
            FlowTuple("udp", _ntop(addrs[:n]), sport, _ntop(addrs[n:]), dport),
            self._tunnel(tunnel) if tunnel else None,
            self.decryption,
        )
        try:
            return decoder.decode(payload, ctx)
        except Exception as exc:
            raise DecoderBug(decoder.name, exc) from exc

    def _sctp(
        self, buf: bytes, l4: int, end: int, addrs: bytes, ts: float, frame: int, tunnel: RawTunnel | None
    ) -> list[Event] | None:
        """SCTP (RFC 9260): each unfragmented DATA chunk goes to the decoder of its payload protocol."""
        if end - l4 < 12:
            self.anomalies.add("sctp_truncated")
            return None
        sport = (buf[l4] << 8) | buf[l4 + 1]
        dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
        events: list[Event] | None = None
        offset = l4 + 12
        ctx: PacketContext | None = None
        while offset + 4 <= end:
            chunk_type, chunk_flags = buf[offset], buf[offset + 1]
            length = (buf[offset + 2] << 8) | buf[offset + 3]
            if length < 4:
                self.anomalies.add("sctp_bad_chunk_length")
                break
            if chunk_type == 0 and length >= 16:  # DATA
                if chunk_flags & 0x03 != 0x03:
                    self.anomalies.add("sctp_fragmented_data")  # B and E both set: a whole message
                else:
                    ppid = _U32.unpack_from(buf, offset + 12)[0]
                    decoder = self.sctp_ppids.get(ppid)
                    if decoder is None and ppid == 0:
                        decoder = self.sctp_ports.get(dport) or self.sctp_ports.get(sport)
                    if decoder is not None:
                        if ctx is None:
                            n = len(addrs) // 2
                            flow = FlowTuple("sctp", _ntop(addrs[:n]), sport, _ntop(addrs[n:]), dport)
                            ctx = PacketContext(
                                ts, self.capture, frame, flow, self._tunnel(tunnel) if tunnel else None, self.decryption
                            )
                        try:
                            out = decoder.decode(buf[offset + 16 : min(offset + length, end)], ctx)
                        except Exception as exc:
                            raise DecoderBug(decoder.name, exc) from exc
                        if out:
                            events = (events or []) + list(out)
            offset += (length + 3) & ~3
        return events

    # ------------------------------------------------------------------ state

    def _tunnel(self, raw: RawTunnel) -> Tunnel:
        tunnel = self._tunnels.get(raw)
        if tunnel is None:
            kind, addrs, ident = raw
            n = len(addrs) // 2
            tunnel = Tunnel(kind, _ntop(addrs[:n]), _ntop(addrs[n:]), ident)
            if len(self._tunnels) > 100_000:
                self._tunnels.clear()
            self._tunnels[raw] = tunnel
        return tunnel

    def sweep(self, now: float, everything: bool = False) -> list[Event] | None:
        """Expire idle flows (all of them at the end of a scan), flushing their decoders."""
        swept = self.sweep_ordered(now, everything)
        return [event for _, event in swept] if swept else None

    def sweep_ordered(self, now: float, everything: bool = False) -> list[tuple[int, Event]] | None:
        """``sweep``, each event with the ``created`` frame of the direction it was flushed
        from: the flow-table order the sweep follows, for merging shards (run/sharded.py)."""
        self._frames_since_sweep = 0
        events: list[tuple[int, Event]] | None = None
        halves = self.tcp_halves
        timeout = TCP_IDLE_TIMEOUT if len(halves) < MAX_TCP_HALVES else TCP_IDLE_TIMEOUT / 10
        # A flow is idle when neither direction moved: one silent direction (a server
        # that never answers) must not lose the other's state.
        stale = [
            k
            for k, h in halves.items()
            if everything or now - max(h.last_ts, h.peer.last_ts if h.peer else 0.0) > timeout
        ]
        for key in stale:
            half = halves.pop(key)
            if half.state != IGNORE:
                more = self.tcp.close(half, half.last_ts, half.last_frame)
                if more:
                    if events is None:
                        events = []
                    events.extend((half.created, event) for event in more)
        if everything:
            self.udp_flows.clear()
            for datagram_decoder in self.datagram_decoders:
                datagram_decoder.finish()  # the capture ended: what waited is counted, not lost
        else:
            udp = self.udp_flows
            for key in [k for k, t in udp.items() if now - t > UDP_IDLE_TIMEOUT]:
                del udp[key]
        self.frags.expire(now)
        return events


_IPV6_EXTENSIONS = frozenset({0, 43, 44, 51, 60})
_GENERAL = object()  # "not the common case": take the per-layer path
_KNOWN_LINKTYPES = frozenset({0, 1, 9, 12, 14, 50, 101, 108, 113, 228, 229, 276})
