"""DNS (protocols/dns.py): the wire parser (names, compression, records), the ``dns``
event (answers, address bindings, orientation), DNS over TCP, and names as Wireshark
prints them.  Messages are byte fixtures with a comment per field.
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

from helpers.events import events_of_type
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.dns import ROOT_NAME, DnsDecoder, DnsFormatError, parse_dns, read_name
from scanner.model import DnsMessage, FlowTuple

CLIENT_FLOW = FlowTuple("udp", "10.0.0.7", 40000, "10.0.0.53", 53)
SERVER_FLOW = CLIENT_FLOW.reversed()

def build_response() -> bytes:
    """The same response, assembled with offsets computed rather than counted by hand."""
    header = struct.pack("!HHHHHH", 0xABCD, 0x8180, 1, 4, 0, 0)
    qname = b"\x03www\x04kids\x07example\x00"  # at offset 12
    question = qname + struct.pack("!HH", 1, 1)
    cname_target = b"\x03cdn\x07example\x03net\x00"  # at offset 12 + len(question) + 12
    answers = [
        b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 3600, len(cname_target)) + cname_target,
    ]
    target_offset = 12 + len(question) + 12
    target = struct.pack("!H", 0xC000 | target_offset)  # pointer to cdn.example.net
    answers.append(target + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([93, 184, 216, 34]))  # A, TTL 300
    answers.append(
        target + struct.pack("!HHIH", 28, 1, 60, 16) + bytes.fromhex("26062800022000010248189325c81946")  # AAAA, TTL 60
    )
    # HTTPS (RFC 9460): priority 1, target "." (the owner), alpn="h2" (key 1)
    https = struct.pack("!H", 1) + b"\x00" + struct.pack("!HH", 1, 3) + b"\x02h2"
    answers.append(b"\xc0\x0c" + struct.pack("!HHIH", 65, 1, 300, len(https)) + https)
    return header + question + b"".join(answers)


def ctx(flow: FlowTuple = SERVER_FLOW) -> PacketContext:
    return PacketContext(ts=1.0, capture="test.pcap", frame=1, flow=flow)


def decode(payload: bytes, flow: FlowTuple = CLIENT_FLOW) -> tuple[list[DnsMessage], dict[str, int]]:
    anomalies = Anomalies()
    events = DnsDecoder(anomalies).decode(payload, ctx(flow))
    return events_of_type(events, DnsMessage), anomalies.counts


def query(name: bytes, qtype: int = 1, ident: int = 1) -> bytes:
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def wire_name(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


# ------------------------------------------------------------------------------------ records


def test_response_answers_and_bindings() -> None:
    (event,), anomalies = decode(build_response(), SERVER_FLOW)
    assert (event.query, event.qtype, event.response, event.rcode) == ("www.kids.example", "A", True, 0)
    # CNAME target and addresses; the HTTPS record carries neither an address nor a new name.
    assert event.answers == ("cdn.example.net", "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    # Each address is bound to the name the client asked for, not to the CDN alias.
    assert event.addresses == (
        ("93.184.216.34", "www.kids.example"),
        ("2606:2800:220:1:248:1893:25c8:1946", "www.kids.example"),
    )
    assert event.ttl == 60  # the smallest TTL of the address records
    assert anomalies == {}


def test_response_is_oriented_from_the_client() -> None:
    (event,), _ = decode(build_response(), SERVER_FLOW)
    assert event.flow == CLIENT_FLOW  # the packet went server -> client; the event reads client -> server
    assert event.to_record()["flow"] == {"proto": "udp", "src": "10.0.0.7", "sport": 40000, "dst": "10.0.0.53", "dport": 53}
    assert "addresses" not in event.to_record()  # kept for attribution, not printed


def test_query_has_no_rcode() -> None:
    (event,), _ = decode(query(wire_name(b"ads", b"example")), CLIENT_FLOW)
    assert (event.query, event.response, event.rcode, event.answers, event.flow) == (
        "ads.example", False, None, (), CLIENT_FLOW
    )


def test_nxdomain() -> None:
    message = struct.pack("!HHHHHH", 9, 0x8183, 1, 0, 0, 0) + wire_name(b"gone", b"example") + b"\x00\x01\x00\x01"
    (event,), _ = decode(message, SERVER_FLOW)
    assert (event.rcode, event.answers) == (3, ())


@pytest.mark.parametrize(
    ("qtype", "name"),
    [(1, "A"), (28, "AAAA"), (5, "CNAME"), (12, "PTR"), (16, "TXT"), (33, "SRV"), (65, "HTTPS"), (64, "SVCB"), (255, "ANY"), (4242, "TYPE4242")],
)
def test_qtype_names(qtype: int, name: str) -> None:
    (event,), _ = decode(query(wire_name(b"a", b"example"), qtype))
    assert event.qtype == name


def test_records_in_authority_and_additional_sections_are_not_answers() -> None:
    message = (
        struct.pack("!HHHHHH", 3, 0x8180, 1, 0, 1, 1)
        + wire_name(b"x", b"example") + b"\x00\x01\x00\x01"
        + b"\xc0\x0c" + struct.pack("!HHIH", 2, 1, 60, 5) + wire_name(b"ns1")  # NS in authority
        + b"\x00" + struct.pack("!HHIH", 41, 512, 0, 0)  # OPT in additional
    )
    wire = parse_dns(message)
    assert [(r.rtype, r.section) for r in wire.records] == [(2, 2), (41, 3)]
    (event,), _ = decode(message, SERVER_FLOW)
    assert event.answers == ()


# ------------------------------------------------------------------------- SVCB / HTTPS (RFC 9460)


def svc_param(key: int, value: bytes) -> bytes:
    return struct.pack("!HH", key, len(value)) + value


def https_response(*rdatas: bytes, qtype: int = 65) -> bytes:
    header = struct.pack("!HHHHHH", 9, 0x8180, 1, len(rdatas), 0, 0)
    question = wire_name(b"www", b"tracker", b"example") + struct.pack("!HH", qtype, 1)
    answers = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 120, len(r)) + r for r in rdatas)
    return header + question + answers


V4_HINT = svc_param(4, bytes([203, 0, 113, 7]) + bytes([203, 0, 113, 8]))
V6_HINT = svc_param(6, bytes.fromhex("20010db8000000000000000000000007"))


@pytest.mark.parametrize("qtype", [65, 64])
def test_https_address_hints_are_answers_bound_to_the_name(qtype: int) -> None:
    # Service mode, target "." (the owner): alpn, ipv4hint, ipv6hint.
    rdata = struct.pack("!H", 1) + b"\x00" + svc_param(1, b"\x02h2") + V4_HINT + V6_HINT
    (event,), anomalies = decode(https_response(rdata, qtype=qtype), SERVER_FLOW)
    assert event.answers == ("203.0.113.7", "203.0.113.8", "2001:db8::7")
    assert event.addresses == tuple((a, "www.tracker.example") for a in event.answers)
    assert event.ttl == 120 and anomalies == {}


def test_https_alias_and_service_targets_are_answers_too() -> None:
    alias = struct.pack("!H", 0) + wire_name(b"svc", b"cdn", b"example")  # AliasMode: no parameters
    service = struct.pack("!H", 2) + wire_name(b"pool", b"cdn", b"example") + V4_HINT
    (event,), _ = decode(https_response(alias, service), SERVER_FLOW)
    assert event.answers == ("svc.cdn.example", "pool.cdn.example", "203.0.113.7", "203.0.113.8")
    # The hints are the addresses the client was told to use for the name it asked for.
    assert event.addresses == (("203.0.113.7", "www.tracker.example"), ("203.0.113.8", "www.tracker.example"))


def test_https_parameter_that_runs_past_its_record_keeps_what_came_before() -> None:
    rdata = struct.pack("!H", 1) + b"\x00" + V4_HINT + struct.pack("!HH", 6, 200) + b"\x20\x01"
    (event,), anomalies = decode(https_response(rdata), SERVER_FLOW)
    assert event.answers == ("203.0.113.7", "203.0.113.8")
    assert anomalies == {}


def test_https_hint_of_a_wrong_length_binds_nothing() -> None:
    rdata = struct.pack("!H", 1) + b"\x00" + svc_param(4, bytes([203, 0, 113]))  # 3 bytes: not an IPv4 list
    (event,), anomalies = decode(https_response(rdata), SERVER_FLOW)
    assert event.answers == () and event.addresses == () and anomalies == {}


# -------------------------------------------------------------------------------- compression


def test_compression_pointer_chain() -> None:
    # "a" + pointer to "b" + pointer to "example": three jumps make a.b.c.example
    message = query(wire_name(b"c", b"example")) + b"\x01b\xc0\x0c" + b"\x01a\xc0\x1b"  # b.(12) at 27; a.(27) at 31
    name, end = read_name(message, len(message) - 4)
    assert (name, end) == ("a.b.c.example", len(message))


@pytest.mark.parametrize(
    ("name_bytes", "why"),
    [
        pytest.param(b"\xc0\x0c", "a pointer to itself", id="self-loop"),
        pytest.param(b"\x01a\xc0\x0c", "a label then a pointer back to it", id="two-step-loop"),
        pytest.param(b"\xc0\xff", "a pointer past the end", id="pointer-past-end"),
        pytest.param(b"\xc0", "a pointer cut in half", id="pointer-cut"),
        pytest.param(b"\x05ab", "a label longer than the message", id="label-past-end"),
        pytest.param(b"\x41abc\x00", "label type 01 (extended, RFC 6891 retired)", id="label-type-01"),
        pytest.param(b"\x81abc\x00", "label type 10 (reserved)", id="label-type-10"),
        pytest.param(b"\x03abc", "no terminating root label", id="no-end"),
    ],
)
def test_bad_question_names_are_malformed_never_raised(name_bytes: bytes, why: str) -> None:
    message = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + name_bytes
    with pytest.raises(DnsFormatError):
        parse_dns(message)
    events, anomalies = decode(message)
    assert events == []
    assert anomalies == {"dns_malformed": 1}, why


def test_pointer_loop_in_an_answer_keeps_the_question() -> None:
    # The question is fine; the second answer's owner name is a pointer to itself.
    head = (
        struct.pack("!HHHHHH", 1, 0x8180, 1, 2, 0, 0)
        + wire_name(b"loop", b"example") + b"\x00\x01\x00\x01"
        + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + bytes([10, 1, 1, 1])  # a good A record
    )
    message = head + struct.pack("!H", 0xC000 | len(head)) + struct.pack("!HHIH", 1, 1, 5, 4) + bytes(4)
    (event,), anomalies = decode(message, SERVER_FLOW)
    assert (event.query, event.answers) == ("loop.example", ("10.1.1.1",))
    assert anomalies == {"dns_truncated": 1}


def test_shorter_than_a_header() -> None:
    events, anomalies = decode(b"\x00\x01\x01\x00")
    assert (events, anomalies) == ([], {"dns_malformed": 1})


def test_message_without_question_gives_no_event() -> None:
    events, anomalies = decode(struct.pack("!HHHHHH", 1, 0x8180, 0, 0, 0, 0))
    assert (events, anomalies) == ([], {})


# -------------------------------------------------------------------------------------- names

# Label bytes -> the name as Wireshark/tshark prints it (epan format_text): C escapes for
# \a \b \t \n \v \f \r, \ooo for other control bytes, invalid UTF-8 as U+FFFD; a dot or a
# space inside a label is kept as it is.
NAMES = [
    pytest.param([b"a\x07b", b"example"], "a\\ab.example", id="bell"),
    pytest.param([b"a\rb", b"example"], "a\\rb.example", id="carriage-return"),
    pytest.param([b"tab\there"], "tab\\there", id="tab"),
    pytest.param([b"x\x01y", b"example"], "x\\001y.example", id="control-001"),
    pytest.param([b"nul\x00l"], "nul\\000l", id="nul"),
    pytest.param([b"\x1b[31m"], "\\033[31m", id="escape-sequence"),
    pytest.param([b"\x7f", b"example"], "\\177.example", id="delete"),
    pytest.param([b"caf\xc3\xa9", b"example"], "café.example", id="utf-8"),
    pytest.param([b"caf\xe9", b"example"], "caf\ufffd.example", id="invalid-utf-8"),
    pytest.param([b"a.b", b"example"], "a.b.example", id="dot-inside-a-label"),
    pytest.param([b"sp ace", b"example"], "sp ace.example", id="space"),
    pytest.param([b"back\\slash", b"example"], "back\\slash.example", id="backslash"),
    pytest.param([b"zero\xe2\x80\x8bwidth"], "zero\\u200Bwidth", id="format-character-zwsp"),
    pytest.param([b"evil\xe2\x80\xaegpj"], "evil\\u202Egpj", id="right-to-left-override"),
    pytest.param([b"c1\xc2\x85"], "c1\\u0085", id="c1-control"),
    pytest.param([], ROOT_NAME, id="root"),
]


@pytest.mark.parametrize(("labels", "expected"), NAMES)
def test_names_are_printed_as_wireshark_prints_them(labels: list[bytes], expected: str) -> None:
    (event,), _ = decode(query(wire_name(*labels)))
    assert event.query == expected
    assert "\n" not in event.query and "\r" not in event.query


def test_root_name_is_shown_as_root() -> None:
    # A priming query (NS for "."), as resolvers send at start-up.
    (event,), _ = decode(query(b"\x00", 2))
    assert (event.query, event.qtype) == ("<Root>", "NS")


@pytest.mark.tshark
def test_names_match_tshark(tshark: str, tmp_path: Path) -> None:
    """The same names through tshark: every case of NAMES must print identically."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    cases = [p.values for p in NAMES]
    packets = [
        Ether() / IP(src="10.0.0.7", dst="10.0.0.53") / UDP(sport=40000 + i, dport=53) / Raw(query(wire_name(*labels), ident=i))
        for i, (labels, _) in enumerate(cases)
    ]
    path = tmp_path / "names.pcap"
    wrpcap(str(path), packets)
    out = subprocess.run(
        [tshark, "-r", str(path), "-T", "json", "-e", "dns.qry.name"], capture_output=True, text=True, check=True
    ).stdout
    theirs = [p["_source"]["layers"]["dns.qry.name"][0] for p in json.loads(out)]
    assert theirs == [expected for _, expected in cases]


