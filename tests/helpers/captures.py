"""Datagrams and segments of a capture, read with scapy, for the tests that compare decoders with tshark.

Frames are numbered from 1, as Wireshark numbers them, so that a decoder's events and
tshark's rows name the same frames.  Each payload comes with the ``PacketContext`` a
decoder wants: time, capture name, frame number and flow as the packet travelled (for
tunnelled traffic, the outer addresses: these helpers do not unwrap tunnels).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from scanner.decode.protocols.base import PacketContext
from scanner.model import FlowTuple


def udp_datagrams(path: Path, ports: Collection[int] | None = None) -> Iterator[tuple[PacketContext, bytes]]:
    """The payload of every UDP datagram to or from one of ``ports`` (every one for None).

    The payload is what scapy dissects after the UDP header, with any link-layer trailer
    after the IP packet (an Ethernet frame's padding): decoders must tolerate it.
    """
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    for number, packet, udp in _transport(path, UDP, ports):
        ip = packet[IP] if IP in packet else packet[IPv6]
        flow = FlowTuple("udp", ip.src, int(udp.sport), ip.dst, int(udp.dport))
        yield PacketContext(float(packet.time), path.name, number, flow), bytes(udp.payload)


def tcp_segments(path: Path, ports: Collection[int] | None = None) -> Iterator[tuple[PacketContext, int, bytes]]:
    """(context, sequence number, data) of every TCP segment with data to or from one of ``ports``
    (every one for None), in capture order: reassembly is the caller's.

    The data ends where the IP header's length says: an Ethernet frame's padding would
    otherwise give a bare ACK six bytes of data.
    """
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6

    for number, packet, tcp in _transport(path, TCP, ports):
        if IP in packet:
            ip = packet[IP]
            end = ip.len - ip.ihl * 4
        elif IPv6 in packet:
            ip = packet[IPv6]
            end = ip.plen
        else:
            continue
        data = bytes(tcp)[tcp.dataofs * 4 : end]
        if data:
            flow = FlowTuple("tcp", ip.src, int(tcp.sport), ip.dst, int(tcp.dport))
            yield PacketContext(float(packet.time), path.name, number, flow), int(tcp.seq), data


def _transport(path: Path, layer: Any, ports: Collection[int] | None) -> Iterator[tuple[int, Any, Any]]:
    """(frame number, packet, its ``layer``) of the packets with that transport layer to or from one of ``ports``."""
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for number, packet in enumerate(reader, 1):
            if layer not in packet:
                continue
            transport = packet[layer]
            if ports is None or transport.sport in ports or transport.dport in ports:
                yield number, packet, transport
