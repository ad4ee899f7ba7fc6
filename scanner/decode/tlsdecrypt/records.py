"""Record protection of one direction of a TLS connection, undone with known keys.

- TLS 1.3 (RFC 8446 s5.2-5.3): AEAD over the whole record; nonce = IV XOR the 64-bit sequence
  number; additional data = the record header; the plaintext ends with the real content type
  followed by zero padding.
- TLS 1.2 AEAD: GCM and CCM (RFC 5288 s3, RFC 6655 s3) carry 8 bytes of explicit nonce after
  the 4-byte implicit salt; ChaCha20-Poly1305 (RFC 7905 s2) XORs the sequence number into a
  12-byte IV.  Additional data = seq_num + type + version + plaintext length (RFC 5246 s6.2.3.3).
- TLS 1.0-1.2 CBC (RFC 5246 s6.2.3.2): MAC-then-encrypt, with the HMAC over seq_num + type +
  version + length + content and padding bytes all equal to the padding length; or
  encrypt-then-MAC (RFC 7366 s3) with the HMAC over the ciphertext.  TLS 1.1+ sends each
  record's IV first; TLS 1.0 chains the last ciphertext block (RFC 2246 s6.2.3.2).

``open`` returns (content type, plaintext), or None when the record does not authenticate
(the wrong key, or a damaged record): the caller counts it, never an exception.
"""

from __future__ import annotations

import hmac
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from scanner.decode.tlsdecrypt.kdf import hkdf_expand_label
from scanner.decode.tlsdecrypt.suites import CBC, CCM, CCM_8, CHACHA20, GCM, Suite

APPLICATION_DATA = 23
_SEQ = struct.Struct("!Q")
_AAD12 = struct.Struct("!QBHH")

AeadCipher = AESGCM | AESCCM | ChaCha20Poly1305


def make_aead(suite: Suite, key: bytes) -> AeadCipher:
    if suite.cipher == GCM:
        return AESGCM(key)
    if suite.cipher == CHACHA20:
        return ChaCha20Poly1305(key)
    if suite.cipher in (CCM, CCM_8):
        return AESCCM(key, tag_length=suite.tag_length)
    raise ValueError(f"{suite.name} is not an AEAD suite")


class RecordDecryptor:
    """One direction's keys and sequence number; ``open`` one record after another."""

    __slots__ = ("_aead", "_cbc_iv", "_enc_key", "_etm", "_iv", "_mac_key", "seq", "suite", "version")

    def __init__(self, suite: Suite, key: bytes, iv: bytes, mac_key: bytes = b"", version: int = 0x0303, etm: bool = False) -> None:
        self.suite = suite
        self.version = version
        self.seq = 0
        self._iv = iv
        self._mac_key = mac_key
        self._etm = etm
        self._enc_key = key
        self._aead = make_aead(suite, key) if suite.cipher != CBC else None
        self._cbc_iv = iv  # TLS 1.0's chained IV

    @classmethod
    def tls13(cls, suite: Suite, traffic_secret: bytes) -> RecordDecryptor:
        """Keys of a TLS 1.3 traffic secret (RFC 8446 s7.3)."""
        key = hkdf_expand_label(suite.prf, traffic_secret, b"key", b"", suite.key_length)
        iv = hkdf_expand_label(suite.prf, traffic_secret, b"iv", b"", suite.iv_length)
        return cls(suite, key, iv, version=0x0304)

    def open(self, content_type: int, header: bytes, fragment: bytes) -> tuple[int, bytes] | None:
        """Decrypt one record (``header``: its 5 bytes); the sequence number advances when it authenticates."""
        suite = self.suite
        if suite.tls13:
            result = self._open13(header, fragment)
        elif self._aead is not None:
            result = self._open12_aead(content_type, header, fragment)
        else:
            result = self._open12_cbc(content_type, header, fragment)
        if result is not None:
            self.seq += 1
        return result

    def _nonce(self) -> bytes:
        iv = self._iv
        seq = _SEQ.pack(self.seq)
        return iv[:-8] + bytes(a ^ b for a, b in zip(iv[-8:], seq, strict=True))

    def _open13(self, header: bytes, fragment: bytes) -> tuple[int, bytes] | None:
        assert self._aead is not None
        try:
            plain = self._aead.decrypt(self._nonce(), fragment, header)
        except (InvalidTag, ValueError):
            return None
        # The inner content type is the last non-zero byte (RFC 8446 s5.4).
        end = len(plain.rstrip(b"\0"))
        if not end:
            return None
        return plain[end - 1], plain[: end - 1]

    def _open12_aead(self, content_type: int, header: bytes, fragment: bytes) -> tuple[int, bytes] | None:
        aead = self._aead
        assert aead is not None
        suite = self.suite
        explicit = suite.explicit_nonce_length
        length = len(fragment) - explicit - suite.tag_length
        if length < 0:
            return None
        if explicit:
            nonce = self._iv + fragment[:explicit]
            fragment = fragment[explicit:]
        else:
            nonce = self._nonce()
        version = (header[1] << 8) | header[2]
        aad = _AAD12.pack(self.seq, content_type, version, length)
        try:
            return content_type, aead.decrypt(nonce, fragment, aad)
        except (InvalidTag, ValueError):
            return None

    def _open12_cbc(self, content_type: int, header: bytes, fragment: bytes) -> tuple[int, bytes] | None:
        suite = self.suite
        mac_length = suite.mac_length
        version = (header[1] << 8) | header[2]
        explicit_iv = self.version >= 0x0302
        if self._etm:
            if len(fragment) < mac_length + 16:
                return None
            body, tag = fragment[:-mac_length], fragment[-mac_length:]
            expected = hmac.digest(self._mac_key, _AAD12.pack(self.seq, content_type, version, len(body)) + body, suite.mac or "sha1")
            if not hmac.compare_digest(tag, expected):
                return None
        else:
            body = fragment
        if len(body) % 16 or len(body) < (32 if explicit_iv else 16):
            return None
        if explicit_iv:
            iv, ciphertext = body[:16], body[16:]
        else:
            iv, ciphertext = self._cbc_iv, body
        decryptor = Cipher(algorithms.AES(self._enc_key), modes.CBC(iv)).decryptor()
        plain = decryptor.update(ciphertext) + decryptor.finalize()
        pad = plain[-1]
        if pad + 1 > len(plain) or plain[-pad - 1 :] != bytes((pad,)) * (pad + 1):
            return None
        plain = plain[: -pad - 1]
        if not self._etm:
            if len(plain) < mac_length:
                return None
            plain, tag = plain[:-mac_length], plain[-mac_length:]
            expected = hmac.digest(
                self._mac_key, _AAD12.pack(self.seq, content_type, version, len(plain)) + plain, suite.mac or "sha1"
            )
            if not hmac.compare_digest(tag, expected):
                return None
        if not explicit_iv:
            self._cbc_iv = ciphertext[-16:]
        return content_type, plain
