"""GTPv2-C messages on S11 (3GPP TS 29.274) and GTP-U encapsulation on S1-U / N3 (TS 29.281, TS 38.415).

The control plane is written IE by IE with struct: each information element is type (1 byte),
length (2), spare/instance (1) and value. Digits (IMSI, MSISDN, MEI) are TBCD: two digits per byte,
low nibble first, 0xF filling an odd count. A session is Create Session Request and Response
(the response's PDN Address Allocation gives the UE its IPv4 address), then Modify Bearer Request
and Response (the eNodeB's S1-U F-TEID), and, when the subscriber detaches, Delete Session Request
and Response.

User-plane packets travel in G-PDUs between the eNodeB (or gNodeB) and the SGW (or UPF). A
subscriber on NR gets a PDU Session Container extension header (TS 38.415) with its QoS Flow
Identifier on every G-PDU, as on N3.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from .wire import Capture, Host, ether, udp_packet

GTPC_PORT, GTPU_PORT = 2123, 2152

# message types (TS 29.274 table 6.1-1)
CREATE_SESSION_REQUEST, CREATE_SESSION_RESPONSE = 32, 33
MODIFY_BEARER_REQUEST, MODIFY_BEARER_RESPONSE = 34, 35
DELETE_SESSION_REQUEST, DELETE_SESSION_RESPONSE = 36, 37

# IE types (TS 29.274 table 8.1-1)
IE_IMSI, IE_CAUSE, IE_RECOVERY = 1, 2, 3
IE_APN, IE_AMBR, IE_EBI, IE_MEI, IE_MSISDN, IE_INDICATION = 71, 72, 73, 75, 76, 77
IE_PAA, IE_BEARER_QOS, IE_RAT_TYPE, IE_SERVING_NETWORK = 79, 80, 82, 83
IE_ULI, IE_FTEID, IE_BEARER_CONTEXT, IE_CHARGING_ID = 86, 87, 93, 94
IE_PDN_TYPE, IE_UE_TIME_ZONE, IE_APN_RESTRICTION, IE_SELECTION_MODE = 99, 114, 127, 128

CAUSE_REQUEST_ACCEPTED = 16
RAT_EUTRAN, RAT_NR = 6, 10
PDN_TYPE_IPV4 = 1

# F-TEID interface types (TS 29.274 table 8.22-1)
IF_S1U_ENODEB, IF_S1U_SGW, IF_S5S8_PGW_U, IF_S5S8_PGW_C, IF_S11_MME, IF_S11_SGW = 0, 1, 5, 7, 10, 11

# GTP-U (TS 29.281)
GPDU = 0xFF
EXT_PDU_SESSION_CONTAINER = 0x85
PDU_TYPE_DL, PDU_TYPE_UL = 0, 1


def tbcd(digits: str) -> bytes:
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def plmn(mcc: str, mnc: str) -> bytes:
    """MCC/MNC in the 3-byte PLMN encoding (TS 24.008 figure 10.5.13)."""
    mnc3 = mnc[2] if len(mnc) == 3 else "F"
    return bytes([int(mcc[1]) << 4 | int(mcc[0]), int(mnc3, 16) << 4 | int(mcc[2]), int(mnc[1]) << 4 | int(mnc[0])])


def ipv4_bytes(address: str) -> bytes:
    return bytes(int(x) for x in address.split("."))


def ie(ie_type: int, value: bytes, instance: int = 0) -> bytes:
    return struct.pack("!BHB", ie_type, len(value), instance & 0x0F) + value


def fteid(interface: int, teid: int, address: str, instance: int = 0) -> bytes:
    return ie(IE_FTEID, bytes([0x80 | interface]) + struct.pack("!I", teid) + ipv4_bytes(address), instance)


def apn_labels(apn: str) -> bytes:
    return b"".join(bytes([len(label)]) + label.encode("ascii") for label in apn.split("."))


def bearer_qos(qci: int = 9, priority: int = 9) -> bytes:
    # flags: PCI=1 (pre-emption capability disabled), PL, PVI=0; then QCI and four 5-byte bit rates (0: non-GBR)
    return bytes([0x40 | priority << 2, qci]) + bytes(20)


def gtpv2(message_type: int, teid: int, sequence: int, ies: bytes) -> bytes:
    """GTPv2-C header with TEID (T=1): flags, type, length (after the first 4 bytes), TEID, sequence, spare."""
    return struct.pack("!BBHI", 0x48, message_type, len(ies) + 8, teid) + sequence.to_bytes(3, "big") + b"\x00" + ies


@dataclass
class Tunnel:
    """A subscriber's S1-U tunnel: the addresses and TEIDs its G-PDUs carry."""

    ran_ip: str
    core_ip: str
    teid_ul: int        # the SGW's TEID: uplink G-PDUs carry it
    teid_dl: int        # the eNodeB's TEID: downlink G-PDUs carry it
    qfi: int | None = None  # set on NR: every G-PDU then has a PDU Session Container


