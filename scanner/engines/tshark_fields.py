"""What the tshark engine asks tshark for, and how it reads tshark's answer.

The engine never asks for the whole dissection tree of every packet.  Three
things keep tshark's output small and the Python side cheap:

- a display filter (``DISPLAY_FILTER``) that lets through only the packets
  that can carry an event: the others are dissected (TCP reassembly needs
  them) but never printed;
- a protocol filter (``-J``, ``PROTOCOLS``) that prints only the layers the
  event builders read, not Ethernet, TCP analysis trees, X.509 certificates
  or ASN.1 of S1AP;
- Elasticsearch (``-T ek``) output: one JSON object per line, which
  ``json.loads`` parses in C, streamed as tshark writes it.

``-x`` adds, next to every field, the bytes it was dissected from
(``<field>_raw``, hex).  It is needed because tshark prints some string
fields lossily: ``http.file_data`` is an ``FT_STRING`` that stops at the
first NUL byte and turns every non-ASCII byte into U+FFFD, which would lose
identifiers in binary or UTF-8 bodies.  The raw bytes of the body come from
the data source tshark de-chunked and decompressed, so they are the decoded
body.

EK layout (tshark 4.x): ``{"timestamp", "layers": {name: layer}}`` where a
layer is a dict of flattened fields named ``<proto>_<field with . as _>``
(``dns_dns_qry_name``), and a protocol that occurs twice in a frame (a
tunnel's inner IP, two HTTP requests in one segment) is a list of such
dicts.  A field that occurs once is a scalar, more than once a list.
Protocols that a dissector nests inside its own tree (TLS inside QUIC, IPCP
inside GTP) are dicts inside the parent layer.  The helpers below hide the
scalar-or-list difference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.decode.protocols.http import header_text

Layer = Mapping[str, Any]

# Packets that can carry an event.  ``frame.number == 1`` is there so that tshark
# always prints something when it could read at least one packet: a capture that
# tshark cannot read at all is then told apart from one with nothing to report.
# GTP-U (message 0xff) is left out: its inner packets match on their own protocol.
# QUIC Initials match on tls.handshake.type, since tshark decrypts them and
# dissects the ClientHello inside the CRYPTO frames.
DISPLAY_FILTER = (
    "dns or mdns or llmnr or nbns or http.request or http2.header or ssdp"
    " or tls.handshake.type == 1"
    " or dhcp or dhcpv6"
    " or (gtp and gtp.message != 0xff) or gtpv2 or radius or diameter"
    " or frame.number == 1"
)

# Layers the event builders read (``-J``: the protocol and all its fields).  frame gives
# the number, time and protocol stack; gtp/gre/vxlan/geneve the tunnel; tcp.segments +
# tcp.segment the frames a reassembled request came from (the field has to be named as
# well as its tree, else EK prints it as {"filtered": ...}).  IP, UDP, TCP and SCTP are
# left out: their full trees were a third of the output, and the four fields the flow
# needs are read from the header bytes -x prints anyway (``ip_raw``, ``udp_raw``...).
PROTOCOLS = (
    "frame tcp.segments tcp.segment gtp gre vxlan geneve gtpv2"
    " dns mdns llmnr nbns http http2 ssdp tls quic dhcp dhcpv6 radius diameter"
)

# tshark preferences, set explicitly so that a user's Wireshark profile cannot
# change what the engine sees (tshark reads ~/.config/wireshark/preferences).
PREFERENCES: dict[str, str] = {
    # Reassemble TCP payloads that span segments: HTTP requests, TLS ClientHellos
    # (post-quantum key shares make them ~1.8 kB), Diameter and DNS over TCP.
    "tcp.desegment_tcp_streams": "TRUE",
    # Needed for the one below, and so that retransmissions are recognised.
    "tcp.analyze_sequence_numbers": "TRUE",
    # Off by default in tshark 4.0: without it a request whose segments arrived
    # out of order is never reassembled (the native engine reorders them).
    "tcp.reassemble_out_of_order": "TRUE",
    # Synthetic and offloaded captures have wrong checksums; a wrong checksum
    # must not stop reassembly (the native engine does not check them either).
    "tcp.check_checksum": "FALSE",
    "udp.check_checksum": "FALSE",
    "ip.check_checksum": "FALSE",
    # HTTP: wait for the whole header section and the whole body, undo chunked
    # transfer coding and gzip/deflate(/brotli) content coding, so that
    # http.file_data is the body an application sent.
    "http.desegment_headers": "TRUE",
    "http.desegment_body": "TRUE",
    "http.dechunk_body": "TRUE",
    "http.decompress_body": "TRUE",
    # IP fragments are reassembled (GTP-U on Gn is often fragmented).
    "ip.defragment": "TRUE",
    "ipv6.defragment": "TRUE",
    # TSO/LRO captures write an IPv4 total length of 0: trust the frame, as the native engine does.
    "ip.tso_support": "TRUE",
    # A ClientHello may span TLS records, and QUIC CRYPTO frames may arrive out of order.
    "tls.desegment_ssl_records": "TRUE",
    "quic.reassemble_crypto_out_of_order": "TRUE",
    "dns.desegment_dns_messages": "TRUE",
    "diameter.desegment": "TRUE",
    # GTPv2-C over TCP (some lab cores), as the native engine reads it.
    "gtp.dissect_gtp_over_tcp": "TRUE",
}

# Decode-as rules (tshark -d, "criterion,protocol"), for protocols on ports tshark does not
# associate with them.  None is needed for parity: every port the native decoders claim is
# registered in tshark 4.0 for the same protocol (DNS 53, mDNS 5353, LLMNR 5355, NBNS 137,
# SSDP 1900, DHCP 67/68, DHCPv6 546/547, GTP-C 2123 over UDP and TCP, GTP-U 2152, RADIUS
# 1645/1646/1812/1813/3799, Diameter TCP/SCTP 3868 and SCTP PPID 46, QUIC 443, VXLAN 4789,
# Geneve 6081), and HTTP, TLS and QUIC are found on other ports by tshark's heuristics as the
# native decoders sniff them.  A lab that runs, say, GTP-C on 3386 adds {"udp.port==3386": "gtp"}.
DECODE_AS: dict[str, str] = {}

# Heuristic dissectors turned off.  tshark tries DNS on any UDP port; the native engine
# reads DNS on port 53 only (5353 is mDNS, 5355 LLMNR), and on other ports the DNS
# heuristic mostly finds "DNS" in fuzzed or unrelated payloads.
HEURISTICS_DISABLED: tuple[str, ...] = ("dns_udp",)


def command_options() -> list[str]:
    """The tshark options besides those pyshark adds (-n -T ek -x -Y -o -r)."""
    options = ["-J", PROTOCOLS]
    for name in HEURISTICS_DISABLED:
        options += ["--disable-heuristic", name]
    return options


# --------------------------------------------------------------------------- reading EK


def layers_named(layers: Layer, name: str) -> list[Layer]:
    """Every instance of a protocol in a frame, in order, top-level or nested in another layer."""
    found = _as_list(layers.get(name))
    if not found:
        for value in layers.values():
            for parent in _as_list(value):
                if isinstance(parent, Mapping) and name in parent:
                    found.extend(_as_list(parent[name]))
    return [layer for layer in found if isinstance(layer, Mapping)]


def values(layer: Layer, key: str) -> list[Any]:
    """A field's values in tree order (a field that occurs once is a scalar in EK)."""
    value = layer.get(key)
    if value is None:
        return []
    return value if type(value) is list else [value]


