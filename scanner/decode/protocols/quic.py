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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from scanner.decode.keylog import CLIENT_EARLY_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0
from scanner.decode.protocols.base import Anomalies, DatagramDecoder, PacketContext
from scanner.decode.protocols.http3 import Http3Connection
from scanner.decode.protocols.tls import CLIENT_HELLO, MAX_CLIENT_HELLO, TlsFormatError, parse_client_hello
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.decode.tlsdecrypt.kdf import hkdf_expand_label
from scanner.decode.tlsdecrypt.suites import CHACHA20, SUITES, Suite
from scanner.model import Event, FlowTuple, QuicInitial, Tunnel

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

    @property
    def zero_rtt_type(self) -> int:
        """The 0-RTT type bits: the type after Initial in both numberings (v1 1, v2 2)."""
        return (self.initial_type + 1) & 3


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
QUIC_V2 = 0x6B3343CF


def decrypted_label(version: int) -> str:
    """What an event decrypted from a QUIC connection of this version says it was decrypted from
    (HttpRequest.decrypted): both engines name it the same way."""
    return "QUICv2" if version == QUIC_V2 else "QUICv1"

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
    """HKDF-Expand-Label (RFC 8446 s7.1) with an empty context, for lengths up to one SHA-256 block.

    The Initial keys' own fast path (every new connection derives five of them); every other
    derivation uses the general ``tlsdecrypt.kdf.hkdf_expand_label``, tested on RFC 8448.
    """
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


# ----------------------------------------------------------------- 1-RTT and 0-RTT packet protection


# The TLS 1.3 suites as the TLS decryptor defines them (tlsdecrypt/suites.py): QUIC uses their
# AEAD (RFC 9001 s5.3) and their HKDF hash.  TLS_AES_128_CCM_SHA256 is allowed by RFC 9001 but no
# QUIC stack in use negotiates it, so it is not tried.
TLS_AES_128_GCM_SHA256 = SUITES[0x1301]
TLS_AES_256_GCM_SHA384 = SUITES[0x1302]
TLS_CHACHA20_POLY1305_SHA256 = SUITES[0x1303]


def suites_for_secret(secret: bytes) -> tuple[Suite, ...]:
    """The suites a traffic secret may belong to.

    A key log names no cipher suite, and the ServerHello that does is encrypted (Handshake
    packets).  The secret is as long as the suite's hash, which narrows it to one suite
    (SHA-384) or two (SHA-256); the first packet that authenticates settles which.
    """
    if len(secret) == 48:
        return (TLS_AES_256_GCM_SHA384,)
    if len(secret) == 32:
        return (TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256)
    return ()


