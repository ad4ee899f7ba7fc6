"""The types that flow between privscan's stages.

    captures --ingest--> Frame --decode--> Event --detect--> Observation
        --attribute--> Leak / Contact --graph + policy--> Finding --report--> outputs

Every type here is a frozen, slotted dataclass so that a stage cannot change
what an earlier stage produced, and so that the per-packet objects stay small.
Event types register themselves by being declared (``type = "dns"``): the
``privscan events`` output, the tshark engine and the tests find them in
``EVENT_TYPES`` instead of in a hand-kept list.  Each event class also declares
what the later stages need to know about it (class attributes of ``Event``:
whether it is the operator's control plane, whether it stays on the local
network, where it names its destination, its columns in ``privscan events``,
and ``detection_fields`` for the identifier search), so that no stage keeps a
list of event types.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

from scanner.flags import Flag, flag_note
from scanner.refs import AppRef, IdentifierValue

# --------------------------------------------------------------------------- flows


@dataclass(frozen=True, slots=True)
class FlowTuple:
    """A unidirectional 5-tuple, oriented client -> server for application events."""

    proto: str  # "tcp" | "udp" | "sctp"
    src: str
    sport: int
    dst: str
    dport: int

    def to_record(self) -> dict[str, Any]:
        return {"proto": self.proto, "src": self.src, "sport": self.sport, "dst": self.dst, "dport": self.dport}

    def reversed(self) -> FlowTuple:
        return FlowTuple(self.proto, self.dst, self.dport, self.src, self.sport)


@dataclass(frozen=True, slots=True)
class Tunnel:
    """The outer tunnel a user flow was carried in (GTP-U, GRE, VXLAN, IP-in-IP).

    ``teid`` holds the GTP-U TEID, the VXLAN VNI or the GRE key, whichever the
    tunnel type has; the report names it after the tunnel type.
    """

    type: str  # "gtpu" | "gre" | "vxlan" | "ipip"
    src: str
    dst: str
    teid: int | None = None

    def to_record(self) -> dict[str, Any]:
        key = {"gtpu": "teid", "vxlan": "vni", "geneve": "vni", "gre": "key"}.get(self.type, "id")
        record: dict[str, Any] = {"type": self.type, "src": self.src, "dst": self.dst}
        if self.teid is not None:
            record[key] = self.teid
        return record


# --------------------------------------------------------------------------- events

EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One application-level fact seen in traffic, like a line of a Zeek log.

    ``frame`` is the 1-based frame number in its capture (what Wireshark shows);
    for a message reassembled from several segments it is the frame that
    completed it, as in Wireshark.  ``flow`` is the inner (user) flow for
    tunnelled traffic, oriented from the client.
    """

    type: ClassVar[str] = ""
    # ---- what later stages need to know about this kind of event (declared, never listed)
    # The operator's own signalling (GTP-C, RADIUS, Diameter): it teaches subject bindings
    # and is never searched for leaks.
    control_plane: ClassVar[bool] = False
    # Read by the subject-binding learner (the control plane, and DHCP's address leases).
    binds_subjects: ClassVar[bool] = False
    # Heard by whoever shares the local network (DHCP, mDNS, SSDP, NBNS, LLMNR): its
    # destination is the local network, and a name in it does not say who asked for it.
    local_network: ClassVar[bool] = False
    # Carried inside TLS/QUIC encryption (what the channel's ``encrypted`` says).
    encrypted: ClassVar[bool] = False
    # The field that names the destination host, and what the report calls that source
    # (Destination.host_source); None: the destination is named by its address (or a DNS answer).
    host_field: ClassVar[str | None] = None
    host_source: ClassVar[str] = "ip"
    # Where a contact (a request reaching a tracker) shows the destination's name
    # (Channel.location); None: this event is no contact.
    contact_location: ClassVar[str | None] = None
    # Where a device name found in this event travels (Channel.location of detector location "name").
    name_location: ClassVar[str] = "dns"
    # The fields ``privscan events --format table`` shows.
    table_fields: ClassVar[tuple[str, ...]] = ("name",)

    ts: float
    capture: str
    frame: int
    flow: FlowTuple
    tunnel: Tunnel | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # No zero-argument super() here: dataclass(slots=True) re-creates the class,
        # which breaks its __class__ cell.  The base is object, which takes nothing.
        # The re-created (slotted) class is declared last, so it is the one registered.
        if "type" in cls.__dict__ and cls.type:
            EVENT_TYPES[cls.type] = cls

    def destination_name(self) -> str | None:
        """The destination host this event names (its ``host_field``), if any."""
        field_name = self.host_field
        return getattr(self, field_name) if field_name is not None else None

    def page_context(self) -> str | None:
        """The page that caused this request (HTTP Referer/Origin), for first-party attribution."""
        return None

    def decrypted_from(self) -> str | None:
        """What this event was decrypted from with the lab's keys ("TLSv1.3"), None when it was
        read in clear text.  The events decrypted TLS/QUIC yields carry a ``decrypted`` field."""
        return getattr(self, "decrypted", None)

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        """(location, key, value) of each value the identifier search reads.  Events whose
        fields need taking apart (HTTP) get an extractor in scanner/detect/fields.py instead."""
        return ()

    def fields_record(self) -> dict[str, Any]:
        """The event's own fields (not ts/capture/frame/flow/tunnel), JSON-ready."""
        out: dict[str, Any] = {}
        for name, if_set in record_names(type(self)):
            value = getattr(self, name)
            if if_set and value is None:
                continue
            out[name] = _jsonable(value)
        return out

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ts": round(self.ts, 6),
            "capture": self.capture,
            "frame": self.frame,
            "flow": self.flow.to_record(),
            "type": self.type,
        }
        record.update(self.fields_record())
        if self.tunnel is not None:
            record["tunnel"] = self.tunnel.to_record()
        return record


