"""The scan pipeline on synthetic events: what ``ScanPipeline.consume`` makes of each kind of event
(control plane teaches bindings, DNS answers teach names, the rest is searched), how leaks fold into
findings (one per subject x type x host, repeats counted, evidence bounded), and what
``ScanPipeline.result`` hands the reports (graph without values, subjects minors first, stats).
"""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest

from scanner.aggregate import MAX_EVIDENCE
from scanner.engines.base import EngineStats
from scanner.model import (
    DhcpMessage,
    DnsMessage,
    Event,
    FlowTuple,
    GtpcMessage,
    HttpRequest,
    MdnsMessage,
    TlsClientHello,
)
from scanner.pipeline import LOCAL_NETWORK, ScanPipeline, ScanSettings
from scanner.results import ScanResult

T0 = 1_717_311_600.0
KID_IP, ADULT_IP, STRANGER_IP = "192.168.178.23", "192.168.178.57", "192.168.178.99"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
PARENT_GAID = "6f1c3a5e-2b7d-4e8f-9a0b-1c2d3e4f5a6b"
IMEI = "356938035643809"

INVENTORY = f"""\
devices:
  - id: kid-tablet
    age: 9
    ips: ["{KID_IP}"]
    macs: ["3c:22:fb:11:22:33"]
    first_party: [kinderspiele-welt.de]
    identifiers:
      gaid: ["{GAID}"]
      imei: ["{IMEI}"]
      email: ["emma@example.org"]
      device_name: ["Emma’s iPad"]
  - id: parent-phone
    minor: false
    ips: ["{ADULT_IP}"]
    identifiers:
      gaid: ["{PARENT_GAID}"]
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> ScanPipeline:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    return ScanPipeline(ScanSettings(inventory=str(inventory)))


def http(uri: str, host: str | None = "googleads.g.doubleclick.net", src: str = KID_IP, dst: str = "142.250.1.1", ts: float = T0,
         frame: int = 10, headers: tuple[tuple[str, str], ...] = (), sport: int = 50000, body: bytes = b"",
         user_agent: str | None = "Dalvik/2.1.0 (Linux; U; Android 13)") -> HttpRequest:
    all_headers = ((("Host", host),) if host else ()) + ((("User-Agent", user_agent),) if user_agent else ()) + headers
    return HttpRequest(ts=ts, capture="synthetic.pcap", frame=frame, flow=FlowTuple("tcp", src, sport, dst, 80), method="GET",
                       host=host, uri=uri, user_agent=user_agent, headers=all_headers, body=body, body_len=len(body))


def finish(pipeline: ScanPipeline) -> ScanResult:
    return pipeline.result(EngineStats(), "synthetic")


def feed(pipeline: ScanPipeline, *events: Event) -> ScanResult:
    for event in events:
        pipeline.consume(event)
    return finish(pipeline)


def triples(result: ScanResult) -> set[tuple[str, str, str]]:
    return {(f.subject.id, f.identifier.type, f.destination.host) for f in result.findings if f.identifier}


# ---------------------------------------------------------------------- consume


def test_repeats_are_counted_not_multiplied(pipeline: ScanPipeline) -> None:
    events = [http(f"/pagead/ads?rdid={GAID}&n={i}", frame=10 + i, ts=T0 + i, sport=50000 + i) for i in range(25)]
    result = feed(pipeline, *events)
    (finding,) = [f for f in result.findings if f.identifier]
    assert (finding.subject.id, finding.identifier.type, finding.destination.host) == ("kid-tablet", "gaid", "googleads.g.doubleclick.net")
    assert finding.count == 25
    assert len(finding.evidence) == MAX_EVIDENCE and [e.frame for e in finding.evidence] == list(range(10, 10 + MAX_EVIDENCE))
    assert (finding.first_seen, finding.last_seen) == (T0, T0 + 24)
    assert result.stats["observations"] == 25 and result.stats["leaks"] == 1


def test_one_finding_per_subject_type_and_host(pipeline: ScanPipeline) -> None:
    result = feed(
        pipeline,
        http(f"/a?rdid={GAID}&imei={IMEI}"),
        http(f"/a?adid={GAID}", host="app.adjust.com", dst="185.151.204.1"),
        http(f"/a?rdid={PARENT_GAID}", src=ADULT_IP),
    )
    assert triples(result) == {
        ("kid-tablet", "gaid", "googleads.g.doubleclick.net"),
        ("kid-tablet", "imei", "googleads.g.doubleclick.net"),
        ("kid-tablet", "gaid", "app.adjust.com"),
        ("parent-phone", "gaid", "googleads.g.doubleclick.net"),
    }


def test_value_owner_names_the_subject_when_the_address_is_unknown(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/a?rdid={GAID}", src=STRANGER_IP), http("/a?adid=1b0c2594-121f-49a2-bdd2-5c8634192c28",
                                                                            src=STRANGER_IP))
    # the kid's own GAID names the kid wherever it connects from; an unknown GAID leaves the address
    assert triples(result) == {("kid-tablet", "gaid", "googleads.g.doubleclick.net"),
                               (STRANGER_IP, "gaid", "googleads.g.doubleclick.net")}


def test_one_request_is_one_subject(pipeline: ScanPipeline) -> None:
    """A request from an unknown address that carries the kid's IMEI after an unknown GAID: the IMEI
    names the sender of the whole request, not only of the values after it."""
    other = "11111111-2222-4333-8444-555555555555"
    result = feed(pipeline, http(f"/a?rdid={other}&imei={IMEI}", src=STRANGER_IP))
    assert triples(result) == {("kid-tablet", "gaid", "googleads.g.doubleclick.net"), ("kid-tablet", "imei", "googleads.g.doubleclick.net")}


def test_unknown_address_without_inventory_value_is_the_address(pipeline: ScanPipeline) -> None:
    other = "11111111-2222-4333-8444-555555555555"
    result = feed(pipeline, http(f"/a?rdid={other}", src=STRANGER_IP))
    (finding,) = [f for f in result.findings if f.identifier]
    assert (finding.subject.id, finding.subject.source, finding.subject.minor) == (STRANGER_IP, "address", None)


def test_control_plane_is_bindings_not_leaks(pipeline: ScanPipeline) -> None:
    flow = FlowTuple("udp", "172.16.1.10", 2123, "172.16.1.20", 2123)
    gtp = GtpcMessage(ts=T0, capture="c", frame=1, flow=flow, message="create_session_request", seq=1, imsi="262017201373089",
                      msisdn="491713920030", mei="8676970520770926", teid=0, sender_teid=1)
    result = feed(pipeline, gtp)
    assert result.findings == () and result.stats["observations"] == 0


def test_dns_answer_names_a_flow_without_host(pipeline: ScanPipeline) -> None:
    answer = DnsMessage(ts=T0 - 1, capture="c", frame=1, flow=FlowTuple("udp", "192.168.178.1", 53, KID_IP, 53000),
                        query="t.appsflyer.com", qtype="A", answers=("34.1.2.3",), rcode=0, response=True, ttl=60,
                        addresses=(("34.1.2.3", "t.appsflyer.com"),))
    result = feed(pipeline, answer, http(f"/api?imei={IMEI}", host=None, dst="34.1.2.3"))
    (finding,) = [f for f in result.findings if f.identifier]
    assert (finding.destination.host, finding.destination.org, finding.destination.tracker) == ("t.appsflyer.com", "AppsFlyer", True)
    assert finding.rule == "PS101"


def test_without_a_name_the_destination_is_the_address(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/api?imei={IMEI}", host=None, dst="203.0.113.77"))
    (finding,) = [f for f in result.findings if f.identifier]
    assert finding.destination.host == "203.0.113.77" and not finding.destination.tracker


def test_tracker_cookie_counts_only_towards_a_tracker(pipeline: ScanPipeline) -> None:
    cookie = (("Cookie", "_ga=GA1.2.1987654321.1717311600"),)
    result = feed(
        pipeline,
        http("/", host="www.kinderspiele-welt.de", dst="185.199.111.26", headers=cookie),
        http("/g/collect", host="www.google-analytics.com", dst="142.250.1.2", headers=cookie),
    )
    assert triples(result) == {("kid-tablet", "cookie_id", "www.google-analytics.com")}


def test_names_on_the_local_network_only_for_minors(pipeline: ScanPipeline) -> None:
    dhcp_flow = FlowTuple("udp", "0.0.0.0", 68, "255.255.255.255", 67)
    kid = DhcpMessage(ts=T0, capture="c", frame=1, flow=dhcp_flow, message="REQUEST", mac="3c:22:fb:11:22:33", hostname="Emmas-iPad")
    stranger = DhcpMessage(ts=T0, capture="c", frame=2, flow=dhcp_flow, message="REQUEST", mac="f0:18:98:cf:a7:53",
                           hostname="Lucas-iPhone")
    adult = MdnsMessage(ts=T0, capture="c", frame=3, flow=FlowTuple("udp", ADULT_IP, 5353, "224.0.0.251", 5353), name="Annas-iPhone")
    result = feed(pipeline, kid, stranger, adult)
    local = [f for f in result.findings if f.identifier and f.destination.host == LOCAL_NETWORK]
    assert [(f.subject.id, f.identifier.type, f.rule) for f in local] == [("kid-tablet", "device_name", "PS801")]
    assert local[0].channel.protocol == "dhcp" and local[0].identifier is not None
    assert local[0].identifier.note == "contains a personal name"


def test_contacts_with_trackers_even_encrypted(pipeline: ScanPipeline) -> None:
    hello = TlsClientHello(ts=T0, capture="c", frame=7, flow=FlowTuple("tcp", KID_IP, 50001, "107.178.240.1", 443),
                           sni="api.mixpanel.com")
    benign = TlsClientHello(ts=T0, capture="c", frame=8, flow=FlowTuple("tcp", KID_IP, 50002, "185.199.111.26", 443),
                            sni="www.kinderspiele-welt.de")
    adult = TlsClientHello(ts=T0, capture="c", frame=9, flow=FlowTuple("tcp", ADULT_IP, 50003, "107.178.240.1", 443),
                           sni="api.mixpanel.com")
    result = feed(pipeline, hello, hello, benign, adult)
    contacts = [f for f in result.findings if f.identifier is None]
    assert [(f.subject.id, f.destination.host, f.rule, f.count) for f in contacts] == [("kid-tablet", "api.mixpanel.com", "PS901", 2)]
    assert contacts[0].channel.encrypted is True
    assert result.stats["contacts"] == 2, "the adult's contact is recorded (graph), with no rule to report"


def test_first_party_from_the_inventory(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/login?email=emma%40example.org&ifa={GAID}", host="api.kinderspiele-welt.de",
                                 dst="185.199.111.26"))
    by_type = {f.identifier.type: f for f in result.findings if f.identifier}
    assert by_type["email"].destination.party == "first" and by_type["email"].rule == "PS402"
    assert "PS302" in {m.rule for m in by_type["email"].rules}


def test_child_directed_flags_follow_the_leak(pipeline: ScanPipeline) -> None:
    result = feed(
        pipeline,
        http(f"/pagead/ads?rdid={GAID}&tfcd=1"),
        http(f"/pagead/ads?rdid={PARENT_GAID}", src=ADULT_IP),
        http(f"/pagead/ads?rdid={GAID}", host="pagead2.googlesyndication.com", dst="142.250.1.9"),
    )
    rules = {(f.subject.id, f.destination.host): f.rule for f in result.findings if f.identifier}
    assert rules[("kid-tablet", "googleads.g.doubleclick.net")] == "PS702"
    assert rules[("kid-tablet", "pagead2.googlesyndication.com")] == "PS102"
    unflagged = next(f for f in result.findings if f.identifier and f.destination.host == "pagead2.googlesyndication.com")
    assert "PS701" in {m.rule for m in unflagged.rules}


def test_cross_party_linkability(pipeline: ScanPipeline) -> None:
    result = feed(
        pipeline,
        http(f"/pagead/ads?rdid={GAID}"),
        http(f"/session?gps_adid={GAID}", host="app.adjust.com", dst="185.151.204.1"),
        http(f"/collect?adid={GAID}", host="app-measurement.com", dst="142.250.1.3"),
    )
    linked = {f.destination.host for f in result.findings if f.identifier and "PS602" in {m.rule for m in f.rules}}
    assert linked == {"googleads.g.doubleclick.net", "app.adjust.com", "app-measurement.com"}
    (link,) = [item for item in result.analyses.linkable if item.id_type == "gaid"]
    assert set(link.orgs) == {"Adjust", "Google"} and link.minor is True


def test_same_parent_is_one_company(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/pagead/ads?rdid={GAID}"), http(f"/collect?adid={GAID}", host="app-measurement.com",
                                                                     dst="142.250.1.3"))
    assert not any("PS601" in {m.rule for m in f.rules} for f in result.findings)


# ---------------------------------------------------------------------- result


def test_result_for_the_reports(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/a?rdid={PARENT_GAID}", src=ADULT_IP), http(f"/a?rdid={GAID}&imei={IMEI}"))
    assert [s.id for s in result.subjects] == ["kid-tablet", "parent-phone"], "minors first"
    assert result.engine == "synthetic" and result.hmac_key_id and not result.show_values
    assert result.stats["findings"] == len(result.findings)
    assert sum(result.stats["findings_by_severity"].values()) == len(result.findings)
    # The one run-dependent number: a stable report blanks it (serial and --jobs runs compare).
    assert isinstance(result.stats["elapsed_s"], float)
    from scanner.report.formats import RenderOptions, get_format

    stable = json.loads(get_format("json")(RenderOptions(stable=True)).render(result))
    assert stable["stats"]["elapsed_s"] is None
    assert {r.id for r in result.rules} >= {"PS000", "PS101", "PS601", "PS901"}
    assert any(f.path.endswith("minors.yaml") or "minors" in f.path for f in result.signatures)
    ranks = [f.severity for f in result.findings]
    order = ["critical", "high", "medium", "low", "info"]
    assert ranks == sorted(ranks, key=order.index), "worst first"


def test_graph_has_no_raw_values(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http(f"/a?rdid={GAID}&imei={IMEI}&email=emma%40example.org"))
    graph: nx.MultiDiGraph = result.graph
    text = json.dumps(nx.node_link_data(graph, edges="edges"), default=str)
    for value in (GAID, IMEI, "emma@example.org", GAID.replace("-", "")):
        assert value not in text
    kinds = {data["kind"] for _, data in graph.nodes(data=True)}
    assert {"subject", "identifier", "host", "organisation"} <= kinds
    identifiers = [n for n, data in graph.nodes(data=True) if data["kind"] == "identifier"]
    assert all(n.count(":") == 2 and len(n.rsplit(":", 1)[1]) == 16 for n in identifiers), "keyed by type and HMAC"
    assert graph.has_edge("subject:kid-tablet", identifiers[0], key="has_identifier")


def test_graph_edges_and_exposure_analyses(pipeline: ScanPipeline) -> None:
    hello = TlsClientHello(ts=T0, capture="c", frame=7, flow=FlowTuple("tcp", KID_IP, 50001, "107.178.240.1", 443),
                           sni="api.mixpanel.com")
    result = feed(
        pipeline,
        http(f"/pagead/ads?rdid={GAID}&imei={IMEI}"),
        http(f"/session?gps_adid={GAID}", host="app.adjust.com", dst="185.151.204.1", ts=T0 + 5),
        http(f"/pagead/ads?rdid={PARENT_GAID}", src=ADULT_IP),
        hello,
    )
    graph = result.graph
    relations = {(u.split(":")[0], key, v.split(":")[0]) for u, v, key in graph.edges(keys=True)}
    assert relations >= {("subject", "has_identifier", "identifier"), ("identifier", "sent_to", "host"),
                         ("host", "part_of", "domain"), ("domain", "owned_by", "org"), ("subject", "contacted", "host")}
    sent = [data for _, v, key, data in graph.edges(keys=True, data=True) if key == "sent_to" and v == "host:app.adjust.com"]
    assert sent and sent[0]["count"] == 1 and sent[0]["encrypted"] is False and sent[0]["protocols"] == "http"
    assert sent[0]["findings"] and sent[0]["severity"] in ("critical", "high")
    google = next(o for o in result.analyses.organisations if o.org == "Google")
    assert google.minor_subjects == ("kid-tablet",) and set(google.subjects) == {"kid-tablet", "parent-phone"}
    assert set(google.id_types) == {"gaid", "imei"} and google.tracker
    kid = next(s for s in result.analyses.subjects if s.subject == "kid-tablet")
    assert set(kid.orgs) == {"Adjust", "Google"} and kid.worst_severity == "critical" and kid.minor is True
    assert result.analyses.subjects[0].subject == "kid-tablet", "minors first"


def test_show_values_puts_values_in_findings_and_graph(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    pipeline = ScanPipeline(ScanSettings(inventory=str(inventory), show_values=True))
    result = feed(pipeline, http(f"/a?rdid={GAID}"))
    (finding,) = [f for f in result.findings if f.identifier]
    assert finding.identifier is not None and finding.identifier.value == GAID
    assert any(data.get("label") == GAID for _, data in result.graph.nodes(data=True))


def test_operator_enrichment_in_the_graph(pipeline: ScanPipeline) -> None:
    result = feed(pipeline, http("/", host="www.kinderspiele-welt.de", dst="185.199.111.26",
                                 headers=(("X-MSISDN", "491713920030"),)))
    (finding,) = [f for f in result.findings if f.identifier]
    assert finding.identifier is not None and finding.identifier.type == "msisdn"
    # docs/report.md's locations are a closed list: an injected header is a "header" the operator put there.
    assert finding.channel.location == "header" and finding.channel.operator_injected and finding.rule == "PS502"
    assert result.graph.has_node("operator")


def test_run_scan_end_to_end_is_deterministic() -> None:
    from scanner.ingest import expand_inputs
    from scanner.pipeline import run_scan

    demo = Path(__file__).resolve().parent.parent / "captures" / "demo.pcap"
    settings = ScanSettings(inventory=str(demo.with_name("demo.inventory.yaml")))
    first = run_scan(expand_inputs([str(demo)]), settings)
    second = run_scan(expand_inputs([str(demo)]), settings)
    assert [f.to_record() for f in first.findings] == [f.to_record() for f in second.findings]
    assert {**first.stats, "elapsed_s": None} == {**second.stats, "elapsed_s": None}, "all but the run time"
    assert first.captures[0].packets == 384 and len(first.captures[0].sha256) == 64
