"""DHCPv6 (RFC 8415; client FQDN RFC 4704; client link-layer address RFC 6939).

A DHCPv6 client identifies itself by its DUID, which in its DUID-LL and
DUID-LLT forms holds a hardware address (RFC 8415 s11.2, s11.4), announces
a host name in the Client FQDN option, names its OS in the Vendor Class
option, and is given addresses in IA_NA / IA_ADDR options.

Messages relayed by a relay agent (RELAY-FORW / RELAY-REPL, s9) are
unwrapped: the event describes the client's message inside, and the relay's
Client Link-Layer Address option supplies the MAC when the DUID has none.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.dhcp import format_mac, host_name, wire_name
from scanner.decode.protocols.telecom import ipv6, text
from scanner.model import DhcpMessage, Event

DHCPV6_CLIENT_PORT = 546
DHCPV6_SERVER_PORT = 547

# Message types (RFC 8415 s7.3; RFC 5007 / RFC 5460 leasequery; RFC 7341 DHCPv4-over-DHCPv6;
# RFC 7653 active leasequery; RFC 8156 failover)
MESSAGE_TYPES = {
    1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND", 7: "REPLY",
    8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE", 11: "INFORMATION-REQUEST", 12: "RELAY-FORW",
    13: "RELAY-REPL", 14: "LEASEQUERY", 15: "LEASEQUERY-REPLY", 16: "LEASEQUERY-DONE",
    17: "LEASEQUERY-DATA", 18: "RECONFIGURE-REQUEST", 19: "RECONFIGURE-REPLY", 20: "DHCPV4-QUERY",
    21: "DHCPV4-RESPONSE", 22: "ACTIVELEASEQUERY", 23: "STARTTLS",
}
RELAY_FORW, RELAY_REPL = 12, 13
CLIENT_HEADER = 4  # msg-type, transaction-id (3)
RELAY_HEADER = 34  # msg-type, hop-count, link-address (16), peer-address (16)
MAX_RELAY_DEPTH = 32  # HOP_COUNT_LIMIT is 8 (s7.6); anything deeper is a loop or garbage

OPT_CLIENTID = 1
OPT_IA_NA = 3
OPT_IA_TA = 4
OPT_IAADDR = 5
OPT_RELAY_MSG = 9
OPT_VENDOR_CLASS = 16
OPT_CLIENT_FQDN = 39
OPT_CLIENT_LINKLAYER_ADDR = 79

DUID_LLT, DUID_LL = 1, 3
HWTYPE_ETHERNET = 1
MAC_LENGTH = 6

_OPTION = struct.Struct("!HH")


def message_name(msg_type: int) -> str:
    return MESSAGE_TYPES.get(msg_type, f"TYPE-{msg_type}")


@dataclass(slots=True)
class _Found:
    mac: str | None = None
    relay_mac: str | None = None
    client_fqdn: str | None = None
    vendor_class: str | None = None
    ip: str | None = None
    lease_time: int | None = None


class Dhcpv6Decoder(DatagramDecoder):
    name = "dhcpv6"
    udp_ports = frozenset({DHCPV6_CLIENT_PORT, DHCPV6_SERVER_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        payload = bytes(payload)
        found = _Found()
        message = self._message(payload, found, depth=0)
        if message is None:
            return ()
        return (
            DhcpMessage(
                # flow as it travelled
                **ctx.header(),
                message=message,
                mac=found.mac or found.relay_mac,
                hostname=host_name(None, found.client_fqdn),
                ip=found.ip,
                vendor_class=found.vendor_class,
                client_fqdn=found.client_fqdn,
                lease_time=found.lease_time,
                version=6,
            ),
        )

    def _message(self, buf: bytes, found: _Found, depth: int) -> str | None:
        """The name of the (innermost) message in ``buf``; fills ``found`` on the way."""
        if not buf:
            self.anomalies.add("dhcpv6_truncated")
            return None
        msg_type = buf[0]
        name = message_name(msg_type)
        if msg_type not in (RELAY_FORW, RELAY_REPL):
            if len(buf) < CLIENT_HEADER:
                self.anomalies.add("dhcpv6_truncated")
                return None
            self._options(buf, CLIENT_HEADER, len(buf), found, depth)
            return name
        if len(buf) < RELAY_HEADER:
            self.anomalies.add("dhcpv6_truncated")
            return None
        inner = self._options(buf, RELAY_HEADER, len(buf), found, depth)
        if inner is None:
            return name  # a relay message without the client's message: report the relay's
        if depth >= MAX_RELAY_DEPTH:
            self.anomalies.add("dhcpv6_relay_too_deep")
            return name
        # A cut inner message still leaves the relay's own name to report.
        return self._message(inner, found, depth + 1) or name

    def _options(self, buf: bytes, pos: int, end: int, found: _Found, depth: int) -> bytes | None:
        """Walk options; returns the Relay Message option's payload, if any."""
        relay_message: bytes | None = None
        while pos < end:
            if pos + 4 > end:
                self.anomalies.add("dhcpv6_option_truncated")
                break
            code, length = _OPTION.unpack_from(buf, pos)
            start = pos + 4
            pos = start + length
            if pos > end:
                self.anomalies.add("dhcpv6_option_truncated")
                break
            value = buf[start:pos]
            if code == OPT_RELAY_MSG:
                relay_message = value
            elif code == OPT_CLIENTID and found.mac is None:
                found.mac = _duid_mac(value)
            elif code == OPT_CLIENT_LINKLAYER_ADDR:
                if len(value) == 2 + MAC_LENGTH and struct.unpack_from("!H", value)[0] == HWTYPE_ETHERNET:
                    found.relay_mac = format_mac(value[2:])
            elif code == OPT_CLIENT_FQDN and found.client_fqdn is None:
                self._client_fqdn(value, found)
            elif code == OPT_VENDOR_CLASS and found.vendor_class is None:
                found.vendor_class = self._vendor_class(value)
            elif code == OPT_IA_NA and len(value) >= 12:
                self._ia_options(value, 12, found)  # IAID, T1, T2
            elif code == OPT_IA_TA and len(value) >= 4:
                self._ia_options(value, 4, found)  # IAID
            elif code in (OPT_IA_NA, OPT_IA_TA):
                self.anomalies.add("dhcpv6_option_malformed")
        return relay_message

    def _ia_options(self, value: bytes, pos: int, found: _Found) -> None:
        """IA_ADDR options inside an IA_NA / IA_TA (s21.4 - s21.6): the first address is kept."""
        while pos + 4 <= len(value):
            code, length = _OPTION.unpack_from(value, pos)
            start = pos + 4
            pos = start + length
            if pos > len(value):
                self.anomalies.add("dhcpv6_option_truncated")
                return
            if code != OPT_IAADDR:
                continue  # Status Code and others
            if length < 24:
                self.anomalies.add("dhcpv6_option_malformed")
                continue
            if found.ip is None:
                found.ip = ipv6(value[start : start + 16])
                valid = struct.unpack_from("!I", value, start + 20)[0]
                # 0 is "expired" in a RELEASE/REPLY; 0xffffffff is "infinity"
                found.lease_time = valid or None

    def _client_fqdn(self, value: bytes, found: _Found) -> None:
        """Option 39 (RFC 4704 s4): a flags octet, then the name in DNS wire format."""
        if not value:
            self.anomalies.add("dhcpv6_option_malformed")
            return
        name = wire_name(value[1:])
        if name is None and len(value) > 1:
            self.anomalies.add("dhcpv6_option_malformed")
        found.client_fqdn = name

    def _vendor_class(self, value: bytes) -> str | None:
        """Option 16 (s21.16): enterprise number, then length-prefixed vendor-class-data items."""
        if len(value) < 4:
            self.anomalies.add("dhcpv6_option_malformed")
            return None
        items: list[str] = []
        pos = 4
        while pos + 2 <= len(value):
            length = struct.unpack_from("!H", value, pos)[0]
            if pos + 2 + length > len(value):
                self.anomalies.add("dhcpv6_option_malformed")
                break
            items.append(text(value[pos + 2 : pos + 2 + length]))
            pos += 2 + length
        return ",".join(items) or None


def _duid_mac(duid: bytes) -> str | None:
    """The hardware address in a DUID-LLT or DUID-LL of an Ethernet interface (RFC 8415 s11.2, s11.4)."""
    if len(duid) < 4:
        return None
    duid_type, hwtype = struct.unpack_from("!HH", duid)
    if hwtype != HWTYPE_ETHERNET:
        return None
    if duid_type == DUID_LLT and len(duid) == 8 + MAC_LENGTH:
        return format_mac(duid[8:])
    if duid_type == DUID_LL and len(duid) == 4 + MAC_LENGTH:
        return format_mac(duid[4:])
    return None
