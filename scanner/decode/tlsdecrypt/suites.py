"""The cipher suites privscan can decrypt, as one table (IANA TLS Cipher Suites registry).

TLS 1.2 (RFC 5246) and 1.0/1.1: AES-GCM (RFC 5288, RFC 5289), AES-CCM and CCM_8 (RFC 6655,
RFC 7251), ChaCha20-Poly1305 (RFC 7905), and AES-CBC with HMAC-SHA1/SHA256/SHA384 (RFC 5246
app. A.5, RFC 5289), with encrypt-then-MAC when negotiated (RFC 7366).  TLS 1.3: the five suites
of RFC 8446 s9.1 / B.4.  A suite whose name ends in _SHA384 uses SHA-384 for the TLS 1.2 PRF
(RFC 5289 s3.2); every other TLS 1.2 suite here uses SHA-256.

Key exchange does not matter here: the key log gives the master or traffic secret.  Suites
outside this table (3DES, RC4, Camellia, ARIA, PSK-only) are counted as not decryptable.
"""

from __future__ import annotations

from dataclasses import dataclass

# Protocol versions by their wire value, as the events name them (``TlsClientHello.version``,
# what a request was ``decrypted`` from).
VERSION_NAMES = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2", 0x0302: "TLSv1.1", 0x0301: "TLSv1.0", 0x0300: "SSLv3"}

GCM = "gcm"
CCM = "ccm"
CCM_8 = "ccm8"
CHACHA20 = "chacha20"
CBC = "cbc"


@dataclass(frozen=True, slots=True)
class Suite:
    code: int
    name: str
    tls13: bool
    cipher: str  # GCM | CCM | CCM_8 | CHACHA20 | CBC
    key_length: int
    # TLS 1.2 AEAD: the implicit part of the nonce from the key block (4 bytes; 12 for
    # ChaCha20); CBC: the block size (TLS 1.0's key-block IV); TLS 1.3: the 12-byte IV.
    iv_length: int
    mac: str | None = None  # CBC suites' HMAC hash
    prf: str = "sha256"  # TLS 1.2 PRF hash, or TLS 1.3 HKDF hash

    @property
    def mac_length(self) -> int:
        return {None: 0, "sha1": 20, "sha256": 32, "sha384": 48}[self.mac]

    @property
    def tag_length(self) -> int:
        return 8 if self.cipher == CCM_8 else 16

    @property
    def explicit_nonce_length(self) -> int:
        """Bytes of nonce carried in each TLS 1.2 record (GCM and CCM), RFC 5288 s3."""
        return 8 if not self.tls13 and self.cipher in (GCM, CCM, CCM_8) else 0


def _table() -> dict[int, Suite]:
    rows: list[Suite] = []

    def tls12(code: int, name: str, cipher: str, key: int, mac: str | None = None) -> None:
        iv = 12 if cipher == CHACHA20 else (16 if cipher == CBC else 4)
        prf = "sha384" if name.endswith("SHA384") else "sha256"
        rows.append(Suite(code, name, False, cipher, key, iv, mac, prf))

    for kx, codes in (
        ("ECDHE_RSA", (0xC02F, 0xC030)),
        ("ECDHE_ECDSA", (0xC02B, 0xC02C)),
        ("RSA", (0x009C, 0x009D)),
        ("DHE_RSA", (0x009E, 0x009F)),
    ):
        tls12(codes[0], f"TLS_{kx}_WITH_AES_128_GCM_SHA256", GCM, 16)
        tls12(codes[1], f"TLS_{kx}_WITH_AES_256_GCM_SHA384", GCM, 32)
    tls12(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA20, 32)
    tls12(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA20, 32)
    tls12(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", CHACHA20, 32)
    for code, name, cipher, key in (
        (0xC09C, "TLS_RSA_WITH_AES_128_CCM", CCM, 16),
        (0xC09D, "TLS_RSA_WITH_AES_256_CCM", CCM, 32),
        (0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", CCM, 16),
        (0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", CCM, 32),
        (0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", CCM_8, 16),
        (0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", CCM_8, 32),
        (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", CCM, 16),
        (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", CCM, 32),
        (0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", CCM_8, 16),
        (0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", CCM_8, 32),
    ):
        tls12(code, name, cipher, key)
    for code, name, key, mac in (
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
        (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
        (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
        (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
        (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
        (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
        (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, "sha1"),
        (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, "sha1"),
        (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
        (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
        (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
        (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 32, "sha256"),
        (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
        (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
        (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, "sha256"),
        (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, "sha384"),
    ):
        tls12(code, name, CBC, key, mac)
    for code, name, cipher, key, hash_name in (
        (0x1301, "TLS_AES_128_GCM_SHA256", GCM, 16, "sha256"),
        (0x1302, "TLS_AES_256_GCM_SHA384", GCM, 32, "sha384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256", CHACHA20, 32, "sha256"),
        (0x1304, "TLS_AES_128_CCM_SHA256", CCM, 16, "sha256"),
        (0x1305, "TLS_AES_128_CCM_8_SHA256", CCM_8, 16, "sha256"),
    ):
        rows.append(Suite(code, name, True, cipher, key, 12, None, hash_name))
    return {row.code: row for row in rows}


SUITES: dict[int, Suite] = _table()
