"""DHCPv4 and BOOTP (RFC 2131, options RFC 2132; RFC 951 BOOTP; RFC 4702 client FQDN).

DHCP is where a device on a LAN or Wi-Fi says who it is before it says
anything else: its hardware address (``chaddr``), a host name that is often
the owner's name ("Emmas-iPad"), a vendor class that names the OS, and the
address it is given, which binds the device to its later traffic.

Options may continue in the ``file`` and ``sname`` fields (option overload,
RFC 2132 s9.3) and a long option may be split into several instances that
are concatenated (RFC 3396).  A message without the magic cookie is BOOTP
and is reported as BOOTREQUEST / BOOTREPLY.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.telecom import ipv4, text
from scanner.model import DhcpMessage, Event

DHCP_SERVER_PORT = 67
DHCP_CLIENT_PORT = 68

# Fixed BOOTP header (RFC 2131 s2, Figure 1)
_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")
FIXED_LENGTH = _FIXED.size  # 236
CHADDR_END = 44  # op .. giaddr (28 octets) + chaddr (16): enough to say which device it was
MAGIC_COOKIE = b"\x63\x82\x53\x63"
OPTIONS_START = FIXED_LENGTH + len(MAGIC_COOKIE)  # 240

OP_BOOTREQUEST, OP_BOOTREPLY = 1, 2
HTYPE_ETHERNET, HTYPE_IEEE802 = 1, 6  # ARP hardware types whose addresses are 48-bit MACs
MAC_LENGTH = 6

OPT_PAD = 0
OPT_HOST_NAME = 12
OPT_REQUESTED_IP = 50
OPT_LEASE_TIME = 51
OPT_OVERLOAD = 52
OPT_MESSAGE_TYPE = 53
OPT_VENDOR_CLASS = 60
OPT_CLIENT_FQDN = 81
OPT_END = 255
OVERLOAD_FILE, OVERLOAD_SNAME = 1, 2

FQDN_FLAG_E = 0x04  # RFC 4702 s2.1: the name is in DNS wire format, not ASCII

# Option 53 values (RFC 2132 s9.6, RFC 4388 leasequery, RFC 6926 bulk leasequery, RFC 3203 forcerenew)
MESSAGE_TYPES = {
    1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM",
    9: "FORCERENEW", 10: "LEASEQUERY", 11: "LEASEUNASSIGNED", 12: "LEASEUNKNOWN", 13: "LEASEACTIVE",
    14: "BULKLEASEQUERY", 15: "LEASEQUERYDONE", 16: "ACTIVELEASEQUERY", 17: "LEASEQUERYSTATUS", 18: "TLS",
}
# Messages whose yiaddr is the address the server gives the client.
_YIADDR_MESSAGES = frozenset({"OFFER", "ACK", "BOOTREPLY"})


def message_name(message_type: int | None, op: int | None) -> str:
    """Option 53's message type by name; without option 53 the message is plain BOOTP
    (RFC 951), named after its op."""
    if message_type is not None:
        return MESSAGE_TYPES.get(message_type, f"TYPE-{message_type}")
    return "BOOTREQUEST" if op == OP_BOOTREQUEST else "BOOTREPLY"


def leased_address(message: str, yiaddr: str | None, requested: str | None, ciaddr: str | None) -> str | None:
    """The address a message is about (RFC 2131 s4.3, table 5): the one the server gives in
    an OFFER or ACK, none in a NAK, else the one the client asks for (option 50) or holds.
    Each address is None where the message leaves it out or zero."""
    if message in _YIADDR_MESSAGES:
        return yiaddr
    if message == "NAK":
        return None
    return requested or ciaddr


def client_mac(htype: int | None, hlen: int | None, address: str | None) -> str | None:
    """The client's MAC from chaddr (RFC 2131 s2, htype/hlen as ARP's, RFC 1700): only a 48-bit
    Ethernet or IEEE 802 address, and not all zeros (a BOOTP relay's or a filler).  Both
    engines call this with the address as text (the native one from format_mac)."""
    if htype in (HTYPE_ETHERNET, HTYPE_IEEE802) and hlen == MAC_LENGTH and address and address != _ZERO_MAC:
        return address
    return None


_ZERO_MAC = "00:00:00:00:00:00"


def host_name(hostname: str | None, client_fqdn: str | None) -> str | None:
    """The client's host name: its Host Name option (RFC 2132 s3.14), else the first label of the
    FQDN it sent (Client FQDN, RFC 4702; DHCPv6 RFC 4704, which has no host name option)."""
    if not hostname and client_fqdn:
        hostname = client_fqdn.split(".", 1)[0]
    return hostname or None


def format_mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _address(raw: bytes | None) -> str | None:
    """An IPv4 address field or option; None when absent, malformed or 0.0.0.0."""
    return ipv4(raw) if raw is not None and len(raw) == 4 and any(raw) else None


def wire_name(data: bytes) -> str | None:
    """A domain name in DNS wire format (no compression), possibly partial (no final zero)."""
    labels: list[str] = []
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0:
            break
        if length > 63 or i + 1 + length > len(data):
            return None
        labels.append(data[i + 1 : i + 1 + length].decode("utf-8", "replace"))
        i += 1 + length
    return ".".join(labels) or None


class DhcpDecoder(DatagramDecoder):
    name = "dhcp"
    udp_ports = frozenset({DHCP_SERVER_PORT, DHCP_CLIENT_PORT})

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        payload = bytes(payload)
        if len(payload) < CHADDR_END:
            self.anomalies.add("dhcp_header_truncated")
            return ()
        op, htype, hlen = payload[0], payload[1], payload[2]
        if op not in (OP_BOOTREQUEST, OP_BOOTREPLY):
            self.anomalies.add("dhcp_bad_op")
            return ()
        ciaddr, yiaddr = payload[12:16], payload[16:20]
        chaddr = payload[28:CHADDR_END]
        options: dict[int, bytes] = {}
        if len(payload) < FIXED_LENGTH:
            self.anomalies.add("dhcp_truncated")
        elif payload[FIXED_LENGTH:OPTIONS_START] == MAGIC_COOKIE:
            options = self._options(payload)
        # else: BOOTP (RFC 951): a vendor area, no options

        message_type = options.get(OPT_MESSAGE_TYPE)
        message = message_name(message_type[0] if message_type else None, op)

        mac = client_mac(htype, hlen, format_mac(chaddr[:MAC_LENGTH]))

        client_fqdn = self._client_fqdn(options.get(OPT_CLIENT_FQDN))
        hostname = text(options[OPT_HOST_NAME]).rstrip("\x00") if OPT_HOST_NAME in options else None

        vendor = options.get(OPT_VENDOR_CLASS)
        lease = options.get(OPT_LEASE_TIME)
        return (
            DhcpMessage(
                # flow as it travelled: a client often has no address yet to orient by
                **ctx.header(),
                message=message,
                mac=mac,
                hostname=host_name(hostname, client_fqdn),
                ip=leased_address(message, _address(yiaddr), _address(options.get(OPT_REQUESTED_IP)), _address(ciaddr)),
                vendor_class=text(vendor) if vendor else None,
                client_fqdn=client_fqdn,
                lease_time=struct.unpack("!I", lease)[0] if lease and len(lease) == 4 else None,
                version=4,
            ),
        )

    def _options(self, payload: bytes) -> dict[int, bytes]:
        options: dict[int, bytes] = {}
        self._walk(payload, OPTIONS_START, len(payload), options)
        overload = options.get(OPT_OVERLOAD)
        if overload and len(payload) >= FIXED_LENGTH:
            # RFC 2132 s9.3: 'file' is read before 'sname'
            if overload[0] & OVERLOAD_FILE:
                self._walk(payload, 108, 236, options)
            if overload[0] & OVERLOAD_SNAME:
                self._walk(payload, 44, 108, options)
        return options

    def _walk(self, buf: bytes, pos: int, end: int, options: dict[int, bytes]) -> None:
        while pos < end:
            code = buf[pos]
            if code == OPT_END:
                return
            if code == OPT_PAD:
                pos += 1
                continue
            if pos + 2 > end or pos + 2 + buf[pos + 1] > end:
                self.anomalies.add("dhcp_option_truncated")
                return
            length = buf[pos + 1]
            # RFC 3396: instances of one option are parts of one value
            options[code] = options.get(code, b"") + buf[pos + 2 : pos + 2 + length]
            pos += 2 + length

    def _client_fqdn(self, value: bytes | None) -> str | None:
        """Option 81 (RFC 4702 s2): flags, two obsolete RCODE octets, then the name."""
        if value is None:
            return None
        if len(value) < 3:
            self.anomalies.add("dhcp_option_malformed")
            return None
        name_bytes = value[3:]
        if value[0] & FQDN_FLAG_E:
            name = wire_name(name_bytes)
            if name is None and name_bytes:
                self.anomalies.add("dhcp_option_malformed")
            return name
        return text(name_bytes).rstrip("\x00.") or None
