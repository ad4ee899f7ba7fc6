"""QUIC Initial decoder: RFC 9001 / RFC 9369 known answers, CRYPTO reassembly, bounds,
robustness, and the public captures compared with tshark."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from helpers.captures import udp_datagrams
from helpers.events import events_of_type
from helpers.tshark import tshark_fields
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.quic import QuicDecoder
from scanner.decode.protocols.quic_protection import VERSIONS, QuicVersion, client_initial_keys
from scanner.decode.protocols.quic_wire import crypto_frames, decode_packet_number
from scanner.model import FlowTuple, QuicInitial

V1 = VERSIONS[bytes.fromhex("00000001")]
V2 = VERSIONS[bytes.fromhex("6b3343cf")]
RFC_DCID = bytes.fromhex("8394c8f03e515708")  # RFC 9001 A / RFC 9369 A: the client's first DCID

CLIENT = FlowTuple("udp", "192.0.2.10", 50000, "198.51.100.1", 443)

# --------------------------------------------------------------------------- RFC test vectors

# RFC 9001 Appendix A.1 and RFC 9369 Appendix A.1: client Initial key, iv, hp for DCID 8394c8f03e515708.
KEY_VECTORS = [
    (V1, "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"),
    (V2, "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f", "45b95e15235d6f45a6b19cbcb0294ba9"),
]

# RFC 9001 A.2: the CRYPTO frame of the client Initial (ClientHello for example.com, ALPN "alpn").
RFC_CRYPTO_FRAME = bytes.fromhex(
    "06"  # frame type CRYPTO
    "00"  # offset 0
    "40f1"  # length 241 (two-byte varint)
    "010000ed"  # handshake type ClientHello, length 237
    "0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c"  # legacy version, random
    "00"  # session id length 0
    "0004130113020100"  # cipher suites (2), compression methods (1: null)
    "00c0"  # extensions length 192
    "00000010"  # extension server_name, length 16
    "000e00000b6578616d706c652e636f6d"  # list length 14, host_name (0), length 11, "example.com"
    "ff01000100"  # renegotiation_info
    "000a00080006001d00170018"  # supported_groups
    "00100007"  # extension ALPN, length 7
    "000504616c706e"  # list length 5, length 4, "alpn"
    "000500050100000000"  # status_request
    "003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748"  # key_share x25519
    "002b0003020304"  # supported_versions: TLS 1.3
    "000d0010000e0403050306030203080408050806"  # signature_algorithms
    "002d00020101"  # psk_key_exchange_modes
    "001c00024001"  # record_size_limit
    "003900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff"
    # ^ quic_transport_parameters
)
CLIENT_HELLO = RFC_CRYPTO_FRAME[4:]  # the handshake message the CRYPTO stream carries

# RFC 9001 A.2: the protected client Initial, 1200 bytes.  Header, field by field:
#   c0                 long header, fixed bit, type Initial (00), protected low bits
#   00000001           version 1
#   08 8394c8f03e515708  DCID length 8, DCID
#   00                 SCID length 0
#   00                 token length 0
#   449e               Length 1182 (two-byte varint)
#   7b9aec34           packet number 2, protected (4 bytes)
RFC9001_CLIENT_INITIAL = bytes.fromhex(
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934"
)

# RFC 9369 A.2: the same ClientHello in a QUIC v2 Initial.  Header:
#   d7                 long header, fixed bit, type Initial (v2: 01), protected low bits
#   6b3343cf           version 2
#   08 8394c8f03e515708  DCID length 8, DCID
#   00 00 449e         SCID length 0, token length 0, Length 1182
#   a0c95e82           packet number 2, protected
RFC9369_CLIENT_INITIAL = bytes.fromhex(
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc"
)


def ctx(frame: int = 1, flow: FlowTuple = CLIENT) -> PacketContext:
    return PacketContext(ts=float(frame), capture="test", frame=frame, flow=flow)


def decoder() -> tuple[QuicDecoder, Anomalies]:
    anomalies = Anomalies()
    return QuicDecoder(anomalies), anomalies


# --------------------------------------------------------------------------- building Initials


def varint(value: int) -> bytes:
    """RFC 9000 s16, in the smallest encoding."""
    for size, prefix in ((1, 0x00), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if value < 1 << (8 * size - 2):
            encoded = value.to_bytes(size, "big")
            return bytes((encoded[0] | prefix,)) + encoded[1:]
    raise ValueError(value)


def crypto(offset: int, data: bytes) -> bytes:
    return b"\x06" + varint(offset) + varint(len(data)) + data


def initial(
    frames: bytes,
    *,
    version: QuicVersion = V1,
    dcid: bytes = RFC_DCID,
    key_dcid: bytes | None = None,
    scid: bytes = b"",
    pn: int = 0,
    pad_to: int = 0,
) -> bytes:
    """A protected client Initial carrying ``frames`` (RFC 9001 s5.3/5.4), 4-byte packet number."""
    key, iv, hp = client_initial_keys(version, key_dcid or dcid)
    payload = frames
    pn_len = 4
    first = 0xC0 | (version.initial_type << 4) | (pn_len - 1)
    head = bytes((first,)) + version.number.to_bytes(4, "big") + bytes((len(dcid),)) + dcid
    head += bytes((len(scid),)) + scid + varint(0)  # no token
    overhead = len(head) + 2 + pn_len + 16  # 2-byte Length varint, the tag
    if pad_to > overhead + len(payload):
        payload += bytes(pad_to - overhead - len(payload))
    length = pn_len + len(payload) + 16
    header = head + bytes(((length >> 8) | 0x40, length & 0xFF)) + pn.to_bytes(pn_len, "big")
    nonce = (int.from_bytes(iv, "big") ^ pn).to_bytes(12, "big")
    sealed = AESGCM(key).encrypt(nonce, payload, header)
    pn_offset = len(header) - pn_len
    sample = sealed[4 - pn_len : 20 - pn_len]
    mask = Cipher(algorithms.AES(hp), modes.ECB()).encryptor().update(sample)
    protected = bytearray(header)
    protected[0] ^= mask[0] & 0x0F
    for k in range(pn_len):
        protected[pn_offset + k] ^= mask[1 + k]
    return bytes(protected) + sealed


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(("version", "key", "iv", "hp"), KEY_VECTORS, ids=["v1", "v2"])
def test_initial_keys_match_the_rfc(version: QuicVersion, key: str, iv: str, hp: str) -> None:
    assert tuple(k.hex() for k in client_initial_keys(version, RFC_DCID)) == (key, iv, hp)


@pytest.mark.parametrize(
    ("packet", "version"),
    [(RFC9001_CLIENT_INITIAL, "0x00000001"), (RFC9369_CLIENT_INITIAL, "0x6b3343cf")],
    ids=["rfc9001-a2", "rfc9369-a2"],
)
def test_rfc_client_initial_is_decrypted(packet: bytes, version: str) -> None:
    dec, anomalies = decoder()
    (event,) = events_of_type(dec.decode(packet, ctx()), QuicInitial)
    assert isinstance(event, QuicInitial)
    assert event.version == version
    assert event.sni == "example.com"
    assert event.alpn == ("alpn",)
    assert event.ja4 is not None and event.ja4.startswith("q13d")  # QUIC, TLS 1.3, SNI present
    assert event.flow == CLIENT
    assert anomalies.counts == {}


def test_the_builder_reproduces_the_rfc_packet() -> None:
    """The test helper protects packets exactly as RFC 9001 A.2 does: its fixtures are trustworthy."""
    built = initial(RFC_CRYPTO_FRAME, pn=2, pad_to=1200)
    assert built == RFC9001_CLIENT_INITIAL


def test_packet_number_decoding_rfc9000_a3() -> None:
    # RFC 9000 A.3: largest 0xa82f30ea, 16-bit truncated 0x9b32 -> 0xa82f9b32.
    assert decode_packet_number(0x9B32, 2, 0xA82F30EA) == 0xA82F9B32
    assert decode_packet_number(2, 4, -1) == 2


# --------------------------------------------------------------------------- cheap rejections

SNIFF_CASES = [
    (RFC9001_CLIENT_INITIAL, True, "RFC 9001 client Initial"),
    (RFC9369_CLIENT_INITIAL, True, "RFC 9369 v2 client Initial"),
    (bytes([0x43]) + bytes(1299), False, "short header (1-RTT)"),
    (RFC9001_CLIENT_INITIAL[:1199], False, "shorter than the 1200 bytes a client Initial needs"),
    (b"\xc0\x1a\x2a\x3a\x4a" + RFC9001_CLIENT_INITIAL[5:], False, "GREASE version"),
    (b"\xc0\x00\x00\x00\x00" + RFC9001_CLIENT_INITIAL[5:], False, "version negotiation"),
    (b"\xe0" + RFC9001_CLIENT_INITIAL[1:], False, "v1 Handshake type"),
    (b"\xc7" + RFC9369_CLIENT_INITIAL[1:], False, "v2 with v1's Initial type bits (v2 Retry)"),
    (RFC9001_CLIENT_INITIAL[:5] + b"\x15" + RFC9001_CLIENT_INITIAL[6:], False, "DCID longer than 20"),
    (RFC9001_CLIENT_INITIAL[:16] + b"\x7f\xff" + RFC9001_CLIENT_INITIAL[18:], False, "Length beyond the datagram"),
    (b"", False, "empty"),
]


@pytest.mark.parametrize(("payload", "expected", "why"), SNIFF_CASES, ids=[c[2] for c in SNIFF_CASES])
def test_sniff(payload: bytes, expected: bool, why: str) -> None:
    assert QuicDecoder.sniff(payload) is expected, why


def test_short_header_and_server_packets_are_ignored_without_anomaly() -> None:
    dec, anomalies = decoder()
    assert not dec.decode(bytes([0x41]) + bytes(1250), ctx())
    assert not dec.decode(b"", ctx())
    # A client Initial seen in the server's direction (source port 443) is the server's: skipped unread.
    assert not dec.decode(RFC9001_CLIENT_INITIAL, ctx(flow=CLIENT.reversed()))
    assert anomalies.counts == {}


def test_wants_refuses_short_headers_before_a_context_is_built() -> None:
    dec, _ = decoder()
    assert dec.wants(RFC9001_CLIENT_INITIAL)
    assert not dec.wants(bytes([0x41]) + bytes(50))
    assert not dec.wants(b"")


def test_server_learned_on_another_port_is_skipped() -> None:
    flow = FlowTuple("udp", "192.0.2.10", 50000, "198.51.100.1", 4433)
    dec, anomalies = decoder()
    assert len(dec.decode(RFC9001_CLIENT_INITIAL, ctx(1, flow))) == 1
    server_initial = initial(crypto(0, b"\x02\x00\x00\x00"), dcid=b"\x01\x02\x03\x04", pad_to=1200)
    assert not dec.decode(server_initial, ctx(2, flow.reversed()))
    assert anomalies.counts == {}


# --------------------------------------------------------------------------- reassembly


def split(data: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    bounds = [0, *cuts, len(data)]
    return [(a, data[a:b]) for a, b in itertools.pairwise(bounds)]


def test_crypto_frames_out_of_order_across_packets() -> None:
    parts = split(CLIENT_HELLO, [30, 90, 150, 200])
    # Packet 1: the last fragment and a PING; packet 2: fragments 2 and 4 (with a duplicate
    # and an overlap); packet 3: fragment 1 and 3 completes it.
    p1 = initial(crypto(*parts[4]) + b"\x01", pn=0, pad_to=1200)
    p2 = initial(crypto(*parts[1]) + crypto(*parts[3]) + crypto(*parts[3]) + crypto(80, CLIENT_HELLO[80:160]), pn=1)
    p3 = initial(crypto(*parts[2]) + b"\x00" * 5 + crypto(*parts[0]), pn=2, pad_to=1200)
    dec, anomalies = decoder()
    assert not dec.decode(p1, ctx(1))
    assert not dec.decode(p2, ctx(2))
    (event,) = events_of_type(dec.decode(p3, ctx(3)), QuicInitial)
    assert event.frame == 3
    assert event.sni == "example.com"
    # Retransmissions after completion add nothing.
    assert not dec.decode(p3, ctx(4))
    assert anomalies.counts == {}


def test_coalesced_initials_in_one_datagram() -> None:
    parts = split(CLIENT_HELLO, [100])
    first = initial(crypto(*parts[1]), pn=0)
    second = initial(crypto(*parts[0]), pn=1)
    # A Handshake packet (type 0b10) and a short-header packet follow; both are stepped over.
    handshake = bytes([0xE0]) + bytes.fromhex("00000001") + b"\x08" + RFC_DCID + b"\x00" + varint(20) + bytes(20)
    short = bytes([0x40]) + bytes(40)
    datagram = first + second + handshake + short
    dec, anomalies = decoder()
    (event,) = events_of_type(dec.decode(datagram, ctx()), QuicInitial)
    assert event.sni == "example.com"
    assert anomalies.counts == {}


def test_client_switching_to_the_server_cid_keeps_the_original_keys() -> None:
    """RFC 9001 s5.2: Initial keys come from the first DCID, even after the client adopts the server's."""
    parts = split(CLIENT_HELLO, [120])
    p1 = initial(crypto(*parts[0]), pn=0, pad_to=1200)
    p2 = initial(crypto(*parts[1]), dcid=b"\xaa" * 8, key_dcid=RFC_DCID, pn=1, pad_to=1200)
    dec, anomalies = decoder()
    assert not dec.decode(p1, ctx(1))
    (event,) = events_of_type(dec.decode(p2, ctx(2)), QuicInitial)
    assert event.sni == "example.com"
    assert anomalies.counts == {}


