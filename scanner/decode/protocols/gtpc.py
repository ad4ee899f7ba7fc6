"""GTP control plane: GTPv2-C (3GPP TS 29.274) and GTPv1-C (3GPP TS 29.060).

Both versions share UDP port 2123; the three version bits of the first octet
tell them apart (TS 29.274 s5.1, TS 29.060 s6).  GTPv2-C is also read from TCP
port 2123, framed by its own length field, because some lab cores and
captures carry it that way.

What is kept is what binds a subscriber to traffic: IMSI, MSISDN and MEI
(TBCD, TS 23.003), the UE address (GTPv2 PDN Address Allocation, GTPv1 End
User Address), the APN (label-encoded, TS 23.003 s9.1), RAT type, user
location (ULI, written compactly as ``tai:26201-0x1234;ecgi:26201-0x1234567``),
the sender's control-plane TEID, the user-plane TEIDs it allocated, cause,
header TEID and sequence number.  Requests and responses are reported as
seen; matching them (by sequence number) is the binding learner's job.

GTPv2-C messages may be piggybacked (P flag, TS 29.274 s5.5.1): a Create
Session Response followed by a Create Bearer Request in one datagram.  Each
message becomes its own event.  GTP' (charging, TS 32.295; PT bit 0) and
GTPv0 are out of scope: they are counted and skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from scanner.decode.protocols.base import (
    Anomalies,
    DatagramDecoder,
    PacketContext,
    StreamContext,
    StreamDecoder,
)
from scanner.decode.protocols.telecom import ipv4, ipv6, plmn, tbcd
from scanner.model import Event, GtpcMessage

GTPC_PORT = 2123

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_V1_HEADER = struct.Struct("!BBHI")  # flags, type, length, TEID (TS 29.060 s6)
_V2_HEADER = struct.Struct("!BBH")  # flags, type, length (TS 29.274 s5.1)

# ---------------------------------------------------------------- GTPv2-C (TS 29.274)

V2_FLAG_PIGGYBACK = 0x10
V2_FLAG_TEID = 0x08
V2_SPARE_FLAGS = 0x03  # 0x04 is the message-priority flag (Rel-11); the low two bits are spare
V2_FIXED_HEADER = 4  # flags, type, length: the length counts what follows them
V2_MIN_HEADER = 8  # without TEID: 4 + sequence number (3) + spare (1)

# Table 6.1-1 (and TS 29.276 / TS 29.280 for the types that share the header)
V2_MESSAGES = {
    1: "echo_request", 2: "echo_response", 3: "version_not_supported_indication",
    # S101 / S121 (TS 29.276) and Sv (TS 29.280) share the GTPv2-C header
    4: "direct_transfer_request", 5: "direct_transfer_response",
    6: "notification_request", 7: "notification_response", 17: "rim_information_transfer",
    25: "srvcc_ps_to_cs_request", 26: "srvcc_ps_to_cs_response",
    27: "srvcc_ps_to_cs_complete_notification", 28: "srvcc_ps_to_cs_complete_acknowledge",
    29: "srvcc_ps_to_cs_cancel_notification", 30: "srvcc_ps_to_cs_cancel_acknowledge",
    31: "srvcc_cs_to_ps_request",
    32: "create_session_request", 33: "create_session_response",
    34: "modify_bearer_request", 35: "modify_bearer_response",
    36: "delete_session_request", 37: "delete_session_response",
    38: "change_notification_request", 39: "change_notification_response",
    40: "remote_ue_report_notification", 41: "remote_ue_report_acknowledge",
    64: "modify_bearer_command", 65: "modify_bearer_failure_indication",
    66: "delete_bearer_command", 67: "delete_bearer_failure_indication",
    68: "bearer_resource_command", 69: "bearer_resource_failure_indication",
    70: "downlink_data_notification_failure_indication",
    71: "trace_session_activation", 72: "trace_session_deactivation", 73: "stop_paging_indication",
    95: "create_bearer_request", 96: "create_bearer_response",
    97: "update_bearer_request", 98: "update_bearer_response",
    99: "delete_bearer_request", 100: "delete_bearer_response",
    101: "delete_pdn_connection_set_request", 102: "delete_pdn_connection_set_response",
    103: "pgw_downlink_triggering_notification", 104: "pgw_downlink_triggering_acknowledge",
    128: "identification_request", 129: "identification_response",
    130: "context_request", 131: "context_response", 132: "context_acknowledge",
    133: "forward_relocation_request", 134: "forward_relocation_response",
    135: "forward_relocation_complete_notification", 136: "forward_relocation_complete_acknowledge",
    137: "forward_access_context_notification", 138: "forward_access_context_acknowledge",
    139: "relocation_cancel_request", 140: "relocation_cancel_response",
    141: "configuration_transfer_tunnel",
    149: "detach_notification", 150: "detach_acknowledge",
    151: "cs_paging_indication", 152: "ran_information_relay",
    153: "alert_mme_notification", 154: "alert_mme_acknowledge",
    155: "ue_activity_notification", 156: "ue_activity_acknowledge",
    157: "isr_status_indication",
    158: "ue_registration_query_request", 159: "ue_registration_query_response",
    160: "create_forwarding_tunnel_request", 161: "create_forwarding_tunnel_response",
    162: "suspend_notification", 163: "suspend_acknowledge",
    164: "resume_notification", 165: "resume_acknowledge",
    166: "create_indirect_data_forwarding_tunnel_request",
    167: "create_indirect_data_forwarding_tunnel_response",
    168: "delete_indirect_data_forwarding_tunnel_request",
    169: "delete_indirect_data_forwarding_tunnel_response",
    170: "release_access_bearers_request", 171: "release_access_bearers_response",
    176: "downlink_data_notification", 177: "downlink_data_notification_acknowledge",
    179: "pgw_restart_notification", 180: "pgw_restart_notification_acknowledge",
    200: "update_pdn_connection_set_request", 201: "update_pdn_connection_set_response",
    211: "modify_access_bearers_request", 212: "modify_access_bearers_response",
    231: "mbms_session_start_request", 232: "mbms_session_start_response",
    233: "mbms_session_update_request", 234: "mbms_session_update_response",
    235: "mbms_session_stop_request", 236: "mbms_session_stop_response",
    240: "srvcc_cs_to_ps_response", 241: "srvcc_cs_to_ps_complete_notification",
    242: "srvcc_cs_to_ps_complete_acknowledge", 243: "srvcc_cs_to_ps_cancel_notification",
    244: "srvcc_cs_to_ps_cancel_acknowledge",
}

V2_CREATE_SESSION_RESPONSE = 33

# Information element types (Table 8.1-1) that this decoder reads.
IE_IMSI = 1
IE_CAUSE = 2
IE_APN = 71
IE_IP_ADDRESS = 74
IE_MEI = 75
IE_MSISDN = 76
IE_PAA = 79
IE_RAT_TYPE = 82
IE_ULI = 86
IE_FTEID = 87
IE_BEARER_CONTEXT = 93
IE_PDN_CONNECTION = 109
# Grouped IEs whose members are walked.  A Bearer Context holds the user-plane
# F-TEIDs; a PDN Connection (Context Response, MME/SGSN relocation) holds APN,
# addresses and Bearer Contexts of a subscriber being handed over.
V2_GROUPED = frozenset({IE_BEARER_CONTEXT, IE_PDN_CONNECTION})
_MAX_GROUP_DEPTH = 4  # the spec nests two deep; more is a loop-shaped attack or garbage

# RAT Type values (s8.17); GTPv1 uses the first six with the same meaning (TS 29.060 s7.7.50).
RAT_TYPES = {
    1: "UTRAN", 2: "GERAN", 3: "WLAN", 4: "GAN", 5: "HSPA-Evolution", 6: "EUTRAN",
    7: "Virtual", 8: "EUTRAN-NB-IoT", 9: "LTE-M", 10: "NR",
}

# PDN type in PAA (s8.14)
PDN_IPV4, PDN_IPV6, PDN_IPV4V6 = 1, 2, 3

# F-TEID (s8.22): flags octet, then TEID/GRE key.
FTEID_V4 = 0x80
FTEID_V6 = 0x40

# ULI (s8.21): flag bit -> (name, length of the field).  The fields follow in bit order.
_ULI_PARTS = (
    (0x01, "cgi", 7),
    (0x02, "sai", 7),
    (0x04, "rai", 7),
    (0x08, "tai", 5),
    (0x10, "ecgi", 7),
    (0x20, "lai", 5),
    (0x40, "enb", 6),  # Macro eNodeB ID
    (0x80, "eenb", 6),  # Extended Macro eNodeB ID
)

# ---------------------------------------------------------------- GTPv1-C (TS 29.060)

V1_FLAG_PT = 0x10  # 1 = GTP, 0 = GTP' (TS 32.295)
V1_FLAG_E = 0x04
V1_FLAG_S = 0x02
V1_FLAG_PN = 0x01
V1_MANDATORY_HEADER = 8
V1_OPTIONAL_HEADER = 4  # sequence number (2), N-PDU number (1), next extension header type (1)
V1_TPDU = 255  # G-PDU: user data, which belongs on port 2152

# Table 1
V1_MESSAGES = {
    1: "echo_request", 2: "echo_response", 3: "version_not_supported",
    4: "node_alive_request", 5: "node_alive_response",
    6: "redirection_request", 7: "redirection_response",
    16: "create_pdp_context_request", 17: "create_pdp_context_response",
    18: "update_pdp_context_request", 19: "update_pdp_context_response",
    20: "delete_pdp_context_request", 21: "delete_pdp_context_response",
    22: "initiate_pdp_context_activation_request", 23: "initiate_pdp_context_activation_response",
    26: "error_indication",
    27: "pdu_notification_request", 28: "pdu_notification_response",
    29: "pdu_notification_reject_request", 30: "pdu_notification_reject_response",
    31: "supported_extension_headers_notification",
    32: "send_routeing_information_for_gprs_request", 33: "send_routeing_information_for_gprs_response",
    34: "failure_report_request", 35: "failure_report_response",
    36: "note_ms_gprs_present_request", 37: "note_ms_gprs_present_response",
    48: "identification_request", 49: "identification_response",
    50: "sgsn_context_request", 51: "sgsn_context_response", 52: "sgsn_context_acknowledge",
    53: "forward_relocation_request", 54: "forward_relocation_response",
    55: "forward_relocation_complete", 56: "relocation_cancel_request", 57: "relocation_cancel_response",
    58: "forward_srns_context", 59: "forward_relocation_complete_acknowledge",
    60: "forward_srns_context_acknowledge",
    61: "ue_registration_query_request", 62: "ue_registration_query_response",
    70: "ran_information_relay",
    96: "mbms_notification_request", 97: "mbms_notification_response",
    98: "mbms_notification_reject_request", 99: "mbms_notification_reject_response",
    100: "create_mbms_context_request", 101: "create_mbms_context_response",
    102: "update_mbms_context_request", 103: "update_mbms_context_response",
    104: "delete_mbms_context_request", 105: "delete_mbms_context_response",
    112: "mbms_registration_request", 113: "mbms_registration_response",
    114: "mbms_de_registration_request", 115: "mbms_de_registration_response",
    116: "mbms_session_start_request", 117: "mbms_session_start_response",
    118: "mbms_session_stop_request", 119: "mbms_session_stop_response",
    120: "mbms_session_update_request", 121: "mbms_session_update_response",
    128: "ms_info_change_notification_request", 129: "ms_info_change_notification_response",
    240: "data_record_transfer_request", 241: "data_record_transfer_response",
    254: "end_marker",
}

# GTPv1 IEs below 128 are TV with a length fixed by type (s7.7, Table 37); an unknown
# one cannot be skipped, so the rest of the message is lost.
V1_TV_LENGTHS = {
    1: 1, 2: 8, 3: 6, 4: 4, 5: 4, 8: 1, 9: 28, 11: 1, 12: 3, 13: 1, 14: 1, 15: 1,
    16: 4, 17: 4, 18: 5, 19: 1, 20: 1, 21: 1, 22: 9, 23: 1, 24: 1, 25: 2, 26: 2,
    27: 2, 28: 2, 29: 1, 126: 1, 127: 4,
}
V1_IE_CAUSE = 1
V1_IE_IMSI = 2
V1_IE_TEID_DATA_I = 16
V1_IE_TEID_CONTROL = 17
V1_IE_TEID_DATA_II = 18  # NSAPI octet, then the TEID
V1_IE_END_USER_ADDRESS = 128
V1_IE_APN = 131
V1_IE_MSISDN = 134
V1_IE_RAT_TYPE = 151
V1_IE_ULI = 152
V1_IE_IMEI = 154

# End User Address (s7.7.27): PDP type organisation IETF and its PDP type numbers.
EUA_ORG_IETF = 1
EUA_IPV4, EUA_IPV6, EUA_IPV4V6 = 0x21, 0x57, 0x8D

# ULI geographic location types (s7.7.51)
_V1_ULI_TYPES = {0: "cgi", 1: "sai", 2: "rai"}

_MAX_MESSAGES_PER_DATAGRAM = 8  # a piggybacked chain longer than this is garbage


@dataclass(slots=True)
class _Fields:
    """What one message yields; filled while its IEs are walked."""

    imsi: str | None = None
    msisdn: str | None = None
    mei: str | None = None
    ue_ip: str | None = None
    ue_ipv6: str | None = None
    apn: str | None = None
    rat: str | None = None
    uli: str | None = None
    cause: int | None = None
    sender_teid: int | None = None
    pgw_control_teid: int | None = None
    user_teids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GtpcWire:
    """One parsed GTP-C message, before it becomes an event."""

    version: int
    message: str
    teid: int | None
    seq: int | None
    response: bool
    fields: _Fields


# What a GTPv2 F-TEID IE gives, by where it is in the message (v2_fteid_role).
FTEID_USER = "user"  # a user-plane TEID the sender allocated (inside a Bearer Context)
FTEID_SENDER = "sender"  # the Sender F-TEID for Control Plane (top level, instance 0)
FTEID_PGW_CONTROL = "pgw_control"  # the PGW S5/S8 control F-TEID (top level, instance 1)


def v2_fteid_role(parent: int, instance: int) -> str | None:
    """The role of an F-TEID IE (TS 29.274 s8.22) inside ``parent`` (0: the top level).

    In a Bearer Context F-TEIDs are user plane.  At the top level instance 0 is the
    "Sender F-TEID for Control Plane" in every message that has one (Tables 7.2.1-1,
    7.2.2-1, 7.2.7-1 ...), and instance 1 of a Create Session Response the PGW's S5/S8
    control F-TEID.  Inside a PDN Connection they are the PGW's, not the sender's: None.
    Both engines call this; a message's sender TEID then comes from ``v2_sender_teid``.
    """
    if parent == IE_BEARER_CONTEXT:
        return FTEID_USER
    if parent == 0 and instance == 0:
        return FTEID_SENDER
    if parent == 0 and instance == 1:
        return FTEID_PGW_CONTROL
    return None


def v2_sender_teid(msg_type: int, sender: int | None, pgw_control: int | None) -> int | None:
    """The TEID-C the sender of a GTPv2 message allocated.  On S11 the SGW always sends its own
    instance 0 (Table 7.2.2-1), so a Create Session Response without one came from the PGW over
    S5/S8, whose instance 1 is then the sender's."""
    if msg_type == V2_CREATE_SESSION_RESPONSE and sender is None:
        return pgw_control
    return sender


