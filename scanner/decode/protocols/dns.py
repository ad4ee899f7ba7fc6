"""DNS over UDP and TCP (RFC 1035, RFC 3596 AAAA, RFC 9460 SVCB/HTTPS, RFC 7766 over TCP).

The wire parser here is shared with mDNS (mdns.py) and LLMNR (llmnr.py), whose
messages are DNS messages.  Names may be compressed (RFC 1035 s4.1.4); pointer
loops and overruns are anomalies, never exceptions.
"""

from __future__ import annotations

import re
import socket
import struct
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from scanner.decode.protocols.base import (
    Anomalies,
    DatagramDecoder,
    PacketContext,
    StreamContext,
    StreamDecoder,
)
from scanner.model import DnsMessage, Event

QTYPE_NAMES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
    33: "SRV", 35: "NAPTR", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3",
    64: "SVCB", 65: "HTTPS", 255: "ANY", 257: "CAA",
}

RR_A, RR_NS, RR_CNAME, RR_PTR, RR_TXT, RR_AAAA, RR_SRV = 1, 2, 5, 12, 16, 28, 33
RR_SVCB, RR_HTTPS = 64, 65
SVC_RRS = frozenset({RR_SVCB, RR_HTTPS})
SVC_IPV4HINT, SVC_IPV6HINT = 4, 6  # RFC 9460 SvcParamKeys: addresses the client may connect to
_NAME_RRS = frozenset({RR_NS, RR_CNAME, RR_PTR})
_MAX_NAME_JUMPS = 32  # more compression pointers than any sane name needs: a loop

_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
ROOT_NAME = "<Root>"  # how Wireshark shows the empty name, so names compare with tshark's

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_QFIXED = struct.Struct("!HH")


class DnsFormatError(Exception):
    """Raised inside the wire parser only; callers turn it into an anomaly."""


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    name: str
    rtype: int
    ttl: int
    value: str  # address, target name, or text; "" when not decoded
    section: int  # 1 answer, 2 authority, 3 additional
    rclass: int = 1
    hints: tuple[str, ...] = ()  # SVCB/HTTPS ipv4hint and ipv6hint addresses


