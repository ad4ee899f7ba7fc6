"""QUIC Initials (RFC 9000/9001, RFC 9369) from tshark's ``quic`` layer: tshark decrypts the
Initial and dissects the ClientHello inside its CRYPTO frames as a nested ``tls`` layer."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.quic import QUIC_PORT
from scanner.engines.tshark.builder import MAX_CONNECTIONS, FrameContext, LayerBuilder, first_time
from scanner.engines.tshark.ek import Layer, first_int, integers, layers_named, text
from scanner.engines.tshark.protocols.tls import client_hello
from scanner.model import Event, QuicInitial


class QuicBuilder(LayerBuilder):
    """The ClientHello of each QUIC connection."""

    layer = "quic"
    # And the server's long-header packets on 443: their version is the one the connection runs
    # (RFC 9368 lets the server move a client to another version), for HTTP/3's "decrypted".
    display_filter = "tls.handshake.type == 1 or (quic.long.packet_type and udp.srcport == 443)"
    protocols = ("quic", "tls")

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        super().__init__(anomalies, counters)
        self._quic_seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        # (capture, tunnel, client flow) -> the connection's version (its client Initial's, then
        # the server's long headers'), for the HTTP/3 builder's "decrypted" (tshark's http3
        # layer does not say).
        self.versions: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        # Connections whose ClientHello was reported and none of whose HTTP/3 tshark decrypted
        # yet: counted as not read until the HTTP/3 builder sees their first request (the
        # report's warning), as the TLS builder does.
        self._unread: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    def decrypted(self, capture: str, tunnel: Any, flow: Any) -> None:
        """The HTTP/3 builder saw a request of this connection: tshark had its keys."""
        if self._unread.pop((capture, tunnel, flow), 0) is None:
            left = self.counters.get("quic_connections_unreadable", 0) - 1
            if left > 0:
                self.counters["quic_connections_unreadable"] = left
            else:
                self.counters.pop("quic_connections_unreadable", None)
            self.count("quic_connections_decrypted")

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        events: list[Event] = []
        if ctx.flow.sport == QUIC_PORT and ctx.flow.dport != QUIC_PORT:
            chosen = first_int(layer, "quic_quic_version")
            client = (ctx.capture, ctx.tunnel, ctx.flow.reversed())
            if chosen and client in self.versions:
                self.versions[client] = chosen
            return events
        for tls in layers_named(layer, "tls"):
            if 1 not in integers(tls, "tls_tls_handshake_type"):
                continue
            version = first_int(layer, "quic_quic_version")
            flow = ctx.flow
            key = (ctx.capture, ctx.tunnel, flow, text(layer, "quic_quic_dcid"))
            if not first_time(self._quic_seen, key):
                # One event per connection, as the native decoder: a retransmitted Initial
                # carries the same ClientHello again.
                self.count("tshark_quic_client_hello_repeated")
                continue
            self.versions[(ctx.capture, ctx.tunnel, flow)] = version or 0
            if len(self.versions) > MAX_CONNECTIONS:
                self.versions.popitem(last=False)
            self._unread[(ctx.capture, ctx.tunnel, flow)] = None
            self.count("quic_connections_unreadable")
            if len(self._unread) > MAX_CONNECTIONS:
                self._unread.popitem(last=False)
            hello = client_hello(tls)
            events.append(
                QuicInitial(
                    **ctx.header(flow=flow),
                    version=f"0x{version or 0:08x}",
                    sni=hello.sni,
                    alpn=hello.alpn,
                    ja4=hello.ja4("q"),
                )
            )
        return events