def message_name(version: int, msg_type: int) -> str:
    names = V2_MESSAGES if version == 2 else V1_MESSAGES
    return names.get(msg_type, f"message_{msg_type}")


def rat_name(rat_type: int) -> str:
    """A RAT Type value (TS 29.274 s8.17, TS 29.060 s7.7.50) by name: "EUTRAN", "NR", or "rat_<n>"."""
    return RAT_TYPES.get(rat_type, f"rat_{rat_type}")


def is_response(name: str) -> bool:
    """Whether a message (by name) answers an earlier one: responses, acknowledges and
    failure indications.  The header has no response bit in either version."""
    return name.endswith(("_response", "_acknowledge", "_failure_indication")) or name in (
        "version_not_supported_indication",
        "version_not_supported",
    )


def decode_apn(value: bytes) -> str | None:
    """APN from its label encoding (TS 23.003 s9.1) to dotted text.

    Some nodes write the APN as plain text; when the labels do not add up to
    the value's length, the value is taken as text.
    """
    labels: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        length = value[i]
        if length == 0 or i + 1 + length > n:
            return value.decode("ascii") if all(0x21 <= b <= 0x7E for b in value) else None
        labels.append(value[i + 1 : i + 1 + length].decode("ascii", "replace"))
        i += 1 + length
    return ".".join(labels) if labels else None


