"""Link-Local Multicast Name Resolution (RFC 4795) on UDP 5355.

Windows hosts ask the local link for names DNS could not resolve, and answer
for their own: the queried name (often a mistyped share or "wpad") and the
responder's host name travel in clear to everyone on the link.  LLMNR
messages have the DNS wire format (RFC 4795 s2.1), so ``dns.parse_dns`` reads
them; reverse-mapping names (in-addr.arpa, ip6.arpa) are skipped, the host
names their PTR answers carry are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.dns import RR_PTR, DnsFormatError, RecordLike, parse_dns
from scanner.model import Event, LlmnrMessage

LLMNR_PORT = 5355

_REVERSE_SUFFIXES = (".in-addr.arpa", ".ip6.arpa")


def _is_host_name(name: str) -> bool:
    return bool(name) and not name.endswith(_REVERSE_SUFFIXES) and not name.startswith("<")


def host_names(questions: Iterable[str], records: Iterable[RecordLike]) -> tuple[str, ...]:
    """The host names in a message: the questions', the records' and those PTR answers point
    to, distinct, in the order seen (the question first: the name asked for)."""
    candidates = list(questions)
    for rr in records:
        candidates.append(rr.name)
        if rr.rtype == RR_PTR:
            candidates.append(rr.value)
    return tuple(dict.fromkeys(n for n in candidates if _is_host_name(n)))


class LlmnrDecoder(DatagramDecoder):
    name = "llmnr"
    udp_ports = frozenset({LLMNR_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        try:
            wire = parse_dns(payload)
        except DnsFormatError:
            self.anomalies.add("llmnr_malformed")
            return ()
        if wire.truncated:
            self.anomalies.add("llmnr_truncated")
        names = host_names((q[0] for q in wire.questions), wire.records)
        if not names:
            return ()
        return (
            LlmnrMessage(
                **ctx.header(),
                name=names[0],
                names=names,
            ),
        )