_BASE_EVENT_FIELDS = frozenset({"ts", "capture", "frame", "flow", "tunnel"})
_RECORD_NAMES: dict[type[Event], tuple[tuple[str, bool], ...]] = {}


def record_names(cls: type[Event]) -> tuple[tuple[str, bool], ...]:
    """The fields ``fields_record`` writes, each with whether only when set (not None); once per
    class (``dataclasses.fields`` per event cost more than its JSON)."""
    names = _RECORD_NAMES.get(cls)
    if names is None:
        names = _RECORD_NAMES[cls] = tuple(
            (f.name, f.metadata.get("record", True) == "if_set")
            for f in dataclasses.fields(cls)
            if f.name not in _BASE_EVENT_FIELDS and f.metadata.get("record", True)
        )
    return names


class EventHeader(TypedDict):
    """The fields every event starts with, as one value: a decoder or tshark builder writes
    ``DnsMessage(**ctx.header(), query=...)`` instead of copying five keyword arguments
    (mypy checks the unpacked keys against the event's fields)."""

    ts: float
    capture: str
    frame: int
    flow: FlowTuple
    tunnel: Tunnel | None


@dataclass(frozen=True, slots=True)
class PacketContext:
    """Where a message was seen.  ``flow`` is oriented as the packet travelled."""

    ts: float
    capture: str
    frame: int
    flow: FlowTuple
    tunnel: Tunnel | None = None
    # The capture's key log and decryption state: a decode/tlsdecrypt/context.py DecryptionContext,
    # None in tests that decode without one.  Typed Any because the model sits below the decoders
    # (it may not import them); decoders read it typed through base.decryption_of(ctx).
    decryption: Any = None

    def header(self, flow: FlowTuple | None = None) -> EventHeader:
        """The event header of a message seen here; ``flow`` when the event orients it otherwise
        (a DNS response is reported client -> server)."""
        return {
            "ts": self.ts,
            "capture": self.capture,
            "frame": self.frame,
            "flow": self.flow if flow is None else flow,
            "tunnel": self.tunnel,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return len(value)
    return value


def in_record_if_set() -> Any:
    """Field metadata for event fields printed by ``privscan events`` only when not None (what a
    request was decrypted from: the clear-text majority keeps its lines as they were)."""
    return {"record": "if_set"}


def not_in_record() -> Any:
    """Field metadata for event fields that are kept for detection but not printed
    by ``privscan events`` (header values and bodies carry personal data)."""
    return {"record": False}


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsMessage(Event):
    """A DNS query or response (RFC 1035).  Responses feed name <-> address bindings."""

    type: ClassVar[str] = "dns"
    host_field: ClassVar[str | None] = "query"
    host_source: ClassVar[str] = "dns_query"
    contact_location: ClassVar[str | None] = "dns"
    table_fields: ClassVar[tuple[str, ...]] = ("query", "qtype", "answers")
    query: str
    qtype: str
    answers: tuple[str, ...] = ()
    rcode: int | None = None  # None for a query
    response: bool = False
    ttl: int | None = None  # smallest TTL among the address answers
    # (address, name) pairs from A/AAAA records, for destination attribution
    addresses: tuple[tuple[str, str], ...] = field(default=(), metadata=not_in_record())

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        # A query's name is what the device asked for; an answer teaches names, it is no leak.
        if self.response or not self.query:
            return ()
        return (("dns", None, self.query),)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest(Event):
    """An HTTP/1.x request (RFC 9112), or an HTTP/2 request (RFC 9113) from h2c or decrypted TLS."""

    type: ClassVar[str] = "http"
    host_field: ClassVar[str | None] = "host"
    host_source: ClassVar[str] = "http_host"
    contact_location: ClassVar[str | None] = "header"
    table_fields: ClassVar[tuple[str, ...]] = ("method", "host", "uri")
    method: str
    host: str | None
    uri: str
    user_agent: str | None = None
    version: str = "HTTP/1.1"
    # What the request was decrypted from with the lab's keys ("TLSv1.3"), None in clear text.
    decrypted: str | None = field(default=None, metadata=in_record_if_set())
    content_type: str | None = None
    body_len: int = 0
    body_truncated: bool = False
    content_encoding: str | None = None
    chunked: bool = False
    first_frame: int | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), metadata=not_in_record())
    body: bytes = field(default=b"", metadata=not_in_record())

    def page_context(self) -> str | None:
        for name, value in self.headers:
            if name.lower() in ("referer", "origin"):
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketMessage(Event):
    """A text or binary WebSocket message (RFC 6455) a client sent after an HTTP Upgrade."""

    type: ClassVar[str] = "websocket"
    host_field: ClassVar[str | None] = "host"
    host_source: ClassVar[str] = "http_host"  # the Upgrade request's Host
    table_fields: ClassVar[tuple[str, ...]] = ("host", "uri", "opcode", "length")
    host: str | None  # the Upgrade request's Host
    uri: str  # the Upgrade request's target
    opcode: str  # "text" | "binary"
    length: int
    compressed: bool = False  # permessage-deflate (RFC 7692)
    truncated: bool = False
    decrypted: str | None = field(default=None, metadata=in_record_if_set())
    first_frame: int | None = None
    payload: bytes = field(default=b"", metadata=not_in_record())


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsClientHello(Event):
    """A TLS ClientHello (RFC 8446 s4.1.2) with its JA4 and JA3 fingerprints."""

    type: ClassVar[str] = "tls"
    encrypted: ClassVar[bool] = True
    host_field: ClassVar[str | None] = "sni"
    host_source: ClassVar[str] = "sni"
    contact_location: ClassVar[str | None] = "sni"
    table_fields: ClassVar[tuple[str, ...]] = ("sni", "alpn", "ja4")
    sni: str | None
    alpn: tuple[str, ...] = ()
    ja4: str | None = None
    ja3: str | None = None
    version: str | None = None

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        return (("sni", None, self.sni),) if self.sni else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class QuicInitial(Event):
    """The ClientHello of a QUIC Initial packet (RFC 9000/9001, RFC 9369 for v2)."""

    type: ClassVar[str] = "quic"
    encrypted: ClassVar[bool] = True
    host_field: ClassVar[str | None] = "sni"
    host_source: ClassVar[str] = "sni"
    contact_location: ClassVar[str | None] = "sni"
    table_fields: ClassVar[tuple[str, ...]] = ("version", "sni", "alpn")
    version: str  # "0x00000001"
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    ja4: str | None = None

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        return (("sni", None, self.sni),) if self.sni else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DhcpMessage(Event):
    """A DHCPv4 (RFC 2131/2132) or DHCPv6 (RFC 8415) message."""

    type: ClassVar[str] = "dhcp"
    # Address leases bind a MAC and a name to an address; the names it carries are heard on the LAN.
    binds_subjects: ClassVar[bool] = True
    local_network: ClassVar[bool] = True
    name_location: ClassVar[str] = "body"  # in the message's options
    table_fields: ClassVar[tuple[str, ...]] = ("message", "mac", "hostname", "ip")
    message: str  # DISCOVER, REQUEST, ACK, SOLICIT, REPLY, ...
    mac: str | None = None
    hostname: str | None = None
    ip: str | None = None  # the address leased (yiaddr / IA address) or requested
    vendor_class: str | None = None
    client_fqdn: str | None = None
    lease_time: int | None = None
    version: int = 4

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        out: list[tuple[str, str | None, str]] = []
        if self.hostname:
            out.append(("name", "hostname", self.hostname))
        if self.client_fqdn and self.client_fqdn != self.hostname:
            out.append(("name", "client_fqdn", self.client_fqdn))
        return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class NameAnnouncement(Event):
    """A device or service name a host announces or asks for on the local network."""

    local_network: ClassVar[bool] = True

    name: str
    names: tuple[str, ...] = ()  # every name in the message, ``name`` being the most telling

    def detection_fields(self) -> tuple[tuple[str, str | None, str], ...]:
        names = dict.fromkeys((self.name, *self.names))
        return tuple(("name", self.type, name) for name in names if name)


