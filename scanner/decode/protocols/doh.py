"""DNS over HTTPS (RFC 8484) messages inside HTTP requests, as ``dns`` events.

A client that resolves names over DoH escapes the DNS resolver (and the blocklists) the operator
runs; its questions still say which names it is about to reach.  RFC 8484 §4.1 sends the DNS
message (RFC 1035 wire format) either as ``GET <path>?dns=<base64url, no padding>`` or as the
body of a ``POST`` with ``Content-Type: application/dns-message``.  Both give the same
``DnsMessage`` the UDP decoder would, on the request's own flow, after the ``http`` event.

Clear-text DoH is rare (port 80 to a resolver, lab set-ups, a proxy's view); decrypted TLS
(``--keylog``) hands its HTTP/1.1 and HTTP/2 requests through the same path.  Only questions are
decoded: privscan reads requests, not responses, so DoH answers do not bind addresses yet.
Anything that does not parse as DNS is left alone (not every ``dns=`` parameter is RFC 8484).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Sequence
from urllib.parse import parse_qsl

from scanner.decode.protocols.base import PacketContext
from scanner.decode.protocols.dns import DnsFormatError, dns_event, parse_dns
from scanner.model import DnsMessage, Event, HttpRequest

DNS_MESSAGE = "application/dns-message"
MAX_MESSAGE = 65_535  # a DNS message's length field is 16 bits (RFC 8484 §6)


def doh_message(request: HttpRequest) -> DnsMessage | None:
    """The DNS question a DoH request carries, or None."""
    data: bytes | None = None
    content_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if request.method == "POST" and content_type == DNS_MESSAGE:
        data = request.body
    elif request.method == "GET" and "dns=" in request.uri:
        _, _, query = request.uri.partition("?")
        for name, value in parse_qsl(query, keep_blank_values=False):
            if name == "dns":
                data = _base64url(value)
                break
    if not data or len(data) > MAX_MESSAGE:
        return None
    try:
        wire = parse_dns(data)
    except (DnsFormatError, ValueError, IndexError):
        return None
    if wire.response or wire.opcode != 0:
        return None  # a request carries a standard query (RFC 8484 §4.1)
    context = PacketContext(request.ts, request.capture, request.frame, request.flow, request.tunnel)
    return dns_event(wire, context)


def with_doh(events: Iterable[Event]) -> Iterator[Event]:
    """The events, each DoH request followed by the DNS question it carries."""
    for event in events:
        yield event
        if isinstance(event, HttpRequest) and (event.method == "POST" or "dns=" in event.uri):
            message = doh_message(event)
            if message is not None:
                yield message


def expand(events: Sequence[Event]) -> Sequence[Event]:
    """A decoder's events for one frame, each DoH request followed by its DNS question (the same
    list when none is DoH: the common case costs one type test per event)."""
    if not any(isinstance(e, HttpRequest) for e in events):
        return events
    return list(with_doh(events))


def expand_pairs(pairs: list[tuple[int, Event]]) -> list[tuple[int, Event]]:
    """As ``expand``, for a sweep's (flow creation order, event) pairs: the question keeps its
    request's order number, right after it."""
    if not any(isinstance(e, HttpRequest) for _, e in pairs):
        return pairs
    out: list[tuple[int, Event]] = []
    for created, event in pairs:
        out.append((created, event))
        if isinstance(event, HttpRequest):
            message = doh_message(event)
            if message is not None:
                out.append((created, message))
    return out


def _base64url(text: str) -> bytes | None:
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