def _plmn_text(data: bytes) -> str:
    return plmn(data) or "?"


def decode_v2_uli(value: bytes) -> str | None:
    """ULI (TS 29.274 s8.21) as ``kind:PLMN-0xID[-0xID]`` parts joined by ``;``."""
    if not value:
        return None
    flags = value[0]
    offset = 1
    parts: list[str] = []
    for bit, kind, size in _ULI_PARTS:
        if not flags & bit:
            continue
        part = value[offset : offset + size]
        offset += size
        if len(part) < size:
            return ";".join(parts) or None
        where = _plmn_text(part[:3])
        if kind in ("cgi", "sai", "rai"):
            lac, code = struct.unpack_from("!HH", part, 3)
            parts.append(f"{kind}:{where}-0x{lac:04x}-0x{code:04x}")
        elif kind in ("tai", "lai"):
            parts.append(f"{kind}:{where}-0x{_U16.unpack_from(part, 3)[0]:04x}")
        elif kind == "ecgi":
            eci = _U32.unpack_from(part, 3)[0] & 0x0FFFFFFF
            parts.append(f"ecgi:{where}-0x{eci:07x}")
        elif kind == "enb":
            enb = ((part[3] & 0x0F) << 16) | _U16.unpack_from(part, 4)[0]
            parts.append(f"enb:{where}-0x{enb:05x}")
        else:
            # Extended Macro eNodeB ID: 21 bits, or 18 when the SMeNB bit says "short macro"
            enb = ((part[3] & 0x1F) << 16) | _U16.unpack_from(part, 4)[0]
            if part[3] & 0x80:
                enb &= 0x3FFFF
            parts.append(f"enb:{where}-0x{enb:06x}")
    return ";".join(parts) or None


