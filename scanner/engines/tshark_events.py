"""Events from tshark's dissection: one EK record (a frame) in, privscan events out.

Each builder turns the layer tshark printed for a protocol into the same
event type, with the same conventions, as the native decoder of that
protocol (scanner/decode/protocols/), so that nothing after the engine can
tell which one ran:

- DNS events are oriented client -> server, responses included; ``answers``
  hold the answer section's values in record order, ``addresses`` the
  (address, question name) pairs of its A/AAAA records; names are printed as
  Wireshark escapes them (the native decoder copies that convention).
- HTTP events carry every header field and the decoded body (tshark
  de-chunks and decompresses it); ``frame`` is the frame that completed the
  request, ``first_frame`` the one where it started when different.
- GTP-C events are per message (piggybacked GTPv2 messages are separate
  layers), named in snake_case, with ``response``, ``seq``, ``teid``,
  ``sender_teid`` and ``user_teids``.

Fields come from tshark; tables of names (message types, codes) and
value encodings shared with the native decoders (TBCD, the JA4 recipe, the
rules that say which mDNS/SSDP names name a device) are imported from them
rather than copied, so the two engines cannot drift apart on conventions.

Where tshark flattens a tree (EK prints every ``dns.a`` of a message in one
list, every GTPv2 IE type in another), the builders rebuild the structure
from the counts and lengths tshark also prints.  Oddities are counted in
``Anomalies`` under ``tshark_*`` names, never raised.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scanner.decode.content import MAX_DECODED_BODY, ContentError, decode_content
from scanner.decode.protocols import dhcp as native_dhcp
from scanner.decode.protocols import dhcpv6 as native_dhcpv6
from scanner.decode.protocols import diameter as native_diameter
from scanner.decode.protocols import gtpc as native_gtpc
from scanner.decode.protocols import nbns as native_nbns
from scanner.decode.protocols import radius as native_radius
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.dns import (
    ROOT_NAME,
    RR_A,
    RR_AAAA,
    RR_CNAME,
    RR_HTTPS,
    RR_NS,
    RR_PTR,
    RR_SRV,
    RR_SVCB,
    RR_TXT,
    SVC_IPV4HINT,
    SVC_IPV6HINT,
    SVC_RRS,
    answer_section,
    qtype_name,
)
from scanner.decode.protocols.http import header_text
from scanner.decode.protocols.llmnr import host_names as llmnr_host_names
from scanner.decode.protocols.mdns import device_names as mdns_device_names
from scanner.decode.protocols.ssdp import device_names as ssdp_device_names
from scanner.decode.protocols.telecom import FRAMED_IP_PLACEHOLDERS, digits_or_tbcd, imsi_from_nai, ipv4, tbcd
from scanner.decode.protocols.tls import ClientHello
from scanner.engines.tshark_fields import (
    Layer,
    first,
    first_int,
    flag,
    hex_bytes,
    integer,
    integers,
    layers_named,
    raw,
    raw_values,
    string_field,
    text,
    values,
)
from scanner.model import (
    DhcpMessage,
    DiameterMessage,
    DnsMessage,
    Event,
    FlowTuple,
    GtpcMessage,
    HttpRequest,
    LlmnrMessage,
    MdnsMessage,
    NbnsMessage,
    QuicInitial,
    RadiusMessage,
    SsdpMessage,
    TlsClientHello,
    Tunnel,
)

_IP_LAYERS = ("ip", "ipv6")
_TRANSPORTS = ("tcp", "udp", "sctp")
_ICMP = ("icmp", "icmpv6")
GTPU_MESSAGE = 0xFF
GTPC_PORT, GTPU_PORT = 2123, 2152
HTTP2_HEADERS = 1

RR_OPT = 41  # EDNS (RFC 6891): a pseudo-record without a TTL
# The field that holds the value of each DNS resource record type the events carry.
_RR_VALUE_FIELDS = {
    RR_A: "dns_dns_a",
    RR_AAAA: "dns_dns_aaaa",
    RR_NS: "dns_dns_ns",
    RR_CNAME: "dns_dns_cname",
    RR_PTR: "dns_dns_ptr_domain_name",
    RR_SRV: "dns_dns_srv_target",
    RR_SVCB: "dns_dns_svcb_targetname",
    RR_HTTPS: "dns_dns_svcb_targetname",
}
_SVC_HINT_FIELDS = ("dns_dns_svcb_svcparam_ipv4hint_ip", "dns_dns_svcb_svcparam_ipv6hint_ip")

# NetBIOS names as Wireshark prints them: "NAME<1d>", RR names with " (Browser)" after.
_NETBIOS_NAME = re.compile(r"^(?P<name>.*)<(?P<suffix>[0-9A-Fa-f]{2})>")
# Protocol machinery, not a host's name: the NBSTAT wildcard and the browser election name
# (Wireshark prints its control characters escaped, so it is matched on its letters).
_NETBIOS_MACHINERY = re.compile(r"^\*$|__MSBROWSE__")

# Framed-IP-Address values that are not an address, as tshark prints them.
_FRAMED_IP_PLACEHOLDERS = frozenset(ipv4(raw) for raw in FRAMED_IP_PLACEHOLDERS)

_NEEDS_MESSAGE_BYTES = frozenset({"gtpv2", "http"})
MESSAGE_RAW = "_privscan_message_raw"

# TLS/QUIC connections whose ClientHello was reported: bounded like the native decoder's tables.
MAX_CONNECTIONS = 100_000
# A ClientHello on the same 5-tuple this soon after another answers a HelloRetryRequest.
TLS_RETRY_WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class FrameContext:
    """Where the application layers of one frame were seen."""

    capture: str
    frame: int
    ts: float
    flow: FlowTuple  # innermost transport, as the packet travelled
    tunnel: Tunnel | None
    # The frame where a PDU reassembled from several TCP segments started (tcp.segment),
    # when it is not this one: HttpRequest.first_frame.
    first_frame: int | None = None


class EventBuilder:
    """Builds the events of one scan from tshark's EK records (one instance per scan)."""

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        self.anomalies = anomalies
        self.counters = counters
        self._quic_seen: OrderedDict[tuple[Any, ...], None] = OrderedDict()
        self._tls_seen: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._builders: tuple[tuple[str, Callable[[FrameContext, Layer], Sequence[Event]]], ...] = (
            ("dns", self._dns),
            ("mdns", self._mdns),
            ("llmnr", self._llmnr),
            ("nbns", self._nbns),
            ("http", self._http),
            ("http2", self._http2),
            ("ssdp", self._ssdp),
            ("tls", self._tls),
            ("quic", self._quic),
            ("dhcp", self._dhcp),
            ("dhcpv6", self._dhcpv6),
            ("gtp", self._gtpv1),
            ("gtpv2", self._gtpv2),
            ("radius", self._radius),
            ("diameter", self._diameter),
        )

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # ------------------------------------------------------------------ frames

    def frame_events(self, capture: str, layers: Layer) -> list[Event]:
        """Every event of one frame, in the order of the builders (one protocol per frame, nearly always)."""
        frame_layer = layers.get("frame")
        if not isinstance(frame_layer, Mapping):
            self.anomalies.add("tshark_record_without_frame")
            return []
        frame = first_int(frame_layer, "frame_frame_number") or 0
        protocols = (text(frame_layer, "frame_frame_protocols") or "").split(":")
        present = [(name, build) for name, build in self._builders if name in layers]
        if not present:
            return []
        if _quoted(protocols):
            # A packet quoted inside an ICMP error is a copy of one that was sent (and is
            # usually in the capture itself): it is not traffic, as for the native engine.
            self.count("tshark_frames_icmp_quoted")
            return []
        ctx = self._context(capture, frame, frame_layer, layers, protocols)
        if ctx is None:
            return []
        events: list[Event] = []
        for name, build in present:
            found = layers_named(layers, name)
            if name in _NEEDS_MESSAGE_BYTES:
                # The message's own bytes (-x prints them next to the layer), for the IEs
                # whose value tshark prints only in pieces (GTPv2 ULI).
                raws = values(layers, f"{name}_raw")
                found = [{**layer, MESSAGE_RAW: raws[i] if i < len(raws) else None} for i, layer in enumerate(found)]
            for layer in found:
                events.extend(build(ctx, layer))
        return events

    def _context(
        self, capture: str, frame: int, frame_layer: Layer, layers: Layer, protocols: list[str]
    ) -> FrameContext | None:
        ts_text = text(frame_layer, "frame_frame_time_epoch")
        try:
            ts = float(ts_text) if ts_text is not None else 0.0
        except ValueError:
            ts = 0.0
        # The innermost transport and the IP header before it: the user's flow when tunnelled.
        transport_at = max((i for i, p in enumerate(protocols) if p in _TRANSPORTS), default=-1)
        if transport_at < 0:
            self.anomalies.add("tshark_no_transport")
            return None
        proto = protocols[transport_at]
        ips = [i for i, p in enumerate(protocols[:transport_at]) if p in _IP_LAYERS]
        if not ips:
            self.anomalies.add("tshark_no_ip")
            return None
        # Addresses and ports come from the bytes of the headers tshark dissected (-x prints
        # them even for layers -J leaves out): printing the whole IP/UDP/TCP trees of every
        # packet was a third of tshark's output, for four fields.
        transport = _layer_bytes(layers, proto, protocols[:transport_at].count(proto))
        inner = _address_pair(layers, protocols, ips[-1])
        if transport is None or len(transport) < 4 or inner is None:
            self.anomalies.add("tshark_layer_missing")
            return None
        sport, dport = int.from_bytes(transport[0:2], "big"), int.from_bytes(transport[2:4], "big")
        tunnel = None
        if len(ips) >= 2:
            outer = _address_pair(layers, protocols, ips[-2])
            if outer is not None:
                tunnel = self._tunnel(layers, protocols, ips[-2], ips[-1], outer)
        flow = FlowTuple(proto, inner[0], sport, inner[1], dport)
        segments = [n for n in (integer(v) for v in values(layers, "tcp_tcp_segment")) if n is not None]
        first_frame = min(segments) if segments and min(segments) != frame else None
        return FrameContext(capture, frame, ts, flow, tunnel, first_frame)

    def _tunnel(
        self, layers: Layer, protocols: list[str], outer_at: int, inner_at: int, outer: tuple[str, str]
    ) -> Tunnel:
        between = protocols[outer_at + 1 : inner_at]
        if "gtp" in between:
            # The k-th GTP-U header of the frame (GTPv2-C is printed without a gtp layer).
            k = protocols[:inner_at].count("gtp") - 1
            gtpu = [g for g in layers_named(layers, "gtp") if first_int(g, "gtp_gtp_message") == GTPU_MESSAGE]
            teid = first_int(gtpu[k], "gtp_gtp_teid") if 0 <= k < len(gtpu) else None
            return Tunnel("gtpu", outer[0], outer[1], teid)
        for kind, key in (("vxlan", "vxlan_vxlan_vni"), ("geneve", "geneve_geneve_vni"), ("gre", "gre_gre_key")):
            if kind in between:
                layer = _nth_layer(layers, kind, protocols[:inner_at].count(kind) - 1)
                return Tunnel(kind, outer[0], outer[1], first_int(layer, key) if layer is not None else None)
        return Tunnel("ipip", outer[0], outer[1], None)

    # ------------------------------------------------------------------ DNS family

    def _dns(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        questions = values(layer, "dns_dns_qry_name")
        if not questions:
            return ()  # no question: nothing the pipeline can use (as native)
        qname = str(questions[0])
        if _damaged_name(qname):
            self.anomalies.add("tshark_dns_malformed")
            return ()
        response = flag(first(layer, "dns_dns_flags_response"))
        answers, addresses, ttl = answer_section(dns_records(layer), qname)
        qtypes = integers(layer, "dns_dns_qry_type")
        return (
            DnsMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow.reversed() if response else ctx.flow,
                tunnel=ctx.tunnel,
                query=qname,
                qtype=qtype_name(qtypes[0]) if qtypes else "TYPE0",
                answers=answers,
                rcode=first_int(layer, "dns_dns_flags_rcode") if response else None,
                response=response,
                ttl=ttl,
                addresses=addresses,
            ),
        )

    def _mdns(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        dns_names = [str(q) for q in values(layer, "dns_dns_qry_name")]
        texts: list[str] = []
        for record in dns_records(layer, txt_strings=True):
            dns_names.append(record.name)
            if record.rtype in (RR_PTR, RR_SRV) and record.value:
                dns_names.append(record.value)
            elif record.rtype == RR_TXT:
                texts.extend(record.strings)
        found = mdns_device_names(dns_names, texts)
        if found is None:
            return ()
        name, names = found
        return (MdnsMessage(ts=ctx.ts, capture=ctx.capture, frame=ctx.frame, flow=ctx.flow, tunnel=ctx.tunnel,
                            name=name, names=names),)

    def _llmnr(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        names = llmnr_host_names((str(q) for q in values(layer, "dns_dns_qry_name")), dns_records(layer))
        if not names:
            return ()
        return (LlmnrMessage(ts=ctx.ts, capture=ctx.capture, frame=ctx.frame, flow=ctx.flow, tunnel=ctx.tunnel,
                             name=names[0], names=names),)

    def _nbns(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        useful = [
            native_nbns.NetbiosName(*entry)
            for entry in nbns_names(layer)
            if entry[0] and not _NETBIOS_MACHINERY.search(entry[0]) and entry[0].isprintable()
        ]
        if not useful:
            return ()
        return (NbnsMessage(ts=ctx.ts, capture=ctx.capture, frame=ctx.frame, flow=ctx.flow, tunnel=ctx.tunnel,
                            name=native_nbns.best_name(useful), names=tuple(dict.fromkeys(n.name for n in useful))),)

    def _ssdp(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
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
        return (SsdpMessage(ts=ctx.ts, capture=ctx.capture, frame=ctx.frame, flow=ctx.flow, tunnel=ctx.tunnel,
                            name=names[0], names=names),)

    # ------------------------------------------------------------------ HTTP

    def _http(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        method = text(layer, "http_http_request_method")
        if method is None:
            return ()  # a response
        headers = _header_fields(raw_values(layer, "http_http_request_line"), values(layer, "http_http_request_line"))
        uri_raw = raw(layer, "http_http_request_uri")
        uri = header_text(uri_raw) if uri_raw is not None else (text(layer, "http_http_request_uri") or "")
        content_encoding = _header(headers, "content-encoding")
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
        transfer = _header(headers, "transfer-encoding")
        return (
            HttpRequest(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                method=method,
                host=_header(headers, "host"),
                uri=uri,
                user_agent=_header(headers, "user-agent"),
                version=text(layer, "http_http_request_version") or "HTTP/1.1",
                content_type=_header(headers, "content-type"),
                body_len=len(body),
                body_truncated=truncated,
                content_encoding=content_encoding,
                chunked=transfer is not None and "chunked" in transfer.lower(),
                first_frame=ctx.first_frame,
                headers=tuple(headers),
                body=body,
            ),
        )

    def _http2(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
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
        host = pseudo.get(":authority") or _header(headers, "host")
        return (
            HttpRequest(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                method=pseudo.get(":method", ""),
                host=host,
                uri=pseudo.get(":path", ""),
                user_agent=_header(headers, "user-agent"),
                version="HTTP/2",
                content_type=_header(headers, "content-type"),
                content_encoding=_header(headers, "content-encoding"),
                headers=tuple(headers),
            ),
        )

    # ------------------------------------------------------------------ TLS and QUIC

    def _tls(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
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
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                sni=hello.sni,
                alpn=hello.alpn,
                ja4=hello.ja4("t"),
                ja3=text(layer, "tls_tls_handshake_ja3") or hello.ja3(),
                version=hello.version_name(),
            ),
        )

    def _quic(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        events: list[Event] = []
        for tls in layers_named(layer, "tls"):
            if 1 not in integers(tls, "tls_tls_handshake_type"):
                continue
            version = first_int(layer, "quic_quic_version")
            flow = ctx.flow
            key = (ctx.capture, ctx.tunnel, flow, text(layer, "quic_quic_dcid"))
            if not _first_time(self._quic_seen, key):
                # One event per connection, as the native decoder: a retransmitted Initial
                # carries the same ClientHello again.
                self.count("tshark_quic_client_hello_repeated")
                continue
            hello = client_hello(tls)
            events.append(
                QuicInitial(
                    ts=ctx.ts,
                    capture=ctx.capture,
                    frame=ctx.frame,
                    flow=flow,
                    tunnel=ctx.tunnel,
                    version=f"0x{version or 0:08x}",
                    sni=hello.sni,
                    alpn=hello.alpn,
                    ja4=hello.ja4("q"),
                )
            )
        return events

    # ------------------------------------------------------------------ DHCP

    def _dhcp(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        op = first_int(layer, "dhcp_dhcp_type")
        message = native_dhcp.message_name(first_int(layer, "dhcp_dhcp_option_dhcp"), op)
        mac = text(layer, "dhcp_dhcp_hw_mac_addr")
        hw_type, hw_len = first_int(layer, "dhcp_dhcp_hw_type"), first_int(layer, "dhcp_dhcp_hw_len")
        if (
            hw_type not in (native_dhcp.HTYPE_ETHERNET, native_dhcp.HTYPE_IEEE802)
            or hw_len != native_dhcp.MAC_LENGTH
            or mac in (None, "00:00:00:00:00:00")
        ):
            mac = None
        fqdn = text(layer, "dhcp_dhcp_fqdn_name")
        client_fqdn = (fqdn.rstrip("\x00.") or None) if fqdn else None
        hostname_raw = raw(layer, "dhcp_dhcp_option_hostname")
        hostname = (
            hostname_raw.decode("utf-8", "replace").rstrip("\x00")
            if hostname_raw is not None
            else (text(layer, "dhcp_dhcp_option_hostname") or "")
        )
        if not hostname and client_fqdn:
            hostname = client_fqdn.split(".", 1)[0]
        vendor_raw = raw(layer, "dhcp_dhcp_option_vendor_class_id")
        vendor = vendor_raw.decode("utf-8", "replace") if vendor_raw else text(layer, "dhcp_dhcp_option_vendor_class_id")
        return (
            DhcpMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                message=message,
                mac=mac,
                hostname=hostname or None,
                ip=native_dhcp.leased_address(
                    message,
                    _address(text(layer, "dhcp_dhcp_ip_your")),
                    _address(text(layer, "dhcp_dhcp_option_requested_ip_address")),
                    _address(text(layer, "dhcp_dhcp_ip_client")),
                ),
                vendor_class=vendor or None,
                client_fqdn=client_fqdn,
                lease_time=first_int(layer, "dhcp_dhcp_option_ip_address_lease_time"),
                version=4,
            ),
        )

    def _dhcpv6(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        types = integers(layer, "dhcpv6_dhcpv6_msgtype")
        if not types:
            return ()
        # Relayed messages nest the client's message: the innermost one is the last printed.
        msg_type = types[-1]
        message = native_dhcpv6.message_name(msg_type)
        mac = None
        for key in ("dhcpv6_dhcpv6_duidllt_link_layer_addr", "dhcpv6_dhcpv6_duidll_link_layer_addr"):
            candidate = text(layer, key)
            if candidate and mac is None:
                mac = candidate.lower()
        fqdn = text(layer, "dhcpv6_dhcpv6_client_domain")
        vendor = [str(v) for v in values(layer, "dhcpv6_dhcpv6_vendorclass_data")]
        valid = first_int(layer, "dhcpv6_dhcpv6_iaaddr_valid_lifetime")
        return (
            DhcpMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                message=message,
                mac=mac,
                hostname=(fqdn.split(".", 1)[0] or None) if fqdn else None,
                ip=text(layer, "dhcpv6_dhcpv6_iaaddr_ip"),
                vendor_class=",".join(vendor) or None,
                client_fqdn=fqdn or None,
                lease_time=valid or None,
                version=6,
            ),
        )

    # ------------------------------------------------------------------ GTP-C

    def _gtpv1(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        msg_type = first_int(layer, "gtp_gtp_message")
        version = first_int(layer, "gtp_gtp_flags_version")
        if msg_type is None or msg_type == GTPU_MESSAGE or version != 1:
            return ()  # user data (a tunnel), or GTPv0 / GTP' (out of scope, as native)
        if _user_plane_path(ctx.flow):
            # Echo, Error Indication and End Marker on the GTP-U port manage the user-plane
            # path; they name no subscriber, and the native engine reads GTP-C on 2123 only.
            self.count("tshark_gtpu_path_messages")
            return ()
        if not flag(first(layer, "gtp_gtp_flags_payload")):
            self.anomalies.add("tshark_gtp_prime_skipped")
            return ()
        name = native_gtpc.message_name(1, msg_type)
        user_teids: list[int] = []
        for teid in integers(layer, "gtp_gtp_teid_data") + integers(layer, "gtp_gtp_teid_ii"):
            if teid not in user_teids:
                user_teids.append(teid)
        rat = first_int(layer, "gtp_gtp_ext_rat_type")
        return (
            GtpcMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                message=name,
                version=1,
                imsi=text(layer, "e212_e212_imsi"),
                msisdn=text(layer, "e164_e164_msisdn"),
                mei=_digits(text(layer, "gtp_gtp_ext_imeisv")),
                ue_ip=_address(text(layer, "gtp_gtp_user_ipv4")),
                ue_ipv6=_address(text(layer, "gtp_gtp_user_ipv6")),
                apn=text(layer, "gtp_gtp_apn"),
                rat=None if rat is None else native_gtpc.rat_name(rat),
                teid=first_int(layer, "gtp_gtp_teid"),
                seq=first_int(layer, "gtp_gtp_seq_number") if flag(first(layer, "gtp_gtp_flags_s")) else None,
                cause=first_int(layer, "gtp_gtp_cause"),
                sender_teid=first_int(layer, "gtp_gtp_teid_cp"),
                response=native_gtpc.is_response(name),
                user_teids=tuple(user_teids),
            ),
        )

    def _gtpv2(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        msg_type = first_int(layer, "gtpv2_gtpv2_message_type")
        if msg_type is None:
            return ()
        name = native_gtpc.message_name(2, msg_type)
        ies = gtpv2_ies(layer)
        if ies is None:
            self.anomalies.add("tshark_gtpv2_ie_list_misaligned")
            ies = []
        # F-TEIDs and Causes in tree order, matched to their IEs to know where each one is.
        fteids = integers(layer, "gtpv2_gtpv2_f_teid_gre_key")
        causes = integers(layer, "gtpv2_gtpv2_cause")
        sender_teid: int | None = None
        pgw_control_teid: int | None = None
        user_teids: list[int] = []
        cause: int | None = None
        fteid_index = cause_index = 0
        for ie_type, instance, parent, _ in ies:
            if ie_type == native_gtpc.IE_FTEID:
                teid = fteids[fteid_index] if fteid_index < len(fteids) else None
                fteid_index += 1
                if teid is None:
                    continue
                if parent == native_gtpc.IE_BEARER_CONTEXT:
                    if teid not in user_teids:
                        user_teids.append(teid)
                elif parent == 0 and instance == 0:
                    sender_teid = teid
                elif parent == 0 and instance == 1 and pgw_control_teid is None:
                    pgw_control_teid = teid
            elif ie_type == native_gtpc.IE_CAUSE:
                value = causes[cause_index] if cause_index < len(causes) else None
                cause_index += 1
                if parent == 0 and cause is None:
                    cause = value
        if msg_type == native_gtpc.V2_CREATE_SESSION_RESPONSE and sender_teid is None:
            # Without an instance 0 F-TEID the response came from the PGW over S5/S8 (as native).
            sender_teid = pgw_control_teid
        rat = first_int(layer, "gtpv2_gtpv2_rat_type")
        ue_ip = _address(text(layer, "gtpv2_gtpv2_pdn_addr_and_prefix_ipv4")) or _address(
            text(layer, "gtpv2_gtpv2_ip_address_ipv4") if any(ie[2] == native_gtpc.IE_PDN_CONNECTION for ie in ies) else None
        )
        ue_ipv6 = _address(text(layer, "gtpv2_gtpv2_pdn_addr_and_prefix_ipv6"))
        return (
            GtpcMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                message=name,
                version=2,
                imsi=text(layer, "e212_e212_imsi"),
                msisdn=text(layer, "e164_e164_msisdn") or text(layer, "gtpv2_gtpv2_msisdn"),
                mei=_digits(text(layer, "gtpv2_gtpv2_mei")),
                ue_ip=ue_ip,
                ue_ipv6=ue_ipv6,
                apn=text(layer, "gtpv2_gtpv2_apn"),
                rat=None if rat is None else native_gtpc.rat_name(rat),
                uli=_gtpv2_uli(layer, ies),
                teid=first_int(layer, "gtpv2_gtpv2_teid") if flag(first(layer, "gtpv2_gtpv2_t")) else None,
                seq=first_int(layer, "gtpv2_gtpv2_seq"),
                cause=cause,
                sender_teid=sender_teid,
                response=native_gtpc.is_response(name),
                user_teids=tuple(user_teids),
            ),
        )

    # ------------------------------------------------------------------ RADIUS and Diameter

    def _radius(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        code = first_int(layer, "radius_radius_code")
        if code is None:
            return ()
        status = first_int(layer, "radius_radius_Acct_Status_Type")
        framed_ip = text(layer, "radius_radius_Framed-IP-Address") or text(layer, "radius_radius_Framed_IP_Address")
        if framed_ip in _FRAMED_IP_PLACEHOLDERS:
            framed_ip = None
        prefix_value = hex_bytes(first(layer, "radius_radius_Framed_IPv6_Prefix"))
        user_name = string_field(layer, "radius_radius_User_Name")
        imsi = string_field(layer, "radius_radius_3GPP_IMSI") or None
        if imsi is None and user_name:
            imsi = imsi_from_nai(user_name)
        imeisv_raw = raw(layer, "radius_radius_3GPP_IMEISV")
        return (
            RadiusMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                code=native_radius.code_name(code),
                acct_status=None if status is None else native_radius.acct_status_name(status),
                user_name=user_name,
                calling_station_id=string_field(layer, "radius_radius_Calling_Station_Id"),
                called_station_id=string_field(layer, "radius_radius_Called_Station_Id"),
                framed_ip=framed_ip,
                framed_ipv6_prefix=native_radius.framed_ipv6_prefix(prefix_value) if prefix_value else None,
                imsi=imsi,
                imeisv=(digits_or_tbcd(imeisv_raw) or None) if imeisv_raw else None,
                session_id=string_field(layer, "radius_radius_Acct_Session_Id"),
                attributes=_radius_pool_attributes(layer),
            ),
        )

    def _diameter(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        code = first_int(layer, "diameter_diameter_cmd_code")
        if code is None:
            return ()
        request = flag(first(layer, "diameter_diameter_flags_request"))
        application_id = first_int(layer, "diameter_diameter_applicationId")
        imsi: str | None = None
        msisdn: str | None = None
        # Subscription-Id groups: Type and Data are printed in matching order (RFC 4006 s8.46).
        kinds = integers(layer, "diameter_diameter_Subscription-Id-Type")
        data = [str(d) for d in values(layer, "diameter_diameter_Subscription-Id-Data")]
        if len(kinds) == len(data):
            for kind, value in zip(kinds, data, strict=True):
                if kind == native_diameter.SUBSCRIPTION_ID_E164 and msisdn is None and value:
                    msisdn = value
                elif kind == native_diameter.SUBSCRIPTION_ID_IMSI and imsi is None and value:
                    imsi = value
        elif kinds or data:
            self.anomalies.add("tshark_diameter_subscription_id_misaligned")
        msisdn_bytes = hex_bytes(first(layer, "diameter_diameter_MSISDN"))
        if msisdn is None and msisdn_bytes:
            msisdn = tbcd(msisdn_bytes) or None
        imsi = imsi or string_field(layer, "diameter_diameter_3GPP-IMSI") or None
        user_name = string_field(layer, "diameter_diameter_User-Name")
        if imsi is None and user_name:
            imsi = native_diameter.imsi_from_user_name(user_name, application_id)
        cc_type = first_int(layer, "diameter_diameter_CC-Request-Type")
        return (
            DiameterMessage(
                ts=ctx.ts,
                capture=ctx.capture,
                frame=ctx.frame,
                flow=ctx.flow,
                tunnel=ctx.tunnel,
                command=native_diameter.command_name(code, request),
                application_id=application_id,
                request=request,
                imsi=imsi,
                msisdn=msisdn,
                framed_ip=_diameter_address(layer),
                imei=_diameter_imei(layer),
                session_id=string_field(layer, "diameter_diameter_Session-Id"),
                cc_request_type=None if cc_type is None else native_diameter.cc_request_type_name(cc_type),
            ),
        )


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class DnsRecord:
    name: str
    rtype: int
    ttl: int | None
    value: str
    section: int  # 1 answer, 2 authority, 3 additional
    strings: tuple[str, ...] = ()  # a TXT record's character-strings
    hints: tuple[str, ...] = ()  # SVCB/HTTPS address hints


def dns_records(layer: Layer, txt_strings: bool = False) -> list[DnsRecord]:
    """The resource records of a DNS-format message, rebuilt from EK's flattened lists.

    EK prints ``dns.resp.type`` once per record in order, and each type's value
    field (``dns.a``, ``dns.cname``, ...) once per record of that type: walking the
    types and taking the next value of each type's list puts the values back into
    their records.  OPT pseudo-records have no TTL; TXT records are split into their
    character-strings by the record's data length; SVCB/HTTPS address hints go back to their
    records the same way (``_svc_hints``).
    """
    types = integers(layer, "dns_dns_resp_type")
    if not types:
        return []  # a query, nearly always
    names = [str(n) for n in values(layer, "dns_dns_resp_name")]
    ttls = integers(layer, "dns_dns_resp_ttl")
    lengths = integers(layer, "dns_dns_resp_len")
    pending = {rtype: iter([str(v) for v in values(layer, key)]) for rtype, key in _RR_VALUE_FIELDS.items() if key in layer}
    txt = iter([str(v) for v in values(layer, "dns_dns_txt")])
    txt_lengths = iter(integers(layer, "dns_dns_txt_length"))
    answers = first_int(layer, "dns_dns_count_answers") or 0
    authority = first_int(layer, "dns_dns_count_auth_rr") or 0
    ttl_iter = iter(ttls)
    records: list[DnsRecord] = []
    for index, rtype in enumerate(types):
        if index < len(names) and _damaged_name(names[index]):
            break  # the native parser stops at a damaged record too, keeping those before it
        ttl = None if rtype == RR_OPT else next(ttl_iter, None)
        length = lengths[index] if index < len(lengths) else 0
        value = ""
        strings: tuple[str, ...] = ()
        if rtype in _RR_VALUE_FIELDS:
            value = next(pending[rtype], "") if rtype in pending else ""
            if _damaged_name(value):
                break
        elif rtype == RR_TXT:
            parts: list[str] = []
            used = 0
            while used < length:
                size = next(txt_lengths, None)
                if size is None:
                    break
                parts.append(next(txt, ""))
                used += 1 + size
            strings = tuple(parts)
            value = " ".join(parts)  # the native decoder joins a record's strings with spaces
        section = 1 if index < answers else 2 if index < answers + authority else 3
        name = names[index] if index < len(names) else ""
        records.append(DnsRecord(name, rtype, ttl, value, section, strings if txt_strings else ()))
    if any(key in layer for key in _SVC_HINT_FIELDS):
        _svc_hints(layer, records, lengths)
    return records


def _svc_hints(layer: Layer, records: list[DnsRecord], lengths: list[int]) -> None:
    """Give each SVCB/HTTPS record its address hints.  EK lists every record's parameter keys,
    value lengths and hint addresses in one run each; a record's data length says where its
    parameters end: 2 bytes of priority, the target name (never compressed, RFC 9460 s2.2),
    then 4 + length bytes per parameter."""
    keys = iter(integers(layer, "dns_dns_svcb_svcparam_key"))
    sizes = iter(integers(layer, "dns_dns_svcb_svcparam_value_length"))
    v4 = iter([str(ip) for ip in values(layer, _SVC_HINT_FIELDS[0])])
    v6 = iter([str(ip) for ip in values(layer, _SVC_HINT_FIELDS[1])])
    for index, record in enumerate(records):
        if record.rtype not in SVC_RRS or index >= len(lengths):
            continue
        name_bytes = 1 if record.value in ("", ROOT_NAME) else len(record.value) + 2
        left = lengths[index] - 2 - name_bytes
        hints: list[str] = []
        while left >= 4:
            key, size = next(keys, None), next(sizes, None)
            if key is None or size is None:
                break
            left -= 4 + size
            if key == SVC_IPV4HINT and size % 4 == 0:
                hints += [ip for ip in (next(v4, None) for _ in range(size // 4)) if ip]
            elif key == SVC_IPV6HINT and size % 16 == 0:
                hints += [ip for ip in (next(v6, None) for _ in range(size // 16)) if ip]
        if hints:
            records[index] = dataclasses.replace(record, hints=tuple(hints))


def nbns_names(layer: Layer) -> list[tuple[str, int, bool | None]]:
    """(name, suffix, group) of every name in a NetBIOS name service message, in order."""
    names = [str(n) for n in values(layer, "nbns_nbns_name")]
    types = integers(layer, "nbns_nbns_type")
    questions = first_int(layer, "nbns_nbns_count_queries") or 0
    data_lengths = iter(integers(layer, "nbns_nbns_data_length"))
    nb_groups = iter([flag(v) for v in values(layer, "nbns_nbns_nb_flags_group")])
    node_names = iter([str(n) for n in values(layer, "nbns_nbns_netbios_name")])
    node_groups = iter([flag(v) for v in values(layer, "nbns_nbns_name_flags_group")])
    counts = iter(integers(layer, "nbns_nbns_number_of_names"))
    out: list[tuple[str, int, bool | None]] = []
    for index, printed in enumerate(names):
        parsed = _netbios_name(printed)
        if parsed is None:
            continue
        name, suffix = parsed
        if index < questions:
            out.append((name, suffix, None))
            continue
        rtype = types[index] if index < len(types) else 0
        length = next(data_lengths, 0)
        if rtype == native_nbns.RR_NB:
            # NB_FLAGS then an address per entry; the first entry's flags say what the name is.
            groups = [next(nb_groups, False) for _ in range(max(length // 6, 0))]
            out.append((name, suffix, groups[0] if groups else None))
        elif rtype == native_nbns.RR_NBSTAT:
            for _ in range(next(counts, 0)):
                node = _netbios_name(next(node_names, ""))
                group = next(node_groups, None)
                if node is not None:
                    out.append((node[0], node[1], group))
        else:
            out.append((name, suffix, None))
    return out


def _damaged_name(name: str) -> bool:
    """Wireshark prints a label it cannot read (bad label type, pointer loop) as <...>: the
    native parser rejects such a name (DnsFormatError), so the builders drop it too."""
    return "<Unknown extended label>" in name or "<Name contains a pointer that loops>" in name


def _netbios_name(printed: str) -> tuple[str, int] | None:
    match = _NETBIOS_NAME.match(printed)
    if match is None:
        return None
    return match.group("name").rstrip(" "), int(match.group("suffix"), 16)


def gtpv2_ies(layer: Layer) -> list[tuple[int, int, int, int]] | None:
    """(IE type, instance, parent IE type or 0, length) for each IE of a GTPv2 message, in tree order.

    EK flattens grouped IEs (Bearer Context, PDN Connection): their members follow
    them in the ``gtpv2.ie_type`` list.  A group's length tells how many of the
    following IEs are inside it (each takes 4 header octets plus its length).
    None when the lists do not line up (a damaged message).
    """
    types = integers(layer, "gtpv2_gtpv2_ie_type")
    lengths = integers(layer, "gtpv2_gtpv2_ie_len")
    instances = integers(layer, "gtpv2_gtpv2_instance")
    if not (len(types) == len(lengths) == len(instances)):
        return None
    out: list[tuple[int, int, int, int]] = []
    stack: list[list[int]] = []  # [group type, octets left inside it]
    for ie_type, length, instance in zip(types, lengths, instances, strict=True):
        while stack and stack[-1][1] <= 0:
            stack.pop()
        parent = stack[-1][0] if stack else 0
        for group in stack:
            group[1] -= 4 + length
        out.append((ie_type, instance, parent, length))
        if ie_type in native_gtpc.V2_GROUPED:
            stack.append([ie_type, length])
    return out


def _gtpv2_uli(layer: Layer, ies: list[tuple[int, int, int, int]]) -> str | None:
    """User Location Information, from the IE's bytes: tshark prints its parts (MCC and MNC as
    numbers, without the MNC's digit count) but not the value, which the shared TS 29.274 s8.21
    formatter reads.  The IE is found by walking the top-level IEs with tshark's types and lengths."""
    message = hex_bytes(layer.get(MESSAGE_RAW))
    if not message or not any(ie[0] == native_gtpc.IE_ULI for ie in ies):
        return None
    offset = 12 if message[0] & native_gtpc.V2_FLAG_TEID else 8
    for ie_type, _, parent, length in ies:
        if parent:
            continue  # inside a group: its bytes were stepped over with the group
        if ie_type == native_gtpc.IE_ULI:
            return native_gtpc.decode_v2_uli(message[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return None


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


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
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


def _diameter_address(layer: Layer) -> str | None:
    for key in (
        "diameter_diameter_Framed-IP-Address_IPv4",
        "diameter_diameter_PDP-Address_IPv4",
        "diameter_diameter_PDP-Address_IPv6",
    ):
        address = text(layer, key)
        if address and address not in _FRAMED_IP_PLACEHOLDERS and address != "::":
            return address
    return None


def _diameter_imei(layer: Layer) -> str | None:
    imei = text(layer, "diameter_diameter_IMEI")
    if imei:
        return imei
    imeisv = raw(layer, "diameter_diameter_3GPP-IMEISV") or hex_bytes(first(layer, "diameter_diameter_3GPP-IMEISV"))
    if imeisv:
        return digits_or_tbcd(imeisv) or None
    kinds = integers(layer, "diameter_diameter_User-Equipment-Info-Type")
    ue_values = [hex_bytes(v) for v in values(layer, "diameter_diameter_User-Equipment-Info-Value")]
    for kind, value in zip(kinds, ue_values, strict=False):
        if kind == native_diameter.UE_INFO_IMEISV and value:
            return digits_or_tbcd(value) or None
    return None


def _address(value: str | None) -> str | None:
    # 0.0.0.0 / :: in a request means "allocate one for me": not an address of the UE.
    if not value or value in ("0.0.0.0", "::"):
        return None
    return value


def _digits(value: str | None) -> str | None:
    """TBCD identifiers as tshark prints them: digits, possibly with a trailing filler."""
    if not value:
        return None
    return value.rstrip("fF") or None


def _first_time(seen: OrderedDict[tuple[Any, ...], None], key: tuple[Any, ...]) -> bool:
    """Remember ``key`` (bounded, oldest forgotten first); False when it was already there."""
    if key in seen:
        return False
    seen[key] = None
    if len(seen) > MAX_CONNECTIONS:
        seen.popitem(last=False)
    return True


def _user_plane_path(flow: FlowTuple) -> bool:
    return GTPU_PORT in (flow.sport, flow.dport) and GTPC_PORT not in (flow.sport, flow.dport)


def _quoted(protocols: list[str]) -> bool:
    """Whether an IP header follows an ICMP one: the rest of the frame is a quoted packet."""
    seen_icmp = False
    for proto in protocols:
        if proto in _ICMP:
            seen_icmp = True
        elif seen_icmp and proto in _IP_LAYERS:
            return True
    return False


def _layer_bytes(layers: Layer, name: str, index: int) -> bytes | None:
    """The bytes of the index-th instance of a protocol in the frame (``<proto>_raw``, from -x)."""
    found = values(layers, f"{name}_raw")
    return hex_bytes(found[index]) if 0 <= index < len(found) else None


def _address_pair(layers: Layer, protocols: list[str], at: int) -> tuple[str, str] | None:
    """Source and destination of the IP header at ``protocols[at]``, from its bytes."""
    kind = protocols[at]
    header = _layer_bytes(layers, kind, protocols[:at].count(kind))
    if header is None:
        return None
    if kind == "ip" and len(header) >= 20:
        return socket.inet_ntop(socket.AF_INET, header[12:16]), socket.inet_ntop(socket.AF_INET, header[16:20])
    if kind == "ipv6" and len(header) >= 40:
        return socket.inet_ntop(socket.AF_INET6, header[8:24]), socket.inet_ntop(socket.AF_INET6, header[24:40])
    return None


def _nth_layer(layers: Layer, name: str, index: int) -> Layer | None:
    found = layers_named(layers, name)
    if 0 <= index < len(found):
        return found[index]
    return None



__all__ = ["DnsRecord", "EventBuilder", "FrameContext", "client_hello", "dns_records", "gtpv2_ies", "integer"]


# Wireshark's RADIUS dictionary types Class and Chargeable-User-Identity as octets (hex with ':');
# the others are strings.
_RADIUS_OCTET_ATTRIBUTES = frozenset({"Class", "Chargeable-User-Identity"})


def _radius_pool_attributes(layer: Layer) -> tuple[tuple[str, str], ...]:
    """The text attributes the native decoder keeps for child-profile pools (radius.POOL_ATTRIBUTES)."""
    out: list[tuple[str, str]] = []
    for name in native_radius.POOL_ATTRIBUTES.values():
        key = "radius_radius_" + name.replace("-", "_")
        data = raw(layer, key)
        if data is None:
            value = first(layer, key)
            if value is None:
                continue
            data = hex_bytes(value) if name in _RADIUS_OCTET_ATTRIBUTES else str(value).encode("utf-8")
        if data:
            out.append((name, data.decode("utf-8", "replace")))
    return tuple(out[: native_radius.MAX_POOL_ATTRIBUTES])
