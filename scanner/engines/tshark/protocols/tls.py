"""TLS ClientHellos (RFC 8446 s4.1.2) from tshark's ``tls`` layer; JA3/JA4 are computed by the
native decoder's ``ClientHello`` (scanner/decode/protocols/tls.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.tls import ClientHello
from scanner.engines.tshark.builder import MAX_CONNECTIONS, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, integers, raw_values, text, values
from scanner.model import Event, TlsClientHello

# A ClientHello on the same 5-tuple this soon after another answers a HelloRetryRequest.
TLS_RETRY_WINDOW = 60.0


class TlsBuilder(LayerBuilder):
    """TLS ClientHellos, the first of each connection."""

    layer = "tls"
    display_filter = "tls.handshake.type == 1"
    protocols = ("tls",)

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        super().__init__(anomalies, counters)
        self._tls_seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        if 1 not in integers(layer, "tls_tls_handshake_type"):
            return ()
        key = (ctx.capture, ctx.tunnel, ctx.flow)
        previous = self._tls_seen.get(key)
        self._tls_seen[key] = ctx.ts
        self._tls_seen.move_to_end(key)
        if len(self._tls_seen) > MAX_CONNECTIONS:
            self._tls_seen.popitem(last=False)
        if previous is not None and ctx.ts - previous < TLS_RETRY_WINDOW:
            # A second ClientHello on one connection answers a HelloRetryRequest (RFC 8446
            # s4.1.4) with the same server name; the native decoder reads the first only.
            # (A later one on the same 5-tuple is a new connection reusing the ports.)
            self.count("tshark_tls_client_hello_repeated")
            return ()
        hello = client_hello(layer)
        return (
            TlsClientHello(
                **ctx.header(),
                sni=hello.sni,
                alpn=hello.alpn,
                ja4=hello.ja4("t"),
                ja3=text(layer, "tls_tls_handshake_ja3") or hello.ja3(),
                version=hello.version_name(),
            ),
        )


def client_hello(layer: Layer) -> ClientHello:
    """The ClientHello tshark dissected, as the shared type that computes JA3/JA4."""
    extensions = integers(layer, "tls_tls_handshake_extension_type")
    sig_lists = raw_values(layer, "tls_tls_handshake_sig_hash_algs")
    # signature_algorithms (13) and signature_algorithms_cert (50) print the same field:
    # JA4 wants the former, so pick its list by the extensions' wire order.
    sig_order = [e for e in extensions if e in (13, 50)]
    sig_algs: tuple[int, ...] = ()
    if 13 in sig_order and len(sig_lists) == len(sig_order):
        data = sig_lists[sig_order.index(13)]
        sig_algs = tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data) - 1, 2))
    elif 13 in extensions:
        sig_algs = tuple(integers(layer, "tls_tls_handshake_sig_hash_alg"))
    alpn_raw = raw_values(layer, "tls_tls_handshake_extensions_alpn_str")
    sni = text(layer, "tls_tls_handshake_extensions_server_name")
    return ClientHello(
        legacy_version=first_int(layer, "tls_tls_handshake_version") or 0,
        ciphers=tuple(integers(layer, "tls_tls_handshake_ciphersuite")),
        extensions=tuple(extensions),
        sni=sni or None,
        alpn=tuple(str(a) for a in values(layer, "tls_tls_handshake_extensions_alpn_str")),
        supported_versions=tuple(integers(layer, "tls_tls_handshake_extensions_supported_version")),
        signature_algorithms=sig_algs,
        groups=tuple(integers(layer, "tls_tls_handshake_extensions_supported_group")),
        ec_point_formats=tuple(integers(layer, "tls_tls_handshake_extensions_ec_point_format")),
        alpn_raw_first=alpn_raw[0] if alpn_raw else b"",
    )
