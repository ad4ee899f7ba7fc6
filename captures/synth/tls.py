"""TLS 1.3 handshake bytes (RFC 8446) and QUIC v1 Initial packets (RFC 9000, RFC 9001).

The ClientHello is laid out byte by byte with struct, like a current browser's or Android's:
SNI, ALPN (h2, http/1.1), supported_versions (TLS 1.3, 1.2), an x25519 key_share, and a GREASE value
(RFC 8701) picked from the scene's random generator. Everything after the ClientHello and
ServerHello is encrypted in real traffic; here it is random bytes in application-data records of
plausible sizes.

QUIC Initial packets get real packet protection (AES-128-GCM and header protection with keys
derived from the client's Destination Connection ID), so Wireshark and privscan can decrypt them
and read the SNI, as they can on real traffic. Handshake and 1-RTT packets are opaque bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# record content types and handshake message types (RFC 8446 section 5.1, 4)
CHANGE_CIPHER_SPEC, HANDSHAKE, APPLICATION_DATA = 20, 22, 23
CLIENT_HELLO, SERVER_HELLO = 1, 2

# extension code points (IANA TLS ExtensionType registry)
EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SCT = 18
EXT_PADDING = 21
EXT_EXTENDED_MASTER_SECRET = 23
EXT_COMPRESS_CERTIFICATE = 27
EXT_SESSION_TICKET = 35
EXT_SUPPORTED_VERSIONS = 43
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_KEY_SHARE = 51
EXT_QUIC_TRANSPORT_PARAMETERS = 57
EXT_RENEGOTIATION_INFO = 0xFF01

GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1 = 0x001D, 0x0017, 0x0018
TLS13_SUITES = (0x1301, 0x1302, 0x1303)
TLS12_SUITES = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
SIGNATURE_SCHEMES = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)
GREASE_VALUES = tuple(0x0A0A + 0x1010 * i for i in range(16))


def u8_prefixed(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def u16_prefixed(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def u16_list(values: tuple[int, ...] | list[int]) -> bytes:
    return b"".join(struct.pack("!H", v) for v in values)


def extension(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!H", ext_type) + u16_prefixed(data)


def handshake_message(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def record(content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BH", content_type, version) + u16_prefixed(payload)


def client_hello(rng: random.Random, sni: str, alpn: tuple[str, ...] = ("h2", "http/1.1"),
                 quic_transport_parameters: bytes | None = None) -> bytes:
    """A ClientHello handshake message (type 1, 3-byte length, body)."""
    grease = rng.choice(GREASE_VALUES)
    host = sni.encode("ascii")
    server_name = u16_prefixed(b"\x00" + u16_prefixed(host))  # one entry: host_name(0)
    alpn_list = u16_prefixed(b"".join(u8_prefixed(p.encode("ascii")) for p in alpn))
    key_share = u16_prefixed(struct.pack("!H", GROUP_X25519) + u16_prefixed(rng.randbytes(32)))
    over_tcp = quic_transport_parameters is None
    versions = [grease, 0x0304, 0x0303] if over_tcp else [grease, 0x0304]
    exts = [
        extension(grease, b""),
        extension(EXT_SERVER_NAME, server_name),
        extension(EXT_EXTENDED_MASTER_SECRET, b""),
        extension(EXT_RENEGOTIATION_INFO, b"\x00"),
        extension(EXT_SUPPORTED_GROUPS, u16_prefixed(u16_list([grease, GROUP_X25519, GROUP_SECP256R1, GROUP_SECP384R1]))),
        extension(EXT_EC_POINT_FORMATS, u8_prefixed(b"\x00")),
        extension(EXT_SESSION_TICKET, b""),
        extension(EXT_ALPN, alpn_list),
        extension(EXT_STATUS_REQUEST, b"\x01\x00\x00\x00\x00"),
        extension(EXT_SIGNATURE_ALGORITHMS, u16_prefixed(u16_list(SIGNATURE_SCHEMES))),
        extension(EXT_SCT, b""),
        extension(EXT_KEY_SHARE, key_share),
        extension(EXT_PSK_KEY_EXCHANGE_MODES, u8_prefixed(b"\x01")),
        extension(EXT_SUPPORTED_VERSIONS, u8_prefixed(u16_list(versions))),
        extension(EXT_COMPRESS_CERTIFICATE, u8_prefixed(b"\x00\x02")),
    ]
    if quic_transport_parameters is not None:
        exts.append(extension(EXT_QUIC_TRANSPORT_PARAMETERS, quic_transport_parameters))
    suites = [grease, *TLS13_SUITES, *TLS12_SUITES] if over_tcp else list(TLS13_SUITES)
    session_id = rng.randbytes(32) if over_tcp else b""  # middlebox compatibility mode over TCP only
    head = b"\x03\x03" + rng.randbytes(32) + u8_prefixed(session_id) + u16_prefixed(u16_list(suites)) + b"\x01\x00"
    ext_bytes = b"".join(exts)
    if over_tcp:
        # RFC 7685 padding to a 512-byte ClientHello, as browsers do (some middleboxes choke on 256-511)
        size = 4 + len(head) + 2 + len(ext_bytes)
        if size < 512:
            ext_bytes += extension(EXT_PADDING, bytes(max(0, 512 - size - 4)))
    return handshake_message(CLIENT_HELLO, head + u16_prefixed(ext_bytes))


def server_hello(rng: random.Random, session_id: bytes) -> bytes:
    exts = extension(EXT_SUPPORTED_VERSIONS, b"\x03\x04") + extension(
        EXT_KEY_SHARE, struct.pack("!H", GROUP_X25519) + u16_prefixed(rng.randbytes(32)))
    body = b"\x03\x03" + rng.randbytes(32) + u8_prefixed(session_id) + struct.pack("!HB", 0x1301, 0) + u16_prefixed(exts)
    return handshake_message(SERVER_HELLO, body)


def session_id_of(client_hello_msg: bytes) -> bytes:
    """The legacy_session_id a ServerHello must echo."""
    n = client_hello_msg[4 + 34]
    return client_hello_msg[4 + 35:4 + 35 + n]


def encrypted_records(rng: random.Random, sizes: list[int]) -> bytes:
    """Application-data records of the given payload sizes (random bytes: ciphertext stand-ins)."""
    return b"".join(record(APPLICATION_DATA, rng.randbytes(n)) for n in sizes)


# ---------------------------------------------------------------------------------------------
# QUIC v1
# ---------------------------------------------------------------------------------------------
QUIC_V1 = 0x00000001
QUIC_V1_INITIAL_SALT = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")  # RFC 9001 section 5.2
INITIAL, HANDSHAKE_PACKET = 0, 2
FRAME_PADDING, FRAME_ACK, FRAME_CRYPTO = 0x00, 0x02, 0x06


def varint(v: int) -> bytes:
    """QUIC variable-length integer (RFC 9000 section 16)."""
    if v < 1 << 6:
        return bytes([v])
    if v < 1 << 14:
        return struct.pack("!H", 0x4000 | v)
    if v < 1 << 30:
        return struct.pack("!I", 0x80000000 | v)
    return struct.pack("!Q", 0xC000000000000000 | v)


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!H", length) + u8_prefixed(full) + b"\x00"
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def initial_keys(client_dcid: bytes, server: bool) -> tuple[bytes, bytes, bytes]:
    """(key, iv, hp) for Initial packets of one side (RFC 9001 section 5.2)."""
    initial_secret = _hkdf_extract(QUIC_V1_INITIAL_SALT, client_dcid)
    secret = _hkdf_expand_label(initial_secret, b"server in" if server else b"client in", 32)
    return (_hkdf_expand_label(secret, b"quic key", 16), _hkdf_expand_label(secret, b"quic iv", 12),
            _hkdf_expand_label(secret, b"quic hp", 16))


def transport_parameters(rng: random.Random, source_cid: bytes) -> bytes:
    def param(pid: int, value: bytes) -> bytes:
        return varint(pid) + varint(len(value)) + value

    return b"".join([
        param(0x01, varint(30000)),        # max_idle_timeout
        param(0x03, varint(1472)),         # max_udp_payload_size
        param(0x04, varint(15728640)),     # initial_max_data
        param(0x05, varint(6291456)),      # initial_max_stream_data_bidi_local
        param(0x06, varint(6291456)),      # initial_max_stream_data_bidi_remote
        param(0x07, varint(6291456)),      # initial_max_stream_data_uni
        param(0x08, varint(100)),          # initial_max_streams_bidi
        param(0x09, varint(103)),          # initial_max_streams_uni
        param(0x0F, source_cid),           # initial_source_connection_id
        param(0x1B + 31 * rng.randrange(1, 8), rng.randbytes(4)),  # a reserved (GREASE) parameter
    ])


def protected_initial(keys: tuple[bytes, bytes, bytes], dcid: bytes, scid: bytes, packet_number: int,
                      frames: bytes, pad_to: int = 0) -> bytes:
    """A protected Initial packet; padded with PADDING frames to `pad_to` bytes when asked."""
    key, iv, hp = keys
    pn_len = 2
    header = bytes([0xC0 | (INITIAL << 4) | (pn_len - 1)]) + struct.pack("!I", QUIC_V1)
    header += u8_prefixed(dcid) + u8_prefixed(scid) + varint(0)  # empty token
    if pad_to:
        overhead = len(header) + 2 + pn_len + 16
        frames += bytes(max(0, pad_to - overhead - len(frames)))
    header += struct.pack("!H", 0x4000 | (pn_len + len(frames) + 16))
    pn_offset = len(header)
    pn = packet_number.to_bytes(pn_len, "big")
    nonce = bytes(a ^ b for a, b in zip(iv, packet_number.to_bytes(12, "big"), strict=True))
    ciphertext = AESGCM(key).encrypt(nonce, frames, header + pn)
    packet = bytearray(header + pn + ciphertext)
    sample = bytes(packet[pn_offset + 4:pn_offset + 20])
    encryptor = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    packet[0] ^= mask[0] & 0x0F
    for i in range(pn_len):
        packet[pn_offset + i] ^= mask[1 + i]
    return bytes(packet)


def opaque_long_packet(rng: random.Random, packet_type: int, dcid: bytes, scid: bytes, size: int) -> bytes:
    """A long-header packet whose protected payload is random bytes (Handshake keys are secret)."""
    header = bytes([0xC0 | (packet_type << 4) | rng.randrange(4)]) + struct.pack("!I", QUIC_V1)
    header += u8_prefixed(dcid) + u8_prefixed(scid)
    body_len = max(24, size - len(header) - 2)
    return header + struct.pack("!H", 0x4000 | body_len) + rng.randbytes(body_len)


def short_packet(rng: random.Random, dcid: bytes, size: int) -> bytes:
    """A 1-RTT packet: fixed bit set, spin bit and key phase random, the rest ciphertext."""
    return bytes([0x40 | rng.randrange(0x20)]) + dcid + rng.randbytes(max(20, size - 1 - len(dcid)))


def crypto_frame(data: bytes, offset: int = 0) -> bytes:
    return bytes([FRAME_CRYPTO]) + varint(offset) + varint(len(data)) + data


def ack_frame(largest: int) -> bytes:
    return bytes([FRAME_ACK]) + varint(largest) + varint(0) + varint(0) + varint(0)