# ------------------------------------------------------------------------------- DNS over TCP


def tcp_dns_frames(*segments: tuple[bytes, int], from_server: bool = False) -> list[bytes]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    client, server = ("10.0.0.7", 40000), ("10.0.0.53", 53)
    (src, sport), (dst, dport) = (server, client) if from_server else (client, server)
    return [
        bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=1 + offset, flags="PA") / Raw(data))
        for data, offset in segments
    ]


def framed(message: bytes) -> bytes:
    return len(message).to_bytes(2, "big") + message  # RFC 1035 s4.2.2 length prefix


def test_dns_over_tcp_two_messages_in_one_segment(decode_frames) -> None:
    stream = framed(query(wire_name(b"one", b"example"))) + framed(query(wire_name(b"two", b"example"), 28))
    result = decode_frames(tcp_dns_frames((stream, 0)))
    assert [(e.query, e.qtype) for e in result.of(DnsMessage)] == [("one.example", "A"), ("two.example", "AAAA")]


def test_dns_over_tcp_one_message_across_segments(decode_frames) -> None:
    stream = framed(query(wire_name(b"split", b"example")))
    result = decode_frames(tcp_dns_frames((stream[:1], 0), (stream[1:9], 1), (stream[9:], 9)))
    (event,) = result.of(DnsMessage)
    assert (event.query, event.frame) == ("split.example", 3)


