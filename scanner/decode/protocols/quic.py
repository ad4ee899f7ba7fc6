"""QUIC client Initial packets: the ClientHello (SNI, ALPN, JA4) inside them.

Follows RFC 9000 (packet and frame formats, s17.2 long header, s19 frames),
RFC 9001 s5 (Initial secrets, AEAD_AES_128_GCM packet protection, AES-ECB
header protection) and RFC 9369 (QUIC v2: its own salt, HKDF labels and
long-header type bits).  IETF drafts 22-34, Facebook mvfst (0xfaceb001,
0xfaceb002, 0xfaceb00e) and Google T050/T051 are decrypted with the salts that
Wireshark's packet-quic.c uses for them.  gQUIC Q0xx, whose handshake is not
TLS, is not read.

The Initial keys are derived from the Destination Connection ID of the
client's first Initial, so anyone on the path can decrypt these packets: that
is what makes the SNI visible.  Only the client's Initials are decrypted.  The
ClientHello may be split into many CRYPTO frames, out of order, overlapping,
spread over several Initial packets and over coalesced packets in one
datagram (Chrome's "chaos protection" does all of these); it is reassembled
per connection, keyed by (tunnel, client address, client port, DCID), with a
cap on the number of connections and on the bytes held (oldest evicted).  The
complete handshake body goes to ``tls.parse_client_hello`` and one
``QuicInitial`` event is emitted per connection.

The decoder's parts: ``quic_protection`` (versions, Initial keys, 1-RTT and
0-RTT keys, header protection, key update), ``quic_wire`` (varints, packet
numbers, frames) and ``quic_connections`` (CRYPTO and STREAM reassembly, the
state of a connection being decrypted).  This module keeps the tables of
connections and walks the datagrams.

Hot path: almost every QUIC packet in an operator capture is a short-header
(1-RTT) packet.  ``decode`` rejects those on the first byte, and server
packets on the source port, before anything else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag

from scanner.decode.keylog import CLIENT_TRAFFIC_SECRET_0
from scanner.decode.protocols.base import Anomalies, DatagramDecoder, PacketContext
from scanner.decode.protocols.quic_connections import InitialConnection, PathKey, Session, StreamBuffer, Waiting
from scanner.decode.protocols.quic_protection import VERSIONS, InitialKeys, QuicVersion, TrafficKeys, suites_for_secret
from scanner.decode.protocols.quic_wire import (
    NOT_PADDING,
    QuicFormatError,
    crypto_frames,
    decode_packet_number,
    read_frames,
    varint,
)
from scanner.decode.protocols.tls import CLIENT_HELLO, MAX_CLIENT_HELLO, TlsFormatError, parse_client_hello
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.model import Event, QuicInitial, Tunnel

QUIC_PORT = 443

_ConnKey = tuple[Tunnel | None, str, int, bytes]
_Endpoint = tuple[Tunnel | None, str, int]


def _usable(secrets: Mapping[str, bytes]) -> bool:
    secret = secrets.get(CLIENT_TRAFFIC_SECRET_0)
    return bool(secret) and bool(suites_for_secret(secret or b""))


class QuicDecoder(DatagramDecoder):
    """Decrypts client Initial packets and emits one ``quic`` event per ClientHello."""

    name = "quic"
    udp_ports = frozenset({QUIC_PORT})
    # After protocols with fixed ports and strong magic numbers; QUIC's own check is strong too.
    sniff_order = 50

    # Bounds on the state kept across packets.
    MAX_CONNECTIONS = 16384
    MAX_BUFFERED_BYTES = 8 * 1024 * 1024
    MAX_SERVERS = 16384
    # Connections decrypted at once (each holds keys, stream buffers, a QPACK table): the one
    # idle longest is let go first.
    MAX_SESSIONS = 1024
    MAX_STREAMS_PER_SESSION = 512
    MAX_FINISHED_STREAMS = 4096
    # Bytes all decrypted connections may hold (out-of-order stream data, request bodies being
    # read): beyond it the connections idle longest are let go, counted.
    MAX_HELD_BYTES = 64 * 1024 * 1024

    def __init__(self, anomalies: Anomalies) -> None:
        super().__init__(anomalies)
        self._connections: OrderedDict[_ConnKey, InitialConnection] = OrderedDict()
        # The connection each client endpoint opened last: a client that already got the
        # server's Initial sends to a new DCID but keeps the keys of the first one.
        self._endpoints: OrderedDict[_Endpoint, InitialConnection] = OrderedDict()
        # Endpoints seen answering client Initials: their own Initials are skipped unread.
        self._servers: OrderedDict[tuple[Tunnel | None, str, int], None] = OrderedDict()
        self._buffered = 0
        # Both directions' 5-tuples of every connection being decrypted, least recently used first.
        self._paths: OrderedDict[PathKey, Session] = OrderedDict()
        self.key_updates = 0  # key phase changes of the client's packets, in connections let go
        self._held = 0  # what the decrypted connections hold, in bytes
        # Connections decrypted off port 443, by the connection ids their packets carry, and the
        # lengths of those ids (a short header does not say how long its connection id is).
        self._followed: dict[bytes, Session] = {}
        self._followed_lengths: dict[int, int] = {}
        # Connections whose secrets may still come (the capture has DSBs), by both address pairs.
        self._waiting: OrderedDict[PathKey, Waiting] = OrderedDict()

    # ------------------------------------------------------------- sniffing

    @classmethod
    def sniff(cls, payload: bytes) -> bool:
        """A client Initial on a port no decoder claims: long header with the fixed bit, a version
        we can decrypt, the Initial type, sane connection-id lengths and a Length that fits.
        RFC 9000 s14.1: datagrams carrying a client Initial are at least 1200 bytes."""
        if len(payload) < 1200 or payload[0] < 0xC0:
            return False
        version = VERSIONS.get(payload[1:5])
        if version is None or (payload[0] & 0x30) >> 4 != version.initial_type:
            return False
        try:
            dcid_len = payload[5]
            if dcid_len > 20:
                return False
            i = 6 + dcid_len
            scid_len = payload[i]
            if scid_len > 20:
                return False
            token_len, i = varint(payload, i + 1 + scid_len)
            length, i = varint(payload, i + token_len)
        except (IndexError, QuicFormatError):
            return False
        return 20 <= length <= len(payload) - i

    # ------------------------------------------------------------- decoding

    def follows(self, payload: bytes) -> bool:
        """A packet of a connection decrypted off port 443, by the connection id it carries: the
        packet decoder sends only sniffed client Initials here otherwise."""
        if not self._followed or len(payload) < 2:
            return False
        if payload[0] & 0x80:
            dcid_len = payload[5] if len(payload) > 5 else 0
            return bytes(payload[6 : 6 + dcid_len]) in self._followed
        return any(bytes(payload[1 : 1 + length]) in self._followed for length in self._followed_lengths)

    def _follow(self, session: Session, cid: bytes) -> None:
        if not cid or cid in self._followed:
            return  # a zero-length id tells no connection from another
        self._followed[cid] = session
        self._followed_lengths[len(cid)] = self._followed_lengths.get(len(cid), 0) + 1
        session.cids.append(cid)

    def wants(self, payload: bytes) -> bool:
        """Short-header (1-RTT) packets carry nothing we can read without keys: refused on the
        first byte, before the engine builds a context for them, unless a connection is being
        decrypted."""
        return (payload[0] >= 0x80 or bool(self._paths) or bool(self._waiting)) if payload else False

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        if not payload:
            return ()
        flow = ctx.flow
        if self._paths:
            path = (ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport)
            session = self._paths.get(path)
            if session is not None:
                self._paths.move_to_end(path)
                return self._session_datagram(payload, ctx, session)
        if self._waiting:
            waiting = self._waiting.get((ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport))
            if waiting is not None:
                waiting.decryption = ctx.decryption
                return self._wait(payload, ctx, waiting)
        # Short-header (1-RTT) packets, the bulk of QUIC traffic: one comparison.
        if payload[0] < 0x80:
            return ()
        # The server's packets: it answers from 443.  (Both ends on 443 is left to decrypt.)
        if flow.sport == QUIC_PORT and flow.dport != QUIC_PORT:
            return ()
        if VERSIONS.get(payload[1:5]) is None:
            return ()  # version negotiation, a GREASE version, or something not QUIC
        if self._servers and (ctx.tunnel, flow.src, flow.sport) in self._servers:
            return ()
        events: list[Event] = []
        offset = 0
        n = len(payload)
        # Coalesced packets (RFC 9000 s12.2): walk every long-header packet in the datagram.
        while offset < n and payload[offset] >= 0x80:
            try:
                offset = self._packet(payload, offset, ctx, events)
            except (IndexError, QuicFormatError):
                self.anomalies.add("quic_truncated")
                break
            if offset < 0:
                break
        if self._waiting:
            waiting = self._waiting.get((ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport))
            if waiting is not None and not waiting.datagrams:
                # The datagram whose ClientHello started the wait: its coalesced 0-RTT packets
                # are read with the rest when the secrets come.
                waiting.decryption = ctx.decryption
                waiting.datagrams.append((payload, ctx))
                waiting.size += len(payload)
        return events

    def _packet(self, buf: bytes, start: int, ctx: PacketContext, events: list[Event]) -> int:
        """Read the long-header packet at ``start``; return where the next one starts (-1: stop)."""
        first = buf[start]
        version = VERSIONS.get(buf[start + 1 : start + 5])
        if version is None:
            return -1
        ptype = (first & 0x30) >> 4
        dcid_len = buf[start + 5]
        if dcid_len > 20:
            self.anomalies.add("quic_bad_connection_id")
            return -1
        i = start + 6
        dcid = buf[i : i + dcid_len]
        i += dcid_len
        scid_len = buf[i]
        if scid_len > 20:
            self.anomalies.add("quic_bad_connection_id")
            return -1
        i += 1 + scid_len
        if ptype == version.retry_type:
            return -1  # a Retry has no Length and comes from the server
        if ptype == version.initial_type:
            token_len, i = varint(buf, i)
            i += token_len
        length, pn_offset = varint(buf, i)
        end = pn_offset + length
        if end > len(buf):
            raise QuicFormatError("packet runs past the datagram")
        if ptype == version.initial_type:
            scid = buf[start + 7 + dcid_len : start + 7 + dcid_len + scid_len]
            self._initial(buf, start, pn_offset, end, version, dcid, scid, ctx, events)
        elif ptype == version.zero_rtt_type and self._paths:
            # 0-RTT coalesced after the Initial whose ClientHello just opened the session.
            flow = ctx.flow
            session = self._paths.get((ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport))
            if session is not None:
                self._zero_rtt(session, buf, start, pn_offset, end, ctx, events)
        return end  # Handshake and 0-RTT packets are stepped over

    def _initial(
        self,
        buf: bytes,
        start: int,
        pn_offset: int,
        end: int,
        version: QuicVersion,
        dcid: bytes,
        scid: bytes,
        ctx: PacketContext,
        events: list[Event],
    ) -> None:
        flow = ctx.flow
        key: _ConnKey = (ctx.tunnel, flow.src, flow.sport, dcid)
        conn = self._connections.get(key)
        if conn is not None and conn.version is version:
            if conn.done:
                return  # a retransmission, or an ACK after the ClientHello: nothing new
            plain = self._unprotect(buf, start, pn_offset, end, conn)
            if plain is None:
                self.anomalies.add("quic_initial_undecryptable")
                return
        else:
            conn, plain = self._open(buf, start, pn_offset, end, version, dcid, ctx, key)
            if conn is None or plain is None:
                return
            if conn.done:
                return
        conn.client_cid = scid
        fragments, clean = crypto_frames(plain)
        if not clean:
            self.anomalies.add("quic_frame_malformed")
        before = conn.buffered
        for offset, data in fragments:
            if offset + len(data) > MAX_CLIENT_HELLO + 4:
                self.anomalies.add("quic_crypto_offset_too_large")
                continue
            conn.add(offset, data)
        self._buffered += conn.buffered - before
        event = self._complete(conn, ctx)
        if event is not None:
            events.append(event)
        if self._buffered > self.MAX_BUFFERED_BYTES:
            self._evict_bytes()

    def _open(
        self,
        buf: bytes,
        start: int,
        pn_offset: int,
        end: int,
        version: QuicVersion,
        dcid: bytes,
        ctx: PacketContext,
        key: _ConnKey,
    ) -> tuple[InitialConnection | None, bytes | None]:
        """The first packet seen with this DCID: a new connection, or an old one under a new DCID."""
        flow = ctx.flow
        endpoint: _Endpoint = (ctx.tunnel, flow.src, flow.sport)
        previous = self._endpoints.get(endpoint)
        if previous is not None and previous.version is version:
            plain = self._unprotect(buf, start, pn_offset, end, previous)
            if plain is not None:
                self._remember(key, previous)
                return previous, plain
        conn = InitialConnection(version, InitialKeys(version, dcid))
        plain = self._unprotect(buf, start, pn_offset, end, conn)
        if plain is None:
            # Not a client Initial we can read: a server's, or damaged.
            self.anomalies.add("quic_initial_undecryptable")
            return None, None
        self._remember(key, conn)
        self._endpoints[endpoint] = conn
        self._endpoints.move_to_end(endpoint)
        if len(self._endpoints) > self.MAX_CONNECTIONS:
            self._endpoints.popitem(last=False)
        server = (ctx.tunnel, flow.dst, flow.dport)
        if server not in self._servers:
            self._servers[server] = None
            if len(self._servers) > self.MAX_SERVERS:
                self._servers.popitem(last=False)
        return conn, plain

    def _remember(self, key: _ConnKey, conn: InitialConnection) -> None:
        self._connections[key] = conn
        while len(self._connections) > self.MAX_CONNECTIONS:
            _, old = self._connections.popitem(last=False)
            self._drop(old)

    def _drop(self, conn: InitialConnection) -> None:
        if not conn.done and conn.buffered:
            self.anomalies.add("quic_state_evicted")
            self._buffered -= conn.buffered
            conn.release()
            conn.done = True

    def _evict_bytes(self) -> None:
        while self._buffered > self.MAX_BUFFERED_BYTES and self._connections:
            _, old = self._connections.popitem(last=False)
            self._drop(old)

    @staticmethod
    def _unprotect(buf: bytes, start: int, pn_offset: int, end: int, conn: InitialConnection) -> bytes | None:
        """Remove header protection and decrypt (RFC 9001 s5.3, s5.4); None when it does not authenticate."""
        sample_at = pn_offset + 4
        if sample_at + 16 > end:
            return None
        keys = conn.keys
        mask = keys.hp.update(buf[sample_at : sample_at + 16])
        first = buf[start] ^ (mask[0] & 0x0F)  # long header: the low four bits are protected
        pn_len = (first & 0x03) + 1
        truncated = int.from_bytes(buf[pn_offset : pn_offset + pn_len], "big") ^ int.from_bytes(
            mask[1 : 1 + pn_len], "big"
        )
        pn_bytes = truncated.to_bytes(pn_len, "big")
        pn = decode_packet_number(truncated, pn_len, conn.largest_pn)
        header = bytes((first,)) + buf[start + 1 : pn_offset] + pn_bytes
        nonce = (keys.iv ^ pn).to_bytes(12, "big")
        try:
            plain = keys.aead.decrypt(nonce, buf[pn_offset + pn_len : end], header)
        except InvalidTag:
            return None
        if pn > conn.largest_pn:
            conn.largest_pn = pn
        return plain

    def _complete(self, conn: InitialConnection, ctx: PacketContext) -> QuicInitial | None:
        """The event, once the ClientHello handshake message is whole."""
        hs = conn.prefix
        if conn.pending_bytes > MAX_CLIENT_HELLO:
            # Overlapping fragments beyond a gap that never fills: stop holding them.
            self._give_up(conn, "quic_crypto_buffer_overflow")
            return None
        if len(hs) < 4:
            return None
        if hs[0] != CLIENT_HELLO:
            self._give_up(conn, "quic_crypto_not_client_hello")
            return None
        msg_len = (hs[1] << 16) | (hs[2] << 8) | hs[3]
        if msg_len > MAX_CLIENT_HELLO:
            self._give_up(conn, "quic_client_hello_too_long")
            return None
        if len(hs) < 4 + msg_len:
            return None
        body = bytes(hs[4 : 4 + msg_len])
        self._give_up(conn, None)
        try:
            hello = parse_client_hello(body)
        except TlsFormatError:
            self.anomalies.add("quic_client_hello_malformed")
            return None
        self._start_session(conn, body[2:34], ctx)  # legacy_version (2 bytes), then the random
        return QuicInitial(
            **ctx.header(),
            version=f"0x{conn.version.number:08x}",
            sni=hello.sni,
            alpn=hello.alpn,
            ja4=hello.ja4("q"),
        )

    def _give_up(self, conn: InitialConnection, anomaly: str | None) -> None:
        """The connection is finished (read or unreadable): free its buffers, keep its keys."""
        if anomaly:
            self.anomalies.add(anomaly)
        self._buffered -= conn.buffered
        conn.release()
        conn.done = True

    # ------------------------------------------------------------- 1-RTT with the lab's keys

    def _start_session(self, conn: InitialConnection, client_random: bytes, ctx: PacketContext) -> None:
        """The ClientHello is read: decrypt the rest of the connection if the key log has its secrets."""
        decryption = ctx.decryption
        if decryption is None:
            return  # decoding without a capture's decryption context (unit tests of Initials)
        secrets = decryption.secrets(client_random)
        if not _usable(secrets):
            flow = ctx.flow
            if decryption.secrets_may_follow and flow.dport == QUIC_PORT:
                # The capture has had a Decryption Secrets Block: a recorder may write this
                # connection's secrets after its handshake.  Its datagrams wait for them, bounded.
                waiting = Waiting(client_random, conn.version, conn.client_cid, flow)
                for path in waiting.paths(ctx.tunnel):
                    self._waiting[path] = waiting
                while len(self._waiting) > 2 * self.MAX_SESSIONS:
                    _, old = self._waiting.popitem(last=False)
                    self._stop_waiting(old, decryption)
                return
            decryption.unreadable("quic")  # the report says how many, and how to get keys
            return
        self._open_session(ctx, conn.version, conn.client_cid, secrets, decryption)

    def _open_session(
        self,
        ctx: PacketContext,
        version: QuicVersion,
        client_cid: bytes,
        secrets: Mapping[str, bytes],
        decryption: DecryptionContext,
    ) -> Session:
        flow = ctx.flow
        session = Session(flow, version, len(client_cid), secrets, self.anomalies)
        forward: PathKey = (ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport)
        backward: PathKey = (ctx.tunnel, flow.dst, flow.dport, flow.src, flow.sport)
        for path in (forward, backward):
            old = self._paths.pop(path, None)
            if old is not None:
                self._forget(old)  # the same client port opened a new connection
        session.paths = (forward, backward)
        self._paths[forward] = session
        self._paths[backward] = session
        if flow.dport != QUIC_PORT:
            # Not on 443: the packet decoder asks ``follows`` for this connection's packets, by
            # the connection ids they carry (the client's, for the server's packets).
            self._follow(session, client_cid)
        decryption.decrypted("quic")
        while len(self._paths) > 2 * self.MAX_SESSIONS:
            _, old = self._paths.popitem(last=False)
            self.anomalies.add("quic_session_evicted")
            self._forget(old)
        return session

    def _wait(self, payload: bytes, ctx: PacketContext, waiting: Waiting) -> Sequence[Event]:
        """A datagram of a connection whose secrets may still come in a DSB: hold it, or, once the
        secrets are there, open the session and read everything held, in order."""
        decryption = ctx.decryption
        if decryption is None:
            return ()
        secrets = decryption.secrets(waiting.client_random)
        if not _usable(secrets):
            if waiting.size + len(payload) > Waiting.MAX_BYTES:
                self.anomalies.add("quic_secrets_wait_overflow")
                self._stop_waiting(waiting, decryption)
                return ()
            waiting.datagrams.append((payload, ctx))
            waiting.size += len(payload)
            return ()
        for path in waiting.paths(ctx.tunnel):
            self._waiting.pop(path, None)
        client_ctx = PacketContext(ctx.ts, ctx.capture, ctx.frame, waiting.flow, ctx.tunnel, decryption)
        session = self._open_session(client_ctx, waiting.version, waiting.client_cid, secrets, decryption)
        events: list[Event] = []
        for held, held_ctx in [*waiting.datagrams, (payload, ctx)]:
            if session.paths is None:
                break  # closed (CONNECTION_CLOSE) or evicted while replaying
            events.extend(self._session_datagram(held, held_ctx, session))
        return events

    def _stop_waiting(self, waiting: Waiting, decryption: DecryptionContext | None) -> None:
        """The secrets never came: the connection is counted as not read."""
        for path in waiting.paths(waiting.tunnel):
            if self._waiting.get(path) is waiting:
                del self._waiting[path]
        waiting.datagrams = []
        if decryption is not None:
            decryption.unreadable("quic")

    def _forget(self, session: Session) -> None:
        if session.paths is None:
            return  # already let go
        self.key_updates += session.to_server.key_updates
        self._held -= session.held
        session.held = 0
        session.http3.close()
        for path in session.paths:
            if self._paths.get(path) is session:
                del self._paths[path]
        session.paths = None
        for cid in session.cids:
            if self._followed.pop(cid, None) is not None:
                self._followed_lengths[len(cid)] -= 1
                if not self._followed_lengths[len(cid)]:
                    del self._followed_lengths[len(cid)]
        session.cids = []

    def _session_datagram(self, payload: bytes, ctx: PacketContext, session: Session) -> Sequence[Event]:
        """Every packet of a datagram of a connection being decrypted (RFC 9000 s12.2: long-header
        packets first, a short-header packet last, running to the end of the datagram)."""
        flow = ctx.flow
        from_client = flow.sport == session.flow.sport and flow.src == session.flow.src
        events: list[Event] = []
        offset, n = 0, len(payload)
        while offset < n:
            if payload[offset] & 0x80:
                try:
                    header = _long_header(payload, offset)
                except (IndexError, QuicFormatError):
                    self.anomalies.add("quic_truncated")
                    break
                if header is None:
                    break  # a Retry, an unknown version, or impossible connection-id lengths
                version, ptype, scid, pn_offset, end = header
                if not from_client:
                    if session.server_cid_len is None:
                        # The server's own connection id: what the client's 1-RTT packets carry.
                        session.server_cid_len = len(scid)
                        if session.flow.dport != QUIC_PORT:
                            self._follow(session, scid)
                    session.server_chose(version)
                if from_client and ptype == version.zero_rtt_type:
                    self._zero_rtt(session, payload, offset, pn_offset, end, ctx, events)
                offset = end
                continue
            if NOT_PADDING.search(payload, offset) is None:
                # Zeros to the end: the padding a client adds after coalesced packets to fill a
                # datagram (RFC 9000 s14.1), not a packet.  (The fixed bit does not tell: RFC 9287
                # lets endpoints that negotiated it send packets with the bit cleared.)
                break
            cid_len = session.server_cid_len if from_client else session.client_cid_len
            if cid_len is None:
                self.anomalies.add("quic_short_header_before_handshake")
                break
            session.one_rtt_seen = True
            keys = session.to_server if from_client else session.to_client
            # The server's packets matter only until its HTTP/3 SETTINGS are read.
            if keys is not None and (from_client or session.http3.needs_server):
                self._protected(session, keys, payload, offset, offset + 1 + cid_len, n, False, ctx, from_client, events)
            break
        return events

    def _zero_rtt(
        self, session: Session, buf: bytes, start: int, pn_offset: int, end: int, ctx: PacketContext, events: list[Event]
    ) -> None:
        if session.early is None:
            # The key log has the connection's traffic secrets but not its early one.
            self.anomalies.add("quic_0rtt_without_early_secret")
            return
        self._protected(session, session.early, buf, start, pn_offset, end, True, ctx, True, events)

    def _protected(
        self,
        session: Session,
        keys: TrafficKeys,
        buf: bytes,
        start: int,
        pn_offset: int,
        end: int,
        long_header: bool,
        ctx: PacketContext,
        from_client: bool,
        events: list[Event],
    ) -> None:
        """Decrypt one 0-RTT or 1-RTT packet and pass its STREAM frames to HTTP/3."""
        plain = keys.open(buf, start, pn_offset, end, long_header)
        if plain is None:
            self.anomalies.add("quic_packet_undecryptable")
            if not session.failed and ctx.decryption is not None:
                session.failed = True
                ctx.decryption.failed("quic")  # once per connection: the report's warning counts connections
            return
        _, frames, clean = read_frames(plain)
        if not clean:
            self.anomalies.add("quic_frame_malformed")
        if not frames:
            if frames.closed:
                self._forget(session)  # CONNECTION_CLOSE: what it still waited on is counted
            return
        at = PacketContext(ctx.ts, ctx.capture, ctx.frame, session.flow, ctx.tunnel)
        streams = session.streams
        for stream_id, offset, data, fin in frames:
            # Responses (server data on client-initiated bidirectional streams) are not read.
            if not from_client and not stream_id & 0x02:
                continue
            if stream_id in session.finished:
                continue  # a retransmission of a stream already read to its end
            buffer = streams.get(stream_id)
            if buffer is None:
                buffer = streams[stream_id] = StreamBuffer()
                if len(streams) > self.MAX_STREAMS_PER_SESSION:
                    old_id, _ = streams.popitem(last=False)
                    self.anomalies.add("quic_stream_evicted")
                    session.http3.stream_reset(old_id)
            else:
                streams.move_to_end(stream_id)
            result = buffer.add(offset, data, fin)
            if result is None:
                self.anomalies.add("quic_stream_buffer_overflow")
                del streams[stream_id]
                session.http3.stream_reset(stream_id)
                self._finish_stream(session, stream_id)
                continue
            new, ended = result
            if new or ended:
                events.extend(session.http3.stream_data(stream_id, new, ended, from_client, at))
            if ended:
                del streams[stream_id]
                self._finish_stream(session, stream_id)
        held = session.buffered()
        self._held += held - session.held
        session.held = held
        if frames.closed:
            self._forget(session)  # CONNECTION_CLOSE: what it still waited on is counted
        elif self._held > self.MAX_HELD_BYTES:
            self._evict_held(session)

    def _evict_held(self, current: Session) -> None:
        """Let go of the connections idle longest until the bytes held fit again."""
        for path in list(self._paths):
            if self._held <= self.MAX_HELD_BYTES:
                return
            session = self._paths.get(path)
            if session is None or session is current:
                continue
            self.anomalies.add("quic_session_evicted")
            self._forget(session)

    def _finish_stream(self, session: Session, stream_id: int) -> None:
        session.finished[stream_id] = None
        if len(session.finished) > self.MAX_FINISHED_STREAMS:
            session.finished.popitem(last=False)

    def finish(self) -> None:
        """The capture ended: count the key updates and unfinished requests of the connections still
        open, and the connections whose secrets never came as not read."""
        for waiting in {id(w): w for w in self._waiting.values()}.values():
            self._stop_waiting(waiting, waiting.decryption)
        for session in {id(s): s for s in self._paths.values()}.values():
            self._forget(session)


def _long_header(buf: bytes, start: int) -> tuple[QuicVersion, int, bytes, int, int] | None:
    """(version, packet type, SCID, packet-number offset, end) of the long-header packet at
    ``start`` (RFC 9000 s17.2); None for a Retry, an unknown version or impossible CID lengths."""
    version = VERSIONS.get(buf[start + 1 : start + 5])
    if version is None:
        return None
    ptype = (buf[start] & 0x30) >> 4
    dcid_len = buf[start + 5]
    if dcid_len > 20:
        return None
    i = start + 6 + dcid_len
    scid_len = buf[i]
    if scid_len > 20 or ptype == version.retry_type:
        return None
    scid = buf[i + 1 : i + 1 + scid_len]
    i += 1 + scid_len
    if ptype == version.initial_type:
        token_len, i = varint(buf, i)
        i += token_len
    length, pn_offset = varint(buf, i)
    end = pn_offset + length
    if end > len(buf):
        raise QuicFormatError("packet runs past the datagram")
    return version, ptype, scid, pn_offset, end
