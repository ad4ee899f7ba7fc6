"""DNS over HTTPS (RFC 8484) requests as dns events, and DoH/DoT resolvers as PS902 contacts.

The DNS messages are written with scapy (a library made for it), so the wire format under test is
not our own encoder's.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR

from scanner.decode.protocols.doh import doh_message, with_doh
from scanner.engines.base import EngineStats
from scanner.model import DnsMessage, FlowTuple, HttpRequest, TlsClientHello
from scanner.pipeline import ScanPipeline, ScanSettings

FLOW = FlowTuple("tcp", "10.20.0.7", 40000, "8.8.8.8", 80)
QUERY = bytes(DNS(id=0, rd=1, qd=DNSQR(qname="tracker.example.net", qtype="AAAA")))
RESPONSE = bytes(DNS(id=0, qr=1, rd=1, qd=DNSQR(qname="tracker.example.net")))


def _request(method: str, uri: str, body: bytes = b"", content_type: str | None = None) -> HttpRequest:
    headers = [("Host", "dns.google")] + ([("Content-Type", content_type)] if content_type else [])
    return HttpRequest(ts=5.0, capture="c.pcap", frame=9, flow=FLOW, method=method, host="dns.google", uri=uri,
                       content_type=content_type, body_len=len(body), headers=tuple(headers), body=body)


def _get(message: bytes) -> HttpRequest:
    return _request("GET", "/dns-query?dns=" + base64.urlsafe_b64encode(message).decode().rstrip("="))


def test_get_with_a_base64url_message_is_a_dns_question() -> None:
    message = doh_message(_get(QUERY))
    assert isinstance(message, DnsMessage)
    assert (message.query, message.qtype, message.response, message.flow, message.frame) == (
        "tracker.example.net", "AAAA", False, FLOW, 9)


def test_post_of_a_dns_message_is_a_dns_question() -> None:
    message = doh_message(_request("POST", "/dns-query", QUERY, "application/dns-message"))
    assert message is not None and message.query == "tracker.example.net"


@pytest.mark.parametrize(
    "request_",
    [
        _request("GET", "/search?dns=cloudflare"),  # a parameter called dns that is no message
        _get(RESPONSE),  # a request carries a query, never a response
        _request("POST", "/dns-query", QUERY, "application/json"),
        _request("POST", "/dns-query", b"\x00\x01", "application/dns-message"),  # truncated
    ],
    ids=["not-dns", "response", "other-content-type", "truncated"],
)
def test_what_is_not_a_doh_question(request_: HttpRequest) -> None:
    assert doh_message(request_) is None


def test_the_question_follows_its_request_in_the_event_stream() -> None:
    request = _get(QUERY)
    events = list(with_doh([request]))
    assert events[0] is request and isinstance(events[1], DnsMessage) and len(events) == 2


# ---------------------------------------------------------------------- resolvers as findings


def _kid_pipeline(tmp_path: Path) -> ScanPipeline:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("devices:\n  - id: kid-phone\n    minor: true\n    ips: [10.20.0.7]\n", encoding="utf-8")
    return ScanPipeline(ScanSettings(inventory=str(inventory)))


def _hello(sni: str | None, port: int) -> TlsClientHello:
    return TlsClientHello(ts=1.0, capture="c.pcap", frame=1, flow=FlowTuple("tcp", "10.20.0.7", 40001, "9.9.9.9", port), sni=sni)


@pytest.mark.parametrize(("sni", "port", "operator"), [("dns.google", 443, "Google Public DNS"),
                                                        ("mozilla.cloudflare-dns.com", 443, "Cloudflare"),
                                                        (None, 853, None)])
def test_a_minors_device_reaching_an_encrypted_resolver_is_ps902(tmp_path: Path, sni: str | None, port: int,
                                                                   operator: str | None) -> None:
    pipeline = _kid_pipeline(tmp_path)
    pipeline.consume(_hello(sni, port))
    (finding,) = pipeline.result(EngineStats(), "native").findings
    assert finding.rule == "PS902" and finding.identifier is None and finding.subject.id == "kid-phone"
    assert finding.destination.category == "encrypted_dns" and finding.destination.org == operator


def test_an_ordinary_https_site_is_no_resolver(tmp_path: Path) -> None:
    pipeline = _kid_pipeline(tmp_path)
    pipeline.consume(_hello("www.example.org", 443))
    assert pipeline.result(EngineStats(), "native").findings == ()


# ---------------------------------------------------------------------- through the native engine, serial and sharded


def _doh_capture(path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    request = (b"GET /dns-query?dns=" + base64.urlsafe_b64encode(QUERY).rstrip(b"=") +
               b" HTTP/1.1\r\nHost: dns.example\r\nAccept: application/dns-message\r\n\r\n")
    client, server = ("10.20.0.7", 40000), ("192.0.2.53", 80)
    packets = [
        Ether() / IP(src=client[0], dst=server[0]) / TCP(sport=client[1], dport=server[1], flags="S", seq=100),
        Ether() / IP(src=server[0], dst=client[0]) / TCP(sport=server[1], dport=client[1], flags="SA", seq=500, ack=101),
        Ether() / IP(src=client[0], dst=server[0]) / TCP(sport=client[1], dport=server[1], flags="A", seq=101, ack=501),
        Ether() / IP(src=client[0], dst=server[0]) / TCP(sport=client[1], dport=server[1], flags="PA", seq=101, ack=501)
        / request,
    ]
    for i, packet in enumerate(packets):
        packet.time = 1_700_000_000 + i
    wrpcap(str(path), packets)


def test_the_native_engine_gives_the_question_after_its_request_serial_and_sharded(tmp_path: Path) -> None:
    from scanner.ingest import expand_inputs
    from scanner.run import make_runner

    capture = tmp_path / "doh.pcap"
    _doh_capture(capture)
    serial = list(make_runner("native").events(expand_inputs([str(capture)])))
    kinds = [e.type for e in serial]
    assert kinds == ["http", "dns"]
    assert isinstance(serial[1], DnsMessage) and serial[1].query == "tracker.example.net"
    sharded = list(make_runner("native", jobs=2).events(expand_inputs([str(capture)])))
    assert [e.to_record() for e in sharded] == [e.to_record() for e in serial]