@dataclass(frozen=True, slots=True, kw_only=True)
class MdnsMessage(NameAnnouncement):
    """Multicast DNS / DNS-SD (RFC 6762, RFC 6763)."""

    type: ClassVar[str] = "mdns"


@dataclass(frozen=True, slots=True, kw_only=True)
class SsdpMessage(NameAnnouncement):
    """SSDP (UPnP Device Architecture 2.0 s1): NOTIFY / M-SEARCH / responses."""

    type: ClassVar[str] = "ssdp"
    name_location: ClassVar[str] = "header"  # SSDP's names are HTTP-like header fields


@dataclass(frozen=True, slots=True, kw_only=True)
class NbnsMessage(NameAnnouncement):
    """NetBIOS Name Service (RFC 1002)."""

    type: ClassVar[str] = "nbns"


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmnrMessage(NameAnnouncement):
    """Link-Local Multicast Name Resolution (RFC 4795)."""

    type: ClassVar[str] = "llmnr"


@dataclass(frozen=True, slots=True, kw_only=True)
class GtpcMessage(Event):
    """A GTPv1-C (3GPP TS 29.060) or GTPv2-C (3GPP TS 29.274) control message.

    Messages are reported as seen: a response carries the UE address but not the
    IMSI of its request.  Matching request to response (by sequence number and
    TEID) is the binding learner's job, so that both engines share it.
    """

    type: ClassVar[str] = "gtpc"
    control_plane: ClassVar[bool] = True
    binds_subjects: ClassVar[bool] = True
    table_fields: ClassVar[tuple[str, ...]] = ("message", "imsi", "msisdn", "ue_ip", "apn")
    message: str  # e.g. "create_session_request"
    version: int = 2
    imsi: str | None = None
    msisdn: str | None = None
    mei: str | None = None
    ue_ip: str | None = None
    ue_ipv6: str | None = None
    apn: str | None = None
    rat: str | None = None
    uli: str | None = None
    teid: int | None = None  # header TEID (who the message is addressed to)
    seq: int | None = None
    cause: int | None = None
    sender_teid: int | None = None  # control-plane F-TEID / TEID-C the sender allocated
    response: bool = False
    # user-plane TEIDs the sender allocated (GTPv2 bearer-context F-TEIDs, GTPv1 TEID Data I/II):
    # the GTP-U TEIDs that the subscriber's tunnelled traffic will carry towards the sender
    user_teids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RadiusMessage(Event):
    """A RADIUS message (RFC 2865, accounting RFC 2866, 3GPP TS 29.061 VSAs)."""

    type: ClassVar[str] = "radius"
    control_plane: ClassVar[bool] = True
    binds_subjects: ClassVar[bool] = True
    table_fields: ClassVar[tuple[str, ...]] = ("code", "user_name", "calling_station_id", "framed_ip")
    code: str  # "Accounting-Request", "Access-Request", ...
    acct_status: str | None = None  # Start / Stop / Interim-Update
    user_name: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    framed_ip: str | None = None
    framed_ipv6_prefix: str | None = None
    imsi: str | None = None
    imeisv: str | None = None
    session_id: str | None = None
    # Text attributes an operator marks child-profile pools with (Class, Filter-Id, NAS-Identifier,
    # ...: scanner/knowledge/networks.py), as (RFC 2865 name, value); not shown by ``events``.
    attributes: tuple[tuple[str, str], ...] = field(default=(), metadata={"record": False})


