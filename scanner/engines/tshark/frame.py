"""Events from tshark's dissection: one EK record (a frame) in, privscan events out.

``EventBuilder`` finds the frame's flow (the innermost transport, from the header
bytes ``-x`` prints) and its tunnel (GTP-U, VXLAN, Geneve, GRE, IP-in-IP), then
hands each application layer present to the protocol builder registered for it
(scanner/engines/tshark/protocols/, one module per protocol).  Frames whose
layers no builder claims, and packets quoted inside ICMP errors, give no event.
Oddities are counted in ``Anomalies`` under ``tshark_*`` names, never raised.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

import scanner.engines.tshark.protocols  # noqa: F401  (registers every protocol builder)
from scanner.decode.protocols.base import Anomalies
from scanner.decode.tunnels import GTPU_GPDU
from scanner.engines.tshark.builder import BUILDERS, MESSAGE_RAW, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, hex_bytes, integer, layers_named, text, values
from scanner.model import Event, FlowTuple, Tunnel

_IP_LAYERS = ("ip", "ipv6")
_TRANSPORTS = ("tcp", "udp", "sctp")
_ICMP = ("icmp", "icmpv6")


class EventBuilder:
    """Builds the events of one scan from tshark's EK records (one instance per scan)."""

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        self.anomalies = anomalies
        self.counters = counters
        # One builder per protocol, in registration order (the order of a frame's events).
        self._builders: tuple[tuple[str, LayerBuilder], ...] = tuple(
            (name, builder(anomalies, counters)) for name, builder in BUILDERS.items()
        )
        peers = dict(self._builders)
        for _name, builder in self._builders:
            builder.peers = peers

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def frame_events(self, capture: str, layers: Layer) -> list[Event]:
        """Every event of one frame, in the order of the builders (one protocol per frame, nearly always)."""
        frame_layer = layers.get("frame")
        if not isinstance(frame_layer, Mapping):
            self.anomalies.add("tshark_record_without_frame")
            return []
        frame = first_int(frame_layer, "frame_frame_number") or 0
        protocols = (text(frame_layer, "frame_frame_protocols") or "").split(":")
        present = [(name, builder) for name, builder in self._builders if name in layers]
        if not present:
            return []
        if _quoted(protocols):
            # A packet quoted inside an ICMP error is a copy of one that was sent (and is
            # usually in the capture itself): it is not traffic, as for the native engine.
            self.count("tshark_frames_icmp_quoted")
            return []
        ctx = self._context(capture, frame, frame_layer, layers, protocols)
        if ctx is None:
            return []
        for _name, builder in present:
            ctx = builder.annotate(ctx, layers)
        events: list[Event] = []
        for name, builder in present:
            found = layers_named(layers, name)
            if builder.message_bytes:
                # The message's own bytes (-x prints them next to the layer), for the IEs
                # whose value tshark prints only in pieces (GTPv2 ULI).
                raws = values(layers, f"{name}_raw")
                found = [{**layer, MESSAGE_RAW: raws[i] if i < len(raws) else None} for i, layer in enumerate(found)]
            for layer in found:
                events.extend(builder.build(ctx, layer))
        return events

    def _context(
        self, capture: str, frame: int, frame_layer: Layer, layers: Layer, protocols: list[str]
    ) -> FrameContext | None:
        ts_text = text(frame_layer, "frame_frame_time_epoch")
        try:
            ts = float(ts_text) if ts_text is not None else 0.0
        except ValueError:
            ts = 0.0
        # The innermost transport and the IP header before it: the user's flow when tunnelled.
        transport_at = max((i for i, p in enumerate(protocols) if p in _TRANSPORTS), default=-1)
        if transport_at < 0:
            self.anomalies.add("tshark_no_transport")
            return None
        proto = protocols[transport_at]
        ips = [i for i, p in enumerate(protocols[:transport_at]) if p in _IP_LAYERS]
        if not ips:
            self.anomalies.add("tshark_no_ip")
            return None
        # Addresses and ports come from the bytes of the headers tshark dissected (-x prints
        # them even for layers -J leaves out): printing the whole IP/UDP/TCP trees of every
        # packet was a third of tshark's output, for four fields.
        transport = _layer_bytes(layers, proto, protocols[:transport_at].count(proto))
        inner = _address_pair(layers, protocols, ips[-1])
        if transport is None or len(transport) < 4 or inner is None:
            self.anomalies.add("tshark_layer_missing")
            return None
        sport, dport = int.from_bytes(transport[0:2], "big"), int.from_bytes(transport[2:4], "big")
        tunnel = None
        if len(ips) >= 2:
            outer = _address_pair(layers, protocols, ips[-2])
            if outer is not None:
                tunnel = self._tunnel(layers, protocols, ips[-2], ips[-1], outer)
        flow = FlowTuple(proto, inner[0], sport, inner[1], dport)
        segments = [n for n in (integer(v) for v in values(layers, "tcp_tcp_segment")) if n is not None]
        first_frame = min(segments) if segments and min(segments) != frame else None
        return FrameContext(ts=ts, capture=capture, frame=frame, flow=flow, tunnel=tunnel, first_frame=first_frame)

    def _tunnel(
        self, layers: Layer, protocols: list[str], outer_at: int, inner_at: int, outer: tuple[str, str]
    ) -> Tunnel:
        between = protocols[outer_at + 1 : inner_at]
        if "gtp" in between:
            # The k-th GTP-U header of the frame (GTPv2-C is printed without a gtp layer).
            k = protocols[:inner_at].count("gtp") - 1
            gtpu = [g for g in layers_named(layers, "gtp") if first_int(g, "gtp_gtp_message") == GTPU_GPDU]
            teid = first_int(gtpu[k], "gtp_gtp_teid") if 0 <= k < len(gtpu) else None
            return Tunnel("gtpu", outer[0], outer[1], teid)
        for kind, key in (("vxlan", "vxlan_vxlan_vni"), ("geneve", "geneve_geneve_vni"), ("gre", "gre_gre_key")):
            if kind in between:
                layer = _nth_layer(layers, kind, protocols[:inner_at].count(kind) - 1)
                return Tunnel(kind, outer[0], outer[1], first_int(layer, key) if layer is not None else None)
        return Tunnel("ipip", outer[0], outer[1], None)