def test_each_connection_is_reassembled_on_its_own() -> None:
    a_parts = split(CLIENT_HELLO, [50])
    other = FlowTuple("udp", "192.0.2.11", 50001, "198.51.100.1", 443)
    dec, _ = decoder()
    assert not dec.decode(initial(crypto(*a_parts[0]), pn=0), ctx(1))
    # Same DCID bytes from another client: its own state, not a continuation of the first.
    assert not dec.decode(initial(crypto(*a_parts[1]), pn=0), ctx(2, other))
    (event,) = events_of_type(dec.decode(initial(crypto(*a_parts[1]), pn=1), ctx(3)), QuicInitial)
    assert event.flow == CLIENT


FRAME_CASES = [
    (b"\x00\x00\x01" + crypto(0, b"ab"), [(0, b"ab")], True, "padding, ping, crypto"),
    (b"\x02\x05\x00\x01\x01\x02\x01" + crypto(3, b"x"), [(3, b"x")], True, "ACK with one extra range"),
    (b"\x03\x05\x00\x00\x01\x01\x02\x03" + crypto(0, b"y"), [(0, b"y")], True, "ACK_ECN"),
    (b"\x07\x02ab" + crypto(0, b"z"), [(0, b"z")], True, "NEW_TOKEN"),
    (b"\x0a\x04\x02hi" + crypto(0, b"w"), [(0, b"w")], True, "STREAM with length"),
    (b"\x18\x01\x00\x04abcd" + bytes(16) + crypto(0, b"v"), [(0, b"v")], True, "NEW_CONNECTION_ID"),
    (b"\x1a" + bytes(8) + b"\x1e", [], True, "PATH_CHALLENGE, HANDSHAKE_DONE"),
    (crypto(0, b"q") + b"\x1c\x00\x00\x00", [(0, b"q")], True, "CONNECTION_CLOSE ends the packet"),
    (crypto(0, b"q") + b"\x21" + crypto(1, b"r"), [(0, b"q")], False, "unknown frame: stop, keep what came before"),
    (b"\x06\x00\x10ab", [], False, "CRYPTO longer than the packet"),
    (b"\x06\x40", [], False, "truncated varint"),
    (b"\x40\x06\x00\x01a", [(0, b"a")], True, "frame type in a two-byte varint"),
]


