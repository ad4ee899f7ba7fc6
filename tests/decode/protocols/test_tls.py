"""TLS ClientHello (protocols/tls.py): SNI, ALPN, versions, GREASE, reassembly across
records and segments, JA4 against FoxIO's published vector and hand-computed ones,
and JA3 against tshark.

ClientHellos are built field by field by the ``tls`` fixture (tests/decode/conftest.py).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
from pathlib import Path

import pytest

from helpers.events import events_of_type
from scanner.decode.protocols.base import Anomalies, StreamContext
from scanner.decode.protocols.tls import TlsDecoder, TlsFormatError, is_grease, parse_client_hello
from scanner.model import FlowTuple, TlsClientHello

FLOW = FlowTuple("tcp", "10.0.0.7", 40000, "93.184.216.34", 443)


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def feed(*pieces: bytes) -> tuple[list[TlsClientHello], dict[str, int], TlsDecoder]:
    anomalies = Anomalies()
    decoder = TlsDecoder(StreamContext("test.pcap", FLOW), anomalies)
    events = []
    for frame, piece in enumerate(pieces, 1):
        events.extend(decoder.feed(piece, float(frame), frame))
    events.extend(decoder.finish(99.0, 99))
    return events_of_type(events, TlsClientHello), anomalies.counts, decoder


def hello_of(handshake: bytes):
    return parse_client_hello(handshake[4:])


# ------------------------------------------------------------------------------ fields


def test_sni_alpn_and_version(tls) -> None:
    (event,), anomalies, decoder = feed(tls.records(tls.client_hello(sni="kids.example", alpn=(b"h2", b"http/1.1"))))
    assert (event.sni, event.alpn, event.version) == ("kids.example", ("h2", "http/1.1"), "TLSv1.3")
    assert event.to_record()["sni"] == "kids.example" and event.to_record()["ja4"] == event.ja4
    assert decoder.done  # the rest of the connection is not read
    assert anomalies == {}


def test_tls12_without_supported_versions(tls) -> None:
    hello = hello_of(tls.client_hello(versions=()))
    assert (hello.version, hello.version_name()) == (0x0303, "TLSv1.2")
    assert hello.ja4().startswith("t12d")


def test_empty_server_name_is_no_sni(tls) -> None:
    hello = hello_of(tls.client_hello(sni=""))
    assert hello.sni is None
    assert hello.ja4()[3] == "i"


@pytest.mark.parametrize("value", [0x0A0A, 0x1A1A, 0x2A2A, 0xFAFA])
def test_grease_values(value: int) -> None:
    assert is_grease(value)


@pytest.mark.parametrize("value", [0x0A0B, 0x1A2A, 0x0000, 0x1301, 0xAAAA - 1])
def test_not_grease(value: int) -> None:
    assert not is_grease(value)


def test_grease_is_ignored_everywhere(tls) -> None:
    plain = tls.client_hello(ciphers=(0x1301, 0xC02F), versions=(0x0304, 0x0303), groups=(0x001D,))
    greased = tls.client_hello(
        ciphers=(0x0A0A, 0x1301, 0xC02F),
        versions=(0x3A3A, 0x0304, 0x0303),
        groups=(0x4A4A, 0x001D),
        extensions=None,
    )
    # A GREASE extension at each end, as browsers send them.
    body = greased[4:]
    ext_start = 2 + 32 + 1 + 32 + 2 + 6 + 2
    ext_len = int.from_bytes(body[ext_start : ext_start + 2], "big")
    extensions = tls.extension(0x1A1A, b"") + body[ext_start + 2 :] + tls.extension(0x2A2A, b"\x00")
    greased = body[:ext_start] + (ext_len + 9).to_bytes(2, "big") + extensions
    greased = b"\x01" + len(greased).to_bytes(3, "big") + greased
    a, b = hello_of(plain), hello_of(greased)
    assert a.ja4() == b.ja4()
    assert a.ja3() == b.ja3()
    assert b.version_name() == "TLSv1.3"
    assert 0x1A1A in b.extensions  # kept on the wire record, left out of the fingerprints


# ---------------------------------------------------------------------------- reassembly


def test_client_hello_across_two_records(tls) -> None:
    handshake = tls.client_hello(sni="two-records.example")
    (event,), anomalies, _ = feed(tls.records(handshake, sizes=(60,)))
    assert event.sni == "two-records.example"
    assert anomalies == {}


def test_client_hello_across_records_and_segments(tls) -> None:
    data = tls.records(tls.client_hello(sni="pieces.example"), sizes=(3, 100))
    (event,), _, _ = feed(data[:4], data[4:70], data[70:])
    assert (event.sni, event.frame) == ("pieces.example", 3)


def test_client_hello_across_three_tcp_segments(decode_frames, tls) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    data = tls.records(tls.client_hello(sni="three-segments.example"))
    cuts = [0, 40, 120, len(data)]
    frames = [
        bytes(Ether() / IP(src="10.0.0.7", dst="93.184.216.34") / TCP(sport=40000, dport=443, seq=100 + a, flags="PA") / Raw(data[a:b]))
        for a, b in itertools.pairwise(cuts)
    ]
    result = decode_frames(frames)
    (event,) = result.of(TlsClientHello)
    assert (event.sni, event.frame, event.flow) == ("three-segments.example", 3, FLOW)


def test_server_hello_ends_the_direction_without_an_event() -> None:
    server_hello = b"\x16\x03\x03\x00\x0a" + b"\x02\x00\x00\x06" + b"\x03\x03" + bytes(4)
    events, anomalies, decoder = feed(server_hello)
    assert (events, anomalies, decoder.done) == ([], {}, True)


def test_a_record_other_than_handshake_ends_the_direction() -> None:
    events, _, decoder = feed(b"\x15\x03\x03\x00\x02\x02\x28")  # alert
    assert (events, decoder.done) == ([], True)


def test_malformed_client_hello_is_an_anomaly(tls) -> None:
    handshake = bytearray(tls.client_hello())
    cipher_len_at = 4 + 2 + 32 + 1 + 32
    handshake[cipher_len_at : cipher_len_at + 2] = (5000).to_bytes(2, "big")  # cipher suites past the end
    events, anomalies, decoder = feed(tls.records(bytes(handshake)))
    assert (events, anomalies, decoder.done) == ([], {"tls_client_hello_malformed": 1}, True)
    with pytest.raises(TlsFormatError):
        parse_client_hello(bytes(handshake[4:]))


def test_client_hello_claiming_more_than_the_bound() -> None:
    events, anomalies, decoder = feed(b"\x16\x03\x01\x00\x04" + b"\x01\x10\x00\x00")  # 1 MiB
    assert (events, anomalies, decoder.done) == ([], {"tls_client_hello_too_long": 1}, True)


def test_client_hello_cut_by_the_end_of_the_connection(tls) -> None:
    data = tls.records(tls.client_hello())
    events, anomalies, _ = feed(data[:80])
    assert (events, anomalies) == ([], {"tls_client_hello_incomplete": 1})


# ------------------------------------------------------------------------------------- JA4

FOXIO_CIPHERS = (  # Chrome's wire order, with GREASE first
    0x0A0A, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D,
    0x002F, 0x0035,
)
FOXIO_SIG_ALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def foxio_hello(tls) -> bytes:
    """The ClientHello of FoxIO's JA4 README example (Chrome): 15 ciphers, 16 extensions."""
    e = tls.extension
    extensions = [
        e(0x3A3A, b""),  # GREASE
        tls.sni("www.example.com"),
        e(0x0017, b""),  # extended_master_secret
        e(0xFF01, b"\x00"),  # renegotiation_info
        e(0x000A, b"\x00\x08" + tls.u16_list((0x4A4A, 0x001D, 0x0017, 0x0018))),  # supported_groups
        e(0x000B, b"\x01\x00"),  # ec_point_formats
        e(0x0023, b""),  # session_ticket
        tls.alpn((b"h2", b"http/1.1")),
        e(0x0005, b"\x01\x00\x00\x00\x00"),  # status_request
        e(0x000D, b"\x00\x10" + tls.u16_list(FOXIO_SIG_ALGS)),  # signature_algorithms
        e(0x0012, b""),  # signed_certificate_timestamp
        e(0x0033, b"\x00\x26\x00\x1d\x00\x20" + bytes(32)),  # key_share
        e(0x002D, b"\x01\x01"),  # psk_key_exchange_modes
        e(0x002B, b"\x06" + tls.u16_list((0x5A5A, 0x0304, 0x0303))),  # supported_versions
        e(0x001B, b"\x02\x00\x02"),  # compress_certificate
        e(0x4469, b"\x00\x03\x02h2"),  # application_settings
        e(0x0015, bytes(20)),  # padding
        e(0x6A6A, b"\x00"),  # GREASE
    ]
    return tls.client_hello(ciphers=FOXIO_CIPHERS, extensions=extensions)