def _quoted(protocols: list[str]) -> bool:
    """Whether an IP header follows an ICMP one: the rest of the frame is a quoted packet."""
    seen_icmp = False
    for proto in protocols:
        if proto in _ICMP:
            seen_icmp = True
        elif seen_icmp and proto in _IP_LAYERS:
            return True
    return False


def _layer_bytes(layers: Layer, name: str, index: int) -> bytes | None:
    """The bytes of the index-th instance of a protocol in the frame (``<proto>_raw``, from -x)."""
    found = values(layers, f"{name}_raw")
    return hex_bytes(found[index]) if 0 <= index < len(found) else None


def _address_pair(layers: Layer, protocols: list[str], at: int) -> tuple[str, str] | None:
    """Source and destination of the IP header at ``protocols[at]``, from its bytes."""
    kind = protocols[at]
    header = _layer_bytes(layers, kind, protocols[:at].count(kind))
    if header is None:
        return None
    if kind == "ip" and len(header) >= 20:
        return socket.inet_ntop(socket.AF_INET, header[12:16]), socket.inet_ntop(socket.AF_INET, header[16:20])
    if kind == "ipv6" and len(header) >= 40:
        return socket.inet_ntop(socket.AF_INET6, header[8:24]), socket.inet_ntop(socket.AF_INET6, header[24:40])
    return None


def _nth_layer(layers: Layer, name: str, index: int) -> Layer | None:
    found = layers_named(layers, name)
    if 0 <= index < len(found):
        return found[index]
    return None


__all__ = ["MESSAGE_RAW", "EventBuilder", "FrameContext"]
