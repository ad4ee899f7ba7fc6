"""QUIC packet protection: versions, Initial keys, 1-RTT and 0-RTT keys, header protection, key update.

Follows RFC 9001 (s5.2 Initial secrets, s5.1 and s5.3 packet protection,
s5.4 header protection with AES-ECB or ChaCha20, s6 key update) and RFC 9369
(QUIC v2: its own salt, HKDF labels and long-header type bits).  IETF drafts
22-34, Facebook mvfst (0xfaceb001, 0xfaceb002, 0xfaceb00e) and Google
T050/T051 use the salts that Wireshark's packet-quic.c uses for them.

The Initial keys come from the Destination Connection ID of the client's first
Initial, so anyone on the path can derive them; the 1-RTT and 0-RTT keys come
from the lab's key log (RFC 9001 s4.6 for 0-RTT), whose secrets name no cipher
suite: the first packet that authenticates settles it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from scanner.decode.protocols.quic_wire import decode_packet_number
from scanner.decode.tlsdecrypt.kdf import hkdf_expand_label
from scanner.decode.tlsdecrypt.suites import CHACHA20, SUITES, Suite

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


class InitialKeys:
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
        pn = decode_packet_number(truncated, pn_len, self.largest_pn)
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