def first(layer: Layer, key: str) -> Any:
    value = layer.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def text(layer: Layer, key: str) -> str | None:
    value = first(layer, key)
    return None if value is None else str(value)


def integer(value: Any) -> int | None:
    """tshark prints integers in decimal or, for hex-displayed fields, as ``0x...``."""
    if type(value) is str:
        # The common case first: this runs for every count, type and port of every record.
        try:
            return int(value)
        except ValueError:
            pass
        try:
            token = value.strip()
            return int(token, 16) if token[:2].lower() == "0x" else int(token)
        except ValueError:
            return None
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, int) else None


def integers(layer: Layer, key: str) -> list[int]:
    out: list[int] = []
    for value in values(layer, key):
        number = integer(value)
        if number is not None:
            out.append(number)
    return out


def first_int(layer: Layer, key: str) -> int | None:
    return integer(first(layer, key))


def flag(value: Any) -> bool:
    """A boolean field: EK writes ``true``/``false``, JSON-style output ``"1"``/``"0"``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true")


def raw_values(layer: Layer, key: str) -> list[bytes]:
    """The bytes each instance of a field was dissected from (``-x``), in order."""
    out: list[bytes] = []
    for value in values(layer, key + "_raw"):
        data = hex_bytes(value)
        if data is not None:
            out.append(data)
    return out


def raw(layer: Layer, key: str) -> bytes | None:
    found = raw_values(layer, key)
    return found[0] if found else None


def hex_bytes(value: Any) -> bytes | None:
    """Bytes from tshark's hex: ``"0a0b"`` (raw) or ``"0a:0b"`` (an FT_BYTES field's value)."""
    if isinstance(value, list):
        # JSON-style raw: [hex, offset, length, bitmask, type]
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    try:
        return bytes.fromhex(value.replace(":", ""))
    except ValueError:
        return None


def string_field(layer: Layer, key: str) -> str | None:
    """A string field from its raw bytes when tshark gave them (exact, read as header octets
    are: UTF-8, else latin-1), else as tshark printed it."""
    data = raw(layer, key)
    if data is not None:
        return header_text(data)
    return text(layer, key)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def iter_ek_lines(data: bytes) -> Iterator[bytes]:
    """The packet lines of EK output (tshark interleaves ``{"index": ...}`` lines for Elasticsearch)."""
    for line in data.splitlines():
        if line and not line.startswith(b'{"index"'):
            yield line