@pytest.mark.parametrize(("plain", "frames", "clean", "why"), FRAME_CASES, ids=[c[3] for c in FRAME_CASES])
def test_crypto_frames(plain: bytes, frames: list[tuple[int, bytes]], clean: bool, why: str) -> None:
    assert crypto_frames(plain) == (frames, clean), why


def test_not_a_client_hello_is_an_anomaly() -> None:
    dec, anomalies = decoder()
    assert not dec.decode(initial(crypto(0, b"\x02\x00\x00\x04abcd"), pad_to=1200), ctx())
    assert anomalies.counts == {"quic_crypto_not_client_hello": 1}


def test_malformed_client_hello_is_an_anomaly() -> None:
    dec, anomalies = decoder()
    assert not dec.decode(initial(crypto(0, b"\x01\x00\x00\x04abcd"), pad_to=1200), ctx())
    assert anomalies.counts == {"quic_client_hello_malformed": 1}


# --------------------------------------------------------------------------- bounds


class TinyQuicDecoder(QuicDecoder):
    MAX_CONNECTIONS = 4
    MAX_BUFFERED_BYTES = 300
    MAX_SERVERS = 4


def test_state_is_bounded_and_oldest_evicted() -> None:
    anomalies = Anomalies()
    dec = TinyQuicDecoder(anomalies)
    for k in range(10):
        flow = FlowTuple("udp", "192.0.2.10", 40000 + k, "198.51.100.1", 443)
        # The first 100 bytes of a ClientHello each: nothing completes.
        dec.decode(initial(crypto(0, CLIENT_HELLO[:100]), dcid=bytes([k]) * 8, pad_to=1200), ctx(k + 1, flow))
    assert len(dec._connections) <= TinyQuicDecoder.MAX_CONNECTIONS
    assert len(dec._endpoints) <= TinyQuicDecoder.MAX_CONNECTIONS
    assert dec._buffered <= TinyQuicDecoder.MAX_BUFFERED_BYTES
    assert anomalies.counts.get("quic_state_evicted", 0) >= 6


