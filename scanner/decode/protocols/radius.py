"""RADIUS authentication and accounting (RFC 2865, RFC 2866; RFC 5176 dynamic authorisation).

RADIUS is where access networks say who is behind an address: an
Accounting-Request Start binds a Framed-IP-Address to a User-Name and a
Calling-Station-Id (a MAC on Wi-Fi, the MSISDN on a GGSN/PGW's Gi/SGi
RADIUS, TS 29.061 s16).  The 3GPP vendor-specific attributes (Vendor-Id
10415, TS 29.061 s16.4.7) add the IMSI and the IMEISV.  An EAP-AKA/SIM user
name (TS 23.003 s19.3.2) also carries the IMSI.

Passwords and authenticators are not read.  Attributes split across several
instances (RFC 2865 s5: only a few types allow it) are taken from their first
instance, which holds the identifiers this scanner cares about.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.decode.protocols.base import DatagramDecoder, PacketContext
from scanner.decode.protocols.telecom import (
    FRAMED_IP_PLACEHOLDERS,
    VENDOR_3GPP,
    digits_or_tbcd,
    imsi_from_nai,
    ipv4,
    ipv6,
    text,
)
from scanner.model import Event, RadiusMessage

# 1812/1813 (RFC 2865/2866), the pre-standard 1645/1646 that NAS still use, and
# 3799 for Disconnect / CoA (RFC 5176).
RADIUS_PORTS = frozenset({1812, 1813, 1645, 1646, 3799})

_HEADER = struct.Struct("!BBH16s")  # code, identifier, length, authenticator
HEADER_LENGTH = 20
MAX_LENGTH = 4096  # RFC 2865 s3

CODES = {
    1: "Access-Request", 2: "Access-Accept", 3: "Access-Reject",
    4: "Accounting-Request", 5: "Accounting-Response", 6: "Accounting-Status",
    11: "Access-Challenge", 12: "Status-Server", 13: "Status-Client",
    40: "Disconnect-Request", 41: "Disconnect-ACK", 42: "Disconnect-NAK",
    43: "CoA-Request", 44: "CoA-ACK", 45: "CoA-NAK",
}

# Acct-Status-Type values (RFC 2866 s5.1, RFC 2867 s4.1 for the tunnel ones)
ACCT_STATUS = {
    1: "Start", 2: "Stop", 3: "Interim-Update", 7: "Accounting-On", 8: "Accounting-Off",
    9: "Tunnel-Start", 10: "Tunnel-Stop", 11: "Tunnel-Reject", 12: "Tunnel-Link-Start",
    13: "Tunnel-Link-Stop", 14: "Tunnel-Link-Reject", 15: "Failed",
}

ATTR_USER_NAME = 1
ATTR_FRAMED_IP_ADDRESS = 8
ATTR_VENDOR_SPECIFIC = 26
ATTR_CALLED_STATION_ID = 30
ATTR_CALLING_STATION_ID = 31
ATTR_ACCT_STATUS_TYPE = 40
ATTR_ACCT_SESSION_ID = 44
ATTR_FRAMED_IPV6_PREFIX = 97

VSA_3GPP_IMSI = 1  # TS 29.061 s16.4.7.2: UTF-8 digits
VSA_3GPP_IMEISV = 20


@dataclass(slots=True)
class _Attributes:
    user_name: str | None = None
    calling_station_id: str | None = None
    called_station_id: str | None = None
    framed_ip: str | None = None
    framed_ipv6_prefix: str | None = None
    acct_status: str | None = None
    session_id: str | None = None
    imsi: str | None = None
    imeisv: str | None = None


def code_name(code: int) -> str:
    return CODES.get(code, f"Code-{code}")


def acct_status_name(status: int) -> str:
    return ACCT_STATUS.get(status, f"Status-{status}")


def subscriber_imsi(imsi: str | None, user_name: str | None) -> str | None:
    """The IMSI of a message: its 3GPP-IMSI VSA (TS 29.061 s16.4.7), else the one an EAP-SIM/AKA
    identity in User-Name carries (``0<IMSI>@wlan.mnc...``, TS 23.003 s19.3).  Both engines call this."""
    if imsi is None and user_name:
        return imsi_from_nai(user_name)
    return imsi


def framed_ipv6_prefix(value: bytes) -> str | None:
    """Framed-IPv6-Prefix (RFC 3162 s2.3): reserved, prefix length, then only the prefix's octets."""
    if len(value) < 2 or value[1] > 128 or len(value) > 18:
        return None
    prefix_length = value[1]
    raw = value[2:].ljust(16, b"\x00")
    return f"{ipv6(raw)}/{prefix_length}"


