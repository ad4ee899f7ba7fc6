"""NetBIOS Name Service (RFC 1001 s15, RFC 1002 s4.2) on UDP 137.

Windows (and Samba) hosts register their computer name, workgroup and
sometimes the logged-on user's name by broadcasting them on the LAN, query
names by broadcast, and list every name they hold in node status (NBSTAT)
responses.  A registration carries the host's own name: the one that matters.

Names are first-level encoded (RFC 1001 s14.1): 16 bytes (15 characters
padded with spaces, then a suffix byte saying what the name is for: 0x00
workstation, 0x20 file server, 0x03 messenger, 0x1b/0x1c/0x1d/0x1e domain and
browser names), each byte written as two letters 'A'+high nibble, 'A'+low
nibble.  The message layout is DNS's, but NBSTAT's resource record type 0x21
collides with DNS SRV and its data is a name table, so the records are read
here, with ``dns.read_name`` for the (compressible) names.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.dns import DnsFormatError, read_name
from scanner.model import Event, NbnsMessage

NBNS_PORT = 137

RR_NB, RR_NBSTAT = 0x20, 0x21
GROUP_FLAG = 0x8000  # NB_FLAGS / NAME_FLAGS G bit: a group name (workgroup), not a host's own
SUFFIX_WORKSTATION, SUFFIX_SERVER = 0x00, 0x20

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")
_ENCODED_LENGTH = 32
# Names that are protocol machinery, not a host's: the wildcard of NBSTAT queries and the
# master browser announcement name.
_NOT_DEVICE_NAMES = frozenset({"*", "\x01\x02__MSBROWSE__\x02"})


class NbnsFormatError(Exception):
    """Raised inside the parser only; the decoder counts it as an anomaly."""


@dataclass(frozen=True, slots=True)
class NetbiosName:
    name: str  # trailing padding (spaces, or NULs in the wildcard) removed
    suffix: int
    group: bool | None = None  # None when the message does not say


def decode_netbios_name(label: str) -> tuple[str, int]:
    """First-level decoding of one 32-letter label into (name, suffix)."""
    if len(label) != _ENCODED_LENGTH:
        raise NbnsFormatError("encoded NetBIOS name is not 32 characters")
    raw = bytearray(16)
    for i in range(16):
        high = ord(label[2 * i]) - 0x41
        low = ord(label[2 * i + 1]) - 0x41
        if not (0 <= high <= 15 and 0 <= low <= 15):
            raise NbnsFormatError("character outside 'A'..'P' in a first-level encoded name")
        raw[i] = (high << 4) | low
    # NetBIOS names are in the host's OEM code page; latin-1 keeps every byte and never fails.
    return raw[:15].decode("latin-1").rstrip(" \x00"), raw[15]


def _read_netbios_name(buf: bytes, offset: int) -> tuple[str, int, int]:
    """The NetBIOS name at ``offset`` (its first label; a scope ID may follow), suffix, next offset."""
    dns_name, after = read_name(buf, offset)
    first_label = dns_name.split(".", 1)[0]
    name, suffix = decode_netbios_name(first_label)
    return name, suffix, after


@dataclass(frozen=True, slots=True)
class NbnsWire:
    opcode: int  # 0 query, 5 registration, 6 release, 7 WACK, 8/9 refresh
    response: bool
    names: tuple[NetbiosName, ...]
    truncated: bool  # the packet ended before every record was read


def parse_nbns(buf: bytes) -> NbnsWire:
    """Parse a name service packet.  Raises NbnsFormatError when not even its first name can be read."""
    try:
        return _parse(buf)
    except (DnsFormatError, IndexError, struct.error) as exc:
        raise NbnsFormatError(str(exc)) from None


def _parse(buf: bytes) -> NbnsWire:
    if len(buf) < 12:
        raise NbnsFormatError("shorter than a name service header")
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(buf, 0)
    offset = 12
    names: list[NetbiosName] = []
    truncated = False
    try:
        for _ in range(qdcount):
            name, suffix, offset = _read_netbios_name(buf, offset)
            offset += 4  # question type and class
            names.append(NetbiosName(name, suffix))
        for _ in range(ancount + nscount + arcount):
            offset = _read_record(buf, offset, names)
    except (NbnsFormatError, DnsFormatError, IndexError, struct.error):
        if not names:
            raise
        truncated = True  # keep the names read before the damage
    return NbnsWire((flags >> 11) & 0xF, bool(flags & 0x8000), tuple(names), truncated)


def _read_record(buf: bytes, offset: int, names: list[NetbiosName]) -> int:
    name, suffix, offset = _read_netbios_name(buf, offset)
    rtype, _, _, rdlength = _RR_FIXED.unpack_from(buf, offset)
    offset += 10
    rdata = buf[offset : offset + rdlength]
    if len(rdata) < rdlength:
        raise NbnsFormatError("record data runs past the end")
    if rtype == RR_NB:
        # NB_FLAGS then an address, per address the name is bound to (RFC 1002 s4.2.1.3).
        group = bool(int.from_bytes(rdata[:2], "big") & GROUP_FLAG) if len(rdata) >= 2 else None
        names.append(NetbiosName(name, suffix, group))
    elif rtype == RR_NBSTAT and rdata:
        # NODE_NAME_ARRAY: a count, then 15 name bytes, a suffix and 2 flag bytes per name.
        count = rdata[0]
        for i in range(count):
            entry = rdata[1 + 18 * i : 19 + 18 * i]
            if len(entry) < 18:
                raise NbnsFormatError("node name table runs past the end")
            listed = entry[:15].decode("latin-1").rstrip(" \x00")
            names.append(NetbiosName(listed, entry[15], bool(int.from_bytes(entry[16:18], "big") & GROUP_FLAG)))
    else:
        names.append(NetbiosName(name, suffix))
    return offset + rdlength


def best_name(names: Sequence[NetbiosName]) -> str:
    """A host's own name first: unique (not group) with the workstation or server suffix."""
    for entry in names:
        if entry.group is not True and entry.suffix in (SUFFIX_WORKSTATION, SUFFIX_SERVER):
            return entry.name
    return names[0].name


class NbnsDecoder(DatagramDecoder):
    name = "nbns"
    udp_ports = frozenset({NBNS_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        try:
            wire = parse_nbns(payload)
        except NbnsFormatError:
            self.anomalies.add("nbns_malformed")
            return ()
        if wire.truncated:
            self.anomalies.add("nbns_truncated")
        useful = [n for n in wire.names if n.name and n.name not in _NOT_DEVICE_NAMES and n.name.isprintable()]
        if not useful:
            return ()
        return (
            NbnsMessage(
                **ctx.header(),
                name=best_name(useful),
                names=tuple(dict.fromkeys(n.name for n in useful)),
            ),
        )