def test_crypto_beyond_any_client_hello_is_refused() -> None:
    dec, anomalies = decoder()
    assert not dec.decode(initial(crypto(70000, b"x"), pad_to=1200), ctx())
    assert anomalies.counts == {"quic_crypto_offset_too_large": 1}
    assert dec._buffered == 0


# --------------------------------------------------------------------------- never raises


def test_truncation_at_every_length_never_raises() -> None:
    for packet in (RFC9001_CLIENT_INITIAL, RFC9369_CLIENT_INITIAL):
        dec, _ = decoder()
        for cut in range(len(packet)):
            assert not dec.decode(packet[:cut], ctx())
        assert QuicDecoder.sniff(packet[:100]) is False


def test_flipped_bytes_never_raise() -> None:
    rng = random.Random(9001)
    for packet in (RFC9001_CLIENT_INITIAL, RFC9369_CLIENT_INITIAL):
        for position in range(0, len(packet), 7):
            mutated = bytearray(packet)
            mutated[position] ^= 1 << rng.randrange(8)
            dec, _ = decoder()
            dec.decode(bytes(mutated), ctx())
            QuicDecoder.sniff(bytes(mutated))


def test_fuzzed_plaintext_never_raises() -> None:
    """Valid packet protection around damaged frames and ClientHellos: the parsers behind the AEAD."""
    rng = random.Random(9369)
    base = RFC_CRYPTO_FRAME + b"\x01\x02\x03\x00\x00\x00\x00\x01\x06\x00\x00"
    for round_ in range(400):
        plain = bytearray(base[: rng.randrange(1, len(base) + 1)])
        for _ in range(rng.randrange(1, 6)):
            plain[rng.randrange(len(plain))] = rng.randrange(256)
        dec, _ = decoder()
        dec.decode(initial(bytes(plain), pn=round_, pad_to=1200), ctx())


