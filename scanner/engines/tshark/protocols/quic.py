"""QUIC Initials (RFC 9000/9001, RFC 9369) from tshark's ``quic`` layer: tshark decrypts the
Initial and dissects the ClientHello inside its CRYPTO frames as a nested ``tls`` layer."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from scanner.decode.protocols.base import Anomalies
from scanner.engines.tshark.builder import FrameContext, LayerBuilder, first_time
from scanner.engines.tshark.ek import Layer, first_int, integers, layers_named, text
from scanner.engines.tshark.protocols.tls import client_hello
from scanner.model import Event, QuicInitial


class QuicBuilder(LayerBuilder):
    """The ClientHello of each QUIC connection."""

    layer = "quic"
    display_filter = "tls.handshake.type == 1"
    protocols = ("quic", "tls")

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        super().__init__(anomalies, counters)
        self._quic_seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        events: list[Event] = []
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
