"""Destinations and the traffic all scenes share: DNS, HTTP exchanges, HTTPS, QUIC, NTP, ICMP.

`Scene` holds one capture's state (timeline, link, random generator, address book, ground-truth
recorder) and writes whole conversations: a DNS lookup before every connection to a named host,
TCP handshakes and FINs, TLS ClientHello with a ServerHello and encrypted records after it, QUIC
Initial packets, NTP and ICMP echo.

Server addresses are drawn from prefixes the named organisations announce (the same host always
gets the same addresses), so that address-based attribution has something real-looking to do.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
import struct
from dataclasses import dataclass, field

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, UDP
from scapy.layers.ntp import NTPHeader
from scapy.packet import Raw

from . import tls
from .http import Rendered, Request, render
from .truth import Decoy, Leak, Recorder
from .wire import Capture, Host, Link, TcpConn, ipv4, send_udp

# host -> (organisation, tracker?)
DESTINATIONS: dict[str, tuple[str, bool]] = {
    "googleads.g.doubleclick.net": ("Google", True),
    "pagead2.googlesyndication.com": ("Google", True),
    "app-measurement.com": ("Google", True),
    "www.google-analytics.com": ("Google", True),
    "firebaselogging-pa.googleapis.com": ("Google", True),
    "graph.facebook.com": ("Meta", True),
    "www.facebook.com": ("Meta", True),
    "t.appsflyer.com": ("AppsFlyer", True),
    "app.adjust.com": ("Adjust", True),
    "api2.branch.io": ("Branch", True),
    "api.mixpanel.com": ("Mixpanel", True),
    "api.amplitude.com": ("Amplitude", True),
    "ads.tiktok.com": ("ByteDance", True),
    "ib.adnxs.com": ("Xandr", True),
    "sdk.iad-01.braze.com": ("Braze", True),
    "api.onesignal.com": ("OneSignal", True),
    "api.segment.io": ("Segment", True),
    # first parties
    "api.kinderspiele-welt.de": ("Kidsgames", False),
    "www.kinderspiele-welt.de": ("Kidsgames", False),
    "api.duolingo.com": ("Duolingo", False),
    "apis.roblox.com": ("Roblox", False),
    "www.google.com": ("Google", False),
    "www.youtube.com": ("Google", False),
    "i.ytimg.com": ("Google", False),
    "youtubei.googleapis.com": ("Google", False),
    "play.googleapis.com": ("Google", False),
    "connectivitycheck.gstatic.com": ("Google", False),
    "www.instagram.com": ("Meta", False),
    "i.instagram.com": ("Meta", False),
    "gateway.icloud.com": ("Apple", False),
    "captive.apple.com": ("Apple", False),
    "time.android.com": ("Google", False),
    "time.apple.com": ("Apple", False),
}

ORG_PREFIXES: dict[str, tuple[str, ...]] = {
    "Google": ("142.250.0.0/15", "172.217.0.0/16", "216.58.192.0/19"),
    "Meta": ("157.240.0.0/17", "31.13.64.0/18"),
    "AppsFlyer": ("3.64.0.0/12", "18.192.0.0/14"),
    "Adjust": ("185.151.204.0/22",),
    "Branch": ("18.64.0.0/14",),
    "Mixpanel": ("130.211.0.0/16",),
    "Amplitude": ("52.32.0.0/14",),
    "ByteDance": ("23.40.0.0/14",),
    "Xandr": ("185.89.208.0/22",),
    "Braze": ("104.18.0.0/15",),
    "OneSignal": ("104.16.160.0/20",),
    "Segment": ("54.192.0.0/16",),
    "Kidsgames": ("88.198.0.0/16",),
    "Duolingo": ("18.160.0.0/15",),
    "Roblox": ("128.116.0.0/17",),
    "Apple": ("17.253.0.0/16", "17.248.128.0/18"),
}

# Ephemeral ports Wireshark binds a dissector to would make tshark decode a flow as something else.
AVOID_PORTS = frozenset({34962, 34980, 37008, 41170, 44321, 44322, 44818, 45564, 47000, 47808, 48049, 48898,
                         49999, 54328, 56000, 56001, 56500, 56501, 57000, 57001, 57032, 57033, 57500, 57501,
                         57532, 57533, 59000, 59001, 59032, 59033, 59500, 59501, 59532, 59533, 60001})


def http_date(start_utc: int, t: float) -> str:
    return email.utils.formatdate(start_utc + int(t), usegmt=True)


@dataclass
class Exchange:
    """One request on a connection, what it carries, and how it goes on the wire.

    split_key: cut the request inside this marked value (transport "split").
    swap: also put the second part on the wire before the first (transport "out_of_order").
    retransmit: send the request's first segment a second time after an RTO.
    """

    request: Request
    leaks: list[Leak] = field(default_factory=list)
    decoys: list[Decoy] = field(default_factory=list)
    split_key: str | None = None
    swap: bool = False
    retransmit: bool = False
    status: str = "204 No Content"
    response_body: bytes = b""
    response_type: str = "application/json"


@dataclass
class Scene:
    cap: Capture
    link: Link
    rng: random.Random
    recorder: Recorder
    resolver: Host
    servers: dict[str, Host] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)
    next_port: dict[str, int] = field(default_factory=dict)

    # -- addressing -----------------------------------------------------------------------------
    def addresses_of(self, host: str) -> list[str]:
        if host not in self.addresses:
            org = DESTINATIONS[host][0]
            r = random.Random("address-" + host)
            found: list[str] = []
            for _ in range(r.choice((1, 2, 2, 3))):
                net = ipaddress.ip_network(r.choice(ORG_PREFIXES[org]))
                found.append(str(net[r.randrange(2, net.num_addresses - 2)]))
            self.addresses[host] = found
        return self.addresses[host]

    def server(self, ip: str) -> Host:
        if ip not in self.servers:
            r = random.Random("server-" + ip)
            self.servers[ip] = Host(ip=ip, ttl=r.choice((52, 55, 56, 57, 58, 119, 120)), ip_id=r.randrange(65536))
        return self.servers[ip]

    def port(self, client: Host, platform: str = "android") -> int:
        lo, hi = (32768, 60999) if platform == "android" else (49152, 65535)
        p = self.next_port.get(client.ip, self.rng.randrange(lo, hi - 2000))
        while True:
            p += self.rng.randint(1, 9)
            if p > hi:
                p = lo
            if p not in AVOID_PORTS:
                self.next_port[client.ip] = p
                return p

    # -- DNS ------------------------------------------------------------------------------------
    def lookup(self, client: Host, host: str, t: float, platform: str = "android") -> tuple[float, str]:
        """An A query for `host` and the resolver's answer; returns (time, the address the client picks)."""
        addrs = self.addresses_of(host)
        org = DESTINATIONS[host][0]
        sport = self.port(client, platform)
        qid = self.rng.randrange(65536)
        query = DNS(id=qid, rd=1, qd=DNSQR(qname=host, qtype="A"))
        send_udp(self.cap, self.link, client, self.resolver, sport, 53, bytes(query), t, True)
        answers = []
        name = host
        if org == "Google" and host.count(".") >= 2 and DESTINATIONS[host][1]:
            name = host.split(".")[0] + ".l.google.com"  # trackers behind a CNAME, as real zones often are
            answers.append(DNSRR(rrname=host, type="CNAME", ttl=300, rdata=name))
        ttl = random.Random("ttl-" + host).choice((60, 120, 300))
        answers += [DNSRR(rrname=name, type="A", ttl=ttl, rdata=a) for a in addrs]
        answer = DNS(id=qid, qr=1, rd=1, ra=1, qd=DNSQR(qname=host, qtype="A"), an=answers)
        t += self.rng.uniform(0.008, 0.040)
        send_udp(self.cap, self.link, client, self.resolver, sport, 53, bytes(answer), t, False)
        return t + 0.003, self.rng.choice(addrs)

    # -- HTTP -----------------------------------------------------------------------------------
    def response(self, ex: Exchange, t: float) -> bytes:
        lines = [f"HTTP/1.1 {ex.status}", f"Date: {http_date(self.cap.start_utc, t)}", "Server: nginx"]
        if ex.response_body:
            lines.append(f"Content-Type: {ex.response_type}")
        lines += [f"Content-Length: {len(ex.response_body)}", "Connection: keep-alive"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + ex.response_body

    def http(self, client: Host, host: str, exchanges: list[Exchange], t: float, platform: str = "android",
             pipelined: bool = False, lookup: bool = True, port: int = 80) -> float:
        """DNS lookup, TCP connection, the exchanges (one after the other, or pipelined), FIN."""
        if lookup:
            t, ip = self.lookup(client, host, t, platform)
        else:
            ip = self.rng.choice(self.addresses_of(host))
        server = self.server(ip)
        conn = TcpConn(self.cap, self.link, client, server, self.port(client, platform), port, self.rng)
        flow = {"proto": "tcp", "src": client.ip, "sport": conn.sport, "dst": ip, "dport": port}
        t = conn.open(t + 0.001)
        rendered = [render(ex.request) for ex in exchanges]
        if pipelined:
            # every request in one burst before any response: cuts are offsets into the burst
            burst = b"".join(r.data for r in rendered)
            starts = [sum(len(r.data) for r in rendered[:i]) for i in range(len(rendered))]
            cuts: list[int] = []  # requests may share a segment, as pipelined requests do
            swap = None
            for ex, r, s in zip(exchanges, rendered, starts, strict=True):
                c, sw = self._cut(ex, r)
                cuts += [s + x for x in c]
                if sw is not None:
                    swap = s + sw
            base = conn.sent[True]
            t, segs = conn.send(True, burst, t + 0.002, cuts, swap, 0 if any(ex.retransmit for ex in exchanges) else None)
            for ex, r, s in zip(exchanges, rendered, starts, strict=True):
                self.recorder.request(host, flow, r, base + s, segs, ex.leaks, ex.decoys)
            t, _ = conn.send(False, b"".join(self.response(ex, t) for ex in exchanges), t + 0.03)
        else:
            for ex, r in zip(exchanges, rendered, strict=True):
                cuts, swap = self._cut(ex, r)
                base = conn.sent[True]
                t, segs = conn.exchange(r.data, self.response(ex, t), t + 0.002, self.rng.uniform(0.02, 0.08),
                                        cuts, swap, 0 if ex.retransmit else None)
                self.recorder.request(host, flow, r, base, segs, ex.leaks, ex.decoys)
                t += self.rng.uniform(0.05, 0.4)
        return conn.close(t + self.rng.uniform(0.2, 1.5), by_client=self.rng.random() < 0.7)

    @staticmethod
    def _cut(ex: Exchange, r: Rendered) -> tuple[list[int], int | None]:
        if ex.split_key is None:
            return [], None
        a, b = r.spans[ex.split_key]
        cut = a + max(1, (b - a) // 2)
        return [cut], cut if ex.swap else None

    # -- encrypted traffic ----------------------------------------------------------------------
    def https(self, client: Host, host: str, t: float, platform: str = "android", lookup: bool = True,
              alpn: tuple[str, ...] = ("h2", "http/1.1"), exchanges: int = 2) -> float:
        """DNS, TCP, ClientHello (SNI, ALPN), ServerHello + CCS + encrypted records, some traffic, FIN."""
        if lookup:
            t, ip = self.lookup(client, host, t, platform)
        else:
            ip = self.rng.choice(self.addresses_of(host))
        conn = TcpConn(self.cap, self.link, client, self.server(ip), self.port(client, platform), 443, self.rng)
        t = conn.open(t + 0.001)
        r = self.rng
        hello = tls.client_hello(r, host, alpn)
        t, _ = conn.send(True, tls.record(tls.HANDSHAKE, hello, 0x0301), t + 0.001)
        flight = (tls.record(tls.HANDSHAKE, tls.server_hello(r, tls.session_id_of(hello)))
                  + tls.record(tls.CHANGE_CIPHER_SPEC, b"\x01")
                  + tls.encrypted_records(r, [r.randint(2400, 4200), r.randint(250, 300), r.randint(50, 80)]))
        t, _ = conn.send(False, flight, t + 0.02)
        finished = tls.record(tls.CHANGE_CIPHER_SPEC, b"\x01") + tls.encrypted_records(r, [53])
        t, _ = conn.send(True, finished + tls.encrypted_records(r, [r.randint(120, 600)]), t + 0.001)
        for _ in range(exchanges):
            t, _ = conn.send(False, tls.encrypted_records(r, [r.randint(200, 3000)]), t + r.uniform(0.02, 0.1))
            t, _ = conn.send(True, tls.encrypted_records(r, [r.randint(60, 900)]), t + r.uniform(0.05, 0.6))
        return conn.close(t + r.uniform(0.3, 2.0), by_client=r.random() < 0.5)

    def quic(self, client: Host, host: str, t: float, platform: str = "android", lookup: bool = True) -> float:
        """A QUIC v1 connection start: protected client and server Initials, then opaque packets."""
        if lookup:
            t, ip = self.lookup(client, host, t, platform)
        else:
            ip = self.rng.choice(self.addresses_of(host))
        server = self.server(ip)
        r = self.rng
        sport = self.port(client, platform)
        dcid, scid, server_cid = r.randbytes(8), r.randbytes(8), r.randbytes(8)
        hello = tls.client_hello(r, host, ("h3",), tls.transport_parameters(r, scid))
        initial = tls.protected_initial(tls.initial_keys(dcid, server=False), dcid, scid, 0,
                                        tls.crypto_frame(hello), pad_to=1250)
        send_udp(self.cap, self.link, client, server, sport, 443, initial, t, True)
        t += r.uniform(0.015, 0.05)
        sh = tls.server_hello(r, b"")
        server_initial = tls.protected_initial(tls.initial_keys(dcid, server=True), scid, server_cid, 0,
                                               tls.ack_frame(0) + tls.crypto_frame(sh))
        coalesced = server_initial + tls.opaque_long_packet(r, tls.HANDSHAKE_PACKET, scid, server_cid, 1200 - len(server_initial))
        send_udp(self.cap, self.link, client, server, sport, 443, coalesced, t, False)
        t += 0.0005
        send_udp(self.cap, self.link, client, server, sport, 443,
                 tls.opaque_long_packet(r, tls.HANDSHAKE_PACKET, server_cid, scid, r.randint(80, 120)), t + 0.02, True)
        t += 0.02
        for _ in range(r.randint(2, 5)):
            t += r.uniform(0.01, 0.2)
            send_udp(self.cap, self.link, client, server, sport, 443, tls.short_packet(r, server_cid, r.randint(40, 400)), t, True)
            t += r.uniform(0.01, 0.05)
            send_udp(self.cap, self.link, client, server, sport, 443, tls.short_packet(r, scid, r.randint(200, 1250)), t, False)
        return t

    # -- noise ----------------------------------------------------------------------------------
    def ntp(self, client: Host, host: str, t: float, platform: str = "android") -> float:
        t, ip = self.lookup(client, host, t, platform)
        server = self.server(ip)
        sport = self.port(client, platform)
        ntp_epoch = self.cap.start_utc + 2208988800 + int(t)
        query = NTPHeader(leap=0, version=4, mode=3, stratum=0, poll=10, precision=-20,
                          delay=0, dispersion=0, id="0.0.0.0", ref=0, orig=0, recv=0, sent=ntp_epoch + 0.25)
        send_udp(self.cap, self.link, client, server, sport, 123, bytes(query), t + 0.001, True)
        reply = NTPHeader(leap=0, version=4, mode=4, stratum=2, poll=10, precision=-23, delay=0.0012,
                          dispersion=0.0203, id="17.253.34.253", ref=ntp_epoch - 15.5, orig=ntp_epoch + 0.25,
                          recv=ntp_epoch + 0.27, sent=ntp_epoch + 0.2701)
        t += self.rng.uniform(0.015, 0.05)
        send_udp(self.cap, self.link, client, server, sport, 123, bytes(reply), t, False)
        return t

    def ping(self, client: Host, target_ip: str, t: float, count: int = 3) -> float:
        target = self.server(target_ip)
        ident = self.rng.randrange(65536)
        for seq in range(1, count + 1):
            payload = struct.pack("!Q", (self.cap.start_utc + int(t)) << 20) + bytes(range(0x10, 0x38))
            echo = ipv4(client, target, ICMP(type=8, id=ident, seq=seq) / Raw(payload))
            self.cap.add(t, self.link.frame(echo, client, True))
            t += self.rng.uniform(0.012, 0.03)
            reply = ipv4(target, client, ICMP(type=0, id=ident, seq=seq) / Raw(payload))
            self.cap.add(t, self.link.frame(reply, client, False))
            t += 1.0
        return t


def udp_raw(src: Host, dst: Host, sport: int, dport: int, payload: bytes, dont_fragment: bool = False) -> bytes:
    """A UDP packet for frames that are not client/server traffic (broadcast DHCP, multicast mDNS)."""
    return ipv4(src, dst, UDP(sport=sport, dport=dport) / Raw(payload), dont_fragment=dont_fragment)

