"""Multicast DNS and DNS-Based Service Discovery (RFC 6762, RFC 6763) on UDP 5353.

Devices announce themselves on the local link with the name their owner gave
them ("Luca's iMac", "Emma's iPad"): a device name that leaves the device and
that anyone on the Wi-Fi can read.  The message is a DNS message, parsed by
``dns.parse_dns``; this module only decides which of its names are names of
devices:

- a service instance "<Instance>._<service>._tcp.local" gives "<Instance>"
  (RFC 6763 s4.1), without the "<hex>@" prefix AirPlay puts before it;
- a host "<host>.local" gives "<host>";
- TXT keys that carry a friendly name (``n=``, ``name=``, ``fn=``, RFC 6763 s6);
- service types ("_airplay._tcp.local"), subtypes ("x._sub._ipp._tcp.local"),
  the DNS-SD meta query and reverse-mapping names (in-addr.arpa, ip6.arpa)
  are not names of devices.

The event is oriented as the packet travelled: in mDNS the sender of an answer
is the device announcing its own names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.dns import RR_PTR, RR_SRV, RR_TXT, DnsFormatError, parse_dns
from scanner.model import Event, MdnsMessage

MDNS_PORT = 5353

_LOCAL = ".local"
_PROTOCOL_LABELS = frozenset({"_tcp", "_udp"})
# AirPlay/RAOP instance names are "<MAC without colons>@<name>" (Apple's RAOP service).
_RAOP_PREFIX = re.compile(r"^[0-9A-Fa-f]{12}@")
# TXT keys whose value is a name the user chose (RFC 6763 s6.4 keys are case-insensitive).
_NAME_KEYS = frozenset({"n", "name", "fn", "friendlyname", "devicename", "dn"})
# dns.py joins a TXT record's strings with spaces; a new string starts where "key=" begins.
_TXT_SPLIT = re.compile(r" (?=[A-Za-z0-9_.-]{1,32}=)")

# How telling a name is: a name the user typed beats a host name that may be generated.
_TXT_NAME, _INSTANCE, _HOST = 0, 1, 2


def classify(dns_name: str) -> tuple[int, str] | None:
    """(kind, device name) for a DNS name seen in an mDNS message, or None when it names no device."""
    if not dns_name.endswith(_LOCAL):
        return None  # reverse mappings, the root, names outside the link-local domain
    labels = dns_name[: -len(_LOCAL)].split(".")
    for i in range(len(labels) - 1):
        if labels[i].startswith("_") and labels[i + 1] in _PROTOCOL_LABELS:
            # "<Instance>._service._proto.local": the instance may itself contain dots.
            instance = labels[:i]
            if not instance or instance[-1] == "_sub" or instance[0].startswith("_"):
                return None  # a service type, a subtype, or the DNS-SD meta query
            name = _RAOP_PREFIX.sub("", ".".join(instance))
            return (_INSTANCE, name) if name else None
    # A host name, possibly under service labels such as Apple's "_kerberos.<host>.local".
    while labels and labels[0].startswith("_"):
        labels = labels[1:]
    host = ".".join(labels)
    return (_HOST, host) if host else None


def txt_names(text: str) -> list[str]:
    """Friendly names in a TXT record's text (``fn=Living Room TV``)."""
    names = []
    for item in _TXT_SPLIT.split(text):
        key, sep, value = item.partition("=")
        if sep and key.lower() in _NAME_KEYS and value.strip():
            names.append(value.strip())
    return names


def device_names(dns_names: Iterable[str], txt_texts: Iterable[str] = ()) -> tuple[str, tuple[str, ...]] | None:
    """The most telling device name and every distinct one, or None when there is none."""
    ranked: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    for text in txt_texts:
        for value in txt_names(text):
            if value not in seen:
                seen.add(value)
                ranked.append((_TXT_NAME, len(ranked), value))
    for dns_name in dns_names:
        found = classify(dns_name)
        if found is not None and found[1] not in seen:
            seen.add(found[1])
            ranked.append((found[0], len(ranked), found[1]))
    if not ranked:
        return None
    best = min(ranked)[2]
    return best, tuple(name for _, _, name in sorted(ranked, key=lambda r: r[1]))


class MdnsDecoder(DatagramDecoder):
    name = "mdns"
    udp_ports = frozenset({MDNS_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        try:
            wire = parse_dns(payload)
        except DnsFormatError:
            self.anomalies.add("mdns_malformed")
            return ()
        if wire.truncated:
            self.anomalies.add("mdns_truncated")
        dns_names = [q[0] for q in wire.questions]
        texts: list[str] = []
        for rr in wire.records:
            dns_names.append(rr.name)
            if rr.rtype in (RR_PTR, RR_SRV) and rr.value:
                dns_names.append(rr.value)  # a browse answer's instance, a service's host
            elif rr.rtype == RR_TXT and rr.value:
                texts.append(rr.value)
        found = device_names(dns_names, texts)
        if found is None:
            return ()
        name, names = found
        return (
            MdnsMessage(
                **ctx.header(),
                name=name,
                names=names,
            ),
        )
