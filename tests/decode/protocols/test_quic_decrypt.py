"""QUIC 1-RTT / 0-RTT decryption with key-log secrets and HTTP/3 over it.

RFC 9001 A.5 and RFC 9369 A.5 known answers (ChaCha20 short header, v1 and v2); the project's
own real-stack capture (aioquic client with a key update, hypercorn server); key-phase
reordering, stream reassembly, damaged and unkeyed traffic.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from helpers.captures import udp_datagrams
from scanner.decode.keylog import KeyLog
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.quic import (
    TLS_AES_128_GCM_SHA256,
    TLS_AES_256_GCM_SHA384,
    TLS_CHACHA20_POLY1305_SHA256,
    QuicDecoder,
    StreamBuffer,
    TrafficKeys,
    next_traffic_secret,
    packet_protection_keys,
    read_frames,
    suites_for_secret,
)
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.decode.tlsdecrypt.kdf import hkdf_expand_label
from scanner.model import Event, HttpRequest

ROOT = Path(__file__).resolve().parents[3]
H3_CAPTURE = ROOT / "captures" / "quic" / "h3_keyupdate.pcapng"
H3_KEYS = ROOT / "captures" / "quic" / "h3_keyupdate.keys"

# --------------------------------------------------------------------------- RFC vectors

A5_SECRET = bytes.fromhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
A5_PN = 654360564

# (label prefix, key, iv, hp, ku, protected packet): RFC 9001 A.5 (v1) and RFC 9369 A.5 (v2).
A5_VECTORS = [
    (
        b"quic",
        "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
        "e0459b3474bdd0e44a41c144",
        "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
        "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
        "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
    ),
    (
        b"quicv2",
        "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
        "a6b5bc6ab7dafce30ffff5dd",
        "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
        "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
        "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
    ),
]


@pytest.mark.parametrize(("prefix", "key", "iv", "hp", "ku", "packet"), A5_VECTORS)
def test_chacha20_short_header_known_answer(prefix: bytes, key: str, iv: str, hp: str, ku: str, packet: str) -> None:
    assert [k.hex() for k in packet_protection_keys(TLS_CHACHA20_POLY1305_SHA256, A5_SECRET, prefix)] == [key, iv, hp]
    assert next_traffic_secret(TLS_CHACHA20_POLY1305_SHA256, A5_SECRET, prefix).hex() == ku
    keys = TrafficKeys(A5_SECRET, prefix)
    keys.largest_pn = A5_PN - 1  # the vector's packet number is recovered from its 4 low bytes
    data = bytes.fromhex(packet)
    # A 32-byte secret may be AES-128-GCM or ChaCha20: the packet that authenticates decides.
    assert keys.open(data, 0, 1, len(data), long_header=False) == b"\x01"
    assert keys.keys is not None and keys.keys.suite is TLS_CHACHA20_POLY1305_SHA256
    assert keys.largest_pn == A5_PN


def test_a5_packet_with_a_flipped_bit_does_not_authenticate() -> None:
    data = bytearray(bytes.fromhex(A5_VECTORS[0][5]))
    data[-1] ^= 1
    keys = TrafficKeys(A5_SECRET)
    keys.largest_pn = A5_PN - 1
    assert keys.open(bytes(data), 0, 1, len(data), long_header=False) is None


@pytest.mark.parametrize(("hash_name", "algorithm", "length"), [("sha256", hashes.SHA256(), 32), ("sha384", hashes.SHA384(), 48), ("sha256", hashes.SHA256(), 80)])
def test_hkdf_expand_label_matches_rfc5869_expand(hash_name: str, algorithm: hashes.HashAlgorithm, length: int) -> None:
    # HkdfLabel (RFC 8446 s7.1) built by hand, expanded by cryptography's RFC 5869 HKDF-Expand.
    secret = bytes(range(len(A5_SECRET) if hash_name == "sha256" else 48))
    label = b"tls13 quic ku"
    info = length.to_bytes(2, "big") + bytes((len(label),)) + label + b"\x00"
    expected = HKDFExpand(algorithm, length, info).derive(secret)
    assert hkdf_expand_label(hash_name, secret, b"quic ku", b"", length) == expected


def test_suites_follow_the_secret_length() -> None:
    assert suites_for_secret(bytes(48)) == (TLS_AES_256_GCM_SHA384,)
    assert suites_for_secret(bytes(32)) == (TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256)
    assert suites_for_secret(bytes(20)) == ()


# --------------------------------------------------------------------------- key phases


def _seal(keys_secret: bytes, pn: int, payload: bytes, phase: int, dcid: bytes = b"\x11" * 8) -> bytes:
    """A short-header packet protected with AES-128-GCM (RFC 9001 s5.3, s5.4.1): for reordering
    cases the real-stack capture cannot show; the decryptor is proven on real packets below."""
    key, iv, hp = packet_protection_keys(TLS_AES_128_GCM_SHA256, keys_secret)
    if phase:
        # The next phase's key and iv come from the next secret; hp stays the first one's.
        key, iv, _ = packet_protection_keys(TLS_AES_128_GCM_SHA256, next_traffic_secret(TLS_AES_128_GCM_SHA256, keys_secret))
    first = 0x40 | (phase << 2) | 0x03  # 4-byte packet number
    header = bytes((first,)) + dcid + pn.to_bytes(4, "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    sample = sealed[0:16]  # pn is 4 bytes: the sample starts right after it
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    protected_first = first ^ (mask[0] & 0x1F)
    protected_pn = bytes(a ^ b for a, b in zip(pn.to_bytes(4, "big"), mask[1:5], strict=True))
    return bytes((protected_first,)) + dcid + protected_pn + sealed


def test_key_update_and_a_late_packet_of_the_previous_phase() -> None:
    secret = bytes(range(32))
    keys = TrafficKeys(secret)
    payloads = [(0, 0, b"\x01" * 20), (1, 0, b"\x02" * 20), (3, 1, b"\x03" * 20), (2, 0, b"\x04" * 20), (4, 1, b"\x05" * 20)]
    out = []
    for pn, phase, payload in payloads:
        packet = _seal(secret, pn, payload, phase)
        out.append(keys.open(packet, 0, 9, len(packet), long_header=False))
    assert out == [p for _, _, p in payloads]  # packet 2 (old phase) arrived after packet 3 (new phase)
    assert keys.key_updates == 1 and keys.phase == 1


def test_a_phase_flip_that_does_not_authenticate_keeps_the_current_keys() -> None:
    secret = bytes(range(32))
    keys = TrafficKeys(secret)
    good = _seal(secret, 0, b"\x01" * 20, 0)
    assert keys.open(good, 0, 9, len(good), long_header=False) == b"\x01" * 20
    forged = bytearray(_seal(secret, 1, b"\x02" * 20, 1))
    forged[-1] ^= 0xFF
    assert keys.open(bytes(forged), 0, 9, len(forged), long_header=False) is None
    assert keys.phase == 0 and keys.key_updates == 0
    later = _seal(secret, 2, b"\x03" * 20, 0)
    assert keys.open(later, 0, 9, len(later), long_header=False) == b"\x03" * 20


# --------------------------------------------------------------------------- frames and streams


def test_stream_frames_with_and_without_offset_length_fin() -> None:
    plain = bytes.fromhex(
        "0e" "04" "05" "03" "616263"  # STREAM OFF|LEN: stream 4, offset 5, length 3, "abc"
        "01"  # PING
        "0b" "00" "78797a"  # STREAM LEN|FIN: stream 0, length 0x78 (120) runs past the end
    )
    _, frames, clean = read_frames(plain)
    assert frames[0] == (4, 5, b"abc", False)
    assert not clean
    plain = bytes.fromhex("0e0405036162630109" "00" "78797a")  # 0x09: FIN, no LEN: data to the end
    _, frames, clean = read_frames(plain)
    assert frames == [(4, 5, b"abc", False), (0, 0, b"xyz", True)]
    assert clean


def test_stream_buffer_reorders_overlaps_and_ends() -> None:
    buffer = StreamBuffer()
    assert buffer.add(6, b"world", True) == (b"", False)
    assert buffer.add(3, b"lo ", False) == (b"", False)
    assert buffer.add(0, b"hel", False) == (b"hello world", True)
    buffer = StreamBuffer()
    assert buffer.add(0, b"abcd", False) == (b"abcd", False)
    assert buffer.add(2, b"cdef", False) == (b"ef", False)  # a retransmission overlapping new bytes
    assert buffer.add(0, b"ab", False) == (b"", False)


def test_stream_buffer_is_bounded() -> None:
    buffer = StreamBuffer()
    chunk = bytes(64 * 1024)
    results = [buffer.add(1 + i * len(chunk), chunk, False) for i in range(5)]
    assert results[-1] is None  # 320 KiB waiting behind a one-byte gap


# --------------------------------------------------------------------------- the real-stack capture


def _decode(capture: Path, keylog: KeyLog | None) -> tuple[list[Event], QuicDecoder, Anomalies, DecryptionContext]:
    anomalies = Anomalies()
    decoder = QuicDecoder(anomalies)
    decryption = DecryptionContext(keylog, anomalies)
    events: list[Event] = []
    for ctx, payload in udp_datagrams(capture, {443}):
        if decoder.wants(payload):
            events.extend(decoder.decode(payload, replace(ctx, decryption=decryption)))
    decoder.finish()
    return events, decoder, anomalies, decryption


def _keylog(path: Path) -> KeyLog:
    keylog = KeyLog()
    keylog.add_file(str(path))
    return keylog


def test_http3_requests_from_aioquic_with_a_key_update() -> None:
    events, decoder, anomalies, decryption = _decode(H3_CAPTURE, _keylog(H3_KEYS))
    requests = [e for e in events if isinstance(e, HttpRequest)]
    assert [(r.frame, r.method, r.host, r.uri) for r in requests] == [
        (6, "GET", "tracker.adnetwork.example", "/v1/collect?adid=38400000-8cf0-11bd-b23e-10b96e40000d&ev=open"),
        (12, "GET", "api.kidsapp.example", "/api/profile"),
        (18, "POST", "tracker.adnetwork.example", "/v1/event"),
        (26, "POST", "api.kidsapp.example", "/api/register"),  # sent under key phase 1
    ]
    assert all(r.version == "HTTP/3" and r.decrypted == "QUICv1" for r in requests)
    profile = dict(requests[1].headers)
    assert profile["x-device-imei"] == "356938035643809"
    assert profile["cookie"] == "sid=abc; email=emma@example.org"
    assert requests[2].body == b'{"gaid":"38400000-8cf0-11bd-b23e-10b96e40000d","msisdn":"4917139200042"}'
    assert requests[3].body == b"imei=356938035643809&email=emma%40example.org"
    # Requests are oriented from the client, whichever direction completed them.
    assert {(r.flow.src, r.flow.dst, r.flow.dport) for r in requests} == {("127.0.12.1", "127.0.12.2", 443)}
    assert decryption.counters() == {"quic_connections_decrypted": 1} and decoder.key_updates == 1
    assert anomalies.counts == {}


def test_without_keys_nothing_is_decrypted_and_it_is_counted() -> None:
    events, _, anomalies, decryption = _decode(H3_CAPTURE, None)
    assert [e.type for e in events] == ["quic"]
    assert decryption.counters() == {"quic_connections_unreadable": 1} and anomalies.counts == {}
    other = KeyLog()
    other.add_text(b"CLIENT_TRAFFIC_SECRET_0 " + b"ab" * 32 + b" " + b"cd" * 32 + b"\n", "other.keys")
    events, _, _, decryption = _decode(H3_CAPTURE, other)
    assert [e.type for e in events] == ["quic"]
    assert decryption.counters() == {"quic_connections_unreadable": 1}


def test_wrong_keys_are_counted_warnings_not_errors(tmp_path: Path) -> None:
    lines = H3_KEYS.read_text().splitlines()
    wrong = []
    for line in lines:
        label, random, secret = line.split()
        wrong.append(f"{label} {random} {'00' * (len(secret) // 2)}")
    path = tmp_path / "wrong.keys"
    path.write_text("\n".join(wrong) + "\n")
    events, _, anomalies, _ = _decode(H3_CAPTURE, _keylog(path))
    assert not [e for e in events if isinstance(e, HttpRequest)]
    assert anomalies.counts["quic_packet_undecryptable"] > 10


def test_damaged_packets_are_counted_and_the_rest_is_read() -> None:
    anomalies = Anomalies()
    decoder = QuicDecoder(anomalies)
    decryption = DecryptionContext(_keylog(H3_KEYS), anomalies)
    requests = []
    for ctx, payload in udp_datagrams(H3_CAPTURE, {443}):
        if ctx.frame == 6:  # the first request: one byte of its ciphertext flipped
            payload = payload[:-3] + bytes((payload[-3] ^ 0x40,)) + payload[-2:]
        found = decoder.decode(payload, replace(ctx, decryption=decryption))
        requests.extend(e for e in found if isinstance(e, HttpRequest))
    assert [r.frame for r in requests] == [12, 18, 26]
    assert anomalies.counts == {"quic_packet_undecryptable": 1}


def test_mangled_datagrams_never_raise() -> None:
    """Every datagram of the real connection cut short, extended, or with bytes flipped: the
    decoder counts what it cannot read and never raises."""
    datagrams = list(udp_datagrams(H3_CAPTURE, {443}))
    rng = random.Random(12)
    for trial in range(30):
        anomalies = Anomalies()
        decoder = QuicDecoder(anomalies)
        decryption = DecryptionContext(_keylog(H3_KEYS), anomalies)
        for ctx, payload in datagrams:
            data = bytearray(payload)
            if ctx.frame > 1 and rng.random() < 0.5:  # keep the ClientHello whole: the session must open
                kind = trial % 3
                if kind == 0:
                    data = data[: rng.randrange(1, len(data))]
                elif kind == 1:
                    data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                else:
                    for _ in range(rng.randrange(1, 4)):
                        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            if decoder.wants(bytes(data)):
                decoder.decode(bytes(data), replace(ctx, decryption=decryption))
        decoder.finish()


ZERO_RTT_CAPTURE = ROOT / "captures" / "quic" / "h3_0rtt.pcapng"
ZERO_RTT_KEYS = ROOT / "captures" / "quic" / "h3_0rtt.keys"


def test_a_request_sent_as_0rtt_on_a_resumed_connection() -> None:
    events, _, anomalies, decryption = _decode(ZERO_RTT_CAPTURE, _keylog(ZERO_RTT_KEYS))
    requests = [e for e in events if isinstance(e, HttpRequest)]
    # Frame 11 is the resumed connection's first datagram: its Initial and, coalesced after it,
    # the 0-RTT packet carrying the whole request (before the server has said anything).
    assert [(r.frame, r.host, r.uri) for r in requests] == [
        (5, "api.kidsapp.example", "/api/hello"),
        (11, "tracker.adnetwork.example", "/v1/early?adid=38400000-8cf0-11bd-b23e-10b96e40000d"),
    ]
    assert dict(requests[1].headers)["x-device-imei"] == "356938035643809"
    assert decryption.counters() == {"quic_connections_decrypted": 2} and anomalies.counts == {}


def test_0rtt_without_the_early_secret_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "no-early.keys"
    lines = ZERO_RTT_KEYS.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("CLIENT_EARLY_TRAFFIC_SECRET")) + "\n")
    events, _, anomalies, _ = _decode(ZERO_RTT_CAPTURE, _keylog(path))
    assert [e.frame for e in events if isinstance(e, HttpRequest)] == [5]
    assert anomalies.counts == {"quic_0rtt_without_early_secret": 1}


SUITES_CAPTURE = ROOT / "captures" / "quic" / "h3_suites.pcapng"
SUITES_KEYS = ROOT / "captures" / "quic" / "h3_suites.keys"


def test_v2_chacha20_aes256_and_compatible_version_negotiation() -> None:
    events, _, anomalies, decryption = _decode(SUITES_CAPTURE, _keylog(SUITES_KEYS))
    initials = [e.version for e in events if e.type == "quic"]
    requests = [(e.uri.split("?")[0], e.decrypted) for e in events if isinstance(e, HttpRequest)]
    # The third client's Initial is v2, but the server chose v1 (RFC 9368): its 1-RTT keys use
    # v1's labels, and a decoder that kept v2's would read nothing.
    assert initials == ["0x6b3343cf", "0x00000001", "0x6b3343cf"]
    assert requests == [("/v2/chacha", "QUICv2"), ("/v1/aes256", "QUICv1"), ("/v2-to-v1", "QUICv1")]
    assert decryption.counters() == {"quic_connections_decrypted": 3} and anomalies.counts == {}


def test_connection_close_lets_the_connection_go() -> None:
    anomalies = Anomalies()
    decoder = QuicDecoder(anomalies)
    decryption = DecryptionContext(_keylog(H3_KEYS), anomalies)
    for ctx, payload in udp_datagrams(H3_CAPTURE, {443}):
        decoder.decode(payload, replace(ctx, decryption=decryption))
        if ctx.frame == 33:
            assert decoder._paths  # both directions' address pairs, while the connection lives
    # Frame 34 is the client's CONNECTION_CLOSE: nothing is kept for the connection after it.
    assert not decoder._paths and decoder._held == 0 and decoder.key_updates == 1


def test_bytes_held_by_decrypted_connections_are_bounded() -> None:
    from scanner.decode.protocols.quic import VERSIONS, _Session
    from scanner.model import FlowTuple

    anomalies = Anomalies()
    decoder = QuicDecoder(anomalies)
    sessions = []
    for port in (50001, 50002, 50003):
        flow = FlowTuple("udp", "10.0.0.2", port, "192.0.2.1", 443)
        session = _Session(flow, VERSIONS[b"\x00\x00\x00\x01"], 8, {"CLIENT_TRAFFIC_SECRET_0": bytes(32)}, anomalies)
        forward = (None, flow.src, flow.sport, flow.dst, flow.dport)
        backward = (None, flow.dst, flow.dport, flow.src, flow.sport)
        session.paths = (forward, backward)
        decoder._paths[forward] = decoder._paths[backward] = session
        session.held = 40
        decoder._held += 40
        sessions.append(session)
    decoder.MAX_HELD_BYTES = 50
    decoder._evict_held(sessions[2])  # the oldest go first; the one being read stays
    assert [s.paths is not None for s in sessions] == [False, False, True]
    assert decoder._held == 40 and anomalies.counts == {"quic_session_evicted": 2}


def test_a_connection_off_port_443_is_followed_by_its_connection_ids() -> None:
    """captures/quic/h3_port4433: the key-update exchange with the server on UDP 4433.  No port
    claims it: the packet decoder sniffs the client's Initial, and the QUIC decoder then
    ``follows`` the connection's other packets by the connection ids they carry."""
    from scanner.decode.packets import PacketDecoder
    from scanner.ingest import CaptureSource, open_capture

    anomalies = Anomalies()
    packets = PacketDecoder(anomalies, _keylog(ROOT / "captures" / "quic" / "h3_port4433.keys"))
    requests = []
    with open_capture(CaptureSource(str(ROOT / "captures" / "quic" / "h3_port4433.pcapng"))) as capture:
        for index, (ts, linktype, data, _) in enumerate(capture.frames, 1):
            requests += [e for e in packets.decode(ts, linktype, data, index) or () if isinstance(e, HttpRequest)]
    packets.sweep(0.0, everything=True)
    assert [(r.method, r.uri.split("?")[0], r.flow.dport) for r in requests] == [
        ("GET", "/v1/collect", 4433),
        ("GET", "/api/profile", 4433),
        ("POST", "/v1/event", 4433),
        ("POST", "/api/register", 4433),
    ]
    assert anomalies.counts == {}
    quic = next(d for d in packets.udp_sniffers if isinstance(d, QuicDecoder))
    assert not quic._followed and not quic._followed_lengths  # let go at CONNECTION_CLOSE


