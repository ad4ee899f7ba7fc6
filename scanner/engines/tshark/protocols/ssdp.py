"""SSDP (UPnP Device Architecture 2.0 s1) from tshark's ``ssdp`` layer; which header fields
name a device is the native rule (scanner/decode/protocols/ssdp.py ``device_names``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from scanner.decode.protocols.http import header_text
from scanner.decode.protocols.ssdp import device_names as ssdp_device_names
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, raw_values
from scanner.model import Event, SsdpMessage


class SsdpBuilder(LayerBuilder):
    """SSDP messages that name a device."""

    layer = "ssdp"
    display_filter = "ssdp"
    protocols = ("ssdp",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        fields: dict[str, str] = {}
        for line in _raw_header_lines(layer):
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            key = name.strip().lower().decode("latin-1")
            if key and key not in fields:
                fields[key] = header_text(value.strip()[:512])
        names = ssdp_device_names(fields)
        if not names:
            return ()
        return (SsdpMessage(**ctx.header(), name=names[0], names=names),)


# Fields of an HTTP-like layer whose raw bytes are not a header line of their own.
_NOT_HEADER_LINES = frozenset({
    "http_http_request_method_raw", "http_http_request_uri_raw", "http_http_request_version_raw",
    "http_http_response_version_raw", "http_http_response_code_raw", "http_http_response_phrase_raw",
    "http_http_file_data_raw",
})
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def _raw_header_lines(layer: Layer) -> list[bytes]:
    """The header lines of an HTTP-like message (SSDP), from the raw bytes of each header field.

    tshark prints http.request.line for HTTP requests but not for SSDP notifications, where
    each known header is its own field (http.server, http.location) and the rest are
    http.unknown_header; every one of them covers its whole "Name: value" line.
    """
    lines = raw_values(layer, "http_http_request_line") or raw_values(layer, "http_http_response_line")
    if lines:
        return lines
    for key in layer:
        if key.startswith("http_http_") and key.endswith("_raw") and key not in _NOT_HEADER_LINES:
            lines.extend(line for line in raw_values(layer, key[:-4]) if line.endswith(b"\n") and _HEADER_LINE.match(line))
    return lines