def decode_v1_uli(value: bytes) -> str | None:
    """GTPv1 User Location Information (TS 29.060 s7.7.51): CGI, SAI or RAI."""
    if len(value) < 8:
        return None
    kind = _V1_ULI_TYPES.get(value[0])
    if kind is None:
        return None
    lac, code = struct.unpack_from("!HH", value, 4)
    if kind == "rai":
        code >>= 8  # the RAC is one octet, followed by a 0xFF filler octet
        return f"rai:{_plmn_text(value[1:4])}-0x{lac:04x}-0x{code:02x}"
    return f"{kind}:{_plmn_text(value[1:4])}-0x{lac:04x}-0x{code:04x}"


class GtpcParser:
    """The wire parser shared by the UDP and TCP decoders; anomalies go to ``anomalies``."""

    __slots__ = ("anomalies",)

    def __init__(self, anomalies: Anomalies) -> None:
        self.anomalies = anomalies

    # ------------------------------------------------------------ entry point

    def parse_datagram(self, payload: bytes) -> list[GtpcWire]:
        """Every GTP-C message in a datagram: one, or a piggybacked chain (v2)."""
        messages: list[GtpcWire] = []
        offset = 0
        while offset < len(payload):
            if len(messages) >= _MAX_MESSAGES_PER_DATAGRAM:
                self.anomalies.add("gtpc_too_many_piggybacked")
                break
            version = payload[offset] >> 5
            if version == 2:
                wire, end, piggyback = self.parse_v2(payload, offset)
                if wire is None:
                    break
                messages.append(wire)
                if not piggyback:
                    if end < len(payload):
                        self.anomalies.add("gtpc_trailing_bytes")
                    break
                if end >= len(payload):
                    # P flag set but nothing follows it
                    self.anomalies.add("gtpc_piggyback_missing")
                    break
                offset = end
            elif offset:
                # Only a GTPv2 message may be piggybacked (TS 29.274 s5.5.1).
                self.anomalies.add("gtpc_piggyback_malformed")
                break
            elif version == 1:
                wire1 = self.parse_v1(payload)
                if wire1 is not None:
                    messages.append(wire1)
                break
            else:
                # GTPv0 (GSM 09.60) and GTP' v0 are out of scope
                self.anomalies.add("gtpc_unsupported_version")
                break
        return messages

    # ------------------------------------------------------------ GTPv2-C

    def parse_v2(self, buf: bytes, offset: int) -> tuple[GtpcWire | None, int, bool]:
        """One GTPv2-C message at ``offset``: (message, offset after it, P flag)."""
        if offset + V2_MIN_HEADER > len(buf):
            self.anomalies.add("gtpc_header_truncated")
            return None, len(buf), False
        flags, msg_type, length = _V2_HEADER.unpack_from(buf, offset)
        end = offset + V2_FIXED_HEADER + length
        pos = offset + V2_FIXED_HEADER
        teid: int | None = None
        if flags & V2_FLAG_TEID:
            if pos + 8 > len(buf):
                self.anomalies.add("gtpc_header_truncated")
                return None, len(buf), False
            teid = _U32.unpack_from(buf, pos)[0]
            pos += 4
        seq = int.from_bytes(buf[pos : pos + 3], "big")
        pos += 4  # sequence number and the spare / message-priority octet
        if end < pos:
            self.anomalies.add("gtpc_bad_length")
            end = pos
        if end > len(buf):
            # Read what is there: a cut capture still shows who it was about.
            self.anomalies.add("gtpc_truncated")
            end = len(buf)
        name = message_name(2, msg_type)
        fields = _Fields()
        self._walk_v2(buf, pos, end, fields, depth=0, parent=0)
        fields.sender_teid = v2_sender_teid(msg_type, fields.sender_teid, fields.pgw_control_teid)
        wire = GtpcWire(2, name, teid, seq, is_response(name), fields)
        return wire, end, bool(flags & V2_FLAG_PIGGYBACK)

    def _walk_v2(self, buf: bytes, pos: int, end: int, fields: _Fields, depth: int, parent: int) -> None:
        while pos < end:
            if pos + 4 > end:
                self.anomalies.add("gtpc_ie_truncated")
                return
            ie_type = buf[pos]
            length = _U16.unpack_from(buf, pos + 1)[0]
            instance = buf[pos + 3] & 0x0F
            start = pos + 4
            pos = start + length
            if pos > end:
                self.anomalies.add("gtpc_ie_truncated")
                return
            value = buf[start:pos]
            if ie_type in V2_GROUPED:
                if depth >= _MAX_GROUP_DEPTH:
                    self.anomalies.add("gtpc_ie_too_deep")
                    continue
                self._walk_v2(buf, start, pos, fields, depth + 1, ie_type)
                continue
            self._v2_ie(ie_type, instance, value, fields, depth, parent)

    def _v2_ie(self, ie_type: int, instance: int, value: bytes, fields: _Fields, depth: int, parent: int) -> None:
        if ie_type == IE_FTEID:
            role = v2_fteid_role(parent, instance)
            if role == FTEID_USER:
                teid = self._fteid(value)
                if teid is not None and teid not in fields.user_teids:
                    fields.user_teids.append(teid)
            elif role == FTEID_SENDER:
                fields.sender_teid = self._fteid(value)
            elif role == FTEID_PGW_CONTROL and fields.pgw_control_teid is None:
                fields.pgw_control_teid = self._fteid(value)
            return
        if parent == IE_BEARER_CONTEXT:
            return  # inside a bearer context only its F-TEIDs matter; its Cause is the bearer's
        if depth:
            # Inside a PDN Connection (Table 7.3.6-2): its APN and the UE's
            # addresses (IP Address IEs); its F-TEIDs are the PGW's, not the sender's.
            if ie_type == IE_APN and fields.apn is None:
                fields.apn = decode_apn(value)
            elif ie_type == IE_IP_ADDRESS and len(value) == 4 and fields.ue_ip is None:
                _set_ipv4(fields, value)
            elif ie_type == IE_IP_ADDRESS and len(value) in (16, 17) and fields.ue_ipv6 is None:
                _set_ipv6(fields, value[:16])
            return
        if ie_type == IE_IMSI:
            fields.imsi = tbcd(value) or None
        elif ie_type == IE_MSISDN:
            fields.msisdn = tbcd(value) or None
        elif ie_type == IE_MEI:
            fields.mei = tbcd(value) or None
        elif ie_type == IE_APN:
            fields.apn = decode_apn(value)
        elif ie_type == IE_PAA:
            self._paa(value, fields)
        elif ie_type == IE_RAT_TYPE:
            if value:
                fields.rat = rat_name(value[0])
            else:
                self.anomalies.add("gtpc_ie_malformed")
        elif ie_type == IE_ULI:
            fields.uli = decode_v2_uli(value)
            if fields.uli is None:
                self.anomalies.add("gtpc_ie_malformed")
        elif ie_type == IE_CAUSE:
            if value:
                fields.cause = value[0]
            else:
                self.anomalies.add("gtpc_ie_malformed")

    def _fteid(self, value: bytes) -> int | None:
        if len(value) < 5:
            self.anomalies.add("gtpc_ie_malformed")
            return None
        return int(_U32.unpack_from(value, 1)[0])

    def _paa(self, value: bytes, fields: _Fields) -> None:
        if not value:
            self.anomalies.add("gtpc_ie_malformed")
            return
        pdn_type = value[0] & 0x07
        if pdn_type == PDN_IPV4 and len(value) >= 5:
            _set_ipv4(fields, value[1:5])
        elif pdn_type == PDN_IPV6 and len(value) >= 18:
            _set_ipv6(fields, value[2:18])
        elif pdn_type == PDN_IPV4V6 and len(value) >= 22:
            _set_ipv6(fields, value[2:18])
            _set_ipv4(fields, value[18:22])
        elif pdn_type in (PDN_IPV4, PDN_IPV6, PDN_IPV4V6):
            self.anomalies.add("gtpc_ie_malformed")
        # Non-IP and Ethernet PDNs carry no address.

    # ------------------------------------------------------------ GTPv1-C

    def parse_v1(self, buf: bytes) -> GtpcWire | None:
        if len(buf) < V1_MANDATORY_HEADER:
            self.anomalies.add("gtpc_header_truncated")
            return None
        flags, msg_type, length, teid = _V1_HEADER.unpack_from(buf, 0)
        if not flags & V1_FLAG_PT:
            self.anomalies.add("gtpc_gtp_prime_skipped")
            return None
        if msg_type == V1_TPDU:
            self.anomalies.add("gtpc_user_data_on_control_port")
            return None
        end = V1_MANDATORY_HEADER + length
        if end > len(buf):
            self.anomalies.add("gtpc_truncated")
            end = len(buf)
        elif end < len(buf):
            self.anomalies.add("gtpc_trailing_bytes")
        pos: int | None = V1_MANDATORY_HEADER
        seq: int | None = None
        if flags & (V1_FLAG_E | V1_FLAG_S | V1_FLAG_PN):
            if end < V1_MANDATORY_HEADER + V1_OPTIONAL_HEADER:
                # The mandatory header still says which message, and to whom.
                self.anomalies.add("gtpc_header_truncated")
                pos = None
            else:
                if flags & V1_FLAG_S:
                    seq = _U16.unpack_from(buf, V1_MANDATORY_HEADER)[0]
                next_ext = buf[V1_MANDATORY_HEADER + 3] if flags & V1_FLAG_E else 0
                # An extension header we cannot skip hides the IEs; the header still counts.
                pos = self._skip_v1_extensions(buf, V1_MANDATORY_HEADER + V1_OPTIONAL_HEADER, end, next_ext)
        name = message_name(1, msg_type)
        fields = _Fields()
        if pos is not None:
            self._walk_v1(buf, pos, end, fields)
        return GtpcWire(1, name, teid, seq, is_response(name), fields)

    def _skip_v1_extensions(self, buf: bytes, pos: int, end: int, next_ext: int) -> int | None:
        """Skip extension headers (s6.1): length in 4-octet units, next type in the last octet."""
        while next_ext:
            if pos >= end:
                self.anomalies.add("gtpc_extension_header_truncated")
                return None
            units = buf[pos]
            if units == 0:
                self.anomalies.add("gtpc_extension_header_malformed")
                return None
            ext_end = pos + 4 * units
            if ext_end > end:
                self.anomalies.add("gtpc_extension_header_truncated")
                return None
            next_ext = buf[ext_end - 1]
            pos = ext_end
        return pos

    def _walk_v1(self, buf: bytes, pos: int, end: int, fields: _Fields) -> None:
        while pos < end:
            ie_type = buf[pos]
            if ie_type < 128:
                size = V1_TV_LENGTHS.get(ie_type)
                if size is None:
                    self.anomalies.add("gtpc_v1_unknown_tv_ie")
                    return
                start = pos + 1
            else:
                if pos + 3 > end:
                    self.anomalies.add("gtpc_ie_truncated")
                    return
                size = _U16.unpack_from(buf, pos + 1)[0]
                start = pos + 3
            pos = start + size
            if pos > end:
                self.anomalies.add("gtpc_ie_truncated")
                return
            self._v1_ie(ie_type, buf[start:pos], fields)

    def _v1_ie(self, ie_type: int, value: bytes, fields: _Fields) -> None:
        if ie_type == V1_IE_IMSI:
            fields.imsi = tbcd(value) or None
        elif ie_type == V1_IE_MSISDN:
            # ISDN-AddressString (TS 29.002): a nature-of-address / numbering-plan
            # octet (extension bit set) before the TBCD digits.
            digits = value[1:] if value and value[0] & 0x80 else value
            fields.msisdn = tbcd(digits) or None
        elif ie_type == V1_IE_IMEI:
            fields.mei = tbcd(value) or None
        elif ie_type == V1_IE_APN:
            fields.apn = decode_apn(value)
        elif ie_type == V1_IE_END_USER_ADDRESS:
            self._end_user_address(value, fields)
        elif ie_type == V1_IE_RAT_TYPE:
            if value:
                fields.rat = rat_name(value[0])
        elif ie_type == V1_IE_ULI:
            fields.uli = decode_v1_uli(value)
            if fields.uli is None:
                self.anomalies.add("gtpc_ie_malformed")
        elif ie_type == V1_IE_CAUSE:
            fields.cause = value[0]
        elif ie_type == V1_IE_TEID_CONTROL:
            fields.sender_teid = int(_U32.unpack(value)[0])
        elif ie_type in (V1_IE_TEID_DATA_I, V1_IE_TEID_DATA_II):
            teid = int(_U32.unpack_from(value, len(value) - 4)[0])
            if teid not in fields.user_teids:
                fields.user_teids.append(teid)

    def _end_user_address(self, value: bytes, fields: _Fields) -> None:
        # Two octets alone ask for a dynamic address; the response carries it.
        if len(value) < 2 or (value[0] & 0x0F) != EUA_ORG_IETF:
            return
        pdp_type, address = value[1], value[2:]
        if pdp_type == EUA_IPV4 and len(address) == 4:
            _set_ipv4(fields, address)
        elif pdp_type == EUA_IPV6 and len(address) == 16:
            _set_ipv6(fields, address)
        elif pdp_type == EUA_IPV4V6 and len(address) in (4, 16, 20):
            if len(address) != 16:
                _set_ipv4(fields, address[:4])
            if len(address) != 4:
                _set_ipv6(fields, address[-16:])
        elif address:
            self.anomalies.add("gtpc_ie_malformed")


