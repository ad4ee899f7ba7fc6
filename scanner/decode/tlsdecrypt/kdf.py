"""The key derivation functions of TLS, written from the RFCs on ``cryptography``'s primitives.

- ``tls12_prf``: the TLS 1.2 PRF, P_<hash>(secret, label + seed) (RFC 5246 s5), with SHA-256 or
  the suite's SHA-384;
- ``tls10_prf``: the TLS 1.0/1.1 PRF, P_MD5(S1, ...) XOR P_SHA1(S2, ...) (RFC 2246 s5, RFC 4346 s5);
- ``hkdf_extract``: HKDF-Extract (RFC 5869 s2.2), an HMAC;
- ``hkdf_expand_label``: HKDF-Expand-Label (RFC 8446 s7.1), the TLS 1.3 and QUIC (RFC 9001 s5.1)
  derivation of keys, IVs, header-protection keys and next-generation traffic secrets.

Tested against the IETF TLS 1.2 PRF vectors and RFC 8448's traces (tests/decode/tlsdecrypt).
"""

from __future__ import annotations

import hashlib
import hmac
import struct

# Hash names as hashlib and hmac take them, and their output lengths.
SHA256 = "sha256"
SHA384 = "sha384"
HASH_LENGTH = {"md5": 16, "sha1": 20, SHA256: 32, SHA384: 48}


def _p_hash(name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    """P_hash (RFC 5246 s5): HMAC(secret, A(i) + seed) for A(0) = seed, A(i) = HMAC(secret, A(i-1))."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = hmac.digest(secret, a, name)
        out += hmac.digest(secret, a + seed, name)
    return bytes(out[:length])


def tls12_prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """PRF(secret, label, seed) = P_<hash>(secret, label + seed), RFC 5246 s5."""
    return _p_hash(hash_name, secret, label + seed, length)


def tls10_prf(secret: bytes, label: bytes, seed: bytes, length: int) -> bytes:
    """The TLS 1.0 and 1.1 PRF: P_MD5 over the first half of the secret XOR P_SHA1 over the
    second (the halves share a byte when the length is odd), RFC 2246 s5."""
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha1 = _p_hash("sha1", secret[len(secret) - half :], label + seed, length)
    return bytes(a ^ b for a, b in zip(md5, sha1, strict=True))


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM), RFC 5869 s2.2 (an empty salt is zeros)."""
    return hmac.digest(salt or bytes(HASH_LENGTH[hash_name]), ikm, hash_name)


def hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand(PRK, info, L), RFC 5869 s2.3."""
    size = HASH_LENGTH[hash_name]
    if length > 255 * size:
        raise ValueError("HKDF-Expand output too long")
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes((counter,)), hash_name)
        out += block
        counter += 1
    return bytes(out[:length])


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label(Secret, Label, Context, Length), RFC 8446 s7.1: the info is a HkdfLabel,
    ``uint16 length, opaque label<7..255> = "tls13 " + Label, opaque context<0..255>``."""
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + bytes((len(context),)) + context
    return hkdf_expand(hash_name, secret, info, length)


def derive_secret(hash_name: str, secret: bytes, label: bytes, transcript: bytes) -> bytes:
    """Derive-Secret(Secret, Label, Messages), RFC 8446 s7.1: the transcript is hashed first."""
    digest = hashlib.new(hash_name, transcript).digest()
    return hkdf_expand_label(hash_name, secret, label, digest, HASH_LENGTH[hash_name])