def test_ja4_foxio_readme_vector(tls) -> None:
    # FoxIO JA4 README: JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1, where
    #   8daaf6152771 = sha256("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9")[:12]
    #   e5627efa2ab1 = sha256("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
    #                         "0403,0804,0401,0503,0805,0501,0806,0601")[:12]
    assert hello_of(foxio_hello(tls)).ja4() == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert sha12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9") == "8daaf6152771"


def test_ja4_computed_by_hand(tls) -> None:
    # Ciphers 1301,1302,c02f (3); extensions SNI, groups, point formats, sig algs, ALPN,
    # versions (6); ALPN h2.  b: sha256("1301,1302,c02f"); c: the extensions sorted without
    # SNI and ALPN, then the signature algorithms in wire order.
    hello = hello_of(tls.client_hello())
    assert sha12("1301,1302,c02f") == "40b44b994229"
    assert sha12("000a,000b,000d,002b_0403,0804,0401") == "0d385148b956"
    assert hello.ja4() == "t13d0306h2_40b44b994229_0d385148b956"
    assert hello.ja4("q") == "q13d0306h2_40b44b994229_0d385148b956"  # QUIC


def test_ja4_without_signature_algorithms_has_no_underscore_part(tls) -> None:
    e = tls.extension
    hello = hello_of(tls.client_hello(extensions=[e(0x000A, b"\x00\x02\x00\x1d"), e(0x000B, b"\x01\x00")]))
    assert sha12("000a,000b") == "33a13ba74d1c"
    assert hello.ja4() == "t12i030200_40b44b994229_33a13ba74d1c"


