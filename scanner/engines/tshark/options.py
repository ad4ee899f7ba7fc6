"""What the tshark engine asks tshark for.

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

The display filter and the ``-J`` list are composed from the registered protocol
builders (scanner/engines/tshark/protocols/), each of which declares its fragment.
"""

from __future__ import annotations

# Importing the package registers every protocol builder: the filter and -J list are theirs.
import scanner.engines.tshark.protocols  # noqa: F401
from scanner.engines.tshark.builder import BUILDERS

# Packets that can carry an event: each builder's fragment.  ``frame.number == 1`` is there
# so that tshark always prints something when it could read at least one packet: a capture that
# tshark cannot read at all is then told apart from one with nothing to report.
# GTP-U (message 0xff) is left out: its inner packets match on their own protocol.
# QUIC Initials match on tls.handshake.type, since tshark decrypts them and
# dissects the ClientHello inside the CRYPTO frames.


def _display_filter() -> str:
    fragments = dict.fromkeys(builder.display_filter for builder in BUILDERS.values() if builder.display_filter)
    return " or ".join([*fragments, "frame.number == 1"])


DISPLAY_FILTER = _display_filter()

# Layers the event builders read (``-J``: the protocol and all its fields).  frame gives
# the number, time and protocol stack; gtp/gre/vxlan/geneve the tunnel; tcp.segments +
# tcp.segment the frames a reassembled request came from (the field has to be named as
# well as its tree, else EK prints it as {"filtered": ...}).  IP, UDP, TCP and SCTP are
# left out: their full trees were a third of the output, and the four fields the flow
# needs are read from the header bytes -x prints anyway (``ip_raw``, ``udp_raw``...).
# The layers every frame needs (the frame and its tunnels) come first, then each builder's.
_FRAME_PROTOCOLS = ("frame", "tcp.segments", "tcp.segment", "gtp", "gre", "vxlan", "geneve")
PROTOCOLS = " ".join(dict.fromkeys([*_FRAME_PROTOCOLS, *(p for b in BUILDERS.values() for p in b.protocols)]))

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