@dataclass(frozen=True, slots=True, kw_only=True)
class DiameterMessage(Event):
    """A Diameter message (RFC 6733; Gx TS 29.212, Gy RFC 4006, S6a TS 29.272)."""

    type: ClassVar[str] = "diameter"
    control_plane: ClassVar[bool] = True
    binds_subjects: ClassVar[bool] = True
    table_fields: ClassVar[tuple[str, ...]] = ("command", "imsi", "msisdn", "framed_ip")
    command: str  # "Credit-Control-Request", ...
    application_id: int | None = None
    request: bool = True
    imsi: str | None = None
    msisdn: str | None = None
    framed_ip: str | None = None
    imei: str | None = None
    session_id: str | None = None
    cc_request_type: str | None = None  # INITIAL / UPDATE / TERMINATION / EVENT


# --------------------------------------------------------------------------- detection



# Where in a message an identifier was found: docs/report.md's closed list (channel.location); the
# JSON Schema's enum is checked against it.  Detectors say more ("header_enrichment", "name"):
# ``channel_location`` maps what they say onto this list.
LOCATIONS = ("query", "path", "header", "cookie", "body", "sni", "dns", "user_agent")

def channel_location(location: str, protocol: str) -> str:
    """The report's location for a detector's: an enrichment header is a header (the channel's
    ``operator_injected`` says who put it there); a device name is where its protocol carries
    it (the event type's ``name_location``: a DNS-shaped message, an SSDP header, DHCP options)."""
    if location == "header_enrichment":
        return "header"
    if location == "name":
        event_type = EVENT_TYPES.get(protocol)
        return event_type.name_location if event_type is not None else Event.name_location
    return location