def test_ja4_without_ciphers_or_extensions(tls) -> None:
    hello = hello_of(tls.client_hello(ciphers=(), extensions=[]))
    assert hello.ja4() == "t12i000000_000000000000_000000000000"


def test_ja4_counts_stop_at_99(tls) -> None:
    hello = hello_of(tls.client_hello(ciphers=tuple(range(0x0100, 0x0100 + 120))))
    assert hello.ja4()[3:10] == "d9906h2"


@pytest.mark.parametrize(
    ("alpn", "code"),
    [
        pytest.param((b"h2", b"http/1.1"), "h2", id="h2"),
        pytest.param((b"http/1.1",), "h1", id="http/1.1"),
        pytest.param((b"h",), "hh", id="single-character"),
        pytest.param((), "00", id="none"),
        # FoxIO JA4.md: a first or last byte that is not ASCII alphanumeric gives the first
        # and last characters of the value's hex form.
        pytest.param((b"\xab",), "ab", id="0xAB"),
        pytest.param((b"\xab\xcd",), "ad", id="0xAB-0xCD"),
        pytest.param((b"\x30\xab",), "3b", id="0x30-0xAB"),
        pytest.param((b"\x30\x31\xab\xcd",), "3d", id="0x30-0x31-0xAB-0xCD"),
        pytest.param((b"\x30\xab\xcd\x31",), "01", id="0x30-0xAB-0xCD-0x31"),
        pytest.param((b"-h2-",), "2d", id="dashes"),
        pytest.param((b"h2-",), "6d", id="last-byte-dash"),
    ],
)
def test_ja4_alpn_characters(tls, alpn: tuple[bytes, ...], code: str) -> None:
    assert hello_of(tls.client_hello(alpn=alpn)).ja4()[8:10] == code


# ------------------------------------------------------------------------------------- JA3


def test_ja3_string_by_hand(tls) -> None:
    hello = hello_of(tls.client_hello(ciphers=(0x0A0A, 0x1301, 0xC02F), groups=(0x001D, 0x0017)))
    # SSLVersion,Ciphers,Extensions,Groups,PointFormats in decimal, GREASE left out
    text = "771,4865-49199,0-10-11-13-16-43,29-23,0"
    assert hello.ja3() == hashlib.md5(text.encode()).hexdigest()


@pytest.mark.tshark
def test_ja3_and_sni_match_tshark(tshark: str, tmp_path: Path, tls) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    hellos = [
        foxio_hello(tls),
        tls.client_hello(),
        tls.client_hello(sni=None, alpn=(), versions=()),
        tls.client_hello(ciphers=(0x0A0A, 0x1301, 0xC02F, 0x1A1A), groups=(0x2A2A, 0x001D)),
    ]
    packets = [
        Ether() / IP(src="10.0.0.7", dst="93.184.216.34") / TCP(sport=40000 + i, dport=443, seq=1, flags="PA") / Raw(tls.records(h))
        for i, h in enumerate(hellos)
    ]
    path = tmp_path / "hellos.pcap"
    wrpcap(str(path), packets)
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "json", "-e", "tls.handshake.ja3", "-e", "tls.handshake.extensions_server_name"],
        capture_output=True, text=True, check=True,
    ).stdout
    layers = [p["_source"]["layers"] for p in json.loads(out)]
    theirs = [(layer["tls.handshake.ja3"][0], layer.get("tls.handshake.extensions_server_name", [None])[0]) for layer in layers]
    ours = [(hello_of(h).ja3(), hello_of(h).sni) for h in hellos]
    assert ours == theirs