def _with_dsbs(tmp_path: Path, capture: Path, placed: list[tuple[int, bytes]]) -> Path:
    """``capture`` with Decryption Secrets Blocks holding the given key log text after packet
    ``frame`` (0: before the first), as a recorder that writes secrets when it learns them."""
    import struct

    data = capture.read_bytes()
    assert data[8:12] == b"\x4d\x3c\x2b\x1a"  # a little-endian section

    def dsb(text: bytes) -> bytes:
        body = struct.pack("<II", 0x544C534B, len(text)) + text + b"\0" * (-len(text) % 4)
        return struct.pack("<II", 0x0000000A, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out, packets, offset = [], 0, 0
    while offset < len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        out.append(data[offset : offset + length])
        offset += length
        if block_type == 1:
            out += [dsb(text) for at, text in placed if at == 0]
        if block_type == 6:
            packets += 1
            out += [dsb(text) for at, text in placed if at == packets]
    path = tmp_path / f"{capture.stem}.dsbs.pcapng"
    path.write_bytes(b"".join(out))
    return path


def _native(capture: Path) -> tuple[list[Event], dict[str, int], dict[str, int]]:
    from scanner.engines.native import NativeEngine
    from scanner.ingest import CaptureSource

    engine = NativeEngine(strict=True)
    events = list(engine.events([CaptureSource(str(capture))]))
    return events, engine.stats.counters, engine.stats.anomalies


def test_secrets_written_after_the_handshake_still_open_the_connection(tmp_path: Path) -> None:
    """In h3_0rtt, the first connection's secrets come in a DSB before it; the second
    connection's come in a DSB after its first datagrams (frame 13 of 16): those datagrams, the
    0-RTT request among them, waited and are read when the secrets arrive."""
    lines = [line for line in ZERO_RTT_KEYS.read_bytes().splitlines() if line]
    first, second = lines[:4], lines[4:]
    capture = _with_dsbs(tmp_path, ZERO_RTT_CAPTURE, [(0, b"\n".join(first) + b"\n"), (13, b"\n".join(second) + b"\n")])
    events, counters, anomalies = _native(capture)
    requests = [(e.frame, e.uri.split("?")[0]) for e in events if isinstance(e, HttpRequest)]
    assert requests == [(5, "/api/hello"), (11, "/v1/early")]  # the 0-RTT request keeps its own frame
    assert counters.get("quic_connections_decrypted") == 2 and "quic_connections_unreadable" not in counters
    assert anomalies == {}


def test_connections_whose_secrets_never_come_are_counted_not_read(tmp_path: Path) -> None:
    lines = [line for line in ZERO_RTT_KEYS.read_bytes().splitlines() if line]
    capture = _with_dsbs(tmp_path, ZERO_RTT_CAPTURE, [(0, b"\n".join(lines[:4]) + b"\n")])
    events, counters, _ = _native(capture)
    assert [e.frame for e in events if isinstance(e, HttpRequest)] == [5]
    assert counters["quic_connections_decrypted"] == 1 and counters["quic_connections_unreadable"] == 1