class RadiusDecoder(DatagramDecoder):
    name = "radius"
    udp_ports = RADIUS_PORTS

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        payload = bytes(payload)
        if len(payload) < HEADER_LENGTH:
            self.anomalies.add("radius_header_truncated")
            return ()
        code, _, length, _ = _HEADER.unpack_from(payload, 0)
        if length < HEADER_LENGTH or length > MAX_LENGTH:
            self.anomalies.add("radius_bad_length")
            return ()
        if length > len(payload):
            # A snaplen-cut capture: the attributes that made it are still good.
            self.anomalies.add("radius_truncated")
            length = len(payload)
        # Octets after ``length`` are padding (RFC 2865 s3) and are ignored.
        attrs = _Attributes()
        self._walk(payload, HEADER_LENGTH, length, attrs)
        attrs.imsi = subscriber_imsi(attrs.imsi, attrs.user_name)
        return (
            RadiusMessage(
                # flow reported in the direction it travelled: NAS -> server or back
                **ctx.header(),
                code=code_name(code),
                acct_status=attrs.acct_status,
                user_name=attrs.user_name,
                calling_station_id=attrs.calling_station_id,
                called_station_id=attrs.called_station_id,
                framed_ip=attrs.framed_ip,
                framed_ipv6_prefix=attrs.framed_ipv6_prefix,
                imsi=attrs.imsi,
                imeisv=attrs.imeisv,
                session_id=attrs.session_id,
            ),
        )

    def _walk(self, buf: bytes, pos: int, end: int, attrs: _Attributes) -> None:
        while pos < end:
            if pos + 2 > end:
                self.anomalies.add("radius_attribute_truncated")
                return
            attr_type, attr_len = buf[pos], buf[pos + 1]
            if attr_len < 2:
                # A zero length would loop for ever; nothing after it can be trusted.
                self.anomalies.add("radius_attribute_malformed")
                return
            if pos + attr_len > end:
                self.anomalies.add("radius_attribute_truncated")
                return
            self._attribute(attr_type, buf[pos + 2 : pos + attr_len], attrs)
            pos += attr_len

    def _attribute(self, attr_type: int, value: bytes, attrs: _Attributes) -> None:
        if attr_type == ATTR_USER_NAME:
            if attrs.user_name is None:
                attrs.user_name = text(value)
        elif attr_type == ATTR_CALLING_STATION_ID:
            if attrs.calling_station_id is None:
                attrs.calling_station_id = text(value)
        elif attr_type == ATTR_CALLED_STATION_ID:
            if attrs.called_station_id is None:
                attrs.called_station_id = text(value)
        elif attr_type == ATTR_FRAMED_IP_ADDRESS:
            if len(value) != 4:
                self.anomalies.add("radius_attribute_malformed")
            elif value not in FRAMED_IP_PLACEHOLDERS and attrs.framed_ip is None:
                attrs.framed_ip = ipv4(value)
        elif attr_type == ATTR_FRAMED_IPV6_PREFIX:
            prefix = framed_ipv6_prefix(value)
            if prefix is None:
                self.anomalies.add("radius_attribute_malformed")
            elif attrs.framed_ipv6_prefix is None:
                attrs.framed_ipv6_prefix = prefix
        elif attr_type == ATTR_ACCT_STATUS_TYPE:
            if len(value) != 4:
                self.anomalies.add("radius_attribute_malformed")
            else:
                status = struct.unpack("!I", value)[0]
                attrs.acct_status = acct_status_name(status)
        elif attr_type == ATTR_ACCT_SESSION_ID:
            if attrs.session_id is None:
                attrs.session_id = text(value)
        elif attr_type == ATTR_VENDOR_SPECIFIC:
            self._vendor_specific(value, attrs)

    def _vendor_specific(self, value: bytes, attrs: _Attributes) -> None:
        if len(value) < 4:
            self.anomalies.add("radius_vsa_malformed")
            return
        vendor = struct.unpack_from("!I", value, 0)[0]
        if vendor != VENDOR_3GPP:
            # Other vendors' sub-attribute layouts differ (some use 2- or 4-octet types).
            return
        pos = 4
        while pos < len(value):
            if pos + 2 > len(value):
                self.anomalies.add("radius_vsa_malformed")
                return
            sub_type, sub_len = value[pos], value[pos + 1]
            if sub_len < 2 or pos + sub_len > len(value):
                self.anomalies.add("radius_vsa_malformed")
                return
            sub_value = value[pos + 2 : pos + sub_len]
            if sub_type == VSA_3GPP_IMSI and sub_value:
                attrs.imsi = text(sub_value)
            elif sub_type == VSA_3GPP_IMEISV and sub_value:
                attrs.imeisv = digits_or_tbcd(sub_value)
            pos += sub_len