def gpdu(payload: bytes, teid: int, qfi: int | None, uplink: bool) -> bytes:
    """A G-PDU header around an inner IP packet, with a PDU Session Container when `qfi` is set."""
    if qfi is None:
        return struct.pack("!BBHI", 0x30, GPDU, len(payload), teid) + payload
    # E=1 brings the 4 optional bytes (sequence number, N-PDU number, next extension type);
    # the container is 4 bytes: length in 4-octet units, 2 content octets, next type 0.
    content = bytes([PDU_TYPE_UL << 4, qfi]) if uplink else bytes([PDU_TYPE_DL << 4, qfi])
    ext = bytes([1]) + content + b"\x00"
    optional = struct.pack("!HBB", 0, 0, EXT_PDU_SESSION_CONTAINER)
    body = optional + ext + payload
    return struct.pack("!BBHI", 0x34, GPDU, len(body), teid) + body


@dataclass
class GtpLink:
    """The S1-U link: wraps a subscriber's IP packets in G-PDUs between its eNodeB and the SGW-U.

    The eNodeB and SGW are Host objects so that their IP ids advance like real nodes'.
    """

    ran_mac: str
    core_mac: str
    nodes: dict[str, Host]

    def node(self, ip: str) -> Host:
        return self.nodes.setdefault(ip, Host(ip=ip, ttl=64, ip_id=sum(ipv4_bytes(ip)) * 251))

    def frame(self, ip_packet: bytes, client: Host, up: bool) -> bytes:
        tunnel = client.tunnel
        if not isinstance(tunnel, Tunnel):
            raise ValueError(f"{client.ip} sends user traffic without a GTP session")
        ran, core = self.node(tunnel.ran_ip), self.node(tunnel.core_ip)
        if up:
            packet = udp_packet(ran, core, GTPU_PORT, GTPU_PORT, gpdu(ip_packet, tunnel.teid_ul, tunnel.qfi, True))
            return ether(self.core_mac, self.ran_mac, packet)
        packet = udp_packet(core, ran, GTPU_PORT, GTPU_PORT, gpdu(ip_packet, tunnel.teid_dl, tunnel.qfi, False))
        return ether(self.ran_mac, self.core_mac, packet)


@dataclass
class Subscription:
    """What the MME knows of a subscriber when it asks for a session."""

    imsi: str
    msisdn: str          # E.164 with '+'
    imeisv: str          # 16 digits: what the MEI IE carries
    apn: str
    rat: int
    tac: int
    eci: int             # E-UTRAN (or NR) cell identity, 28 bits


@dataclass
class CoreNodes:
    mme: Host
    sgw_c: Host
    sgw_u: Host
    pgw_c: Host
    pgw_u: Host
    mme_mac: str
    sgw_mac: str
    mcc: str = "262"
    mnc: str = "01"