def packet_protection_keys(suite: Suite, secret: bytes, prefix: bytes = b"quic") -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) from a traffic secret (RFC 9001 s5.1; RFC 9369 s3.3.2 labels for v2)."""
    return (
        hkdf_expand_label(suite.prf, secret, prefix + b" key", b"", suite.key_length),
        hkdf_expand_label(suite.prf, secret, prefix + b" iv", b"", suite.iv_length),
        hkdf_expand_label(suite.prf, secret, prefix + b" hp", b"", suite.key_length),
    )


def next_traffic_secret(suite: Suite, secret: bytes, prefix: bytes = b"quic") -> bytes:
    """RFC 9001 s6.1: the secret of the next key phase, HKDF-Expand-Label(secret, "quic ku", "", Hash.length)."""
    return hkdf_expand_label(suite.prf, secret, prefix + b" ku", b"", len(secret))


class HeaderProtection:
    """The header-protection mask of one direction (RFC 9001 s5.4.3 AES, s5.4.4 ChaCha20)."""

    __slots__ = ("_ecb", "_key")

    def __init__(self, suite: Suite, key: bytes) -> None:
        self._key = key
        self._ecb: Any = None if suite.cipher == CHACHA20 else Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def mask(self, sample: bytes) -> bytes:
        if self._ecb is not None:
            return bytes(self._ecb.update(sample)[:5])
        # ChaCha20 with counter = sample[0:4] (little-endian) and nonce = sample[4:16]: exactly the
        # 16-byte "nonce" that cryptography's ChaCha20 takes (counter first, little-endian).
        return bytes(Cipher(algorithms.ChaCha20(self._key, sample), mode=None).encryptor().update(bytes(5)))


class PacketKeys:
    """The AEAD and IV of one key phase of one direction."""

    __slots__ = ("aead", "iv")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.aead: Any = ChaCha20Poly1305(key) if suite.cipher == CHACHA20 else AESGCM(key)
        self.iv = int.from_bytes(iv, "big")

    def open(self, pn: int, header: bytes, ciphertext: bytes) -> bytes | None:
        """RFC 9001 s5.3: the nonce is the IV XOR the packet number; the header is the associated data."""
        try:
            return bytes(self.aead.decrypt((self.iv ^ pn).to_bytes(12, "big"), ciphertext, header))
        except InvalidTag:
            return None


class _SuiteKeys:
    """A direction's keys under one suite: header protection, and the current / previous / next key phase."""

    __slots__ = ("current", "hp", "next", "previous", "secret", "suite")

    def __init__(self, suite: Suite, secret: bytes, prefix: bytes) -> None:
        key, iv, hp = packet_protection_keys(suite, secret, prefix)
        self.suite = suite
        self.secret = secret
        self.hp = HeaderProtection(suite, hp)
        self.current = PacketKeys(suite, key, iv)
        self.previous: PacketKeys | None = None
        self.next: tuple[bytes, PacketKeys] | None = None

    def next_phase(self, prefix: bytes) -> tuple[bytes, PacketKeys]:
        """The keys of the next key phase; the header-protection key does not change (RFC 9001 s6)."""
        if self.next is None:
            secret = next_traffic_secret(self.suite, self.secret, prefix)
            key, iv, _ = packet_protection_keys(self.suite, secret, prefix)
            self.next = (secret, PacketKeys(self.suite, key, iv))
        return self.next


class TrafficKeys:
    """One direction's 1-RTT (or 0-RTT) packet protection from a key log secret, with key updates.

    ``open`` removes header protection, recovers the packet number (RFC 9000 appendix A.3) and
    decrypts.  Key phase changes (RFC 9001 s6): a packet whose Key Phase bit differs from the
    current phase is either a late packet of the previous phase (its number is below the first
    packet of the current phase) or the first of the next phase, whose keys are derived with
    "quic ku" and kept only if the packet authenticates.
    """

    __slots__ = ("candidates", "key_updates", "keys", "largest_pn", "phase", "phase_start", "prefix")

    def __init__(self, secret: bytes, prefix: bytes = b"quic") -> None:
        self.prefix = prefix
        self.candidates = [_SuiteKeys(suite, secret, prefix) for suite in suites_for_secret(secret)]
        self.keys: _SuiteKeys | None = self.candidates[0] if len(self.candidates) == 1 else None
        self.largest_pn = -1
        self.phase = 0
        self.phase_start = 0
        self.key_updates = 0

    def open(self, buf: bytes, start: int, pn_offset: int, end: int, long_header: bool) -> bytes | None:
        """The payload of the packet at ``buf[start:end]`` whose packet number starts at ``pn_offset``;
        None when it does not authenticate (wrong key, damaged, or not this direction's)."""
        if self.keys is not None:
            return self._open(self.keys, buf, start, pn_offset, end, long_header)
        for candidate in self.candidates:
            plain = self._open(candidate, buf, start, pn_offset, end, long_header)
            if plain is not None:
                self.keys = candidate
                self.candidates = [candidate]
                return plain
        return None

    def _open(
        self, keys: _SuiteKeys, buf: bytes, start: int, pn_offset: int, end: int, long_header: bool
    ) -> bytes | None:
        sample_at = pn_offset + 4
        if sample_at + 16 > end:
            return None
        mask = keys.hp.mask(buf[sample_at : sample_at + 16])
        # Long headers protect the low four bits of the first byte, short headers five (key phase).
        first = buf[start] ^ (mask[0] & (0x0F if long_header else 0x1F))
        pn_len = (first & 0x03) + 1
        truncated = int.from_bytes(buf[pn_offset : pn_offset + pn_len], "big") ^ int.from_bytes(
            mask[1 : 1 + pn_len], "big"
        )
        pn = _decode_packet_number(truncated, pn_len, self.largest_pn)
        header = bytes((first,)) + buf[start + 1 : pn_offset] + truncated.to_bytes(pn_len, "big")
        ciphertext = buf[pn_offset + pn_len : end]
        phase = 0 if long_header else (first >> 2) & 1
        if long_header or phase == self.phase:
            plain = keys.current.open(pn, header, ciphertext)
        elif keys.previous is not None and pn < self.phase_start:
            plain = keys.previous.open(pn, header, ciphertext)
        else:
            secret, following = keys.next_phase(self.prefix)
            plain = following.open(pn, header, ciphertext)
            if plain is not None:
                keys.previous, keys.current, keys.secret, keys.next = keys.current, following, secret, None
                self.phase ^= 1
                self.phase_start = pn
                self.key_updates += 1
        if plain is not None and pn > self.largest_pn:
            self.largest_pn = pn
        return plain


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


