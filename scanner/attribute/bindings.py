"""Who is behind an address, learned from the network's own control plane, over time.

- GTPv2-C (3GPP TS 29.274): a Create Session Request names the subscriber
  (IMSI, MSISDN, MEI); its Response (matched by sequence number and peers)
  allocates the UE address (PDN Address Allocation) and the SGW's TEIDs; a
  Modify Bearer Request adds the eNodeB's downlink TEIDs; a Delete Session
  Request ends the session.  GTPv1-C (TS 29.060) Create/Delete PDP Context
  likewise.  The address is bound from the response until the deletion, and
  the user-plane TEIDs too, so GTP-U traffic is attributed by its tunnel even
  where inner addresses overlap.
- RADIUS accounting (RFC 2866; TS 29.061 VSAs): Start/Interim bind the
  Framed-IP-Address to the Calling-Station-Id (MSISDN, or MAC on Wi-Fi),
  User-Name and 3GPP-IMSI; Stop releases it.
- Diameter Gx/Gy CCR (TS 29.212, RFC 4006): Framed-IP-Address with
  Subscription-Id, by Session-Id; CCR-Termination releases.
- DHCPv4/v6 (RFC 2131, RFC 8415): an ACK/REPLY binds the leased address to the
  client's MAC until the lease ends or a RELEASE.

An address bound again is reassigned: the earlier binding ends there.  State
is bounded (pending requests, sessions and address history are capped).
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field

from scanner.knowledge.validators import imei, imeisv, mac, mac_bare, msisdn_loose
from scanner.model import DhcpMessage, DiameterMessage, Event, GtpcMessage, RadiusMessage

MAX_PENDING = 65536
MAX_SESSIONS = 1_000_000
MAX_INTERVALS_PER_ADDRESS = 8
MAX_ADDRESSES = 2_000_000

# GTPv2 causes 16-19 accept a request (TS 29.274 s8.4); GTPv1 128-191 (TS 29.060 s7.7.1).
_ACCEPTED_V2 = range(16, 64)
_ACCEPTED_V1 = range(128, 192)


@dataclass(frozen=True, slots=True)
class Identity:
    """What the control plane says about a subscriber or device."""

    source: str  # the report's subject source: gtp | radius (RADIUS or Diameter) | dhcp
    imsi: str | None = None
    msisdn: str | None = None
    mei: str | None = None
    mac: str | None = None
    user_name: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        """The strongest name of this identity, for joining with inventory and subscriber lists."""
        for kind in ("imsi", "msisdn", "mac", "user_name"):
            value = getattr(self, kind)
            if value:
                return kind, value
        return None

    def same_holder(self, other: Identity) -> bool:
        """Whether two messages name the same subscriber or device: the strongest name both carry
        (IMSI, else MSISDN, MAC, user name) is the same.  An Interim-Update or Stop often carries
        fewer attributes than its Start."""
        if self == other:
            return True
        for kind in ("imsi", "msisdn", "mac", "user_name"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            if mine and theirs:
                return bool(mine == theirs)
        return False


class AddressTable:
    """address -> non-overlapping [start, end) intervals, each with an identity."""

    def __init__(self) -> None:
        self._intervals: OrderedDict[str, list[tuple[float, float, Identity]]] = OrderedDict()

    def bind(self, address: str, start: float, identity: Identity, end: float = float("inf")) -> None:
        intervals = self._intervals.get(address)
        if intervals is None:
            intervals = self._intervals[address] = []
            if len(self._intervals) > MAX_ADDRESSES:
                self._intervals.popitem(last=False)
        else:
            self._intervals.move_to_end(address)
        if intervals:
            last_start, last_end, last_identity = intervals[-1]
            if last_identity.same_holder(identity) and last_end >= start:
                # a refresh (interim update, lease renewal): the holder keeps the name it started with
                intervals[-1] = (last_start, max(last_end, end), last_identity)
                return
            if last_end > start:  # reassigned: the previous holder lost it now
                intervals[-1] = (last_start, start, last_identity)
        intervals.append((start, end, identity))
        if len(intervals) > MAX_INTERVALS_PER_ADDRESS:
            del intervals[0]

    def release(self, address: str, ts: float, identity: Identity | None = None) -> None:
        intervals = self._intervals.get(address)
        if not intervals:
            return
        start, end, holder = intervals[-1]
        if (identity is None or holder.same_holder(identity)) and start <= ts < end:
            intervals[-1] = (start, ts, holder)

    def lookup(self, address: str, ts: float) -> Identity | None:
        intervals = self._intervals.get(address)
        if not intervals:
            return None
        index = bisect_right(intervals, ts, key=lambda item: item[0]) - 1
        if index < 0:
            return None
        start, end, identity = intervals[index]
        return identity if start <= ts < end else None

    def __len__(self) -> int:
        return len(self._intervals)

    def items(self) -> list[tuple[str, float, float, Identity]]:
        """Every binding held: (address, start, end, identity); end is inf while it lasts."""
        return [(address, start, end, identity) for address, spans in self._intervals.items() for start, end, identity in spans]


@dataclass(slots=True)
class _Session:
    identity: Identity
    addresses: tuple[str, ...]
    teids: set[int]  # TEIDs of the user plane
    keys: list[tuple[str, int]] = field(default_factory=list)  # (endpoint, control TEID) naming it


class BindingLearner:
    """Feeds on control-plane events; answers who held an address or a GTP-U tunnel at a time."""

    def __init__(self) -> None:
        self.addresses = AddressTable()
        # GTP-U TEIDs by number: the F-TEIDs' user-plane addresses may differ from the control
        # plane's, and a TEID is unique at its node, so a capture rarely holds two alike.
        self.teids = AddressTable()
        self._pending: OrderedDict[tuple[object, ...], GtpcMessage] = OrderedDict()
        self._sessions: OrderedDict[tuple[str, int], _Session] = OrderedDict()
        self._diameter: OrderedDict[str, tuple[Identity, str]] = OrderedDict()
        self.bindings_learned = 0

    def learn(self, event: Event) -> None:
        if isinstance(event, GtpcMessage):
            self._gtpc(event)
        elif isinstance(event, RadiusMessage):
            self._radius(event)
        elif isinstance(event, DiameterMessage):
            self._diameter_message(event)
        elif isinstance(event, DhcpMessage):
            self._dhcp(event)

    def lookup(self, address: str, ts: float) -> Identity | None:
        identity = self.addresses.lookup(address, ts)
        if identity is None and ":" in address:
            identity = self.addresses.lookup(ipv6_prefix64(address), ts)
        return identity

    def lookup_tunnel(self, teid: int, ts: float) -> Identity | None:
        return self.teids.lookup(str(teid), ts)

    # ------------------------------------------------------------------ GTP-C

    def _gtpc(self, event: GtpcMessage) -> None:
        flow = event.flow
        message = event.message
        if not event.response:
            if message in ("create_session_request", "create_pdp_context_request"):
                self._remember(("gtp", event.seq, flow.src, flow.dst), event)
            elif message in ("delete_session_request", "delete_pdp_context_request"):
                self._end_session(flow.dst, event.teid, event.ts)
            elif message in ("modify_bearer_request", "update_pdp_context_request"):
                session = self._sessions.get((flow.dst, event.teid or 0))
                if session is not None:
                    self._bind_teids(session, event.user_teids, event.ts)
                    if event.ue_ip and event.ue_ip not in session.addresses:
                        session.addresses += (event.ue_ip,)
                        self._bind_address(event.ue_ip, event.ts, session.identity)
            return
        if message not in ("create_session_response", "create_pdp_context_response"):
            return
        request = self._pending.pop(("gtp", event.seq, flow.dst, flow.src), None)
        if request is None:
            return
        accepted = _ACCEPTED_V2 if event.version == 2 else _ACCEPTED_V1
        if event.cause is not None and event.cause not in accepted:
            return
        identity = Identity(
            source="gtp",
            imsi=request.imsi,
            msisdn=request.msisdn,
            mei=_normal_imei(request.mei),
        )
        # A UE is given an IPv6 /64 prefix and picks its own interface identifier (TS 23.401
        # 5.3.1.2.2): it is bound by prefix, an IPv4 address as it is.
        ipv6 = event.ue_ipv6 or request.ue_ipv6
        addresses = tuple(a for a in (event.ue_ip or request.ue_ip, ipv6_prefix64(ipv6) if ipv6 else None) if a)
        session = _Session(identity, addresses, set())
        for address in addresses:
            self._bind_address(address, event.ts, identity)
        # both ends name the session by their own control TEID
        if request.sender_teid is not None:
            self._store_session((flow.dst, request.sender_teid), session)
        if event.sender_teid is not None:
            self._store_session((flow.src, event.sender_teid), session)
        self._bind_teids(session, event.user_teids, event.ts)
        self._bind_teids(session, request.user_teids, event.ts)

    def _remember(self, key: tuple[object, ...], event: GtpcMessage) -> None:
        self._pending[key] = event
        if len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def _store_session(self, key: tuple[str, int], session: _Session) -> None:
        self._sessions[key] = session
        session.keys.append(key)
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def _end_session(self, endpoint: str, teid: int | None, ts: float) -> None:
        session = self._sessions.pop((endpoint, teid or 0), None)
        if session is None:
            return
        for address in session.addresses:
            self.addresses.release(address, ts, session.identity)
        for user_teid in session.teids:
            self.teids.release(str(user_teid), ts, session.identity)
        for key in session.keys:  # both ends' names of the session (not a scan of every session)
            if self._sessions.get(key) is session:
                del self._sessions[key]

    def _bind_address(self, address: str, ts: float, identity: Identity, end: float = float("inf")) -> None:
        self.addresses.bind(address, ts, identity, end)
        self.bindings_learned += 1

    def _bind_teids(self, session: _Session, teids: tuple[int, ...], ts: float) -> None:
        for teid in teids:
            if teid and teid not in session.teids:
                session.teids.add(teid)
                self.teids.bind(str(teid), ts, session.identity)

    # ------------------------------------------------------------------ RADIUS / Diameter / DHCP

    def _radius(self, event: RadiusMessage) -> None:
        prefix = ipv6_prefix64(event.framed_ipv6_prefix) if event.framed_ipv6_prefix else None
        addresses = [a for a in (event.framed_ip, prefix) if a]
        if not addresses:
            return
        status = (event.acct_status or "").lower()
        is_accounting = event.code.startswith("Accounting-Request")
        if not (is_accounting or event.code == "Access-Accept"):
            return
        calling = event.calling_station_id or ""
        station_mac = mac(calling) or mac_bare(calling.replace("-", "").replace(":", "")) if calling else None
        identity = Identity(
            source="radius",
            imsi=event.imsi,
            msisdn=None if station_mac else (msisdn_loose(calling) if calling else None),
            mei=_normal_imei(event.imeisv),
            mac=station_mac,
            user_name=event.user_name,
        )
        if identity.key is None:
            return
        for address in addresses:
            if status == "stop":
                self.addresses.release(address, event.ts, identity)
            else:
                self._bind_address(address, event.ts, identity)

    def _diameter_message(self, event: DiameterMessage) -> None:
        if not event.request:
            return
        session_id = event.session_id or ""
        known = self._diameter.get(session_id) if session_id else None
        if event.imsi or event.msisdn:
            # Diameter (Gx/Gy) does RADIUS's job on newer cores: the report's source is "radius" (AAA),
            # one of docs/report.md's five (model.SUBJECT_SOURCES).
            identity = Identity(source="radius", imsi=event.imsi, msisdn=event.msisdn, mei=_normal_imei(event.imei))
        elif known is not None:
            identity = known[0]
        else:
            return
        address = event.framed_ip or (known[1] if known else None)
        if not address:
            return
        if (event.cc_request_type or "").upper().startswith("TERMINATION"):
            self.addresses.release(address, event.ts, identity)
            self._diameter.pop(session_id, None)
            return
        if session_id:
            self._diameter[session_id] = (identity, address)
            if len(self._diameter) > MAX_PENDING:
                self._diameter.popitem(last=False)
        self._bind_address(address, event.ts, identity)

    def _dhcp(self, event: DhcpMessage) -> None:
        if not event.mac:
            return
        identity = Identity(source="dhcp", mac=event.mac)
        message = event.message.upper()
        if message in ("ACK", "REPLY") and event.ip:
            self._bind_address(event.ip, event.ts, identity, event.ts + event.lease_time if event.lease_time else float("inf"))
        elif message == "RELEASE" and event.ip:
            self.addresses.release(event.ip, event.ts, identity)


def ipv6_prefix64(address: str) -> str:
    """The /64 an IPv6 address is in, as the key the bindings use ("2001:db8:1:2::/64")."""
    try:
        packed = socket.inet_pton(socket.AF_INET6, address.split("/", 1)[0])
    except OSError:
        return address
    return socket.inet_ntop(socket.AF_INET6, packed[:8] + bytes(8)) + "/64"


def _normal_imei(value: str | None) -> str | None:
    if not value:
        return None
    return imei(value) or imeisv(value) or value