def _set_ipv4(fields: _Fields, raw: bytes) -> None:
    # 0.0.0.0 in a request means "allocate one for me": not an address of the UE.
    if any(raw):
        fields.ue_ip = ipv4(raw)


def _set_ipv6(fields: _Fields, raw: bytes) -> None:
    if any(raw):
        fields.ue_ipv6 = ipv6(raw)


def gtpc_event(wire: GtpcWire, ctx: PacketContext) -> GtpcMessage:
    f = wire.fields
    return GtpcMessage(
        # flow control messages are reported in the direction they travelled
        **ctx.header(),
        message=wire.message,
        version=wire.version,
        imsi=f.imsi,
        msisdn=f.msisdn,
        mei=f.mei,
        ue_ip=f.ue_ip,
        ue_ipv6=f.ue_ipv6,
        apn=f.apn,
        rat=f.rat,
        uli=f.uli,
        teid=wire.teid,
        seq=wire.seq,
        cause=f.cause,
        sender_teid=f.sender_teid,
        response=wire.response,
        user_teids=tuple(f.user_teids),
    )


class GtpcDecoder(DatagramDecoder):
    """GTPv1-C and GTPv2-C over UDP."""

    name = "gtpc"
    udp_ports = frozenset({GTPC_PORT})

    def __init__(self, anomalies: Anomalies) -> None:
        super().__init__(anomalies)
        self._parser = GtpcParser(anomalies)

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        return [gtpc_event(wire, ctx) for wire in self._parser.parse_datagram(bytes(payload))]


