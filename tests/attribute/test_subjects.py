"""Who sent it: subjects from GTP-U tunnels, control-plane bindings, the inventory (addresses,
MACs, the values a device owns) and the child-profile subscriber list; otherwise the address,
never a guess.  End to end on the project's GTP captures, where 10.45.12.34 (demo_gtp) and
10.46.7.21 (labelled_gtp) change hands mid-capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.attribute.bindings import BindingLearner
from scanner.attribute.subjects import SubjectResolver
from scanner.engines.native import NativeEngine
from scanner.ingest import expand_inputs
from scanner.knowledge.inventory import Device, Inventory, Subscriber, TimedAddress
from scanner.model import DhcpMessage, DiameterMessage, FlowTuple, GtpcMessage, HttpRequest, RadiusMessage, Tunnel
from scanner.pipeline import ScanPipeline, ScanSettings
from scanner.privacy import Pseudonymizer
from scanner.results import ScanResult

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
T0 = 1_717_311_600.0
UE = "10.45.12.34"
LEON, SABINE = "262017201373089", "262072246121161"
MME, SGW = "172.16.1.10", "172.16.1.20"


def session(learner: BindingLearner, ts: float, imsi: str, seq: int, ue_ip: str = UE, teid: int = 0x2000,
            user_teids: tuple[int, ...] = (0x3000,), msisdn: str | None = None) -> None:
    request = GtpcMessage(ts=ts, capture="c", frame=1, flow=FlowTuple("udp", MME, 2123, SGW, 2123),
                          message="create_session_request", seq=seq, imsi=imsi, msisdn=msisdn, teid=0, sender_teid=teid - 0x1000)
    response = GtpcMessage(ts=ts + 0.02, capture="c", frame=2, flow=FlowTuple("udp", SGW, 2123, MME, 2123),
                           message="create_session_response", seq=seq, response=True, ue_ip=ue_ip, teid=teid - 0x1000,
                           sender_teid=teid, cause=16, user_teids=user_teids)
    learner.learn(request)
    learner.learn(response)


def delete(learner: BindingLearner, ts: float, seq: int, teid: int = 0x2000) -> None:
    learner.learn(GtpcMessage(ts=ts, capture="c", frame=3, flow=FlowTuple("udp", MME, 2123, SGW, 2123),
                              message="delete_session_request", seq=seq, teid=teid))


def request(ts: float, src: str = UE, tunnel: Tunnel | None = None) -> HttpRequest:
    return HttpRequest(ts=ts, capture="c", frame=9, flow=FlowTuple("tcp", src, 50000, "142.250.1.1", 80), tunnel=tunnel,
                       method="GET", host="googleads.g.doubleclick.net", uri="/")


def resolver(inventory: Inventory | None = None, subscribers: tuple[Subscriber, ...] = (),
             learner: BindingLearner | None = None) -> SubjectResolver:
    return SubjectResolver(inventory, subscribers, learner or BindingLearner(), Pseudonymizer(b"test-key-0123456789"))


# ---------------------------------------------------------------------- unit


def test_no_binding_is_the_address_never_a_guess() -> None:
    subject = resolver().resolve(request(T0))
    assert (subject.id, subject.minor, subject.source) == (UE, None, "address")


def test_gtp_binding_gives_a_pseudonymous_subscriber() -> None:
    learner = BindingLearner()
    session(learner, T0, LEON, 1, msisdn="491713920030")
    subjects = resolver(learner=learner)
    subject = subjects.resolve(request(T0 + 5))
    assert subject.source == "gtp" and subject.minor is None
    assert subject.id.startswith("sub-") and len(subject.id) == len("sub-") + 12
    assert LEON not in subject.id and "491713920030" not in subject.id, "reports do not print IMSIs or numbers"
    assert LEON not in json.dumps(subject.to_record())
    assert dict(subject.attributes)["imsi"] == LEON, "kept in memory to join with lists"
    assert subjects.resolve(request(T0 + 50)) is subject, "one subscriber, one subject"
    # the pseudonym is keyed: another key, another name; the same key, the same name
    other = SubjectResolver(None, (), learner, Pseudonymizer(b"another-key-0123456789")).resolve(request(T0 + 5))
    again = SubjectResolver(None, (), learner, Pseudonymizer(b"test-key-0123456789")).resolve(request(T0 + 5))
    assert other.id != subject.id and again.id == subject.id


def test_reassigned_address_goes_to_the_right_subscriber() -> None:
    learner = BindingLearner()
    session(learner, T0, LEON, 1)
    delete(learner, T0 + 30, 2)
    session(learner, T0 + 40, SABINE, 3, teid=0x2001, user_teids=(0x3001,))
    subjects = resolver(learner=learner)
    leon, gap, sabine = (subjects.resolve(request(ts)) for ts in (T0 + 10, T0 + 35, T0 + 45))
    assert dict(leon.attributes)["imsi"] == LEON
    assert dict(sabine.attributes)["imsi"] == SABINE
    assert (gap.id, gap.source) == (UE, "address"), "released and not yet reassigned: the address"
    assert len({leon.id, sabine.id, gap.id}) == 3


def test_tunnel_beats_the_inner_address() -> None:
    learner = BindingLearner()
    session(learner, T0, LEON, 1, ue_ip="10.45.3.7", user_teids=(0x3000,))
    session(learner, T0, SABINE, 2, ue_ip=UE, teid=0x2001, user_teids=(0x3001,))
    tunnel = Tunnel("gtpu", "172.16.10.1", "172.16.3.1", 0x3000)
    subject = resolver(learner=learner).resolve(request(T0 + 5, src=UE, tunnel=tunnel))
    assert dict(subject.attributes)["imsi"] == LEON, "the TEID names the bearer even where inner addresses overlap"


def test_subscriber_list_marks_minors() -> None:
    learner = BindingLearner()
    session(learner, T0, LEON, 1, ue_ip="10.45.12.34")
    session(learner, T0, SABINE, 2, ue_ip="10.45.12.35", teid=0x2001, user_teids=(0x3001,))
    subscribers = (Subscriber("sub-leon", LEON, None, True), Subscriber(None, None, "4917604069030", True))
    subjects = resolver(subscribers=subscribers, learner=learner)
    leon = subjects.resolve(request(T0 + 5, src="10.45.12.34"))
    assert (leon.id, leon.minor, leon.source) == ("sub-leon", True, "gtp")
    sabine = subjects.resolve(request(T0 + 5, src="10.45.12.35"))
    assert sabine.minor is None and sabine.id.startswith("sub-"), "not on the list: unknown, not adult"


def test_subscriber_list_by_msisdn_and_without_id() -> None:
    learner = BindingLearner()
    session(learner, T0, SABINE, 1, msisdn="4917604069030")
    subject = resolver(subscribers=(Subscriber(None, None, "4917604069030", True),), learner=learner).resolve(request(T0 + 5))
    assert subject.minor is True and subject.id.startswith("sub-") and SABINE not in subject.id


def test_inventory_device_listing_the_imsi_is_joined() -> None:
    learner = BindingLearner()
    session(learner, T0, LEON, 1)
    kid = Device(id="leon-phone", minor=True, identifiers={"imsi": (LEON,)})
    subject = resolver(Inventory((kid,)), learner=learner).resolve(request(T0 + 5))
    assert (subject.id, subject.minor, subject.source) == ("leon-phone", True, "gtp")


@pytest.mark.parametrize(("kind", "value"), [("msisdn", "+491713920030"), ("imei", "867697052077091")])
def test_inventory_device_joined_by_msisdn_or_imei(kind: str, value: str) -> None:
    learner = BindingLearner()
    request_ = GtpcMessage(ts=T0, capture="c", frame=1, flow=FlowTuple("udp", MME, 2123, SGW, 2123), message="create_session_request",
                           seq=5, imsi=None, msisdn="491713920030", mei="8676970520770926", teid=0, sender_teid=1)
    learner.learn(request_)
    learner.learn(GtpcMessage(ts=T0 + 0.1, capture="c", frame=2, flow=FlowTuple("udp", SGW, 2123, MME, 2123),
                              message="create_session_response", seq=5, response=True, ue_ip=UE, teid=1, sender_teid=2, cause=16))
    kid = Device(id="leon-phone", minor=True, identifiers={kind: (value,)})
    assert resolver(Inventory((kid,)), learner=learner).resolve(request(T0 + 5)).id == "leon-phone"


def test_inventory_addresses_with_time_windows() -> None:
    morning = Device(id="kid-tablet", minor=True, addresses=(TimedAddress("192.168.1.20", T0, T0 + 3600),))
    evening = Device(id="parent-laptop", minor=False, addresses=(TimedAddress("192.168.1.20", T0 + 3600, None),))
    always = Device(id="tv", minor=None, addresses=(TimedAddress("192.168.1.30"),))
    subjects = resolver(Inventory((morning, evening, always)))
    assert subjects.resolve(request(T0 + 10, src="192.168.1.20")).id == "kid-tablet"
    assert subjects.resolve(request(T0 + 3600, src="192.168.1.20")).id == "parent-laptop"
    before = subjects.resolve(request(T0 - 10, src="192.168.1.20"))
    assert (before.id, before.source) == ("192.168.1.20", "address")
    assert subjects.resolve(request(T0, src="192.168.1.30")).source == "inventory"


def test_value_owner_names_the_device_when_the_address_does_not() -> None:
    kid = Device(id="kid-tablet", minor=True, identifiers={"gaid": ("38400000-8cf0-11bd-b23e-10b96e40000d",)})
    subjects = resolver(Inventory((kid,)))
    assert subjects.resolve(request(T0), owner="kid-tablet").id == "kid-tablet"
    assert subjects.resolve(request(T0)).source == "address"
    assert subjects.resolve(request(T0), owner="no-such-device").source == "address"


def test_control_plane_beats_a_stale_inventory_address() -> None:
    learner = BindingLearner()
    session(learner, T0, SABINE, 1)
    stale = Device(id="leon-phone", minor=True, addresses=(TimedAddress(UE),))
    subject = resolver(Inventory((stale,)), learner=learner).resolve(request(T0 + 5))
    assert dict(subject.attributes)["imsi"] == SABINE


def test_radius_and_diameter_subscribers_say_where_they_come_from() -> None:
    learner = BindingLearner()
    learner.learn(RadiusMessage(ts=T0, capture="c", frame=1, flow=FlowTuple("udp", "10.0.0.1", 40000, "10.0.0.2", 1813),
                                code="Accounting-Request", acct_status="Start", calling_station_id="491713920030",
                                framed_ip="100.64.0.9"))
    learner.learn(DiameterMessage(ts=T0, capture="c", frame=2, flow=FlowTuple("sctp", "10.1.0.1", 3868, "10.1.0.2", 3868),
                                  command="Credit-Control-Request", session_id="pgw;1", cc_request_type="INITIAL",
                                  imsi=SABINE, framed_ip="10.70.0.3"))
    subjects = resolver(subscribers=(Subscriber("line-7", None, "491713920030", True),), learner=learner)
    radius = subjects.resolve(request(T0 + 1, src="100.64.0.9"))
    assert (radius.id, radius.minor, radius.source) == ("line-7", True, "radius")
    diameter = subjects.resolve(request(T0 + 1, src="10.70.0.3"))
    # docs/report.md's sources are inventory|gtp|radius|dhcp|address: Diameter accounting is reported as AAA ("radius").
    assert diameter.source == "radius" and diameter.id.startswith("sub-") and SABINE not in diameter.id
    assert dict(diameter.attributes)["imsi"] == SABINE


def dhcp_ack(ts: float, mac: str, ip: str) -> DhcpMessage:
    return DhcpMessage(ts=ts, capture="c", frame=1, flow=FlowTuple("udp", "192.168.178.1", 67, ip, 68), message="ACK", mac=mac,
                       ip=ip, lease_time=86400)


def test_dhcp_lease_joins_the_inventory_mac() -> None:
    learner = BindingLearner()
    learner.learn(dhcp_ack(T0, "3c:22:fb:11:22:33", "192.168.178.20"))
    kid = Device(id="emma-ipad", minor=True, macs=("3c:22:fb:11:22:33",))
    subject = resolver(Inventory((kid,)), learner=learner).resolve(request(T0 + 5, src="192.168.178.20"))
    assert (subject.id, subject.minor, subject.source) == ("emma-ipad", True, "dhcp")


def test_dhcp_lease_of_an_unknown_mac_is_a_pseudonymous_device() -> None:
    learner = BindingLearner()
    learner.learn(dhcp_ack(T0, "3c:22:fb:11:22:33", "192.168.178.20"))
    subject = resolver(learner=learner).resolve(request(T0 + 5, src="192.168.178.20"))
    assert subject.source == "dhcp" and subject.id.startswith("mac-") and "3c:22" not in subject.id


def test_dhcp_of_an_unknown_mac_leaves_an_inventory_address_alone() -> None:
    learner = BindingLearner()
    learner.learn(dhcp_ack(T0, "f0:18:98:cf:a7:53", "192.168.178.20"))
    kid = Device(id="emma-ipad", minor=True, addresses=(TimedAddress("192.168.178.20"),))
    assert resolver(Inventory((kid,)), learner=learner).resolve(request(T0 + 5, src="192.168.178.20")).id == "emma-ipad"


def test_dhcp_message_itself_is_its_macs() -> None:
    kid = Device(id="emma-ipad", minor=True, macs=("3c:22:fb:11:22:33",))
    event = DhcpMessage(ts=T0, capture="c", frame=1, flow=FlowTuple("udp", "0.0.0.0", 68, "255.255.255.255", 67), message="REQUEST",
                        mac="3c:22:fb:11:22:33", hostname="Emmas-iPad")
    assert resolver(Inventory((kid,))).resolve(event).id == "emma-ipad"


def test_subjects_lists_every_subject_once() -> None:
    subjects = resolver()
    for _ in range(3):
        subjects.resolve(request(T0, src="10.0.0.1"))
    subjects.resolve(request(T0, src="10.0.0.2"))
    assert sorted(s.id for s in subjects.subjects()) == ["10.0.0.1", "10.0.0.2"]


# ---------------------------------------------------------------------- end to end on the GTP captures


def scan(pcap: str, **settings: str) -> tuple[ScanResult, ScanPipeline]:
    pipeline = ScanPipeline(ScanSettings(**settings))
    engine = NativeEngine()
    for event in engine.events(expand_inputs([str(CAPTURES / pcap)])):
        pipeline.consume(event)
    return pipeline.result(engine.stats, engine.name), pipeline


def leaks_by_frame(result: ScanResult) -> dict[int, tuple[str, str, str]]:
    out = {}
    for finding in result.findings:
        if finding.identifier is not None:
            for evidence in finding.evidence:
                out[evidence.frame] = (finding.subject.id, finding.identifier.type, finding.destination.host)
    return out


def test_demo_gtp_with_inventory() -> None:
    result, _ = scan("demo_gtp.pcap", inventory=str(CAPTURES / "demo_gtp.inventory.yaml"))
    frames = leaks_by_frame(result)
    assert frames[78] == ("sub-leon", "gaid", "googleads.g.doubleclick.net")
    assert frames[175] == ("sub-sabine", "idfa", "googleads.g.doubleclick.net")
    subjects = {s.id: s for s in result.subjects}
    assert (subjects["sub-leon"].minor, subjects["sub-leon"].source) == (True, "gtp")
    assert subjects["sub-sabine"].minor is False


def _imsi_of(pipeline: ScanPipeline) -> dict[str, str]:
    return {s.id: dict(s.attributes).get("imsi", "") for s in pipeline.subjects.subjects()}


def test_demo_gtp_without_inventory_the_control_plane_says_who() -> None:
    """No inventory: no value can name its owner, so only the GTP-C bindings attribute the two
    leaks from 10.45.12.34 (frame 78 while Leon held it, frame 175 after it went to Sabine)."""
    result, pipeline = scan("demo_gtp.pcap")
    frames = leaks_by_frame(result)
    imsi = _imsi_of(pipeline)
    assert imsi[frames[78][0]] == LEON and frames[78][1:] == ("gaid", "googleads.g.doubleclick.net")
    assert imsi[frames[175][0]] == SABINE and frames[175][1:] == ("idfa", "googleads.g.doubleclick.net")
    assert all(s.source == "gtp" for s in result.subjects)
    for subject in result.subjects:
        assert subject.id.startswith("sub-") and LEON not in subject.id and SABINE not in subject.id


def test_demo_gtp_with_the_subscriber_list() -> None:
    result, _ = scan("demo_gtp.pcap", subscribers=str(CAPTURES / "demo_gtp.subscribers.yaml"))
    frames = leaks_by_frame(result)
    assert frames[78][0] == "sub-leon"
    subjects = {s.id: s for s in result.subjects}
    assert subjects["sub-leon"].minor is True and subjects["sub-lotta"].minor is True
    sabine = subjects[frames[175][0]]
    assert sabine.id.startswith("sub-") and sabine.minor is None
    minors = {f.subject.id for f in result.findings if f.minor}
    assert minors == {"sub-leon", "sub-lotta"}


def test_labelled_gtp_every_leak_to_the_imsi_that_held_the_address() -> None:
    """labelled_gtp: 10.46.7.21 is gtp-sub-03's until its Delete Session (149.5 s), gtp-sub-05's from
    159.5 s.  Without an inventory every leak's subject must be the IMSI GTP-C gave the address to
    at that frame (the truth's device)."""
    truth = json.loads((CAPTURES / "labelled_gtp.truth.json").read_text())
    device_of_imsi = {d["identifiers"]["imsi"]: d["device_id"] for d in truth["devices"]}
    result, pipeline = scan("labelled_gtp.pcap")
    imsi = _imsi_of(pipeline)
    frames = leaks_by_frame(result)
    subjects_by_flow: dict[tuple[str, int], str] = {}
    for finding in result.findings:
        for evidence in finding.evidence:
            subjects_by_flow[(evidence.flow.src, evidence.flow.sport)] = finding.subject.id
    checked = 0
    for leak in truth["leaks"]:
        subject = subjects_by_flow.get((leak["flow"]["src"], leak["flow"]["sport"]))
        if subject is None:
            continue  # not found without an inventory (a hash, say): recall is test_labelled's business
        assert device_of_imsi[imsi[subject]] == leak["device"], leak["frame_number"]
        checked += 1
    assert checked >= 20
    reused = {device_of_imsi[imsi[s]] for (src, _), s in subjects_by_flow.items() if src == "10.46.7.21"}
    assert reused == {"gtp-sub-03", "gtp-sub-05"}
    assert frames, "the capture has findings"


def test_labelled_gtp_with_inventory_subjects_are_device_ids() -> None:
    result, _ = scan("labelled_gtp.pcap", inventory=str(CAPTURES / "labelled_gtp.inventory.yaml"))
    ids = {s.id for s in result.subjects}
    assert ids <= {f"gtp-sub-0{i}" for i in range(6)}
    assert {s.source for s in result.subjects} == {"gtp"}, "the inventory has no addresses: GTP-C found them"