class RecordLike(Protocol):
    """What the rules below read of a resource record: the parser's ``ResourceRecord`` and
    the tshark engine's records, rebuilt from its fields, both have it."""

    @property
    def name(self) -> str: ...
    @property
    def rtype(self) -> int: ...
    @property
    def ttl(self) -> int | None: ...
    @property
    def value(self) -> str: ...
    @property
    def section(self) -> int: ...
    @property
    def hints(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class DnsWire:
    ident: int
    flags: int
    questions: tuple[tuple[str, int, int], ...]  # (name, qtype, qclass)
    records: tuple[ResourceRecord, ...]
    truncated: bool  # the packet ended before every record was read

    @property
    def response(self) -> bool:
        return bool(self.flags & 0x8000)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> int:
        return self.flags & 0xF


def qtype_name(qtype: int) -> str:
    return QTYPE_NAMES.get(qtype, f"TYPE{qtype}")


def read_name(buf: bytes, offset: int) -> tuple[str, int]:
    """Read a possibly compressed name at ``offset``; return it and the offset after it."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    n = len(buf)
    while True:
        if offset >= n:
            raise DnsFormatError("name runs past the end")
        length = buf[offset]
        if length == 0:
            offset += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if offset + 1 >= n:
                raise DnsFormatError("pointer runs past the end")
            if end < 0:
                end = offset + 2
            jumps += 1
            if jumps > _MAX_NAME_JUMPS:
                raise DnsFormatError("compression loop")
            offset = ((length & 0x3F) << 8) | buf[offset + 1]
            continue
        if kind:
            raise DnsFormatError("unknown label type")
        offset += 1
        if offset + length > n:
            raise DnsFormatError("label runs past the end")
        labels.append(buf[offset : offset + length])
        offset += length
    if not labels:
        return ROOT_NAME, (end if end >= 0 else offset)
    # The labels are escaped and decoded once, joined: the same text as label by label, since
    # the escapes work byte by byte (character by character) and the ASCII "." between two
    # labels ends any UTF-8 sequence left open, as the end of a label did.
    name = b".".join(labels)
    if name.isascii() and not _CONTROL_BYTES.search(name):
        return name.decode("ascii"), (end if end >= 0 else offset)
    if _CONTROL_BYTES.search(name):
        # Control characters are escaped as Wireshark does (\ooo): a name must stay one line.
        name = _CONTROL_BYTES.sub(_escape_control, name)
    text = name.decode("utf-8", "replace")
    if not text.isascii():
        text = _escape_unprintable(text)
    return text, (end if end >= 0 else offset)


_C_ESCAPES = {7: b"\\a", 8: b"\\b", 9: b"\\t", 10: b"\\n", 11: b"\\v", 12: b"\\f", 13: b"\\r"}


def _escape_control(match: re.Match[bytes]) -> bytes:
    byte = match.group()[0]
    return _C_ESCAPES.get(byte) or b"\\%03o" % byte


# Beyond ASCII, Wireshark escapes what GLib's g_unichar_isprint rejects as \uXXXX: C1
# controls, format characters (zero-width, bidi overrides that make a name read
# backwards in a report), unassigned code points and surrogates.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Cs"})


def _escape_unprintable(text: str) -> str:
    category = unicodedata.category
    if not any(ch >= "\x80" and category(ch) in _UNPRINTABLE_CATEGORIES for ch in text):
        return text
    return "".join(
        (f"\\u{ord(ch):04X}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08X}")
        if ch >= "\x80" and category(ch) in _UNPRINTABLE_CATEGORIES
        else ch
        for ch in text
    )


def parse_dns(buf: bytes) -> DnsWire:
    """Parse a DNS message.  Raises DnsFormatError when not even the question can be read."""
    if len(buf) < 12:
        raise DnsFormatError("shorter than a DNS header")
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(buf, 0)
    offset = 12
    questions: list[tuple[str, int, int]] = []
    truncated = False
    for _ in range(qdcount):
        try:
            name, offset = read_name(buf, offset)
            if offset + 4 > len(buf):
                raise DnsFormatError("question runs past the end")
        except DnsFormatError:
            if not questions:
                raise
            # A count larger than the questions present (damaged or fuzzed): keep those read.
            truncated = True
            break
        qtype, qclass = _QFIXED.unpack_from(buf, offset)
        offset += 4
        questions.append((name, qtype, qclass))
    records: list[ResourceRecord] = []
    if truncated:
        return DnsWire(ident, flags, tuple(questions), (), True)
    try:
        for section, count in ((1, ancount), (2, nscount), (3, arcount)):
            for _ in range(count):
                rr, offset = _read_rr(buf, offset, section)
                records.append(rr)
    except DnsFormatError:
        truncated = True
    return DnsWire(ident, flags, tuple(questions), tuple(records), truncated)


def _read_rr(buf: bytes, offset: int, section: int) -> tuple[ResourceRecord, int]:
    name, offset = read_name(buf, offset)
    if offset + 10 > len(buf):
        raise DnsFormatError("record header runs past the end")
    rtype, rclass, ttl, rdlength = _RR_FIXED.unpack_from(buf, offset)
    offset += 10
    end = offset + rdlength
    if end > len(buf):
        raise DnsFormatError("record data runs past the end")
    value = ""
    if rtype == RR_A and rdlength == 4:
        value = socket.inet_ntop(socket.AF_INET, buf[offset:end])
    elif rtype == RR_AAAA and rdlength == 16:
        value = socket.inet_ntop(socket.AF_INET6, buf[offset:end])
    elif rtype in _NAME_RRS:
        value, _ = read_name(buf, offset)
    elif rtype == RR_SRV and rdlength > 6:
        value, _ = read_name(buf, offset + 6)
    elif rtype == RR_TXT:
        value = _read_txt(buf[offset:end])
    elif rtype in SVC_RRS and rdlength > 2:
        value, hints = _read_svcb(buf, offset, end)
        return ResourceRecord(name, rtype, ttl, value, section, rclass & 0x7FFF, hints), end
    return ResourceRecord(name, rtype, ttl, value, section, rclass & 0x7FFF), end


def _read_svcb(buf: bytes, offset: int, end: int) -> tuple[str, tuple[str, ...]]:
    """An SVCB/HTTPS record's target name and its address hints (RFC 9460 s2.2).  Apple and
    Android clients ask for HTTPS records and may connect to a hinted address without an A
    or AAAA answer, so the hints bind addresses to the name like A/AAAA answers do."""
    target, pos = read_name(buf, offset + 2)
    hints: list[str] = []
    while pos + 4 <= end:
        key, length = _QFIXED.unpack_from(buf, pos)
        pos += 4
        if pos + length > end:
            break  # a parameter that runs past its record: keep what came before
        if key == SVC_IPV4HINT and length % 4 == 0:
            hints += [socket.inet_ntop(socket.AF_INET, buf[i : i + 4]) for i in range(pos, pos + length, 4)]
        elif key == SVC_IPV6HINT and length % 16 == 0:
            hints += [socket.inet_ntop(socket.AF_INET6, buf[i : i + 16]) for i in range(pos, pos + length, 16)]
        pos += length
    return target, tuple(hints)


def _read_txt(rdata: bytes) -> str:
    parts: list[str] = []
    i = 0
    while i < len(rdata):
        n = rdata[i]
        parts.append(rdata[i + 1 : i + 1 + n].decode("utf-8", "replace"))
        i += 1 + n
    return " ".join(parts)


def answer_section(
    records: Iterable[RecordLike], qname: str
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], int | None]:
    """What a ``DnsMessage`` keeps of the answer section: every answer's value in record order
    (an SVCB/HTTPS record's target unless it is "." — the owner itself — then its address
    hints), an (address, question name) pair per A/AAAA answer and per address hint, and the
    lowest TTL of those."""
    answers: list[str] = []
    addresses: list[tuple[str, str]] = []
    ttl: int | None = None
    for rr in records:
        if rr.section != 1:
            continue
        value = "" if rr.rtype in SVC_RRS and rr.value == ROOT_NAME else rr.value
        if value:
            answers.append(value)
        answers.extend(rr.hints)
        bound = (value,) if rr.rtype in (RR_A, RR_AAAA) and value else rr.hints
        if bound:
            # Bind the address to the name the client asked for: that is the
            # service it meant to reach, whatever CDN alias answered.
            addresses.extend((address, qname) for address in bound)
            if rr.ttl is not None:
                ttl = rr.ttl if ttl is None else min(ttl, rr.ttl)
    return tuple(answers), tuple(addresses), ttl


def dns_event(wire: DnsWire, ctx: PacketContext) -> DnsMessage | None:
    """The ``dns`` event for a parsed message (None when it has no question)."""
    if not wire.questions:
        return None
    qname, qtype, _ = wire.questions[0]
    answers, addresses, ttl = answer_section(wire.records, qname)
    response = wire.response
    return DnsMessage(
        # ctx.header()'s fields one by one: no dict built and unpacked per message
        ts=ctx.ts,
        capture=ctx.capture,
        frame=ctx.frame,
        # the client's view: a response travels server -> client
        flow=ctx.flow.reversed() if response else ctx.flow,
        tunnel=ctx.tunnel,
        query=qname,
        qtype=qtype_name(qtype),
        answers=answers,
        rcode=wire.rcode if response else None,
        response=response,
        ttl=ttl,
        addresses=addresses,
    )


class DnsDecoder(DatagramDecoder):
    name = "dns"
    udp_ports = frozenset({53})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        try:
            wire = parse_dns(payload)
        except DnsFormatError:
            self.anomalies.add("dns_malformed")
            return ()
        if wire.truncated:
            self.anomalies.add("dns_truncated")
        event = dns_event(wire, ctx)
        return (event,) if event is not None else ()


class DnsTcpDecoder(StreamDecoder):
    """DNS over TCP: each message has a two-byte length prefix (RFC 1035 s4.2.2)."""

    name = "dns-tcp"
    tcp_ports = frozenset({53})
    _MAX_BUFFER = 65535 + 2

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._buffer = b""

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        buf = self._buffer + data if self._buffer else data
        events: list[Event] = []
        while len(buf) >= 2:
            length = (buf[0] << 8) | buf[1]
            if len(buf) < 2 + length:
                break
            message, buf = buf[2 : 2 + length], buf[2 + length :]
            try:
                wire = parse_dns(message)
            except DnsFormatError:
                self.anomalies.add("dns_malformed")
                continue
            event = dns_event(wire, self.ctx.at(ts, frame))
            if event is not None:
                events.append(event)
        self._buffer = buf[: self._MAX_BUFFER]
        return events