def test_dns_over_tcp_response_is_oriented_from_the_client(decode_frames) -> None:
    result = decode_frames(tcp_dns_frames((framed(build_response()), 0), from_server=True))
    (event,) = result.of(DnsMessage)
    assert (event.response, event.flow) == (True, FlowTuple("tcp", "10.0.0.7", 40000, "10.0.0.53", 53))
    assert event.addresses[0] == ("93.184.216.34", "www.kids.example")


def test_dns_over_tcp_malformed_message_is_skipped(decode_frames) -> None:
    stream = framed(b"\x00\x01") + framed(query(wire_name(b"after", b"example")))
    result = decode_frames(tcp_dns_frames((stream, 0)))
    assert [e.query for e in result.of(DnsMessage)] == ["after.example"]
    assert result.anomalies == {"dns_malformed": 1}


def test_dns_on_a_udp_port_pair_where_53_is_the_lower_port(decode_frames) -> None:
    # A client bound to a port another decoder claims (5353) asking a unicast resolver.
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    frame = Ether() / IP(src="10.0.0.7", dst="10.0.0.53") / UDP(sport=5353, dport=53) / Raw(query(wire_name(b"q", b"example")))
    result = decode_frames([bytes(frame)])
    assert [e.type for e in result.events] == ["dns"]



def test_question_count_larger_than_the_message_keeps_the_questions_read() -> None:
    # As in the fuzzed captures (nDPI fuzz-2006-06-26-2594, PcapPlusPlus clusterfuzz): a count
    # of 29440 questions over one readable question.  tshark shows the question; so must we.
    message = struct.pack("!HHHHHH", 1, 0x0100, 29440, 0, 0, 0) + wire_name(b"sip", b"example") + b"\x00\x21\x00\x01"
    wire = parse_dns(message)
    assert (wire.questions, wire.truncated) == ((("sip.example", 33, 1),), True)
    (event,), anomalies = decode(message)
    assert (event.query, event.qtype) == ("sip.example", "SRV")
    assert anomalies == {"dns_truncated": 1}


def test_second_question_with_a_pointer_loop() -> None:
    head = struct.pack("!HHHHHH", 1, 0x8100, 2, 0, 0, 0) + b"\x00" + b"\x00\x02\x00\x01"  # <Root> NS
    message = head + struct.pack("!H", 0xC000 | len(head)) + b"\x00\x01\x00\x01"  # a name pointing at itself
    (event,), anomalies = decode(message, SERVER_FLOW)
    assert event.query == "<Root>"
    assert anomalies == {"dns_truncated": 1}
