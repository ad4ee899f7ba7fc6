"""HTTP/3 requests (RFC 9114) from tshark's ``http3`` layer, in QUIC that tshark decrypted with the
key log (``-o tls.keylog_file:``, or the capture's Decryption Secrets Block).

tshark 4.0 dissects HTTP/3 frames but does not decompress QPACK (RFC 9204) header blocks, and it
does not print the QPACK encoder stream either.  A request's method, authority and path are
therefore read here from the HEADERS frame's own bytes only when the block refers to no
dynamic-table entry (``http3.static_header_block``, the native decoder's rule): typically a
connection's first request.  Every other request header block is counted as
``tshark_http3_qpack_dynamic``, the difference the engines' parity test names, with 0-RTT (tshark
decrypts early data but does not hand it to HTTP/3).  Bodies (DATA frames, in later packets,
without the stream id in this layer) are not joined to their request.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.http_message import request_from_fields
from scanner.decode.protocols.http3 import FRAME_HEADERS, static_header_block
from scanner.decode.protocols.quic import QUIC_PORT, decrypted_label
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, hex_bytes, integers, values
from scanner.engines.tshark.protocols.quic import QuicBuilder
from scanner.model import Event


class Http3Builder(LayerBuilder):
    """HTTP/3 requests whose header block tshark's fields are enough to read."""

    layer = "http3"
    display_filter = "http3.frame_type == 1"
    protocols = ("http3",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        if ctx.flow.dport != QUIC_PORT or ctx.flow.sport == QUIC_PORT:
            return ()  # the server's HEADERS frames are responses (the native decoder reads requests)
        types = integers(layer, "http3_http3_frame_type")
        payloads = values(layer, "http3_http3_frame_payload")
        if len(types) != len(payloads):
            self.anomalies.add("tshark_http3_frames_misaligned")
            return ()
        # The http3 layer does not say which QUIC version carried it: the QUIC builder saw the
        # connection's Initial and the server's long-header packets (RFC 9368 lets the server
        # move the connection to another version).
        quic = self.peers.get("quic")
        versions = getattr(quic, "versions", {})
        decrypted = decrypted_label(versions.get((ctx.capture, ctx.tunnel, ctx.flow), 1))
        if isinstance(quic, QuicBuilder):
            quic.decrypted(ctx.capture, ctx.tunnel, ctx.flow)
        events: list[Event] = []
        for ftype, payload in zip(types, payloads, strict=True):
            if ftype != FRAME_HEADERS:
                continue
            block = hex_bytes(payload)
            fields = static_header_block(block) if block else None
            if fields is None:
                self.count("tshark_http3_qpack_dynamic")
                continue
            event = request_from_fields(
                fields,
                b"",
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                version="HTTP/3",
                anomalies=self.anomalies,
                anomaly_prefix="tshark_http3",
                decrypted=decrypted,
            )
            if event is not None:
                events.append(event)
        return events
