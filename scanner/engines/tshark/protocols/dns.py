"""DNS (RFC 1035) from tshark's ``dns`` layer, as scanner/decode/protocols/dns.py reads it.

DNS events are oriented client -> server, responses included; ``answers`` hold the
answer section's values in record order (the native ``answer_section`` rule),
``addresses`` the (address, question name) pairs of its A/AAAA records and SVCB/HTTPS
hints; names are printed as Wireshark escapes them (the native decoder copies that).
EK prints every ``dns.a`` of a message in one list: ``dns_records`` rebuilds the
records from the counts and lengths tshark also prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

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
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first, first_int, flag, integers, values
from scanner.model import DnsMessage, Event

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


class DnsBuilder(LayerBuilder):
    """DNS queries and responses."""

    layer = "dns"
    display_filter = "dns"
    protocols = ("dns",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
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
                **ctx.header(flow=ctx.flow.reversed() if response else ctx.flow),
                query=qname,
                qtype=qtype_name(qtypes[0]) if qtypes else "TYPE0",
                answers=answers,
                rcode=first_int(layer, "dns_dns_flags_rcode") if response else None,
                response=response,
                ttl=ttl,
                addresses=addresses,
            ),
        )


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


def _damaged_name(name: str) -> bool:
    """Wireshark prints a label it cannot read (bad label type, pointer loop) as <...>: the
    native parser rejects such a name (DnsFormatError), so the builders drop it too."""
    return "<Unknown extended label>" in name or "<Name contains a pointer that loops>" in name