class GtpcTcpDecoder(StreamDecoder):
    """GTPv2-C over TCP: messages back to back, each framed by its own length field."""

    name = "gtpc-tcp"
    tcp_ports = frozenset({GTPC_PORT})
    _MAX_MESSAGE = V2_FIXED_HEADER + 0xFFFF

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._parser = GtpcParser(anomalies)
        self._buffer = b""

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        buf = self._buffer + bytes(data)
        events: list[Event] = []
        while len(buf) >= V2_FIXED_HEADER:
            flags, _, length = _V2_HEADER.unpack_from(buf, 0)
            if flags >> 5 != 2 or flags & V2_SPARE_FLAGS or length < (8 if flags & V2_FLAG_TEID else 4):
                # Not a v2 header: there is no length to resynchronise on.
                self.anomalies.add("gtpc_tcp_not_gtpv2")
                self.done = True
                buf = b""
                break
            total = V2_FIXED_HEADER + length
            if len(buf) < total:
                break
            message, buf = buf[:total], buf[total:]
            # Over TCP a piggybacked message is simply the next frame in the stream.
            wire, _, _ = self._parser.parse_v2(message, 0)
            if wire is not None:
                events.append(gtpc_event(wire, self.ctx.at(ts, frame)))
        self._buffer = buf[: self._MAX_MESSAGE]
        return events

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        if self._buffer:
            # A message cut by the end of the connection: report what it says
            # (parse_v2 counts it as truncated).
            wire, _, _ = self._parser.parse_v2(self._buffer, 0)
            self._buffer = b""
            if wire is not None:
                return [gtpc_event(wire, self.ctx.at(ts, frame))]
        return ()
