"""The TLS PRFs and HKDF-Expand-Label against published vectors.

- TLS 1.2 PRF: the IETF TLS working group's vectors (mail-archive/web/tls/current/msg03416.html),
  SHA-256 and SHA-384; TLS 1.0/1.1 PRF: the "PRF Testvector" vector (48 bytes 0xab, 64 bytes 0xcd).
- HKDF-Expand-Label and Derive-Secret: RFC 8448 s3 (simple 1-RTT handshake, TLS_AES_128_GCM_SHA256).
"""

from __future__ import annotations

import pytest

from scanner.decode.tlsdecrypt.kdf import (
    derive_secret,
    hkdf_expand_label,
    hkdf_extract,
    tls10_prf,
    tls12_prf,
)

H = bytes.fromhex


def test_tls12_prf_sha256_ietf_vector() -> None:
    out = tls12_prf("sha256", H("9bbe436ba940f017b17652849a71db35"), b"test label", H("a0ba9f936cda311827a6f796ffd5198c"), 100)
    assert out == H(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
        "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
        "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
        "87347b66"
    )


def test_tls12_prf_sha384_ietf_vector() -> None:
    out = tls12_prf("sha384", H("b80b733d6ceefcdc71566ea48e5567df"), b"test label", H("cd665cf6a8447dd6ff8b27555edb7465"), 148)
    assert out == H(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd"
        "e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd"
        "8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425"
        "9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6"
        "91c8f3a26854308d5eaa3be85e0990703d73e56f"
    )


def test_tls10_prf_md5_sha1_vector() -> None:
    expected = H(
        "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754443bcf9a296519bc289abcbc1187e4eb"
        "d31e602353776c408aafb74cbc85eff69255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f"
        "1afbc655a8c9a013"
    )
    assert tls10_prf(b"\xab" * 48, b"PRF Testvector", b"\xcd" * 64, len(expected)) == expected


# RFC 8448 s3.
HANDSHAKE_SECRET = H("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
CH_SH_HASH = H("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
SERVER_HS_SECRET = H("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
CLIENT_HS_SECRET = H("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
CLIENT_APP_SECRET = H("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")


def test_rfc8448_key_schedule_from_the_early_secret() -> None:
    early = hkdf_extract("sha256", b"", bytes(32))
    assert early == H("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    derived = derive_secret("sha256", early, b"derived", b"")
    assert derived == H("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
    ecdhe = H("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
    assert hkdf_extract("sha256", derived, ecdhe) == HANDSHAKE_SECRET


@pytest.mark.parametrize(
    ("label", "secret"),
    [(b"c hs traffic", CLIENT_HS_SECRET), (b"s hs traffic", SERVER_HS_SECRET)],
)
def test_rfc8448_handshake_traffic_secrets(label: bytes, secret: bytes) -> None:
    assert hkdf_expand_label("sha256", HANDSHAKE_SECRET, label, CH_SH_HASH, 32) == secret


def test_rfc8448_traffic_keys_and_ivs() -> None:
    assert hkdf_expand_label("sha256", SERVER_HS_SECRET, b"key", b"", 16) == H("3fce516009c21727d0f2e4e86ee403bc")
    assert hkdf_expand_label("sha256", SERVER_HS_SECRET, b"iv", b"", 12) == H("5d313eb2671276ee13000b30")
    assert hkdf_expand_label("sha256", CLIENT_APP_SECRET, b"key", b"", 16) == H("17422dda596ed5d9acd890e3c63f5051")
    assert hkdf_expand_label("sha256", CLIENT_APP_SECRET, b"iv", b"", 12) == H("5b78923dee08579033e523d9")
    finished = hkdf_expand_label("sha256", SERVER_HS_SECRET, b"finished", b"", 32)
    assert finished == H("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")
