"""WebSocket messages (RFC 6455) a client sent after an HTTP Upgrade, from tshark's ``websocket``
layer: the payload tshark unmasked (``-x``), the text it reassembled from fragments and inflated
(permessage-deflate, RFC 7692), and the Upgrade request's host and URI, which the HTTP builder
remembers for the connection.  As the native decoder (scanner/decode/protocols/websocket.py):
one event per text or binary message of the client's direction, at the frame that completes it;
control frames (close, ping, pong) are not messages."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols.websocket import CLOSE, MAX_MESSAGE_BYTES, TEXT
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first, first_int, flag, raw
from scanner.engines.tshark.protocols.http import HttpBuilder
from scanner.model import Event, WebSocketMessage


class WebSocketBuilder(LayerBuilder):
    """WebSocket messages of upgraded connections."""

    layer = "websocket"
    display_filter = "websocket"
    protocols = ("websocket",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        opcode = first_int(layer, "websocket_websocket_opcode")
        if opcode is None or opcode >= CLOSE or not flag(first(layer, "websocket_websocket_fin")):
            return ()  # a control frame, or a fragment (tshark reassembles a message at its last frame)
        http = self.peers.get("http")
        upgrades = http.websocket_upgrades if isinstance(http, HttpBuilder) else {}
        upgraded = upgrades.get((ctx.capture, ctx.tunnel, ctx.flow))
        if upgraded is None:
            return ()  # the server's direction (or an Upgrade this capture does not hold)
        # Text: what tshark reassembled and inflated; binary: the frame's unmasked payload.
        text_payload = raw(layer, "websocket_websocket_payload_text")
        if text_payload is not None:
            payload, kind = text_payload, "text"
        else:
            payload = raw(layer, "websocket_websocket_payload") or b""
            kind = "text" if opcode == TEXT else "binary"
        truncated = len(payload) > MAX_MESSAGE_BYTES
        host, uri = upgraded
        return (
            WebSocketMessage(
                **ctx.header(),
                host=host,
                uri=uri,
                opcode=kind,
                length=min(len(payload), MAX_MESSAGE_BYTES),
                compressed=flag(first(layer, "websocket_websocket_pmc")),
                truncated=truncated,
                decrypted=ctx.decrypted,
                first_frame=ctx.first_frame,
                payload=payload[:MAX_MESSAGE_BYTES],
            ),
        )