class S11:
    """Writes GTPv2-C exchanges between the MME and the SGW of `nodes` into a capture."""

    def __init__(self, cap: Capture, nodes: CoreNodes, rng: random.Random) -> None:
        self.cap, self.nodes, self.rng = cap, nodes, rng
        self.sequence = rng.randrange(0x100, 0x8000)
        cap.note_flow("udp", nodes.mme.ip, GTPC_PORT, nodes.sgw_c.ip, GTPC_PORT)

    def _send(self, t: float, from_mme: bool, message: bytes) -> int:
        n = self.nodes
        src, dst = (n.mme, n.sgw_c) if from_mme else (n.sgw_c, n.mme)
        smac, dmac = (n.mme_mac, n.sgw_mac) if from_mme else (n.sgw_mac, n.mme_mac)
        return self.cap.add(t, ether(dmac, smac, udp_packet(src, dst, GTPC_PORT, GTPC_PORT, message)))

    def _uli(self, sub: Subscription) -> bytes:
        p = plmn(self.nodes.mcc, self.nodes.mnc)
        return ie(IE_ULI, bytes([0x18]) + p + struct.pack("!H", sub.tac) + p + struct.pack("!I", sub.eci & 0x0FFFFFFF))

    def create_session(self, t: float, sub: Subscription, ue_ip: str, ran_ip: str,
                       qfi: int | None = None) -> tuple[Tunnel, dict[str, int], float]:
        """Create Session and Modify Bearer exchanges; returns the tunnel, the S11 TEIDs and the end time."""
        n, r = self.nodes, self.rng
        teid = {name: r.getrandbits(32) | 1 for name in ("mme_c", "sgw_c", "pgw_c", "sgw_u", "pgw_u", "enb_u")}
        p = plmn(n.mcc, n.mnc)
        seq = self.sequence
        self.sequence += 2
        request = b"".join([
            ie(IE_IMSI, tbcd(sub.imsi)),
            ie(IE_MSISDN, tbcd(sub.msisdn.lstrip("+"))),
            ie(IE_MEI, tbcd(sub.imeisv)),
            self._uli(sub),
            ie(IE_SERVING_NETWORK, p),
            ie(IE_RAT_TYPE, bytes([sub.rat])),
            ie(IE_INDICATION, b"\x00\x00\x00"),
            fteid(IF_S11_MME, teid["mme_c"], n.mme.ip, 0),
            fteid(IF_S5S8_PGW_C, 0, n.pgw_c.ip, 1),
            ie(IE_APN, apn_labels(sub.apn)),
            ie(IE_SELECTION_MODE, b"\x00"),
            ie(IE_PDN_TYPE, bytes([PDN_TYPE_IPV4])),
            ie(IE_PAA, bytes([PDN_TYPE_IPV4]) + bytes(4)),
            ie(IE_APN_RESTRICTION, b"\x00"),
            ie(IE_AMBR, struct.pack("!II", 50000, 150000)),
            ie(IE_BEARER_CONTEXT, ie(IE_EBI, b"\x05") + ie(IE_BEARER_QOS, bearer_qos())),
            ie(IE_UE_TIME_ZONE, b"\x80\x00"),  # UTC+2 h in quarter hours, TBCD-swapped; no DST adjustment
        ])
        self._send(t, True, gtpv2(CREATE_SESSION_REQUEST, 0, seq, request))
        response = b"".join([
            ie(IE_CAUSE, bytes([CAUSE_REQUEST_ACCEPTED, 0])),
            fteid(IF_S11_SGW, teid["sgw_c"], n.sgw_c.ip, 0),
            fteid(IF_S5S8_PGW_C, teid["pgw_c"], n.pgw_c.ip, 1),
            ie(IE_PAA, bytes([PDN_TYPE_IPV4]) + ipv4_bytes(ue_ip)),
            ie(IE_APN_RESTRICTION, b"\x00"),
            ie(IE_AMBR, struct.pack("!II", 50000, 150000)),
            ie(IE_BEARER_CONTEXT, b"".join([
                ie(IE_EBI, b"\x05"),
                ie(IE_CAUSE, bytes([CAUSE_REQUEST_ACCEPTED, 0])),
                fteid(IF_S1U_SGW, teid["sgw_u"], n.sgw_u.ip, 0),
                fteid(IF_S5S8_PGW_U, teid["pgw_u"], n.pgw_u.ip, 2),
                ie(IE_CHARGING_ID, struct.pack("!I", r.getrandbits(31))),
            ])),
        ])
        t += r.uniform(0.015, 0.040)
        self._send(t, False, gtpv2(CREATE_SESSION_RESPONSE, teid["mme_c"], seq, response))
        t += r.uniform(0.030, 0.090)  # the UE's attach completes, the eNodeB reports its TEID
        modify = ie(IE_BEARER_CONTEXT, ie(IE_EBI, b"\x05") + fteid(IF_S1U_ENODEB, teid["enb_u"], ran_ip, 0))
        self._send(t, True, gtpv2(MODIFY_BEARER_REQUEST, teid["sgw_c"], seq + 1, modify))
        modified = ie(IE_CAUSE, bytes([CAUSE_REQUEST_ACCEPTED, 0])) + ie(IE_BEARER_CONTEXT, b"".join([
            ie(IE_EBI, b"\x05"), ie(IE_CAUSE, bytes([CAUSE_REQUEST_ACCEPTED, 0])),
            fteid(IF_S1U_SGW, teid["sgw_u"], n.sgw_u.ip, 0)]))
        t += r.uniform(0.003, 0.012)
        self._send(t, False, gtpv2(MODIFY_BEARER_RESPONSE, teid["mme_c"], seq + 1, modified))
        tunnel = Tunnel(ran_ip=ran_ip, core_ip=n.sgw_u.ip, teid_ul=teid["sgw_u"], teid_dl=teid["enb_u"], qfi=qfi)
        return tunnel, teid, t

    def delete_session(self, t: float, sub: Subscription, teid: dict[str, int]) -> float:
        """Delete Session Request and Response: the UE's address goes back to the pool."""
        seq = self.sequence
        self.sequence += 1
        request = ie(IE_EBI, b"\x05") + self._uli(sub) + ie(IE_INDICATION, b"\x08\x00\x00")  # OI: tell the PGW
        self._send(t, True, gtpv2(DELETE_SESSION_REQUEST, teid["sgw_c"], seq, request))
        t += self.rng.uniform(0.010, 0.030)
        self._send(t, False, gtpv2(DELETE_SESSION_RESPONSE, teid["mme_c"], seq, ie(IE_CAUSE, bytes([CAUSE_REQUEST_ACCEPTED, 0]))))
        return t
