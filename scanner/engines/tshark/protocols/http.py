"""HTTP/1.x requests (RFC 9112) from tshark's ``http`` layer, with every header field and the
decoded body (tshark de-chunks and decompresses it; what it cannot decode is decoded with
the native decoder's scanner/decode/content.py).  ``frame`` is the frame that completed the
request, ``first_frame`` the one where it started when different."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from scanner.decode.content import MAX_DECODED_BODY, ContentError, decode_content
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.http import header_text
from scanner.engines.tshark.builder import MAX_CONNECTIONS, MESSAGE_RAW, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, hex_bytes, raw, raw_values, text, values
from scanner.model import Event, HttpRequest


class HttpBuilder(LayerBuilder):
    """HTTP/1.x requests."""

    layer = "http"
    display_filter = "http.request"
    protocols = ("http",)
    message_bytes = True  # the body tshark could not decode is cut from the message bytes

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        super().__init__(anomalies, counters)
        # Connections a request upgraded to WebSocket (RFC 6455 s4.1): (capture, tunnel, client
        # flow) -> (host, uri), for the WebSocket builder's messages.  Bounded, oldest first out.
        self.websocket_upgrades: OrderedDict[tuple[Any, ...], tuple[str | None, str]] = OrderedDict()

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        method = text(layer, "http_http_request_method")
        if method is None:
            return ()  # a response
        headers = _header_fields(raw_values(layer, "http_http_request_line"), values(layer, "http_http_request_line"))
        uri_raw = raw(layer, "http_http_request_uri")
        uri = header_text(uri_raw) if uri_raw is not None else (text(layer, "http_http_request_uri") or "")
        content_encoding = header_value(headers, "content-encoding")
        truncated = False
        # http.file_data is the body tshark de-chunked and decoded.  When tshark cannot undo
        # the content coding (zstd, rc4 in tshark 4.0) it prints no file_data at all: the body
        # is then taken from the message bytes and decoded here, as the native decoder does.
        body = raw(layer, "http_http_file_data")
        if body is None:
            body = _undecoded_body(layer) if content_encoding else b""
            if body and content_encoding:
                try:
                    body, truncated = decode_content(body, content_encoding)
                except ContentError:
                    self.anomalies.add("tshark_http_content_encoding_error")
        if len(body) > MAX_DECODED_BODY:
            body, truncated = body[:MAX_DECODED_BODY], True
        transfer = header_value(headers, "transfer-encoding")
        upgrade = header_value(headers, "upgrade")
        if upgrade is not None and "websocket" in upgrade.lower():
            key = (ctx.capture, ctx.tunnel, ctx.flow)
            self.websocket_upgrades[key] = (header_value(headers, "host"), uri)
            if len(self.websocket_upgrades) > MAX_CONNECTIONS:
                self.websocket_upgrades.popitem(last=False)
        return (
            HttpRequest(
                **ctx.header(),
                decrypted=ctx.decrypted,
                method=method,
                host=header_value(headers, "host"),
                uri=uri,
                user_agent=header_value(headers, "user-agent"),
                version=text(layer, "http_http_request_version") or "HTTP/1.1",
                content_type=header_value(headers, "content-type"),
                body_len=len(body),
                body_truncated=truncated,
                content_encoding=content_encoding,
                chunked=transfer is not None and "chunked" in transfer.lower(),
                first_frame=ctx.first_frame,
                headers=tuple(headers),
                body=body,
            ),
        )


def _header_fields(raw_lines: list[bytes], printed: list[Any]) -> list[tuple[str, str]]:
    """Header fields from tshark's header lines ("Name: value\\r\\n"), as the native decoder splits them."""
    lines = raw_lines or [str(p).encode("utf-8", "replace") for p in printed]
    headers: list[tuple[str, str]] = []
    for line in lines:
        line = line.rstrip(b"\r\n")
        colon = line.find(b":")
        if colon <= 0:
            continue
        headers.append((header_text(line[:colon].strip()), header_text(line[colon + 1 :].strip())))
    return headers


def header_value(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _undecoded_body(layer: Layer) -> bytes:
    """A body tshark could not decode (``Content-Encoding: rc4,gzip``) gets no http.file_data;
    it is then the part of the message's own bytes after the header section."""
    message = hex_bytes(layer.get(MESSAGE_RAW))
    if not message:
        return b""
    end = message.find(b"\r\n\r\n")
    return message[end + 4 :] if end >= 0 else b""