def contact_location(protocol: str) -> str:
    """Where a contact over ``protocol`` shows the destination's name (its event type's
    ``contact_location``): the SNI of TLS/QUIC, the Host header, the DNS question."""
    event_type = EVENT_TYPES.get(protocol)
    found = event_type.contact_location if event_type is not None else None
    return found if found is not None else "sni"


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One identifier value found in one event.

    ``value`` is the normalised identifier (the IMEI digits, the lower-case
    GAID, "lat,lon"); it stays in memory for hashing and for ``--show-values``
    and is never written out unless asked for.
    """

    id_type: str
    value: str
    encoding: str  # plain | url | url2 | base64 | hex | md5 | sha1 | sha256 | upper | nodash | ...
    key: str | None
    location: str
    confidence: float
    source: str  # "known" (an inventory value), "pattern" (shape + key name) or "behaviour" (detect/behaviour.py)
    owner: str | None = None  # inventory device whose value this is
    flags: frozenset[Flag] = frozenset()
    also_keys: tuple[str, ...] = ()  # other keys that carried the value in this event (a finding names all)
    excerpt: str | None = None  # the request around the value, already redacted (detect/excerpt.py)
    event: Event

    @property
    def operator_injected(self) -> bool:
        return Flag.OPERATOR_INJECTED in self.flags

    @property
    def note(self) -> str | None:
        return flag_note(self.flags)


# --------------------------------------------------------------------------- attribution


# docs/report.md's contract (subjects[].source): where a subject is known from.  Diameter (Gx/Gy) does RADIUS's job on
# newer cores, so a subscriber learned from a Diameter CCR is reported as "radius" (AAA).
SUBJECT_SOURCES = ("inventory", "gtp", "radius", "dhcp", "address")


@dataclass(frozen=True, slots=True)
class Subject:
    """Who sent it: an inventory device, a subscriber learned from the control plane, or an address."""

    id: str
    minor: bool | None
    source: str  # one of SUBJECT_SOURCES
    attributes: tuple[tuple[str, str], ...] = ()  # e.g. (("imsi", "..."), ("msisdn", "..."))
    pool: str | None = None  # the child-profile pool (inventory ``networks:``) that gave its age
    age: int | None = None  # the pool's age, when it gives one

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"id": self.id, "minor": self.minor, "source": self.source}
        if self.pool is not None:
            record["pool"] = self.pool
        if self.age is not None:
            record["age"] = self.age
        return record


# The category of the one destination that is no company: the local network, where device
# names are broadcast (mDNS, SSDP, NBNS, LLMNR, DHCP) to whoever shares it.
LOCAL_NETWORK_CATEGORY = "local_network"


@dataclass(frozen=True, slots=True)
class Destination:
    """Who received it."""

    host: str
    ip: str | None
    port: int | None
    domain: str | None  # registrable domain (Public Suffix List)
    org: str | None
    category: str | None
    tracker: bool
    party: str  # "first" | "third"
    host_source: str = "ip"  # http_host | sni | dns (an answer) | dns_query | ip | local
    unknown: bool = False  # no tracker list names it (scanner/attribute/first_party.py)
    tracker_list: str | None = None  # the user's list (--trackers FORMAT:FILE) that named it, if one did

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "host": self.host,
            "ip": self.ip,
            "port": self.port,
            "domain": self.domain,
            "org": self.org,
            "category": self.category,
            "tracker": self.tracker,
            "party": self.party,
        }
        if self.unknown:
            record["unknown"] = True
        if self.tracker_list is not None:
            record["list"] = self.tracker_list
        return record


@dataclass(frozen=True, slots=True)
class Channel:
    protocol: str  # http | dns | tls | quic | dhcp | mdns | ...
    encrypted: bool
    location: str  # one of LOCATIONS
    operator_injected: bool = False  # the operator's network added it (header enrichment)
    decrypted: bool = False  # encrypted on the wire, read with the lab's keys (TLS/QUIC key log)

    def to_record(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "encrypted": self.encrypted,
            "decrypted": self.decrypted,
            "location": self.location,
            "operator_injected": self.operator_injected,
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    capture: str
    frame: int
    ts: float
    flow: FlowTuple
    excerpt: str | None = None  # the request around the identifier, redacted at detection time

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "capture": self.capture,
            "frame": self.frame,
            "ts": round(self.ts, 6),
            "flow": self.flow.to_record(),
            "display_filter": self.display_filter,
            "flow_filter": self.flow_filter,
        }
        if self.excerpt is not None:
            record["excerpt"] = self.excerpt
        return record

    @property
    def display_filter(self) -> str:
        """A Wireshark display filter for this frame, to paste into the filter bar of its capture."""
        return f"frame.number == {self.frame}"

    @property
    def flow_filter(self) -> str:
        """A Wireshark display filter for the whole flow (both directions): ``ip.addr``/``ipv6.addr``
        for both ends and the transport's port for both ports.  For tunnelled traffic the flow is
        the inner one, which Wireshark's fields match too."""
        flow = self.flow
        addr = "ipv6.addr" if ":" in flow.src or ":" in flow.dst else "ip.addr"
        port = f"{flow.proto}.port" if flow.proto in ("tcp", "udp", "sctp") else None
        parts = [f"{addr} == {flow.src}", f"{addr} == {flow.dst}"]
        if port is not None:
            parts += [f"{port} == {flow.sport}", f"{port} == {flow.dport}"]
        return " && ".join(parts)

    @classmethod
    def of(cls, event: Event, excerpt: str | None = None) -> Evidence:
        return cls(event.capture, event.frame, event.ts, event.flow, excerpt)


