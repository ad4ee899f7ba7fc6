"""HTTP/2 requests (RFC 9113, h2c) from tshark's ``http2`` layer: HEADERS frames with a
``:method``, header blocks HPACK-decoded by tshark."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, values
from scanner.engines.tshark.protocols.http import header_value
from scanner.model import Event, HttpRequest

HTTP2_HEADERS = 1


class Http2Builder(LayerBuilder):
    """HTTP/2 requests."""

    layer = "http2"
    display_filter = "http2.header"
    protocols = ("http2",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        # One layer per HTTP/2 frame; a HEADERS frame with :method is a request.  Header
        # blocks were HPACK-decoded by tshark (it needs the connection from its start).
        if first_int(layer, "http2_http2_type") != HTTP2_HEADERS:
            # PUSH_PROMISE also carries :method, but it is the server's promise, not a request
            # the client sent (the native decoder reads the client's direction only).
            return ()
        names = [str(n) for n in values(layer, "http2_http2_header_name")]
        if ":method" not in names:
            return ()
        header_values = [str(v) for v in values(layer, "http2_http2_header_value")]
        if len(header_values) != len(names):
            self.anomalies.add("tshark_http2_headers_misaligned")
            return ()
        pseudo: dict[str, str] = {}
        headers: list[tuple[str, str]] = []
        for name, value in zip(names, header_values, strict=True):
            if name.startswith(":"):
                pseudo.setdefault(name, value)
            else:
                headers.append((name, value))
        host = pseudo.get(":authority") or header_value(headers, "host")
        return (
            HttpRequest(
                **ctx.header(),
                decrypted=ctx.decrypted,
                method=pseudo.get(":method", ""),
                host=host,
                uri=pseudo.get(":path", ""),
                user_agent=header_value(headers, "user-agent"),
                version="HTTP/2",
                content_type=header_value(headers, "content-type"),
                content_encoding=header_value(headers, "content-encoding"),
                headers=tuple(headers),
            ),
        )
