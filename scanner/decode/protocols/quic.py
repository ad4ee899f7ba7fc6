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

Hot path: almost every QUIC packet in an operator capture is a short-header
(1-RTT) packet.  ``decode`` rejects those on the first byte, and server
packets on the source port, before anything else.
"""

from __future__ import annotations

import re
import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from scanner.decode.protocols.base import Anomalies, DatagramDecoder, PacketContext
from scanner.decode.protocols.tls import CLIENT_HELLO, MAX_CLIENT_HELLO, TlsFormatError, parse_client_hello
from scanner.model import Event, QuicInitial, Tunnel

QUIC_PORT = 443

# ----------------------------------------------------------------- versions

# RFC 9001 s5.2, RFC 9369 s3.3.1, and the draft salts (draft-ietf-quic-tls-22/-23/-29).
_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
_SALT_V2 = bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9")
_SALT_DRAFT_22 = bytes.fromhex("7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a")
_SALT_DRAFT_23 = bytes.fromhex("c3eef712c72ebb5a11a7d2432bb46365bef9f502")
_SALT_DRAFT_29 = bytes.fromhex("afbfec289993d24c9e9786f19c6111e04390a899")
# Google's TLS-based gQUIC versions with IETF packet protection (Wireshark packet-quic.c).
_SALT_T050 = bytes.fromhex("7ff579e5acd072915580304c43a2367c60488310")
_SALT_T051 = bytes.fromhex("7a4edef4e7ccee5fa4506c19124fc8ccda6e033d")


@dataclass(frozen=True, slots=True)
class QuicVersion:
    """How one QUIC version protects its Initial packets."""

    number: int
    salt: bytes
    label_prefix: bytes  # b"quic" or b"quicv2": the HKDF labels are "<prefix> key|iv|hp"
    initial_type: int  # long-header packet type bits (0x30 of the first byte) of an Initial
    retry_type: int  # a Retry has no Length field: a coalesced walk stops there


def _versions() -> dict[bytes, QuicVersion]:
    table: list[QuicVersion] = [
        QuicVersion(0x00000001, _SALT_V1, b"quic", 0, 3),
        # RFC 9369 s3.2: v2 renumbers the long-header types (Initial 0b01, Retry 0b00).
        QuicVersion(0x6B3343CF, _SALT_V2, b"quicv2", 1, 0),
        # mvfst versions, mapped to the draft they were built on (as Wireshark and nDPI do):
        # 0xfaceb001 is draft-22; 0xfaceb002 and the experimental 0xfaceb00e are draft-27.
        QuicVersion(0xFACEB001, _SALT_DRAFT_22, b"quic", 0, 3),
        QuicVersion(0xFACEB002, _SALT_DRAFT_23, b"quic", 0, 3),
        QuicVersion(0xFACEB00E, _SALT_DRAFT_23, b"quic", 0, 3),
        QuicVersion(0x54303530, _SALT_T050, b"quic", 0, 3),
        QuicVersion(0x54303531, _SALT_T051, b"quic", 0, 3),
    ]
    for draft in range(22, 35):
        # Each draft changed the salt at -23, -29 and -33 (which took v1's).
        salt = (
            _SALT_DRAFT_22
            if draft == 22
            else _SALT_DRAFT_23
            if draft <= 28
            else _SALT_DRAFT_29
            if draft <= 32
            else _SALT_V1
        )
        table.append(QuicVersion(0xFF000000 | draft, salt, b"quic", 0, 3))
    return {v.number.to_bytes(4, "big"): v for v in table}


# Keyed by the four version bytes as they are on the wire: the hot path looks
# up ``payload[1:5]`` without converting it to an int.
VERSIONS: dict[bytes, QuicVersion] = _versions()

# ----------------------------------------------------------------- key schedule


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) for keys of at most one block.

    Written out because ``hmac.digest`` goes through an OpenSSL 3 provider
    lookup on every call (~2 us); two ``hashlib.sha256`` calls take half that,
    and a new connection needs five of them.
    """
    block = key.ljust(64, b"\x00")
    inner = sha256(block.translate(_IPAD) + message).digest()
    return sha256(block.translate(_OPAD) + inner).digest()