@dataclass(frozen=True, slots=True)
class AttributedObservation:
    observation: Observation
    subject: Subject
    destination: Destination
    channel: Channel
    app: AppRef | None = None


# --------------------------------------------------------------------------- findings

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class IdentifierRef:
    type: str
    encoding: str
    key: str | None
    value: str  # redacted preview, or the value itself with --show-values
    value_hmac: str
    encodings: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    note: str | None = None
    values: tuple[IdentifierValue, ...] = ()  # each distinct value with its keys: never shown as one

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": self.type, "encoding": self.encoding, "key": self.key, "value": self.value}
        record["value_hmac"] = self.value_hmac
        if len(self.encodings) > 1:
            record["encodings"] = list(self.encodings)
        if len(self.keys) > 1:
            record["keys"] = list(self.keys)
        if self.note:
            record["note"] = self.note
        if len(self.values) > 1:
            record["values"] = [v.to_record() for v in self.values]
        return record


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A policy rule that applies to a finding."""

    rule: str
    title: str
    severity: str
    regulations: tuple[str, ...]
    remediation: str


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # fingerprint: stable across runs of the same leak
    rule: str  # the most severe rule that applies
    title: str
    severity: str
    subject: Subject
    identifier: IdentifierRef | None
    destination: Destination
    channel: Channel
    evidence: tuple[Evidence, ...]
    count: int
    first_seen: float
    last_seen: float
    regulations: tuple[str, ...]
    remediation: str
    rules: tuple[RuleMatch, ...]  # every rule that applies, most severe first
    allowlisted: str | None = None  # the reason, when a user accepted it
    channels: tuple[str, ...] = ()  # every protocol the leak was seen on
    rules_allowlisted: tuple[tuple[str, str], ...] = ()  # (rule id, reason) of rules a user lifted
    app: AppRef | None = None  # the app most of the leak's requests named (attribute/apps.py)

    @property
    def minor(self) -> bool | None:
        return self.subject.minor

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "subject": self.subject.id,
            "minor": self.subject.minor,
            "identifier": self.identifier.to_record() if self.identifier else None,
            "destination": self.destination.to_record(),
            "app": self.app.to_record() if self.app else None,
            "channel": self.channel.to_record(),
            "evidence": [e.to_record() for e in self.evidence],
            "count": self.count,
            "first_seen": round(self.first_seen, 6),
            "last_seen": round(self.last_seen, 6),
            "regulations": list(self.regulations),
            "remediation": self.remediation,
            "rules": [
                {"rule": m.rule, "title": m.title, "severity": m.severity} for m in self.rules
            ],
            "allowlisted": self.allowlisted,
            **(
                {"allowlisted_rules": [{"rule": rule, "reason": reason} for rule, reason in self.rules_allowlisted]}
                if self.rules_allowlisted
                else {}
            ),
        }
