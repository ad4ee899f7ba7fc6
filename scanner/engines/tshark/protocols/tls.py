"""TLS ClientHellos (RFC 8446 s4.1.2) from tshark's ``tls`` layer; JA3/JA4 are computed by the
native decoder's ``ClientHello`` (scanner/decode/protocols/tls.py)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.tls import CLIENT_HELLO, SERVER_HELLO, ClientHello
from scanner.decode.tlsdecrypt.suites import VERSION_NAMES
from scanner.engines.tshark.builder import MAX_CONNECTIONS, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, integers, layers_named, raw_values, text, values
from scanner.model import Event, TlsClientHello

# A ClientHello on the same 5-tuple this soon after another answers a HelloRetryRequest.
TLS_RETRY_WINDOW = 60.0


# Application layers that, in a frame with a TLS layer, tshark decrypted with the key log.
DECRYPTED_LAYERS = ("http", "http2", "websocket")


class TlsBuilder(LayerBuilder):
    """TLS ClientHellos, the first of each connection; with a key log, the version each
    connection negotiated (its ServerHello), which marks the requests tshark decrypted."""

    layer = "tls"
    # ServerHellos too: a TLS 1.3 connection's records all say 0x0303, only its ServerHello
    # says what the requests tshark decrypts were decrypted from.
    display_filter = "tls.handshake.type == 1 or tls.handshake.type == 2"
    protocols = ("tls",)

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        super().__init__(anomalies, counters)
        self._tls_seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        # (capture, tunnel, client flow) -> negotiated version name, from the ServerHello.
        self._versions: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        # Connections whose ClientHello was reported and nothing of which tshark decrypted yet:
        # counted as not read until their first decrypted request (the report's warning).
        self._unread: OrderedDict[tuple[Any, ...], None] = OrderedDict()

    def annotate(self, ctx: FrameContext, layers: Layer) -> FrameContext:
        for layer in layers_named(layers, "tls"):
            if SERVER_HELLO in integers(layer, "tls_tls_handshake_type"):
                # RFC 8446 s4.2.1: TLS 1.3 is named by the ServerHello's supported_versions.
                chosen = integers(layer, "tls_tls_handshake_extensions_supported_version")
                number = chosen[-1] if chosen else (first_int(layer, "tls_tls_handshake_version") or 0)
                key = (ctx.capture, ctx.tunnel, ctx.flow.reversed())
                self._versions[key] = VERSION_NAMES.get(number, f"0x{number:04x}")
                self._versions.move_to_end(key)
                if len(self._versions) > MAX_CONNECTIONS:
                    self._versions.popitem(last=False)
        if any(name in layers for name in DECRYPTED_LAYERS):
            key = (ctx.capture, ctx.tunnel, ctx.flow)
            if self._unread.pop(key, 0) is None:
                self._uncount("tls_connections_unreadable")
                self.count("tls_connections_decrypted")
            # Data decrypted before any ServerHello is 0-RTT early data, which only TLS 1.3 has.
            name = self._versions.get(key, "TLSv1.3")
            return dataclasses.replace(ctx, decrypted=name)
        return ctx

    def _uncount(self, name: str) -> None:
        left = self.counters.get(name, 0) - 1
        if left > 0:
            self.counters[name] = left
        else:
            self.counters.pop(name, None)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        if CLIENT_HELLO not in integers(layer, "tls_tls_handshake_type"):
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
        self._unread[key] = None
        self.count("tls_connections_unreadable")
        if len(self._unread) > MAX_CONNECTIONS:
            self._unread.popitem(last=False)
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