StreamFrame = tuple[int, int, bytes, bool]  # (stream id, offset, data, FIN)


def crypto_frames(plain: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The (offset, data) of every CRYPTO frame in a decrypted packet payload.

    Returns the frames read and whether the whole payload was understood.  A
    frame we cannot step over ends the walk: what came before it stands.
    """
    crypto, _, clean = read_frames(plain, False)
    return crypto, clean


# Set on the list of STREAM frames read_frames returns when the packet closed the connection.
class StreamFrames(list[StreamFrame]):
    closed = False


def read_frames(plain: bytes, streams: bool = True) -> tuple[list[tuple[int, bytes]], StreamFrames, bool]:
    """The CRYPTO frames and (with ``streams``) the STREAM frames of a decrypted payload (RFC 9000 s19),
    and whether the whole payload was understood; ``closed`` on the STREAM frames' list says the
    packet carried a CONNECTION_CLOSE."""
    frames: list[tuple[int, bytes]] = []
    stream_frames = StreamFrames()
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
                stream_frames.closed = True
                return frames, stream_frames, True  # nothing after a close matters
            elif ftype == FRAME_NEW_TOKEN:
                length, i = _varint(plain, i)
                i += length
            elif 0x08 <= ftype <= 0x0F:  # STREAM, with OFF (0x04), LEN (0x02) and FIN (0x01) bits
                stream_id, i = _varint(plain, i)
                offset = 0
                if ftype & 0x04:
                    offset, i = _varint(plain, i)
                if ftype & 0x02:
                    length, i = _varint(plain, i)
                    if i + length > n:
                        raise QuicFormatError("STREAM frame runs past the end")
                else:
                    length = n - i  # no Length: the data runs to the end of the packet
                if streams:
                    stream_frames.append((stream_id, offset, plain[i : i + length], bool(ftype & 0x01)))
                i += length
            elif ftype == FRAME_NEW_CONNECTION_ID:
                _, i = _varint(plain, i)
                _, i = _varint(plain, i)
                i += 1 + plain[i] + 16  # length, connection id, stateless reset token
            elif ftype in (FRAME_PATH_CHALLENGE, FRAME_PATH_RESPONSE):
                i += 8
            elif ftype == FRAME_DATAGRAM:
                return frames, stream_frames, True
            elif ftype == FRAME_DATAGRAM_LEN:
                length, i = _varint(plain, i)
                i += length
            else:
                return frames, stream_frames, False
    except (IndexError, QuicFormatError):
        return frames, stream_frames, False
    return frames, stream_frames, i == n


# ----------------------------------------------------------------- per-connection state


class _Connection:
    """One client connection's Initial keys and the part of its ClientHello seen so far."""

    __slots__ = ("client_cid", "done", "keys", "largest_pn", "pending", "pending_bytes", "prefix", "version")

    def __init__(self, version: QuicVersion, keys: _InitialKeys) -> None:
        self.version = version
        self.keys = keys
        self.largest_pn = -1
        self.prefix = bytearray()  # CRYPTO stream bytes 0..len(prefix), contiguous
        self.pending: dict[int, bytes] = {}  # fragments beyond the prefix, by offset
        self.pending_bytes = 0
        self.done = False
        self.client_cid = b""  # the client's own connection id (SCID): what the server's packets carry

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


class StreamBuffer:
    """One QUIC stream's bytes put back in order (RFC 9000 s2.2): frames may come out of order,
    repeat or overlap (retransmissions); bytes beyond a gap wait, bounded."""

    __slots__ = ("fin_offset", "next_offset", "pending", "pending_bytes")

    MAX_PENDING_BYTES = 256 * 1024

    def __init__(self) -> None:
        self.next_offset = 0
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.fin_offset: int | None = None

    def add(self, offset: int, data: bytes, fin: bool) -> tuple[bytes, bool] | None:
        """The bytes that became contiguous and whether the stream is now whole; None when the
        gap before them holds more than MAX_PENDING_BYTES (the stream cannot be read)."""
        if fin:
            self.fin_offset = offset + len(data)
        end = offset + len(data)
        if end > self.next_offset:
            if offset > self.next_offset:
                old = self.pending.get(offset)
                if old is None or len(old) < len(data):
                    self.pending[offset] = data
                    self.pending_bytes += len(data) - (len(old) if old is not None else 0)
                    if self.pending_bytes > self.MAX_PENDING_BYTES:
                        return None
                return b"", False
            parts = [data[self.next_offset - offset :]]
            self.next_offset = end
            while self.pending:
                ready = [off for off in self.pending if off <= self.next_offset]
                if not ready:
                    break
                for off in sorted(ready):
                    piece = self.pending.pop(off)
                    self.pending_bytes -= len(piece)
                    if off + len(piece) > self.next_offset:
                        parts.append(piece[self.next_offset - off :])
                        self.next_offset = off + len(piece)
            new = b"".join(parts)
        else:
            new = b""
        return new, self.fin_offset is not None and self.next_offset >= self.fin_offset


class _Session:
    """A connection being decrypted with the key log's secrets: its keys, streams and HTTP/3 layer."""

    __slots__ = (
        "cids",
        "client_cid_len",
        "early",
        "failed",
        "finished",
        "flow",
        "held",
        "http3",
        "one_rtt_seen",
        "paths",
        "secrets",
        "server_cid_len",
        "streams",
        "to_client",
        "to_server",
        "version",
    )

    def __init__(
        self,
        flow: FlowTuple,
        version: QuicVersion,
        client_cid_len: int,
        secrets: Mapping[str, bytes],
        anomalies: Anomalies,
    ) -> None:
        self.flow = flow  # oriented from the client
        self.client_cid_len = client_cid_len
        self.server_cid_len: int | None = None  # learned from the server's long-header packets
        self.secrets = secrets
        self.http3 = Http3Connection(anomalies)
        self.version = version
        self._keys_for(version)
        # 0-RTT is protected under the client's first version whatever the server chooses (RFC 9368 s4).
        early_secret = secrets.get(CLIENT_EARLY_TRAFFIC_SECRET)
        self.early = TrafficKeys(early_secret, version.label_prefix) if early_secret else None
        self.streams: OrderedDict[int, StreamBuffer] = OrderedDict()
        # Streams read to their end: a late retransmission of one must not start it again.
        self.finished: OrderedDict[int, None] = OrderedDict()
        self.paths: tuple[_Path, _Path] | None = None
        self.failed = False  # a packet failed to decrypt (wrong key, damaged)
        self.one_rtt_seen = False
        self.held = 0  # bytes held (stream gaps, request bodies) when last measured
        self.cids: list[bytes] = []  # connection ids it is followed by (off port 443)

    def buffered(self) -> int:
        return sum(b.pending_bytes for b in self.streams.values()) + self.http3.buffered()

    def _keys_for(self, version: QuicVersion) -> None:
        prefix = version.label_prefix
        self.to_server = TrafficKeys(self.secrets[CLIENT_TRAFFIC_SECRET_0], prefix)
        server_secret = self.secrets.get(SERVER_TRAFFIC_SECRET_0)
        self.to_client: TrafficKeys | None = TrafficKeys(server_secret, prefix) if server_secret else None
        # What the report says the requests were decrypted from.
        self.http3.decrypted_from = decrypted_label(version.number)

    def server_chose(self, version: QuicVersion) -> None:
        """The server's long-header packets carry another version than the client's first Initial:
        compatible version negotiation (RFC 9368) switched the connection, and the 1-RTT keys
        use the chosen version's labels (v1 "quic", v2 "quicv2")."""
        if version is not self.version and not self.one_rtt_seen:
            self.version = version
            self._keys_for(version)


_ConnKey = tuple[Tunnel | None, str, int, bytes]
_Path = tuple[Tunnel | None, str, int, str, int]


def _usable(secrets: Mapping[str, bytes]) -> bool:
    secret = secrets.get(CLIENT_TRAFFIC_SECRET_0)
    return bool(secret) and bool(suites_for_secret(secret or b""))


class _Waiting:
    """A connection whose secrets are not in the key log yet, in a capture with DSBs: its datagrams
    (both directions) are held, up to MAX_BYTES, until a later DSB brings the secrets."""

    __slots__ = ("client_cid", "client_random", "datagrams", "decryption", "flow", "size", "tunnel", "version")

    MAX_BYTES = 256 * 1024

    def __init__(self, client_random: bytes, version: QuicVersion, client_cid: bytes, flow: FlowTuple) -> None:
        self.client_random = client_random
        self.version = version
        self.client_cid = client_cid
        self.flow = flow
        self.datagrams: list[tuple[bytes, PacketContext]] = []
        self.size = 0
        self.tunnel: Tunnel | None = None
        self.decryption: DecryptionContext | None = None

    def paths(self, tunnel: Tunnel | None) -> tuple[_Path, _Path]:
        self.tunnel = tunnel
        flow = self.flow
        return (tunnel, flow.src, flow.sport, flow.dst, flow.dport), (tunnel, flow.dst, flow.dport, flow.src, flow.sport)
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
        self._connections: OrderedDict[_ConnKey, _Connection] = OrderedDict()
        # The connection each client endpoint opened last: a client that already got the
        # server's Initial sends to a new DCID but keeps the keys of the first one.
        self._endpoints: OrderedDict[_Endpoint, _Connection] = OrderedDict()
        # Endpoints seen answering client Initials: their own Initials are skipped unread.
        self._servers: OrderedDict[tuple[Tunnel | None, str, int], None] = OrderedDict()
        self._buffered = 0
        # Both directions' 5-tuples of every connection being decrypted, least recently used first.
        self._paths: OrderedDict[_Path, _Session] = OrderedDict()
        self.key_updates = 0  # key phase changes of the client's packets, in connections let go
        self._held = 0  # what the decrypted connections hold, in bytes
        # Connections decrypted off port 443, by the connection ids their packets carry, and the
        # lengths of those ids (a short header does not say how long its connection id is).
        self._followed: dict[bytes, _Session] = {}
        self._followed_lengths: dict[int, int] = {}
        # Connections whose secrets may still come (the capture has DSBs), by both address pairs.
        self._waiting: OrderedDict[_Path, _Waiting] = OrderedDict()

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

    def follows(self, payload: bytes) -> bool:
        """A packet of a connection decrypted off port 443, by the connection id it carries: the
        packet decoder sends only sniffed client Initials here otherwise."""
        if not self._followed or len(payload) < 2:
            return False
        if payload[0] & 0x80:
            dcid_len = payload[5] if len(payload) > 5 else 0
            return bytes(payload[6 : 6 + dcid_len]) in self._followed
        return any(bytes(payload[1 : 1 + length]) in self._followed for length in self._followed_lengths)

    def _follow(self, session: _Session, cid: bytes) -> None:
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
            token_len, i = _varint(buf, i)
            i += token_len
        length, pn_offset = _varint(buf, i)
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
        self._start_session(conn, body[2:34], ctx)  # legacy_version (2 bytes), then the random
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

    # ------------------------------------------------------------- 1-RTT with the lab's keys

    def _start_session(self, conn: _Connection, client_random: bytes, ctx: PacketContext) -> None:
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
                waiting = _Waiting(client_random, conn.version, conn.client_cid, flow)
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
    ) -> _Session:
        flow = ctx.flow
        session = _Session(flow, version, len(client_cid), secrets, self.anomalies)
        forward: _Path = (ctx.tunnel, flow.src, flow.sport, flow.dst, flow.dport)
        backward: _Path = (ctx.tunnel, flow.dst, flow.dport, flow.src, flow.sport)
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

    def _wait(self, payload: bytes, ctx: PacketContext, waiting: _Waiting) -> Sequence[Event]:
        """A datagram of a connection whose secrets may still come in a DSB: hold it, or, once the
        secrets are there, open the session and read everything held, in order."""
        decryption = ctx.decryption
        if decryption is None:
            return ()
        secrets = decryption.secrets(waiting.client_random)
        if not _usable(secrets):
            if waiting.size + len(payload) > _Waiting.MAX_BYTES:
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

    def _stop_waiting(self, waiting: _Waiting, decryption: DecryptionContext | None) -> None:
        """The secrets never came: the connection is counted as not read."""
        for path in waiting.paths(waiting.tunnel):
            if self._waiting.get(path) is waiting:
                del self._waiting[path]
        waiting.datagrams = []
        if decryption is not None:
            decryption.unreadable("quic")

    def _forget(self, session: _Session) -> None:
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

    def _session_datagram(self, payload: bytes, ctx: PacketContext, session: _Session) -> Sequence[Event]:
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
            if _NOT_PADDING.search(payload, offset) is None:
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
        self, session: _Session, buf: bytes, start: int, pn_offset: int, end: int, ctx: PacketContext, events: list[Event]
    ) -> None:
        if session.early is None:
            # The key log has the connection's traffic secrets but not its early one.
            self.anomalies.add("quic_0rtt_without_early_secret")
            return
        self._protected(session, session.early, buf, start, pn_offset, end, True, ctx, True, events)

    def _protected(
        self,
        session: _Session,
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

    def _evict_held(self, current: _Session) -> None:
        """Let go of the connections idle longest until the bytes held fit again."""
        for path in list(self._paths):
            if self._held <= self.MAX_HELD_BYTES:
                return
            session = self._paths.get(path)
            if session is None or session is current:
                continue
            self.anomalies.add("quic_session_evicted")
            self._forget(session)

    def _finish_stream(self, session: _Session, stream_id: int) -> None:
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
        token_len, i = _varint(buf, i)
        i += token_len
    length, pn_offset = _varint(buf, i)
    end = pn_offset + length
    if end > len(buf):
        raise QuicFormatError("packet runs past the datagram")
    return version, ptype, scid, pn_offset, end
