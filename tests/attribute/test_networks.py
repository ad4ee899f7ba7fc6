"""Child-profile pools (issue 13): minors known by their address range, GTP APN or RADIUS attributes,
and --assume-minor.  Each pool kind end to end on a capture scapy writes here: a control-plane
session (or none) and then an app's request carrying an advertising ID to Adjust."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from scanner.errors import ConfigError
from scanner.ingest import expand_inputs
from scanner.knowledge.inventory import load_inventory, load_networks, load_subscribers
from scanner.knowledge.networks import NetworkPool, PoolMatcher, parse_networks
from scanner.pipeline import ScanSettings, run_scan
from scanner.results import ScanResult

T0 = 1_780_000_000.0
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
TRACKER_V4, TRACKER_V6 = "185.151.204.10", "2a00:1450:4001:80b::200e"
MME, SGW = "172.16.1.10", "172.16.1.20"
NAS, AAA = "10.0.0.1", "10.0.0.2"
IMSI = "262017201373089"


# ---------------------------------------------------------------------- writing captures


def _http(src: str, dst: str, t: float, sport: int = 40000) -> list[Any]:
    """A TCP handshake and one GET to app.adjust.com with a GAID, from ``src``."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    def ip(a: str, b: str) -> Any:
        return IPv6(src=a, dst=b) if ":" in a else IP(src=a, dst=b)

    request = (f"GET /session?gps_adid={GAID}&app_token=abc HTTP/1.1\r\nHost: app.adjust.com\r\n"
               "User-Agent: Dalvik/2.1.0\r\n\r\n").encode()
    packets = [
        Ether() / ip(src, dst) / TCP(sport=sport, dport=80, flags="S", seq=1000),
        Ether() / ip(dst, src) / TCP(sport=80, dport=sport, flags="SA", seq=5000, ack=1001),
        Ether() / ip(src, dst) / TCP(sport=sport, dport=80, flags="A", seq=1001, ack=5001),
        Ether() / ip(src, dst) / TCP(sport=sport, dport=80, flags="PA", seq=1001, ack=5001) / request,
    ]
    for i, packet in enumerate(packets):
        packet.time = t + i * 0.01
    return packets


def _udp(src: str, dst: str, sport: int, dport: int, payload: bytes, t: float) -> Any:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether

    packet = Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / payload
    packet.time = t
    return packet


def _ie(ie_type: int, value: bytes) -> bytes:
    return struct.pack("!BHB", ie_type, len(value), 0) + value  # TS 29.274 s8.2: type, length, spare/instance


def _tbcd(digits: str) -> bytes:
    digits += "F" * (len(digits) % 2)
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def _gtpv2(message_type: int, teid: int, seq: int, ies: bytes) -> bytes:
    return struct.pack("!BBHI", 0x48, message_type, len(ies) + 8, teid) + struct.pack("!I", seq << 8) + ies


def _gtp_session(apn: str, ue_ip: str, t: float) -> list[Any]:
    """Create Session Request (IMSI, APN, the MME's F-TEID) and its accepted Response (the UE's address)."""
    apn_value = b"".join(bytes([len(label)]) + label.encode() for label in apn.split("."))
    request = _gtpv2(32, 0, 7, _ie(1, _tbcd(IMSI)) + _ie(71, apn_value)
                     + _ie(87, bytes([0x80 | 10]) + struct.pack("!I", 0x1111) + bytes(map(int, MME.split(".")))))
    response = _gtpv2(33, 0x1111, 7, _ie(2, bytes([16, 0])) + _ie(87, bytes([0x80 | 11]) + struct.pack("!I", 0x2222)
                      + bytes(map(int, SGW.split(".")))) + _ie(79, bytes([1]) + bytes(map(int, ue_ip.split(".")))))
    return [_udp(MME, SGW, 2123, 2123, request, t), _udp(SGW, MME, 2123, 2123, response, t + 0.02)]


