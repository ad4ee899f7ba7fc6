"""Diameter (RFC 6733) over TCP and SCTP, for the subscriber identities it carries.

Read from TCP port 3868 (messages framed by their own length, several per
segment or one across several) and from SCTP DATA chunks with payload
protocol id 46 (RFC 6733 s2.1; the engine hands over each chunk).  PPID 47
is Diameter over DTLS (RFC 6083): its chunks are encrypted, so they are
recognised, counted and skipped.

What is kept (by application):
- Subscription-Id (RFC 4006 s8.46; Gx TS 29.212, Gy TS 32.299): E.164 -> MSISDN, IMSI;
- User-Name (RFC 6733 s8.14): the IMSI on S6a/S6d, S13 and SWx (TS 29.272,
  TS 29.273), and any 3GPP NAI that embeds one (TS 23.003);
- MSISDN (TS 29.329 s6.3.2, TBCD), e.g. inside Subscription-Data of an
  Update-Location-Answer;
- User-Equipment-Info (RFC 4006 s8.49) of type IMEISV, Terminal-Information /
  IMEI (TS 29.272 s7.3.3), 3GPP-IMSI / 3GPP-IMEISV (TS 29.061 s16a);
- Framed-IP-Address (RFC 7155 s4.4.10.5.1), or PDP-Address (TS 32.299) on Gy;
- Session-Id and CC-Request-Type.

Grouped AVPs are walked recursively, to a bounded depth, when they are known
to hold one of those (a dictionary-free walk would read octet strings as AVPs).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from scanner.decode.protocols.base import (
    Anomalies,
    DatagramDecoder,
    PacketContext,
    StreamContext,
    StreamDecoder,
)
from scanner.decode.protocols.telecom import (
    FRAMED_IP_PLACEHOLDERS,
    VENDOR_3GPP,
    digits_or_tbcd,
    imsi_from_nai,
    ipv4,
    ipv6,
    tbcd,
    text,
)
from scanner.model import DiameterMessage, Event

DIAMETER_PORT = 3868
PPID_DIAMETER = 46  # RFC 6733 s2.1
PPID_DIAMETER_DTLS = 47  # RFC 6083

_HEADER = struct.Struct("!I I I I I")  # version+length, flags+code, application id, hop-by-hop, end-to-end
HEADER_LENGTH = 20
VERSION = 1
VERSION_BYTE = b"\x01"
FLAG_REQUEST = 0x80
FLAG_RESERVED = 0x0F  # RFC 6733 s3: reserved bits, set to zero
MAX_MESSAGE = 1 << 20  # far above any real message (a ULA is a few kB); keeps buffering bounded

AVP_FLAG_VENDOR = 0x80
_AVP_HEADER = struct.Struct("!IB3s")  # code, flags, length (24 bits)
MAX_AVP_DEPTH = 8  # Subscription-Data nests about five deep; more is garbage

# Command codes (RFC 6733 s3.1, RFC 4006, RFC 7155, TS 29.272, TS 29.229, TS 29.329, TS 29.219).
COMMANDS = {
    257: "Capabilities-Exchange", 258: "Re-Auth", 260: "AA-Mobile-Node", 262: "Home-Agent-MIP",
    265: "AA", 268: "Diameter-EAP", 271: "Accounting", 272: "Credit-Control",
    274: "Abort-Session", 275: "Session-Termination", 280: "Device-Watchdog", 282: "Disconnect-Peer",
    300: "User-Authorization", 301: "Server-Assignment", 302: "Location-Info",
    303: "Multimedia-Auth", 304: "Registration-Termination", 305: "Push-Profile",
    306: "User-Data", 307: "Profile-Update", 308: "Subscribe-Notifications", 309: "Push-Notification",
    316: "Update-Location", 317: "Cancel-Location", 318: "Authentication-Information",
    319: "Insert-Subscriber-Data", 320: "Delete-Subscriber-Data", 321: "Purge-UE", 322: "Reset",
    323: "Notify", 324: "ME-Identity-Check",
    8388635: "Spending-Limit", 8388636: "Spending-Status-Notification",
}

# Applications where User-Name is the bare IMSI (TS 29.272 s7.3.1 S6a/S6d and S13,
# TS 29.273 s8.2.3 SWx, TS 29.336 S6m/S6t use external ids and are left out).
APP_S6A = 16777251
APP_S13 = 16777252
APP_SWX = 16777265
APP_S6C = 16777312
_IMSI_USER_NAME_APPS = frozenset({APP_S6A, APP_S13, APP_SWX, APP_S6C})

CC_REQUEST_TYPES = {1: "INITIAL", 2: "UPDATE", 3: "TERMINATION", 4: "EVENT"}
SUBSCRIPTION_ID_E164 = 0
SUBSCRIPTION_ID_IMSI = 1
UE_INFO_IMEISV = 0
ADDRESS_FAMILY_IPV4 = 1  # RFC 6733 s4.3.1 Address: IANA address family, then the address
ADDRESS_FAMILY_IPV6 = 2

# AVPs by (vendor, code); vendor 0 for IETF AVPs.
AVP_USER_NAME = (0, 1)
AVP_FRAMED_IP_ADDRESS = (0, 8)
AVP_SESSION_ID = (0, 263)
AVP_CC_REQUEST_TYPE = (0, 416)
AVP_SUBSCRIPTION_ID = (0, 443)
AVP_SUBSCRIPTION_ID_DATA = (0, 444)
AVP_SUBSCRIPTION_ID_TYPE = (0, 450)
AVP_USER_EQUIPMENT_INFO = (0, 458)
AVP_USER_EQUIPMENT_INFO_TYPE = (0, 459)
AVP_USER_EQUIPMENT_INFO_VALUE = (0, 460)
AVP_3GPP_IMSI = (VENDOR_3GPP, 1)  # TS 29.061 s16a.5, UTF-8 digits
AVP_3GPP_IMEISV = (VENDOR_3GPP, 20)
AVP_MSISDN = (VENDOR_3GPP, 701)
AVP_SERVICE_INFORMATION = (VENDOR_3GPP, 873)
AVP_PS_INFORMATION = (VENDOR_3GPP, 874)
AVP_PDP_ADDRESS = (VENDOR_3GPP, 1227)
AVP_SUBSCRIPTION_DATA = (VENDOR_3GPP, 1400)
AVP_TERMINAL_INFORMATION = (VENDOR_3GPP, 1401)
AVP_IMEI = (VENDOR_3GPP, 1402)

# Grouped AVPs walked for the AVPs above.
_GROUPED = frozenset({
    AVP_SUBSCRIPTION_ID, AVP_USER_EQUIPMENT_INFO, AVP_SERVICE_INFORMATION, AVP_PS_INFORMATION,
    AVP_SUBSCRIPTION_DATA, AVP_TERMINAL_INFORMATION,
})

# DTLS record header (RFC 6347 s4.1): content type 20..25, version 0xFEFF / 0xFEFD.
_DTLS_CONTENT_TYPES = frozenset(range(20, 26))


@dataclass(slots=True)
class _Found:
    user_name: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    framed_ip: str | None = None
    imei: str | None = None
    session_id: str | None = None
    cc_request_type: str | None = None


@dataclass(frozen=True, slots=True)
class DiameterWire:
    command: str
    code: int
    request: bool
    application_id: int
    found: _Found


def command_name(code: int, request: bool) -> str:
    base = COMMANDS.get(code, f"Command-{code}")
    return f"{base}-{'Request' if request else 'Answer'}"


def cc_request_type_name(request_type: int) -> str:
    return CC_REQUEST_TYPES.get(request_type, f"TYPE_{request_type}")


def imsi_from_user_name(user_name: str, application_id: int | None) -> str | None:
    """The IMSI in a User-Name: the whole of it on the applications that send the bare
    IMSI (S6a/S6d, S13, SWx, S6c), else the one a 3GPP NAI embeds."""
    if application_id in _IMSI_USER_NAME_APPS and user_name.isdigit() and 6 <= len(user_name) <= 15:
        return user_name
    return imsi_from_nai(user_name)


def plausible_header(buf: bytes, offset: int = 0) -> bool:
    """Whether a Diameter header starts at ``offset``: version, length and reserved flags."""
    if offset + HEADER_LENGTH > len(buf):
        return False
    word0, word1 = struct.unpack_from("!II", buf, offset)
    length = word0 & 0xFFFFFF
    return (
        word0 >> 24 == VERSION
        and HEADER_LENGTH <= length <= MAX_MESSAGE
        and length % 4 == 0  # every AVP is padded to 32 bits (s4)
        and not (word1 >> 24) & FLAG_RESERVED
    )


def _is_dtls(buf: bytes) -> bool:
    return len(buf) >= 3 and buf[0] in _DTLS_CONTENT_TYPES and buf[1] == 0xFE


class DiameterParser:
    """The wire parser shared by the SCTP and TCP decoders."""

    __slots__ = ("anomalies",)

    def __init__(self, anomalies: Anomalies) -> None:
        self.anomalies = anomalies

    def parse(self, buf: bytes) -> DiameterWire | None:
        """One message at the start of ``buf`` (which may be cut short)."""
        if len(buf) < HEADER_LENGTH:
            self.anomalies.add("diameter_header_truncated")
            return None
        word0, word1, application_id, _, _ = _HEADER.unpack_from(buf, 0)
        if word0 >> 24 != VERSION:
            self.anomalies.add("diameter_bad_version")
            return None
        length = word0 & 0xFFFFFF
        if length < HEADER_LENGTH:
            self.anomalies.add("diameter_bad_length")
            return None
        end = length
        if end > len(buf):
            self.anomalies.add("diameter_truncated")
            end = len(buf)
        flags, code = word1 >> 24, word1 & 0xFFFFFF
        request = bool(flags & FLAG_REQUEST)
        found = _Found()
        self._walk(buf, HEADER_LENGTH, end, found, application_id, depth=0)
        if found.imsi is None and found.user_name:
            found.imsi = imsi_from_user_name(found.user_name, application_id)
        return DiameterWire(command_name(code, request), code, request, application_id, found)

    def _walk(self, buf: bytes, pos: int, end: int, found: _Found, application_id: int, depth: int) -> None:
        subscription_type: int | None = None
        subscription_data: str | None = None
        ue_info_type: int | None = None
        ue_info_value: bytes | None = None
        while pos < end:
            if pos + 8 > end:
                self.anomalies.add("diameter_avp_truncated")
                return
            code, flags, raw_length = _AVP_HEADER.unpack_from(buf, pos)
            length = int.from_bytes(raw_length, "big")
            header = 8
            vendor = 0
            if flags & AVP_FLAG_VENDOR:
                header = 12
                if pos + 12 > end:
                    self.anomalies.add("diameter_avp_truncated")
                    return
                vendor = struct.unpack_from("!I", buf, pos + 8)[0]
            if length < header:
                # A length shorter than its header would never advance: nothing after it is trustworthy.
                self.anomalies.add("diameter_avp_malformed")
                return
            if pos + length > end:
                self.anomalies.add("diameter_avp_truncated")
                return
            value = buf[pos + header : pos + length]
            pos += (length + 3) & ~3  # padding to 32 bits is not counted in the length (s4.1)
            key = (vendor, code)
            if key in _GROUPED:
                if depth >= MAX_AVP_DEPTH:
                    self.anomalies.add("diameter_avp_too_deep")
                    continue
                self._walk(value, 0, len(value), found, application_id, depth + 1)
            elif key == AVP_SUBSCRIPTION_ID_TYPE and len(value) == 4:
                subscription_type = struct.unpack("!I", value)[0]
            elif key == AVP_SUBSCRIPTION_ID_DATA:
                subscription_data = text(value)
            elif key == AVP_USER_EQUIPMENT_INFO_TYPE and len(value) == 4:
                ue_info_type = struct.unpack("!I", value)[0]
            elif key == AVP_USER_EQUIPMENT_INFO_VALUE:
                ue_info_value = value
            else:
                self._avp(key, value, found)
        # Members of a Subscription-Id / User-Equipment-Info group only mean
        # something together; each group is walked in its own call.
        if subscription_data:
            if subscription_type == SUBSCRIPTION_ID_E164 and found.msisdn is None:
                found.msisdn = subscription_data
            elif subscription_type == SUBSCRIPTION_ID_IMSI and found.imsi is None:
                found.imsi = subscription_data
        if ue_info_value and ue_info_type == UE_INFO_IMEISV and found.imei is None:
            found.imei = digits_or_tbcd(ue_info_value)

    def _avp(self, key: tuple[int, int], value: bytes, found: _Found) -> None:
        if key == AVP_SESSION_ID:
            if found.session_id is None:
                found.session_id = text(value)
        elif key == AVP_USER_NAME:
            if found.user_name is None:
                found.user_name = text(value)
        elif key == AVP_CC_REQUEST_TYPE:
            if len(value) == 4:
                request_type = struct.unpack("!I", value)[0]
                found.cc_request_type = cc_request_type_name(request_type)
            else:
                self.anomalies.add("diameter_avp_malformed")
        elif key in (AVP_FRAMED_IP_ADDRESS, AVP_PDP_ADDRESS):
            address = self._address(value)
            if address is not None and found.framed_ip is None:
                found.framed_ip = address
        elif key == AVP_MSISDN:
            if found.msisdn is None:
                found.msisdn = tbcd(value) or None
        elif key == AVP_3GPP_IMSI:
            if found.imsi is None:
                found.imsi = text(value) or None
        elif key in (AVP_IMEI, AVP_3GPP_IMEISV) and found.imei is None:
            found.imei = digits_or_tbcd(value) or None

    def _address(self, value: bytes) -> str | None:
        """Framed-IP-Address is four octets (RFC 7155); some nodes and PDP-Address use the Address type."""
        if len(value) == 4:
            return ipv4(value) if value not in FRAMED_IP_PLACEHOLDERS else None
        if len(value) == 6 and value[:2] == b"\x00\x01":
            return ipv4(value[2:]) if value[2:] not in FRAMED_IP_PLACEHOLDERS else None
        if len(value) == 18 and value[:2] == b"\x00\x02":
            return ipv6(value[2:]) if any(value[2:]) else None
        self.anomalies.add("diameter_avp_malformed")
        return None


def diameter_event(wire: DiameterWire, ctx: PacketContext) -> DiameterMessage:
    f = wire.found
    return DiameterMessage(
        # flow reported in the direction it travelled
        **ctx.header(),
        command=wire.command,
        application_id=wire.application_id,
        request=wire.request,
        imsi=f.imsi,
        msisdn=f.msisdn,
        framed_ip=f.framed_ip,
        imei=f.imei,
        session_id=f.session_id,
        cc_request_type=f.cc_request_type,
    )


class DiameterSctpDecoder(DatagramDecoder):
    """Diameter in SCTP DATA chunks: one message per chunk, or several back to back."""

    name = "diameter"
    udp_ports = frozenset()  # Diameter is never carried over UDP
    sctp_ppids = frozenset({PPID_DIAMETER, PPID_DIAMETER_DTLS})
    sctp_ports = frozenset({3868})  # PPID 0 ("unspecified") on the Diameter port is common
    _MAX_MESSAGES_PER_CHUNK = 64

    def __init__(self, anomalies: Anomalies) -> None:
        super().__init__(anomalies)
        self._parser = DiameterParser(anomalies)

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        payload = bytes(payload)
        if _is_dtls(payload):
            self.anomalies.add("diameter_dtls_skipped")
            return ()
        events: list[Event] = []
        offset = 0
        while offset < len(payload) and len(events) < self._MAX_MESSAGES_PER_CHUNK:
            message = payload[offset:]
            wire = self._parser.parse(message)
            if wire is None:
                break
            events.append(diameter_event(wire, ctx))
            length = int.from_bytes(message[1:4], "big")
            offset += length
        return events


class DiameterTcpDecoder(StreamDecoder):
    """Diameter over TCP: messages framed by their length; resynchronises after a gap."""

    name = "diameter-tcp"
    tcp_ports = frozenset({DIAMETER_PORT})
    # No sniff_order: the engine would then require the sniff on port 3868 too, and a
    # capture that starts in the middle of a long-lived connection would be lost.
    # ``sniff`` is here for an engine that tries it on unclaimed ports only.
    sniff_bytes = HEADER_LENGTH

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._parser = DiameterParser(anomalies)
        self._buffer = b""
        self._resync = False

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        # A known command code on top of a plausible header: version 1 alone is too common.
        return plausible_header(head) and int.from_bytes(head[5:8], "big") in COMMANDS

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        buf = self._buffer + bytes(data)
        events: list[Event] = []
        while True:
            if self._resync:
                buf = self._find_header(buf)
                if self._resync:
                    break  # no header in sight yet: wait for more bytes
            if len(buf) < HEADER_LENGTH:
                break
            if not plausible_header(buf):
                # Mid-message (a capture that started late) or garbage: look for the next header.
                self.anomalies.add("diameter_stream_lost_sync")
                self._resync = True
                buf = buf[1:]
                continue
            length = int.from_bytes(buf[1:4], "big")
            if len(buf) < length:
                break
            message, buf = buf[:length], buf[length:]
            wire = self._parser.parse(message)
            if wire is not None:
                events.append(diameter_event(wire, self.ctx.at(ts, frame)))
        self._buffer = buf
        return events

    def _find_header(self, buf: bytes) -> bytes:
        """Drop bytes up to the next plausible header; keep a short tail that might start one."""
        offset = buf.find(VERSION_BYTE)
        while 0 <= offset <= len(buf) - HEADER_LENGTH:
            if plausible_header(buf, offset):
                self._resync = False
                return buf[offset:]
            offset = buf.find(VERSION_BYTE, offset + 1)
        self._resync = True
        return buf[-(HEADER_LENGTH - 1) :] if len(buf) >= HEADER_LENGTH else buf

    def gap(self, ts: float, frame: int) -> None:
        # Lost bytes break the length framing; look for the next header instead of giving up,
        # because a Diameter connection lives for days and carries every subscriber.
        self.anomalies.add("diameter_stream_gap")
        self._buffer = b""
        self._resync = True

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        if len(self._buffer) >= HEADER_LENGTH and not self._resync:
            wire = self._parser.parse(self._buffer)  # counts it as truncated
            self._buffer = b""
            if wire is not None:
                return [diameter_event(wire, self.ctx.at(ts, frame))]
        self._buffer = b""
        return ()