def _hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 s7.1) with an empty context, for lengths up to one SHA-256 block."""
    full_label = b"tls13 " + label
    info = struct.pack("!HB", length, len(full_label)) + full_label + b"\x00"
    # HKDF-Expand's first block is HMAC(PRK, info || 0x01); every length here fits in it.
    return _hmac_sha256(secret, info + b"\x01")[:length]


def client_initial_keys(version: QuicVersion, dcid: bytes) -> tuple[bytes, bytes, bytes]:
    """The client's Initial (key, iv, hp) for a connection whose client chose ``dcid`` (RFC 9001 s5.2)."""
    initial_secret = _hmac_sha256(version.salt, dcid)  # HKDF-Extract(salt, DCID)
    client_secret = _hkdf_expand_label(initial_secret, b"client in", 32)
    prefix = version.label_prefix
    return (
        _hkdf_expand_label(client_secret, prefix + b" key", 16),
        _hkdf_expand_label(client_secret, prefix + b" iv", 12),
        _hkdf_expand_label(client_secret, prefix + b" hp", 16),
    )


class _InitialKeys:
    """Ready-to-use ciphers for one connection's client Initial packets.

    Building the AES contexts costs more than using them, so they are made once
    per connection and kept with it.
    """

    __slots__ = ("aead", "hp", "iv")

    def __init__(self, version: QuicVersion, dcid: bytes) -> None:
        key, iv, hp = client_initial_keys(version, dcid)
        self.aead = AESGCM(key)
        self.iv = int.from_bytes(iv, "big")
        # An ECB encryptor is stateless between blocks, so one serves every packet.
        self.hp: Any = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()


# ----------------------------------------------------------------- wire helpers


class QuicFormatError(Exception):
    """Raised inside the parser only; the decoder counts it as an anomaly."""


def _varint(buf: bytes, offset: int) -> tuple[int, int]:
    """A variable-length integer (RFC 9000 s16) at ``offset``, and the offset after it."""
    first = buf[offset]
    size = 1 << (first >> 6)
    if size == 1:
        return first, offset + 1
    end = offset + size
    if end > len(buf):
        raise QuicFormatError("varint runs past the end")
    return int.from_bytes(buf[offset:end], "big") & ((1 << (8 * size - 2)) - 1), end


def _decode_packet_number(truncated: int, pn_len: int, largest: int) -> int:
    """RFC 9000 Appendix A.3: the full packet number nearest to the next one expected."""
    expected = largest + 1
    win = 1 << (8 * pn_len)
    half = win // 2
    candidate = (expected & ~(win - 1)) | truncated
    if candidate <= expected - half and candidate < (1 << 62) - win:
        return candidate + win
    if candidate > expected + half and candidate >= win:
        return candidate - win
    return candidate


_NOT_PADDING = re.compile(b"[^\x00]")

# Frames that may follow one another in a packet, and how many varints they carry
# after the type (RFC 9000 s19), for the ones we do not read but must step over.
_VARINT_FRAMES = {
    0x01: 0,  # PING
    0x04: 3,  # RESET_STREAM
    0x05: 2,  # STOP_SENDING
    0x10: 1,  # MAX_DATA
    0x11: 2,  # MAX_STREAM_DATA
    0x12: 1,  # MAX_STREAMS (bidi)
    0x13: 1,  # MAX_STREAMS (uni)
    0x14: 1,  # DATA_BLOCKED
    0x15: 2,  # STREAM_DATA_BLOCKED
    0x16: 1,  # STREAMS_BLOCKED (bidi)
    0x17: 1,  # STREAMS_BLOCKED (uni)
    0x19: 1,  # RETIRE_CONNECTION_ID
    0x1E: 0,  # HANDSHAKE_DONE
}
FRAME_PADDING, FRAME_ACK, FRAME_ACK_ECN, FRAME_CRYPTO = 0x00, 0x02, 0x03, 0x06
FRAME_NEW_TOKEN, FRAME_NEW_CONNECTION_ID = 0x07, 0x18
FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE = 0x1A, 0x1B
FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP = 0x1C, 0x1D
FRAME_DATAGRAM, FRAME_DATAGRAM_LEN = 0x30, 0x31  # RFC 9221


