"""Simple Service Discovery Protocol (UPnP Device Architecture 2.0 s1) on UDP 1900.

Devices announce themselves (NOTIFY ... ssdp:alive), answer searches (HTTP/1.1
200) and search (M-SEARCH) with HTTP-like messages: a start line, header
fields, no body (HTTPU, UDA s1.1.1).  What identifies the device, most telling
first: a friendly-name header some vendors add (X-FRIENDLY-NAME,
FRIENDLYNAME.*), the SERVER (or USER-AGENT) product tokens ("OS/version
UPnP/2.0 product/version"), and the device or service type after the UUID in
USN ("uuid:<device-UUID>::urn:schemas-upnp-org:device:MediaRenderer:1").

Traffic on port 1900 includes plenty that is not SSDP; anything without an
SSDP start line is counted and dropped, and header values are read as text
whatever their bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.model import Event, SsdpMessage

SSDP_PORT = 1900

_START_LINES = (b"NOTIFY ", b"M-SEARCH ", b"HTTP/1.")
MAX_HEADER_FIELDS = 64
MAX_VALUE_LENGTH = 512
# Header fields whose value names the device, most telling first; friendly-name fields vary by vendor.
_FRIENDLY_FIELDS = ("x-friendly-name", "friendlyname", "x-friendlyname", "friendly-name")
_PRODUCT_FIELDS = ("server", "user-agent", "x-user-agent")


def parse_headers(payload: bytes) -> tuple[str, dict[str, str]] | None:
    """The start line and the header fields (lower-case names, first value wins), or None."""
    if not payload.startswith(_START_LINES):
        return None
    head = payload.split(b"\r\n\r\n", 1)[0]
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    start = lines[0].decode("latin-1").strip()
    fields: dict[str, str] = {}
    for raw in lines[1 : 1 + MAX_HEADER_FIELDS]:
        name, sep, value = raw.partition(b":")
        if not sep:
            continue
        key = name.strip().lower().decode("latin-1")
        if key and key not in fields:
            fields[key] = _text(value.strip()[:MAX_VALUE_LENGTH])
    return start, fields


def _text(raw: bytes) -> str:
    # UTF-8 is what devices send for friendly names; latin-1 never fails.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def usn_type(usn: str) -> str:
    """The part of a USN after the device UUID: "urn:...:device:MediaServer:1", or ""."""
    _, sep, rest = usn.partition("::")
    return rest.strip() if sep else ""


def device_names(fields: dict[str, str]) -> tuple[str, ...]:
    """Every identifying value in the header fields, most telling first."""
    values: list[str] = []
    for key, value in fields.items():
        if value and (key in _FRIENDLY_FIELDS or key.startswith("friendlyname.")):
            values.append(value)
    values += [fields[key] for key in _PRODUCT_FIELDS if fields.get(key)]
    kind = usn_type(fields.get("usn", ""))
    if kind:
        values.append(kind)
    return tuple(dict.fromkeys(v for v in values if v.isprintable()))


class SsdpDecoder(DatagramDecoder):
    name = "ssdp"
    udp_ports = frozenset({SSDP_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        parsed = parse_headers(payload)
        if parsed is None:
            self.anomalies.add("ssdp_not_ssdp")
            return ()
        names = device_names(parsed[1])
        if not names:
            return ()  # a bare M-SEARCH: a search target, no name
        return (
            SsdpMessage(
                **ctx.header(),
                name=names[0],
                names=names,
            ),
        )