def _radius_start(framed_ip: str, attributes: list[tuple[int, bytes]], t: float) -> Any:
    """An Accounting-Request Start (RFC 2866) binding ``framed_ip`` to a user, with extra attributes."""
    body = [(1, b"kid@isp.example"), (31, b"491713920030"), (40, struct.pack("!I", 1)),
            (8, bytes(map(int, framed_ip.split(".")))), *attributes]
    encoded = b"".join(struct.pack("!BB", kind, len(value) + 2) + value for kind, value in body)
    message = struct.pack("!BBH", 4, 1, 20 + len(encoded)) + bytes(16) + encoded
    return _udp(NAS, AAA, 40000, 1813, message, t)


def _write(path: Path, packets: list[Any]) -> Path:
    from scapy.utils import wrpcap

    wrpcap(str(path), packets)
    return path


def _scan(capture: Path, **settings: Any) -> ScanResult:
    return run_scan(expand_inputs([str(capture)]), ScanSettings(**settings))


def _leak(result: ScanResult) -> Any:
    found = [f for f in result.findings if f.identifier is not None and f.identifier.type == "gaid"]
    assert len(found) == 1, [(f.subject.id, f.identifier and f.identifier.type) for f in result.findings]
    return found[0]


def _inventory(tmp_path: Path, text: str, name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------- end to end, per pool kind


@pytest.mark.parametrize(("address", "cidr"), [("10.20.3.4", "10.20.0.0/16"), ("2001:db8:20::7", "2001:db8:20::/48")])
def test_cidr_pool_makes_the_address_a_minor(tmp_path: Path, address: str, cidr: str) -> None:
    capture = _write(tmp_path / "cidr.pcap", _http(address, TRACKER_V6 if ":" in address else TRACKER_V4, T0))
    without = _leak(_scan(capture))
    assert without.subject.minor is None, "no pool, no age: the address alone says nothing"
    inventory = _inventory(tmp_path, f"networks:\n  - cidr: {cidr}\n    minor: true\n    name: child-profile pool\n")
    result = _scan(capture, inventory=str(inventory))
    leak = _leak(result)
    assert (leak.subject.id, leak.subject.source, leak.subject.minor, leak.subject.pool) == (
        address, "address", True, "child-profile pool"), "the subject stays the address and gains the pool"
    assert leak.severity != without.severity, "a minor's advertising ID to a tracker is a rule, not only info"
    record = next(s for s in (s.to_record() for s in result.subjects) if s["id"] == address)
    assert record == {"id": address, "minor": True, "source": "address", "pool": "child-profile pool"}
    from scanner.report.formats import RenderOptions, get_format

    table = get_format("table")(RenderOptions(stable=True, width=140, color=False)).render(result)
    assert f"{address}  minor  ·  address  ·  pool child-profile pool" in table
    assert "<dt>Pool</dt><dd>child-profile pool</dd>" in get_format("html")(RenderOptions(stable=True)).render(result)


def test_an_address_outside_the_pool_stays_unknown(tmp_path: Path) -> None:
    capture = _write(tmp_path / "out.pcap", _http("10.21.0.9", TRACKER_V4, T0))
    inventory = _inventory(tmp_path, "networks:\n  - cidr: 10.20.0.0/16\n    minor: true\n")
    leak = _leak(_scan(capture, inventory=str(inventory)))
    assert (leak.subject.minor, leak.subject.pool) == (None, None)


def test_apn_pool_from_the_gtpc_session(tmp_path: Path) -> None:
    ue = "100.70.1.2"
    packets = _gtp_session("kids.operator.example", ue, T0) + _http(ue, TRACKER_V4, T0 + 5)
    capture = _write(tmp_path / "gtp.pcap", packets)
    subscribers = _inventory(tmp_path, "networks:\n  - apn: kids.operator.example\n    age: 11\n", "subscribers.yaml")
    leak = _leak(_scan(capture, subscribers=str(subscribers)))
    assert leak.subject.source == "gtp" and leak.subject.id.startswith("sub-"), "the subject stays the subscriber"
    assert (leak.subject.minor, leak.subject.age, leak.subject.pool) == (True, 11, "apn kids.operator.example")
    other = _write(tmp_path / "gtp2.pcap", _gtp_session("internet", ue, T0) + _http(ue, TRACKER_V4, T0 + 5))
    assert _leak(_scan(other, subscribers=str(subscribers))).subject.minor is None, "another APN is not the pool"


def test_apn_pool_matches_the_full_apn_with_operator_identifier(tmp_path: Path) -> None:
    ue = "100.70.1.3"
    packets = _gtp_session("kids.operator.example.mnc001.mcc262.gprs", ue, T0) + _http(ue, TRACKER_V4, T0 + 5)
    capture = _write(tmp_path / "gtp.pcap", packets)
    inventory = _inventory(tmp_path, "networks:\n  - apn: Kids.Operator.Example\n    minor: true\n")
    assert _leak(_scan(capture, inventory=str(inventory))).subject.minor is True


@pytest.mark.parametrize(("attribute", "pool"), [
    ((25, b"kids-profile"), "{Class: kids-profile}"),
    ((11, b"child-filter"), "{Filter-Id: child-filter}"),
    ((32, b"bng-kids-3"), "{nas_identifier: bng-kids-3}"),
    ((25, b"\x00\xa1KIDS\xff"), "{Class: '0x00A14B494453FF'}"),  # a binary Class, named by its hex
])
def test_radius_attribute_pool(tmp_path: Path, attribute: tuple[int, bytes], pool: str) -> None:
    ue = "100.64.9.9"
    capture = _write(tmp_path / "radius.pcap", [_radius_start(ue, [attribute], T0), *_http(ue, TRACKER_V4, T0 + 2)])
    inventory = _inventory(tmp_path, f"networks:\n  - radius: {pool}\n    minor: true\n    name: kids\n")
    for engine in ("native", "tshark"):
        leak = _leak(_scan(capture, inventory=str(inventory), engine=engine))
        assert (leak.subject.source, leak.subject.minor, leak.subject.pool) == ("radius", True, "kids"), engine
    plain = _write(tmp_path / "plain.pcap", [_radius_start(ue, [], T0), *_http(ue, TRACKER_V4, T0 + 2)])
    assert _leak(_scan(plain, inventory=str(inventory))).subject.minor is None, "without the attribute, no pool"


def test_assume_minor(tmp_path: Path) -> None:
    capture = _write(tmp_path / "lab.pcap", _http("192.168.1.23", TRACKER_V4, T0))
    leak = _leak(_scan(capture, assume_minor=True))
    assert (leak.subject.id, leak.subject.minor, leak.subject.pool) == ("192.168.1.23", True, None)
    adults = _inventory(tmp_path, "networks:\n  - cidr: 192.168.1.0/24\n    minor: false\n")
    leak = _leak(_scan(capture, assume_minor=True, inventory=str(adults)))
    assert leak.subject.minor is False, "a known age is kept: only unknown ages are assumed"


def test_assume_minor_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = _write(tmp_path / "lab.pcap", _http("192.168.1.23", TRACKER_V4, T0))
    with pytest.raises(SystemExit) as exited:
        main(["scan", str(capture), "--assume-minor", "--format", "json", "-q", "--fail-on", "none"])
    assert exited.value.code == 0
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["subjects"] == [{"id": "192.168.1.23", "minor": True, "source": "address"}]
    assert all(f["minor"] is True for f in report["findings"])


def test_reports_with_pools_and_unknown_destinations_follow_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import jsonschema

    from scanner.report.formats import RenderOptions, get_format

    # An address in a pool, and an app sending the advertising ID to a host no list names too.
    packets = _http("10.20.3.4", TRACKER_V4, T0)
    unknown = _http("10.20.3.4", "198.51.100.7", T0 + 5, sport=40001)
    for packet in unknown:
        if packet.haslayer("Raw"):
            packet["Raw"].load = packet["Raw"].load.replace(b"app.adjust.com", b"api.kids-games-unlisted.net")
    capture = _write(tmp_path / "both.pcap", packets + unknown)
    inventory = _inventory(tmp_path, "networks:\n  - cidr: 10.20.0.0/16\n    age: 9\n    name: kids\n")
    result = _scan(capture, inventory=str(inventory))
    report = json.loads(get_format("json")(RenderOptions(stable=True)).render(result))
    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(report)
    assert report["subjects"] == [{"id": "10.20.3.4", "minor": True, "source": "address", "pool": "kids", "age": 9}]
    assert [u["domain"] for u in report["unknown_destinations"]] == ["kids-games-unlisted.net"]
    assert report["unknown_destinations"][0]["minor_subjects"] == 1
    leak = next(f for f in report["findings"] if f["destination"]["host"] == "api.kids-games-unlisted.net")
    assert leak["destination"]["unknown"] is True and leak["destination"]["org"] == "kids-games-unlisted.net"


# ---------------------------------------------------------------------- parsing


def test_more_specific_cidr_wins() -> None:
    path = Path("inv.yaml")
    from scanner.datafiles import LineDict, LineList

    def pool(**kw: Any) -> LineDict:
        item = LineDict(kw)
        item.line = 1
        return item

    pools = parse_networks(path, LineList([pool(cidr="10.0.0.0/8", minor=True), pool(cidr="10.9.0.0/16", minor=False, name="staff")]), 1)
    matcher = PoolMatcher(pools)
    assert matcher.by_address("10.9.1.1") is not None and matcher.by_address("10.9.1.1").name == "staff"  # type: ignore[union-attr]
    assert matcher.by_address("10.8.1.1") == pools[0]
    assert matcher.by_address("2001:db8::1") is None and matcher.by_address("not-an-ip") is None


@pytest.mark.parametrize(("text", "message"), [
    ("networks:\n  - cidr: 10.20.0.0/33\n    minor: true\n", "not a CIDR range"),
    ("networks:\n  - cidr: 10.20.0.0/16\n", "needs 'minor'"),
    ("networks:\n  - cidr: 10.20.0.0/16\n    apn: kids\n    minor: true\n", "exactly one of"),
    ("networks:\n  - radius: kids\n    minor: true\n", "maps attribute names"),
    ("networks:\n  - apn: kids\n    minor: true\n    age: 30\n", "contradicts"),
    ("networks:\n  - apn: kids\n    minor: maybe\n", "'minor' must be"),
    ("networks:\n  - cidr: 10.0.0.0/8\n    minor: true\n    colour: red\n", "unknown network pool key"),
    ("networks: 10.0.0.0/8\n", "must be a list"),
])
def test_bad_pools_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _inventory(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_inventory(path)
    assert caught.value.file == str(path) and caught.value.line is not None


def test_pools_in_inventory_with_devices_and_in_subscriber_lists(tmp_path: Path) -> None:
    both = _inventory(tmp_path, "devices:\n  - id: tab\n    minor: true\n    ips: [10.1.1.1]\n"
                                "networks:\n  - cidr: 10.20.0.0/16\n    minor: true\n")
    inventory = load_inventory(both)
    assert [d.id for d in inventory.devices] == ["tab"] and [p.kind for p in inventory.networks] == ["cidr"]
    subscribers = _inventory(tmp_path, "subscribers:\n  - imsi: '262017201373089'\n    age: 9\n"
                                       "networks:\n  - radius: {Class: kids}\n    minor: true\n", "subs.yaml")
    assert len(load_subscribers(subscribers)) == 1
    assert load_networks(subscribers) == (NetworkPool("radius", "radius class=kids", True, None, radius=(("class", "kids"),)),)
    only_pools = _inventory(tmp_path, "networks:\n  - apn: kids.example\n    minor: true\n", "pools.yaml")
    assert load_subscribers(only_pools) == () and load_networks(only_pools)[0].apn == "kids.example"


def test_bad_pool_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = _write(tmp_path / "lab.pcap", _http("192.168.1.23", TRACKER_V4, T0))
    inventory = _inventory(tmp_path, "networks:\n  - cidr: 300.1.0.0/16\n    minor: true\n")
    with pytest.raises(SystemExit) as exited:
        main(["scan", str(capture), "--inventory", str(inventory), "-q"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{inventory}:2" in err and "not a CIDR range" in err