def crypto_frames(plain: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The (offset, data) of every CRYPTO frame in a decrypted packet payload.

    Returns the frames read and whether the whole payload was understood.  A
    frame we cannot step over ends the walk: what came before it stands.
    """
    frames: list[tuple[int, bytes]] = []
    i, n = 0, len(plain)
    try:
        while i < n:
            ftype = plain[i]
            if ftype == FRAME_PADDING:
                # Padding is most of an Initial: skip the run in C, not byte by byte.
                match = _NOT_PADDING.search(plain, i)
                i = match.start() if match else n
                continue
            if ftype < 0x40:
                i += 1
            else:
                ftype, i = _varint(plain, i)
            if ftype == FRAME_CRYPTO:
                offset, i = _varint(plain, i)
                length, i = _varint(plain, i)
                if i + length > n:
                    raise QuicFormatError("CRYPTO frame runs past the end")
                frames.append((offset, plain[i : i + length]))
                i += length
            elif ftype in _VARINT_FRAMES:
                for _ in range(_VARINT_FRAMES[ftype]):
                    _, i = _varint(plain, i)
            elif ftype in (FRAME_ACK, FRAME_ACK_ECN):
                _, i = _varint(plain, i)  # largest acknowledged
                _, i = _varint(plain, i)  # ack delay
                ranges, i = _varint(plain, i)
                _, i = _varint(plain, i)  # first range
                for _ in range(2 * ranges + (3 if ftype == FRAME_ACK_ECN else 0)):
                    _, i = _varint(plain, i)  # gap/length pairs, then the ECN counts
            elif ftype in (FRAME_CONNECTION_CLOSE, FRAME_CONNECTION_CLOSE_APP):
                return frames, True  # nothing after a close matters
            elif ftype == FRAME_NEW_TOKEN:
                length, i = _varint(plain, i)
                i += length
            elif 0x08 <= ftype <= 0x0F:  # STREAM, with OFF/LEN/FIN bits
                _, i = _varint(plain, i)
                if ftype & 0x04:
                    _, i = _varint(plain, i)
                if not ftype & 0x02:
                    return frames, True  # no Length: the data runs to the end
                length, i = _varint(plain, i)
                i += length
            elif ftype == FRAME_NEW_CONNECTION_ID:
                _, i = _varint(plain, i)
                _, i = _varint(plain, i)
                i += 1 + plain[i] + 16  # length, connection id, stateless reset token
            elif ftype in (FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE):
                i += 8
            elif ftype == FRAME_DATAGRAM:
                return frames, True
            elif ftype == FRAME_DATAGRAM_LEN:
                length, i = _varint(plain, i)
                i += length
            else:
                return frames, False
    except (IndexError, QuicFormatError):
        return frames, False
    return frames, i == n


# ----------------------------------------------------------------- per-connection state


class _Connection:
    """One client connection's Initial keys and the part of its ClientHello seen so far."""

    __slots__ = ("done", "keys", "largest_pn", "pending", "pending_bytes", "prefix", "version")

    def __init__(self, version: QuicVersion, keys: _InitialKeys) -> None:
        self.version = version
        self.keys = keys
        self.largest_pn = -1
        self.prefix = bytearray()  # CRYPTO stream bytes 0..len(prefix), contiguous
        self.pending: dict[int, bytes] = {}  # fragments beyond the prefix, by offset
        self.pending_bytes = 0
        self.done = False

    @property
    def buffered(self) -> int:
        return len(self.prefix) + self.pending_bytes

    def add(self, offset: int, data: bytes) -> None:
        """Place one CRYPTO fragment; duplicates and overlaps keep the bytes first seen."""
        have = len(self.prefix)
        end = offset + len(data)
        if end <= have:
            return
        if offset > have:
            old = self.pending.get(offset)
            if old is None or len(old) < len(data):
                self.pending[offset] = data
                self.pending_bytes += len(data) - (len(old) if old is not None else 0)
            return
        self.prefix += data[have - offset :]
        if self.pending:
            # Sorted, one pass joins every fragment the new bytes reached.
            for off in sorted(self.pending):
                if off > len(self.prefix):
                    break
                piece = self.pending.pop(off)
                self.pending_bytes -= len(piece)
                if off + len(piece) > len(self.prefix):
                    self.prefix += piece[len(self.prefix) - off :]

    def release(self) -> None:
        self.prefix = bytearray()
        self.pending = {}
        self.pending_bytes = 0


_ConnKey = tuple[Tunnel | None, str, int, bytes]
_Endpoint = tuple[Tunnel | None, str, int]


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

    def __init__(self, anomalies: Anomalies) -> None:
        super().__init__(anomalies)
        self._connections: OrderedDict[_ConnKey, _Connection] = OrderedDict()
        # The connection each client endpoint opened last: a client that already got the
        # server's Initial sends to a new DCID but keeps the keys of the first one.
        self._endpoints: OrderedDict[_Endpoint, _Connection] = OrderedDict()
        # Endpoints seen answering client Initials: their own Initials are skipped unread.
        self._servers: OrderedDict[tuple[Tunnel | None, str, int], None] = OrderedDict()
        self._buffered = 0

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
            token_len, i = _varint(payload, i + 1 + scid_len)
            length, i = _varint(payload, i + token_len)
        except (IndexError, QuicFormatError):
            return False
        return 20 <= length <= len(payload) - i

    # ------------------------------------------------------------- decoding

    def wants(self, payload: bytes) -> bool:
        """Short-header (1-RTT) packets carry nothing we can read: refused on the first byte,
        before the engine builds a context for them."""
        return payload[0] >= 0x80 if payload else False

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        # Short-header (1-RTT) packets, the bulk of QUIC traffic: one comparison.
        if not payload or payload[0] < 0x80:
            return ()
        flow = ctx.flow
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
            token_len, i = _varint(buf, i)
            i += token_len
        length, pn_offset = _varint(buf, i)
        end = pn_offset + length
        if end > len(buf):
            raise QuicFormatError("packet runs past the datagram")
        if ptype == version.initial_type:
            self._initial(buf, start, pn_offset, end, version, dcid, ctx, events)
        return end  # Handshake and 0-RTT packets are stepped over

    def _initial(
        self,
        buf: bytes,
        start: int,
        pn_offset: int,
        end: int,
        version: QuicVersion,
        dcid: bytes,
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
    ) -> tuple[_Connection | None, bytes | None]:
        """The first packet seen with this DCID: a new connection, or an old one under a new DCID."""
        flow = ctx.flow
        endpoint: _Endpoint = (ctx.tunnel, flow.src, flow.sport)
        previous = self._endpoints.get(endpoint)
        if previous is not None and previous.version is version:
            plain = self._unprotect(buf, start, pn_offset, end, previous)
            if plain is not None:
                self._remember(key, previous)
                return previous, plain
        conn = _Connection(version, _InitialKeys(version, dcid))
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

    def _remember(self, key: _ConnKey, conn: _Connection) -> None:
        self._connections[key] = conn
        while len(self._connections) > self.MAX_CONNECTIONS:
            _, old = self._connections.popitem(last=False)
            self._drop(old)

    def _drop(self, conn: _Connection) -> None:
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
    def _unprotect(buf: bytes, start: int, pn_offset: int, end: int, conn: _Connection) -> bytes | None:
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
        pn = _decode_packet_number(truncated, pn_len, conn.largest_pn)
        header = bytes((first,)) + buf[start + 1 : pn_offset] + pn_bytes
        nonce = (keys.iv ^ pn).to_bytes(12, "big")
        try:
            plain = keys.aead.decrypt(nonce, buf[pn_offset + pn_len : end], header)
        except InvalidTag:
            return None
        if pn > conn.largest_pn:
            conn.largest_pn = pn
        return plain

    def _complete(self, conn: _Connection, ctx: PacketContext) -> QuicInitial | None:
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
        return QuicInitial(
            **ctx.header(),
            version=f"0x{conn.version.number:08x}",
            sni=hello.sni,
            alpn=hello.alpn,
            ja4=hello.ja4("q"),
        )

    def _give_up(self, conn: _Connection, anomaly: str | None) -> None:
        """The connection is finished (read or unreadable): free its buffers, keep its keys."""
        if anomaly:
            self.anomalies.add(anomaly)
        self._buffered -= conn.buffered
        conn.release()
        conn.done = True