# --------------------------------------------------------------------------- public captures

CAPTURES = [
    "ndpi__quic-mvfst-27.pcapng",
    "ndpi__quic_frags_ch_out_of_order_same_packet_craziness.pcapng",
    "zeek__quic_chromium-115.0.5790.110-api-cirrus-com.pcap",
    "zeek__quic_quicv2-http3-443.pcap",
]


@pytest.mark.shared
@pytest.mark.tshark
@pytest.mark.parametrize("name", CAPTURES)
def test_capture_matches_tshark(real_captures: Path, tshark: str, name: str) -> None:
    path = real_captures / name
    anomalies = Anomalies()
    dec = QuicDecoder(anomalies)
    events: list[QuicInitial] = []
    for packet_ctx, payload in udp_datagrams(path):
        for event in dec.decode(payload, packet_ctx):
            assert isinstance(event, QuicInitial)
            events.append(event)
    rows = tshark_fields(
        tshark,
        path,
        "quic && tls.handshake.type == 1",
        ["frame.number", "tls.handshake.extensions_server_name", "quic.version"],
        occurrence="f",
    )
    expected = {(int(frame), sni or None, version) for frame, sni, version in rows}
    got = {(e.frame, e.sni, e.version) for e in events}
    assert got == expected
    assert len(events) == len(rows)  # one event per ClientHello, none twice
    assert {e.sni for e in events} == {sni or None for _, sni, _ in rows}
    assert anomalies.counts == {}


@pytest.mark.shared
def test_torture_capture_counts(real_captures: Path) -> None:
    """nDPI's out-of-order, same-packet torture test: 113 ClientHellos, 49 distinct SNIs (tshark agrees)."""
    dec, _ = decoder()
    path = real_captures / "ndpi__quic_frags_ch_out_of_order_same_packet_craziness.pcapng"
    events = [e for c, p in udp_datagrams(path) for e in events_of_type(dec.decode(p, c), QuicInitial)]
    assert len(events) == 113
    assert len({e.sni for e in events}) == 49
    assert {"googleads.g.doubleclick.net", "pagead2.googlesyndication.com"} <= {e.sni for e in events}


@pytest.mark.shared
@pytest.mark.parametrize("name", ["ndpi__fuzz-2006-06-26-2594.pcap", "ndpi__badpackets.pcap", "ndpi__1kxun.pcap"])
def test_other_udp_never_raises_nor_sniffs_as_quic(real_captures: Path, name: str) -> None:
    """Every UDP payload of captures without QUIC, whatever its port: no exception, no false sniff."""
    dec, _ = decoder()
    for packet_ctx, payload in udp_datagrams(real_captures / name):
        assert not dec.decode(payload, packet_ctx)
        assert not QuicDecoder.sniff(payload)
